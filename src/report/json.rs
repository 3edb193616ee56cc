//! `--report FILE`: the whole [`RunReport`] as pretty-printed JSON.

use super::{Exporter, RenderError};
use crate::events::RunReport;

/// Pretty JSON with a trailing newline.
#[derive(Debug, Clone, Copy, Default)]
pub struct Json;

impl Exporter for Json {
    fn kind(&self) -> &'static str {
        "JSON report"
    }

    fn render(&self, report: &RunReport) -> Result<Vec<u8>, RenderError> {
        let mut bytes = serde_json::to_vec_pretty(report)?;
        bytes.push(b'\n');
        Ok(bytes)
    }
}
