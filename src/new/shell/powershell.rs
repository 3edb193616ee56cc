//! PowerShell: backtick escapes and continuations, `"…"` with `""`, `'…'`
//! with `''`; `$variables` are not expanded.

use super::{finish, newline_at, ShellError};

pub(super) fn split_powershell(s: &str) -> Result<Vec<String>, ShellError> {
    let c: Vec<char> = s.chars().collect();
    let mut words = Vec::new();
    let mut word = String::new();
    let mut in_word = false;
    let mut i = 0;
    // A backtick escape at c[i] (the backtick); returns the chars consumed, or
    // 0 with nothing pushed for a line continuation.
    fn backtick(c: &[char], i: usize, word: &mut String) -> usize {
        let mut j = i + 1;
        while matches!(c.get(j), Some(' ' | '\t')) {
            j += 1;
        }
        let nl = newline_at(c, j);
        if nl > 0 {
            return j + nl - i;
        }
        match c.get(i + 1) {
            None => 1,
            Some(&e) => {
                word.push(match e {
                    '0' => '\0',
                    'a' => '\x07',
                    'b' => '\x08',
                    'e' => '\x1b',
                    'f' => '\x0c',
                    'n' => '\n',
                    'r' => '\r',
                    't' => '\t',
                    'v' => '\x0b',
                    other => other,
                });
                2
            }
        }
    }
    while i < c.len() {
        match c[i] {
            ' ' | '\t' | '\n' | '\r' => {
                finish(&mut words, &mut word, &mut in_word);
                i += 1;
            }
            '`' => {
                let before = word.len();
                i += backtick(&c, i, &mut word);
                in_word |= word.len() > before;
            }
            '\'' => {
                i += 1;
                loop {
                    match (c.get(i), c.get(i + 1)) {
                        (None, _) => return Err(ShellError::UnterminatedQuote { quote: "single" }),
                        (Some('\''), Some('\'')) => {
                            word.push('\'');
                            i += 2;
                        }
                        (Some('\''), _) => break,
                        (Some(&other), _) => {
                            word.push(other);
                            i += 1;
                        }
                    }
                }
                in_word = true;
                i += 1;
            }
            '"' => {
                i += 1;
                loop {
                    match (c.get(i), c.get(i + 1)) {
                        (None, _) => return Err(ShellError::UnterminatedQuote { quote: "double" }),
                        (Some('"'), Some('"')) => {
                            word.push('"');
                            i += 2;
                        }
                        (Some('"'), _) => break,
                        (Some('`'), _) => i += backtick(&c, i, &mut word),
                        (Some(&other), _) => {
                            word.push(other);
                            i += 1;
                        }
                    }
                }
                in_word = true;
                i += 1;
            }
            other => {
                word.push(other);
                in_word = true;
                i += 1;
            }
        }
    }
    finish(&mut words, &mut word, &mut in_word);
    Ok(words)
}
