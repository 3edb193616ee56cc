//! Serves a folder (e.g. numbered `.ts` segments) over HTTP/1.1 with the
//! project's test server, for benchmarks and manual testing.
//!
//! ```text
//! cargo run --release --example segment-server -- --root DIR [--bind 127.0.0.1] [--port 0] [--latency-ms 0] [--byte-log FILE] [--verbose]
//! ```
//!
//! The first line on stdout is `listening on http://IP:PORT`; it then serves
//! until Ctrl-C or SIGTERM, and exits with status 0. With `--byte-log FILE`
//! it writes, on its way out, one line per body write: the seconds since
//! the first write and the bytes written (for the `bytes` benchmark).

#[path = "../tests/support/server.rs"]
mod server;

use std::io::Write;
use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

const USAGE: &str =
    "usage: segment-server --root DIR [--bind IP] [--port PORT] [--latency-ms MS] [--byte-log FILE] [--verbose]

  --root DIR        folder to serve (required)
  --bind IP         address to listen on (default 127.0.0.1)
  --port PORT       port to listen on (default 0 = any free port)
  --latency-ms MS   delay before every response's headers (default 0)
  --byte-log FILE   on exit, write each body write as `SECONDS BYTES` to FILE
  --verbose, -v     log every request to stderr
  --help, -h        show this help";

struct Args {
    root: PathBuf,
    bind: IpAddr,
    port: u16,
    latency: Duration,
    byte_log: Option<PathBuf>,
    verbose: bool,
}

/// `Ok(None)` means `--help`.
fn parse_args(mut args: impl Iterator<Item = String>) -> Result<Option<Args>, String> {
    let mut root = None;
    let mut bind: IpAddr = [127, 0, 0, 1].into();
    let mut port = 0u16;
    let mut latency = Duration::ZERO;
    let mut verbose = false;
    let mut byte_log = None;
    while let Some(arg) = args.next() {
        let (flag, inline) = match arg.split_once('=') {
            Some((f, v)) if f.starts_with("--") => (f.to_string(), Some(v.to_string())),
            _ => (arg.clone(), None),
        };
        let mut value = |name: &str| -> Result<String, String> {
            inline
                .clone()
                .or_else(|| args.next())
                .ok_or_else(|| format!("{name} needs a value"))
        };
        match flag.as_str() {
            "--root" => root = Some(PathBuf::from(value("--root")?)),
            "--bind" => {
                let v = value("--bind")?;
                bind = v
                    .parse()
                    .map_err(|e| format!("--bind {v:?}: not an IP address ({e})"))?;
            }
            "--port" => {
                let v = value("--port")?;
                port = v
                    .parse()
                    .map_err(|e| format!("--port {v:?}: not a port number ({e})"))?;
            }
            "--latency-ms" => {
                let v = value("--latency-ms")?;
                let ms: u64 = v
                    .parse()
                    .map_err(|e| format!("--latency-ms {v:?}: not a number ({e})"))?;
                latency = Duration::from_millis(ms);
            }
            "--byte-log" => byte_log = Some(PathBuf::from(value("--byte-log")?)),
            "--verbose" | "-v" => verbose = true,
            "--help" | "-h" => return Ok(None),
            other => return Err(format!("unknown argument {other:?}")),
        }
    }
    let root = root.ok_or("--root is required")?;
    Ok(Some(Args {
        root,
        bind,
        port,
        latency,
        byte_log,
        verbose,
    }))
}

fn main() -> ExitCode {
    let args = match parse_args(std::env::args().skip(1)) {
        Ok(Some(args)) => args,
        Ok(None) => {
            println!("{USAGE}");
            return ExitCode::SUCCESS;
        }
        Err(e) => {
            eprintln!("segment-server: {e}\n\n{USAGE}");
            return ExitCode::from(2);
        }
    };
    if !args.root.is_dir() {
        eprintln!("segment-server: {} is not a directory", args.root.display());
        return ExitCode::from(2);
    }
    let addr = SocketAddr::new(args.bind, args.port);
    let server = match server::TestServer::bind(addr, &args.root, args.latency) {
        Ok(server) => server,
        Err(e) => {
            eprintln!("segment-server: cannot listen on {addr}: {e}");
            return ExitCode::FAILURE;
        }
    };
    // Long-running: don't keep every request in memory.
    server.set_recording(false);
    server.set_log(args.verbose);
    server.set_byte_log(args.byte_log.is_some());

    {
        let mut out = std::io::stdout().lock();
        let _ = writeln!(out, "listening on {}", server.url());
        let _ = out.flush();
    }
    if args.verbose {
        eprintln!(
            "serving {} (latency {:?})",
            args.root.display(),
            args.latency
        );
    }

    wait_for_shutdown_signal();
    if let Some(path) = &args.byte_log {
        if let Err(e) = write_byte_log(path, &server.bytes_sent()) {
            eprintln!("segment-server: cannot write {}: {e}", path.display());
            return ExitCode::FAILURE;
        }
    }
    drop(server);
    ExitCode::SUCCESS
}

/// `SECONDS BYTES` a line, the seconds counted from the first write.
fn write_byte_log(
    path: &std::path::Path,
    log: &[(std::time::Instant, u64)],
) -> std::io::Result<()> {
    let mut out = std::io::BufWriter::new(std::fs::File::create(path)?);
    if let Some((first, _)) = log.first() {
        for (t, n) in log {
            writeln!(out, "{:.6} {n}", t.duration_since(*first).as_secs_f64())?;
        }
    }
    out.flush()
}

fn wait_for_shutdown_signal() {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("tokio runtime");
    rt.block_on(async {
        #[cfg(unix)]
        {
            use tokio::signal::unix::{signal, SignalKind};
            match signal(SignalKind::terminate()) {
                Ok(mut term) => {
                    tokio::select! {
                        _ = tokio::signal::ctrl_c() => {}
                        _ = term.recv() => {}
                    }
                }
                Err(_) => {
                    let _ = tokio::signal::ctrl_c().await;
                }
            }
        }
        #[cfg(not(unix))]
        {
            let _ = tokio::signal::ctrl_c().await;
        }
    });
}
