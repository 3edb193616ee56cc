//! Splitting a copied command line into words, as the shell it was copied
//! for would. One tokenizer per shell; [`split`] picks one.
//!
//! # Shell dialects
//!
//! The dialect is guessed from the text:
//!
//! * **cmd.exe** (Chrome's and Firefox's "Copy as cURL (cmd/Windows)") when the
//!   text contains `^"` or a line ends with `^`. Decoded in two layers like
//!   Windows does: first cmd.exe (`^x` is a literal `x` outside cmd quotes, `^`
//!   at the end of a line continues the command and escapes the first
//!   character of the next line, `"` toggles cmd quoting), then the MS C
//!   runtime argument splitter (`"` quotes, `""` inside quotes and `\"` are a
//!   literal `"`, `\\` before a `"` is one backslash). Both browsers double
//!   every backslash, so elsewhere a run of `n` backslashes gives `(n+1)/2`.
//! * **PowerShell** when a line ends with a backtick, or the command starts
//!   with `curl.exe` and no line ends with `\`. Backtick escapes (`` `n ``,
//!   `` `" ``, `` `$ ``…) and continuations, `"…"` with `""`, `'…'` with `''`.
//!   `$variables` are not expanded. A leading `&` call operator is skipped.
//! * **bash/zsh** otherwise (Chrome's and Firefox's Linux/macOS copies):
//!   `'…'`, `"…"` (with `\` before `$`, `` ` ``, `"`, `\`, newline), `$'…'`
//!   ANSI-C quoting (`\n`, `\xHH`, `\uHHHH`, octal…), `\` escapes and
//!   `\`+newline continuations. `$variables` are not expanded and shell
//!   operators (`|`, `>`…) are just words.
//!
//! Nothing here knows about curl: the words go to [`super::curl`].

mod bash;
mod cmd;
mod powershell;

/// Why a command line could not be split into words.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ShellError {
    #[error("the command has an unterminated {quote} quote; was it copied completely?")]
    UnterminatedQuote { quote: &'static str },
}

/// The words of `cmd`, decoded by the shell its text looks written for.
pub fn split(cmd: &str) -> Result<Vec<String>, ShellError> {
    match dialect(cmd) {
        Dialect::Cmd => cmd::split_crt(&cmd::cmd_layer(cmd)),
        Dialect::PowerShell => powershell::split_powershell(cmd),
        Dialect::Bash => bash::split_bash(cmd),
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Dialect {
    Bash,
    Cmd,
    PowerShell,
}

fn dialect(cmd: &str) -> Dialect {
    let ends_with = |c: char| {
        cmd.lines()
            .any(|line| line.trim_end_matches([' ', '\t', '\r']).ends_with(c))
    };
    if cmd.contains("^\"") || ends_with('^') {
        return Dialect::Cmd;
    }
    if ends_with('`') {
        return Dialect::PowerShell;
    }
    let first = cmd.split_whitespace().find(|w| *w != "&").unwrap_or("");
    let first = first.trim_matches(['"', '\'']);
    let base = first.rsplit(['/', '\\']).next().unwrap_or(first);
    if base.eq_ignore_ascii_case("curl.exe") && !ends_with('\\') {
        return Dialect::PowerShell;
    }
    Dialect::Bash
}

/// Pushes the word being built, if any.
pub(super) fn finish(words: &mut Vec<String>, word: &mut String, in_word: &mut bool) {
    if *in_word {
        words.push(std::mem::take(word));
        *in_word = false;
    }
}

/// Length of a line break at `c[i..]` (`\n` or `\r\n`), 0 if none.
pub(super) fn newline_at(c: &[char], i: usize) -> usize {
    match (c.get(i), c.get(i + 1)) {
        (Some('\n'), _) => 1,
        (Some('\r'), Some('\n')) => 2,
        _ => 0,
    }
}
