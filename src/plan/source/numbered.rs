//! Segments numbered by a URL template: an index, zero-padded, rendered
//! into the job's URL for each segment.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;

use super::error::SegmentError;
use super::segment::{target_of, Segment, Target};
use crate::manifest::env;
use crate::manifest::paths::LocalRoots;
use crate::manifest::IndexSource;
use crate::template::Templates;

/// Segments numbered by a URL template.
#[derive(Debug, Clone)]
pub struct Numbered {
    pub indices: IndexSource,
    pub padding: u32,
    pub templates: Arc<Templates>,
    /// The URL template's key in `templates`.
    pub key: String,
    /// `name`, `vars`, `date`; `index` and `n` are added per segment.
    pub context: serde_json::Map<String, serde_json::Value>,
    /// The values of the variables this job's URL reads.
    pub env: Arc<BTreeMap<String, String>>,
    /// The job file's folder, for local paths.
    pub dir: PathBuf,
    /// The folders local paths may lie in (checked for every segment).
    pub roots: Arc<LocalRoots>,
    /// Whether the range's end was given or is found by probing.
    pub end: EndSource,
}

/// Where a numbered job's last index comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EndSource {
    /// Written in the job (or implied by `count`, `duration`).
    Given,
    /// `end: auto`, not yet probed: `indices` holds the start alone.
    Auto,
    /// `end: auto`, found with this many requests.
    Found { requests: u32 },
}

impl Numbered {
    pub fn segment(&self, index: u64) -> Result<Segment, SegmentError> {
        let mut ctx = self.context.clone();
        ctx.insert(
            "index".into(),
            format!("{:0w$}", index, w = self.padding as usize).into(),
        );
        ctx.insert("n".into(), index.into());
        let rendered = self
            .templates
            .render(&self.key, &serde_json::Value::Object(ctx))?;
        let pieces = env::parse(&rendered)?;
        let url = env::resolve(&pieces, &self.env)?;
        let target = match target_of(url, &self.dir)? {
            Target::File { path, shown } => Target::File {
                path: self.roots.check(&path, &shown)?,
                shown,
            },
            http => http,
        };
        Ok(Segment {
            index,
            target,
            range: None,
            key: None,
        })
    }
}
