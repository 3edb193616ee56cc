//! The output container a job's merge writes, picked by the output's
//! extension.

use std::path::Path;

use serde::Serialize;

/// The output container, picked by the output's extension.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Container {
    Mp4,
    Mkv,
    Ts,
}

impl Container {
    pub fn from_path(p: &Path) -> Option<Container> {
        match p.extension()?.to_str()?.to_ascii_lowercase().as_str() {
            "mp4" => Some(Container::Mp4),
            "mkv" => Some(Container::Mkv),
            "ts" => Some(Container::Ts),
            _ => None,
        }
    }
}
