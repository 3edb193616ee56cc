//! What can go wrong in setting up requests before any is sent: a header
//! the job gives that HTTP cannot carry, an HTTP client that cannot be
//! built; and a `206` that holds other bytes than were asked for. Each
//! renders the words a job's message carries.

use reqwest::header::InvalidHeaderName;

/// A header of the job that a request cannot carry.
#[derive(Debug, thiserror::Error)]
pub enum HeaderError {
    #[error("header {name}: {error}")]
    Name {
        name: String,
        error: InvalidHeaderName,
    },
    /// The value is not shown: it may be a secret.
    #[error("header {name} is not valid")]
    Value { name: String },
}

/// Why no HTTP client serves a request.
#[derive(Debug, Clone, thiserror::Error)]
pub enum ClientError {
    /// The system's CA certificates could not be loaded: https cannot be
    /// checked. `failed` is the HTTP library's reason.
    #[error(
        "cannot check https certificates on this machine ({failed}); \
         install the system's CA certificates (Debian: ca-certificates) \
         or point SSL_CERT_FILE at a PEM bundle"
    )]
    NoRoots { failed: String },
    #[error("cannot set up HTTP: {reason}")]
    Setup { reason: String },
}

/// A `206` whose `Content-Range` names other bytes than were asked for.
/// `given` is the header as sent (shown safely), `asked` the `Range` asked.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("answered with the bytes {given} to a request for {asked}")]
pub struct RangeError {
    pub given: String,
    pub asked: String,
}
