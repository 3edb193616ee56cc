//! bash and zsh: `'…'`, `"…"`, `$'…'` (ANSI-C), `\` escapes and
//! continuations (Chrome's and Firefox's Linux/macOS copies).

use super::{finish, newline_at, ShellError};

pub(super) fn split_bash(s: &str) -> Result<Vec<String>, ShellError> {
    let c: Vec<char> = s.chars().collect();
    let mut words = Vec::new();
    let mut word = String::new();
    let mut in_word = false;
    let mut i = 0;
    while i < c.len() {
        match c[i] {
            ' ' | '\t' | '\n' | '\r' => {
                finish(&mut words, &mut word, &mut in_word);
                i += 1;
            }
            '\\' => {
                let nl = newline_at(&c, i + 1);
                if nl > 0 {
                    i += 1 + nl;
                } else if let Some(&next) = c.get(i + 1) {
                    word.push(next);
                    in_word = true;
                    i += 2;
                } else {
                    i += 1;
                }
            }
            '\'' => {
                let end = (i + 1..c.len())
                    .find(|&j| c[j] == '\'')
                    .ok_or(ShellError::UnterminatedQuote { quote: "single" })?;
                word.extend(&c[i + 1..end]);
                in_word = true;
                i = end + 1;
            }
            '$' if c.get(i + 1) == Some(&'\'') => {
                i = ansi_c(&c, i + 2, &mut word)?;
                in_word = true;
            }
            '$' if c.get(i + 1) == Some(&'"') => i += 1,
            '"' => {
                i += 1;
                loop {
                    match c.get(i) {
                        None => return Err(ShellError::UnterminatedQuote { quote: "double" }),
                        Some('"') => break,
                        Some('\\') => {
                            let nl = newline_at(&c, i + 1);
                            if nl > 0 {
                                i += 1 + nl;
                                continue;
                            }
                            match c.get(i + 1) {
                                Some(&e @ ('$' | '`' | '"' | '\\')) => {
                                    word.push(e);
                                    i += 2;
                                }
                                _ => {
                                    word.push('\\');
                                    i += 1;
                                }
                            }
                        }
                        Some(&other) => {
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

/// Decodes the body of a bash `$'…'` string starting at `c[i]` into `word`,
/// returning the index after the closing quote.
///
/// `\xHH` and octal escapes are bytes, as in bash; consecutive ones that do
/// not form UTF-8 are read as Latin-1 (Firefox writes `é` as `\xe9`).
fn ansi_c(c: &[char], mut i: usize, word: &mut String) -> Result<usize, ShellError> {
    let mut bytes: Vec<u8> = Vec::new();
    let flush = |bytes: &mut Vec<u8>, word: &mut String| {
        match std::str::from_utf8(bytes) {
            Ok(s) => word.push_str(s),
            Err(_) => word.extend(bytes.iter().map(|&b| char::from(b))),
        }
        bytes.clear();
    };
    let hex = |i: usize, max: usize| -> (u32, usize) {
        let mut value = 0;
        let mut n = 0;
        while n < max {
            match c.get(i + n).and_then(|d| d.to_digit(16)) {
                Some(d) => value = value * 16 + d,
                None => break,
            }
            n += 1;
        }
        (value, n)
    };
    loop {
        let Some(&ch) = c.get(i) else {
            return Err(ShellError::UnterminatedQuote { quote: "$'…'" });
        };
        if ch == '\'' {
            flush(&mut bytes, word);
            return Ok(i + 1);
        }
        if ch != '\\' {
            flush(&mut bytes, word);
            word.push(ch);
            i += 1;
            continue;
        }
        let Some(&e) = c.get(i + 1) else {
            return Err(ShellError::UnterminatedQuote { quote: "$'…'" });
        };
        i += 2;
        let simple = match e {
            'a' => Some('\x07'),
            'b' => Some('\x08'),
            'e' | 'E' => Some('\x1b'),
            'f' => Some('\x0c'),
            'n' => Some('\n'),
            'r' => Some('\r'),
            't' => Some('\t'),
            'v' => Some('\x0b'),
            '\\' | '\'' | '"' | '?' => Some(e),
            _ => None,
        };
        if let Some(s) = simple {
            flush(&mut bytes, word);
            word.push(s);
            continue;
        }
        match e {
            'x' => {
                let (value, n) = hex(i, 2);
                if n == 0 {
                    flush(&mut bytes, word);
                    word.push_str("\\x");
                } else {
                    bytes.push(value as u8);
                    i += n;
                }
            }
            '0'..='7' => {
                let mut value = e.to_digit(8).unwrap_or(0);
                let mut n = 0;
                while n < 2 {
                    match c.get(i + n).and_then(|d| d.to_digit(8)) {
                        Some(d) => value = value * 8 + d,
                        None => break,
                    }
                    n += 1;
                }
                bytes.push((value & 0xff) as u8);
                i += n;
            }
            'u' | 'U' => {
                let (value, n) = hex(i, if e == 'u' { 4 } else { 8 });
                flush(&mut bytes, word);
                if n == 0 {
                    word.push('\\');
                    word.push(e);
                } else {
                    word.push(char::from_u32(value).unwrap_or(char::REPLACEMENT_CHARACTER));
                    i += n;
                }
            }
            'c' => {
                flush(&mut bytes, word);
                match c.get(i) {
                    Some(&x) => {
                        word.push(char::from_u32(u32::from(x) & 0x1f).unwrap_or(x));
                        i += 1;
                    }
                    None => word.push_str("\\c"),
                }
            }
            other => {
                flush(&mut bytes, word);
                word.push('\\');
                word.push(other);
            }
        }
    }
}
