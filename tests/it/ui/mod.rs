//! `snatch ui`: the real binary serving its page on a free port of
//! 127.0.0.1, asked with plain HTTP (reqwest) and driven by a real
//! browser (headless Chromium over WebDriver, in [`browser`]).

mod browser;
mod page;
mod security;

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};

/// A `snatch ui` process on job files in `dir`; killed on drop.
pub struct Ui {
    child: Child,
    /// `http://127.0.0.1:PORT`
    pub origin: String,
    pub port: u16,
    pub token: String,
}

impl Ui {
    /// Starts `snatch ui ARGS…` in `dir` with these environment variables,
    /// and reads the address it prints.
    pub fn start(dir: &Path, args: &[&str], env: &[(&str, &str)]) -> Ui {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_snatch"));
        cmd.current_dir(dir)
            .arg("ui")
            .args(args)
            .env_remove("RUST_LOG")
            .env("NO_COLOR", "1")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::null());
        for (k, v) in env {
            cmd.env(k, v);
        }
        let mut child = cmd.spawn().expect("snatch ui starts");
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut line)
            .unwrap();
        let url = line
            .trim()
            .strip_prefix("snatch ui: open ")
            .unwrap_or_else(|| panic!("snatch ui printed {line:?}"))
            .to_string();
        let (origin, token) = url.split_once("/?token=").expect("an address with a token");
        let port = origin.rsplit(':').next().unwrap().parse().unwrap();
        Ui {
            child,
            origin: origin.to_string(),
            port,
            token: token.to_string(),
        }
    }

    /// The address `snatch ui` printed.
    pub fn first_url(&self) -> String {
        format!("{}/?token={}", self.origin, self.token)
    }

    /// Sends SIGTERM and waits (at most `within`) for the exit status.
    #[cfg(unix)]
    pub fn terminate(&mut self, within: std::time::Duration) -> Option<std::process::ExitStatus> {
        // SAFETY: a signal to the child this test started.
        unsafe { libc::kill(self.child.id() as i32, libc::SIGTERM) };
        let deadline = std::time::Instant::now() + within;
        while std::time::Instant::now() < deadline {
            if let Some(status) = self.child.try_wait().unwrap() {
                return Some(status);
            }
            std::thread::sleep(std::time::Duration::from_millis(20));
        }
        None
    }

    /// The cookie the first visit sets.
    pub fn cookie(&self) -> String {
        format!("snatch_ui_{}={}", self.port, self.token)
    }
}

impl Drop for Ui {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
