//! The command that resumes an interrupted run: the command line as it was
//! typed, less `--force` (a forced rerun would start over), each word
//! quoted for a POSIX shell where it needs to be.

use std::ffi::OsString;

/// The words of `args` (as `std::env::args_os` gives them, the program
/// first) as one line a POSIX shell runs as the same command, without
/// `--force` among the options (one after `--` is a path and stays).
pub fn command(args: &[OsString]) -> String {
    let mut words = Vec::with_capacity(args.len());
    let mut options = true;
    for (i, arg) in args.iter().enumerate() {
        let arg = arg.to_string_lossy();
        if options && i > 0 && arg == "--force" {
            continue;
        }
        if arg == "--" {
            options = false;
        }
        words.push(quoted(&arg));
    }
    words.join(" ")
}

/// `word` as a POSIX shell reads it back: as it is when it has only
/// characters no shell treats specially, else in single quotes (a `'`
/// inside written `'\''`).
pub fn quoted(word: &str) -> String {
    let plain = |c: char| c.is_ascii_alphanumeric() || "_@%+=:,./-".contains(c);
    if !word.is_empty() && word.chars().all(plain) {
        return word.to_string();
    }
    format!("'{}'", word.replace('\'', r"'\''"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(words: &[&str]) -> Vec<OsString> {
        words.iter().map(OsString::from).collect()
    }

    #[test]
    fn force_is_dropped_and_the_rest_kept_in_order() {
        let a = args(&[
            "snatch",
            "run",
            "--force",
            "jobs.yaml",
            "--report",
            "r.json",
        ]);
        assert_eq!(command(&a), "snatch run jobs.yaml --report r.json");
        let a = args(&["./snatch", "run", "jobs.yaml", "--", "--force"]);
        assert_eq!(command(&a), "./snatch run jobs.yaml -- --force");
    }

    #[test]
    fn words_a_shell_would_split_or_expand_are_quoted() {
        assert_eq!(quoted("my jobs.yaml"), "'my jobs.yaml'");
        assert_eq!(quoted("it's"), r"'it'\''s'");
        assert_eq!(quoted("$HOME*"), "'$HOME*'");
        assert_eq!(quoted(""), "''");
        assert_eq!(quoted("out/a-b_c.json"), "out/a-b_c.json");
    }
}
