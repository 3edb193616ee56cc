//! Where a job's merged file goes: a rendered output made safe, and two
//! spellings of one file told apart for messages.

use std::path::{Path, PathBuf};

use super::PlanError;
use crate::manifest::bounds;

/// One file under its two spellings, or once when they are the same.
pub(super) fn same_file(a: &Path, b: &Path) -> String {
    let (a, b) = (
        crate::common::diag::display_path(a),
        crate::common::diag::display_path(b),
    );
    if a == b {
        a
    } else {
        format!("the same file ({a} and {b})")
    }
}

/// Makes a rendered output path safe: relative, inside `output_dir`, each
/// component free of characters that common file systems refuse.
pub fn confine(rendered: &str) -> Result<PathBuf, PlanError> {
    let r = rendered.trim();
    if r.is_empty() {
        return Err(PlanError::EmptyOutput);
    }
    let bytes = r.as_bytes();
    let drive = bytes.len() >= 3
        && bytes[0].is_ascii_alphabetic()
        && bytes[1] == b':'
        && matches!(bytes[2], b'/' | b'\\');
    if r.starts_with('/') || r.starts_with('\\') || drive {
        return Err(PlanError::AbsoluteOutput(r.into()));
    }
    let mut out = PathBuf::new();
    for part in r.split('/') {
        match part {
            "" | "." => continue,
            ".." => return Err(PlanError::OutputClimbs(r.into())),
            _ if part.eq_ignore_ascii_case(".snatch") && out.as_os_str().is_empty() => {
                return Err(PlanError::OutputIntoState(r.into()))
            }
            _ if part.len() > bounds::PATH_COMPONENT_LEN => {
                return Err(PlanError::OutputNameTooLong)
            }
            _ => {}
        }
        let clean: String = part
            .chars()
            .map(|c| {
                if matches!(c, '\\' | ':' | '"' | '*' | '?' | '<' | '>' | '|') || c.is_control() {
                    '_'
                } else {
                    c
                }
            })
            .collect();
        out.push(clean);
    }
    if out.as_os_str().is_empty() {
        return Err(PlanError::EmptyOutput);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn confine_keeps_outputs_inside() {
        assert_eq!(confine("a/b.mp4").unwrap(), PathBuf::from("a/b.mp4"));
        assert_eq!(
            confine("a:b?/c*.mp4").unwrap(),
            PathBuf::from("a_b_/c_.mp4")
        );
        assert_eq!(
            confine("a\\..\\b.mp4").unwrap(),
            PathBuf::from("a_.._b.mp4")
        );
        assert_eq!(
            confine("../x.mp4"),
            Err(PlanError::OutputClimbs("../x.mp4".into()))
        );
        assert_eq!(confine("./."), Err(PlanError::EmptyOutput));
        assert!(confine("a/../../x.mp4").is_err());
        assert!(confine("/etc/x.mp4").is_err());
        assert!(confine("C:/x.mp4").is_err());
        assert!(confine("  ").is_err());
        assert!(confine("./.").is_err());
        assert!(confine(".snatch/b/000001.ts").is_err());
        assert!(confine("./.snatch/x.ts").is_err());
        assert!(confine(".Snatch/x.ts").is_err());
        assert!(confine("a/.snatch/x.ts").is_ok());
        assert!(confine(&format!("{}.mp4", "a".repeat(300))).is_err());
    }
}
