//! `snatch ui`: the seed's window as a local web page. One process serves
//! a page embedded in the binary (HTML, CSS and a little plain
//! JavaScript; no build step, no CDN) and runs jobs in-process under the
//! same limits as `snatch run`:
//! - [`jobs`]: every job of the job files, its plan and its state on disk;
//! - [`add`]: the Add form, through `snatch new`'s own path;
//! - [`runs`] and [`live`]: one run at a time, told to every tab over
//!   Server-Sent Events, and its report.
//!
//! The page is an attack surface: [`guard`] checks every request (token,
//! `Host`, `Origin`), [`escape`] is the one escaping path, and the server
//! writes nothing but job files (through `snatch new`) and what a run
//! writes. It serves no file but its embedded assets.

mod add;
mod args;
mod escape;
mod guard;
mod jobs;
mod live;
mod load;
mod routes;
mod runs;

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::PathBuf;
use std::sync::Arc;

pub use args::UiArgs;
pub use escape::html as escape_html;
pub use guard::{Guard, Pass, Refusal};

/// Why `snatch ui` cannot serve.
#[derive(Debug, thiserror::Error)]
pub enum UiError {
    #[error("cannot listen on {addr}: {error}")]
    Bind {
        addr: SocketAddr,
        error: std::io::Error,
    },
    #[error("the server stopped: {0}")]
    Serve(std::io::Error),
}

/// What every request handler shares.
struct App {
    guard: Guard,
    /// The job files and folders, as given.
    paths: Vec<PathBuf>,
    allow_env: Vec<String>,
    runs: Arc<runs::Runs>,
    shutdown: tokio_util::sync::CancellationToken,
}

/// Binds, calls `ready` with the address to open (token included), and
/// serves until `shutdown` is cancelled (then stops any run first).
pub async fn serve(
    args: &UiArgs,
    shutdown: tokio_util::sync::CancellationToken,
    ready: impl FnOnce(&str),
) -> Result<(), UiError> {
    let ip = args.listen.unwrap_or(IpAddr::V4(Ipv4Addr::LOCALHOST));
    let addr = SocketAddr::new(ip, args.port);
    let listener = tokio::net::TcpListener::bind(addr)
        .await
        .map_err(|error| UiError::Bind { addr, error })?;
    let bound = listener
        .local_addr()
        .map_err(|error| UiError::Bind { addr, error })?;
    let paths = match args.paths.is_empty() {
        true => vec![PathBuf::from(crate::new::DEFAULT_FILE)],
        false => args.paths.clone(),
    };
    let app = Arc::new(App {
        guard: Guard::new(bound),
        paths,
        allow_env: args.allow_env.clone(),
        runs: Arc::new(runs::Runs::default()),
        shutdown: shutdown.clone(),
    });
    ready(&app.guard.first_url());
    let (runs, on_stop) = (app.runs.clone(), app.runs.clone());
    let stop = shutdown.clone();
    let served = axum::serve(listener, routes::router(app))
        .with_graceful_shutdown(async move {
            stop.cancelled().await;
            on_stop.stop();
        })
        .await
        .map_err(UiError::Serve);
    // A run stopped by the shutdown ends as an interrupted `snatch run`
    // does: what arrived is kept, and the ledger says so.
    runs.stop();
    runs.ended().await;
    served
}
