//! cmd.exe ("Copy as cURL (cmd/Windows)"): the cmd layer (`^` escapes and
//! continuations), then the MS C runtime's argument splitter.

use super::{finish, newline_at, ShellError};

/// What cmd.exe hands to the program: `^` escapes and continuations resolved
/// outside cmd quotes, quotes kept for the C runtime.
pub(super) fn cmd_layer(s: &str) -> String {
    let c: Vec<char> = s.chars().collect();
    let mut out = String::with_capacity(s.len());
    let mut quoted = false;
    let mut i = 0;
    while i < c.len() {
        match c[i] {
            '"' => {
                quoted = !quoted;
                out.push('"');
                i += 1;
            }
            '^' if !quoted => {
                let mut j = i + 1;
                while matches!(c.get(j), Some(' ' | '\t')) {
                    j += 1;
                }
                let nl = newline_at(&c, j);
                if nl == 0 {
                    // `^x`: a literal x.
                    if let Some(&next) = c.get(i + 1) {
                        out.push(next);
                    }
                    i += 2;
                    continue;
                }
                // Continuation: the first character of the next line is literal.
                j += nl;
                let nl = newline_at(&c, j);
                if nl > 0 {
                    out.push('\n');
                    i = j + nl;
                } else if let Some(&next) = c.get(j) {
                    out.push(next);
                    i = j + 1;
                } else {
                    i = j;
                }
            }
            '\n' | '\r' if !quoted => {
                out.push(' ');
                i += 1;
            }
            other => {
                out.push(other);
                i += 1;
            }
        }
    }
    out
}

/// Splits a Windows command line into arguments like the MS C runtime, except
/// that backslashes not before a quote are halved (see the module docs).
pub(super) fn split_crt(s: &str) -> Result<Vec<String>, ShellError> {
    let c: Vec<char> = s.chars().collect();
    let mut words = Vec::new();
    let mut word = String::new();
    let mut in_word = false;
    let mut quoted = false;
    let mut i = 0;
    while i < c.len() {
        match c[i] {
            '\\' => {
                let n = c[i..].iter().take_while(|&&ch| ch == '\\').count();
                let after = i + n;
                if c.get(after) == Some(&'"') {
                    word.extend(std::iter::repeat_n('\\', n / 2));
                    if n % 2 == 1 {
                        word.push('"');
                        i = after + 1;
                    } else {
                        i = after;
                    }
                } else {
                    word.extend(std::iter::repeat_n('\\', n.div_ceil(2)));
                    i = after;
                }
                in_word = true;
            }
            '"' => {
                in_word = true;
                if quoted && c.get(i + 1) == Some(&'"') {
                    word.push('"');
                    i += 2;
                } else {
                    quoted = !quoted;
                    i += 1;
                }
            }
            ' ' | '\t' | '\n' | '\r' if !quoted => {
                finish(&mut words, &mut word, &mut in_word);
                i += 1;
            }
            other => {
                word.push(other);
                in_word = true;
                i += 1;
            }
        }
    }
    if quoted {
        return Err(ShellError::UnterminatedQuote { quote: "double" });
    }
    finish(&mut words, &mut word, &mut in_word);
    Ok(words)
}
