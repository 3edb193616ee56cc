//! Running the snatch binary on a job file written by the test.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// A job file in a fresh folder; outputs land in that folder's `out/`.
pub struct Job {
    pub dir: tempfile::TempDir,
    pub file: PathBuf,
}

impl Job {
    pub fn new(yaml: &str) -> Job {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("jobs.yaml");
        std::fs::write(&file, yaml).unwrap();
        Job { dir, file }
    }

    pub fn path(&self, rel: &str) -> PathBuf {
        self.dir.path().join(rel)
    }

    /// `snatch run` on this file with extra args; the report goes to
    /// `report.json` beside it.
    pub fn command(&self, extra: &[&str]) -> Command {
        let mut c = Command::new(env!("CARGO_BIN_EXE_snatch"));
        c.current_dir(self.dir.path())
            .arg("run")
            .arg(&self.file)
            .arg("--report")
            .arg(self.path("report.json"))
            .args(extra)
            .env_remove("RUST_LOG")
            .env_remove("GITHUB_STEP_SUMMARY")
            .env("NO_COLOR", "1")
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped());
        c
    }

    pub fn run(&self, extra: &[&str]) -> Output {
        self.command(extra).output().unwrap()
    }

    /// `snatch run` on this file with these environment variables set.
    pub fn run_env<V: AsRef<std::ffi::OsStr>>(&self, vars: &[(&str, V)]) -> Output {
        let mut c = self.command(&[]);
        for (k, v) in vars {
            c.env(k, v);
        }
        c.output().unwrap()
    }

    pub fn report(&self) -> serde_json::Value {
        let text = std::fs::read_to_string(self.path("report.json")).expect("a report");
        serde_json::from_str(&text).unwrap()
    }
}

/// An executable shell script at `dir/name` running `body`.
#[cfg(unix)]
pub fn script(dir: &Path, name: &str, body: &str) -> PathBuf {
    use std::os::unix::fs::PermissionsExt;
    let path = dir.join(name);
    std::fs::write(&path, format!("#!/bin/sh\n{body}")).unwrap();
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
    path
}

pub fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// Every file below `dir`, recursively.
pub fn files_below(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).into_iter().flatten().flatten() {
            let p = e.path();
            if p.is_dir() {
                stack.push(p);
            } else {
                out.push(p);
            }
        }
    }
    out
}

/// Every file below `dir` with its bytes, every folder as `<dir>`, and
/// every link with its target: compared before and after, it shows that
/// nothing there was touched.
pub fn snapshot(dir: &Path) -> BTreeMap<PathBuf, Vec<u8>> {
    let mut out = BTreeMap::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap().flatten() {
            let p = e.path();
            let kind = e.file_type().unwrap();
            if kind.is_symlink() {
                let target = std::fs::read_link(&p).unwrap();
                out.insert(p, target.to_string_lossy().as_bytes().to_vec());
            } else if kind.is_dir() {
                out.insert(p.clone(), b"<dir>".to_vec());
                stack.push(p);
            } else {
                out.insert(p.clone(), std::fs::read(&p).unwrap());
            }
        }
    }
    out
}

/// The segments saved in a job's state folder, read as the format says:
/// each whole line of `ledger.jsonl` after the header names an index, an
/// offset and a size in `segments.spool` and the CRC-32 of those bytes.
/// Only entries whose bytes are there and match count (the last per index).
pub fn saved(state: &Path) -> BTreeMap<u64, Vec<u8>> {
    let mut out = BTreeMap::new();
    let Ok(text) = std::fs::read_to_string(state.join("ledger.jsonl")) else {
        return out;
    };
    let spool = std::fs::read(state.join("segments.spool")).unwrap_or_default();
    let whole = &text[..text.rfind('\n').unwrap_or(0)];
    for line in whole.lines().skip(1) {
        let Ok(e) = serde_json::from_str::<serde_json::Value>(line) else {
            continue;
        };
        let field = |k: &str| e[k].as_u64();
        let (Some(index), Some(offset), Some(size), Some(crc)) = (
            field("index"),
            field("offset"),
            field("size"),
            field("crc32"),
        ) else {
            continue;
        };
        let (at, end) = (offset as usize, (offset + size) as usize);
        if let Some(bytes) = spool.get(at..end) {
            if u64::from(crc32(bytes)) == crc {
                out.insert(index, bytes.to_vec());
            }
        }
    }
    out
}

/// CRC-32 (IEEE, as zlib), table-driven: the tests' own, independent of
/// snatch's.
pub fn crc32(bytes: &[u8]) -> u32 {
    static TABLE: std::sync::OnceLock<[u32; 256]> = std::sync::OnceLock::new();
    let table = TABLE.get_or_init(|| {
        let mut t = [0u32; 256];
        for (i, slot) in t.iter_mut().enumerate() {
            let mut c = i as u32;
            for _ in 0..8 {
                c = (c >> 1) ^ (0xEDB8_8320 & (c & 1).wrapping_neg());
            }
            *slot = c;
        }
        t
    });
    let mut crc = !0u32;
    for &b in bytes {
        crc = table[((crc ^ u32::from(b)) & 0xff) as usize] ^ (crc >> 8);
    }
    !crc
}

/// How many segment lines the job's ledger has so far (whole lines, not
/// checked against the spool): cheap enough to poll while a run goes on.
pub fn ledger_lines(state: &Path) -> usize {
    std::fs::read_to_string(state.join("ledger.jsonl"))
        .map(|t| t.matches('\n').count().saturating_sub(1))
        .unwrap_or(0)
}
