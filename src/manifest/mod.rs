//! The job-file model, loading with spans, `${ENV}` and redaction, and
//! validation with `file:line:col`.

pub mod bounds;
mod defaults;
pub mod env;
mod inputs;
mod job;
mod load;
mod model;
pub mod paths;
mod settings;
mod shape;
mod time;
mod validate;

use std::path::PathBuf;

pub use inputs::expand_inputs;
pub use load::{load_file, LoadedFile, MAX_FILE_BYTES};
pub use model::{JobFile, Loc, MergeWith, OnMissing, Sp, Variant};
pub use time::parse_time;
pub use validate::{validate, IndexSource, JobSpec, Manifest, PlaylistSpec, MAX_SEGMENTS};

use crate::common::diag::Problem;
use env::EnvPolicy;

/// Loads and validates every job file the paths name. Every file is read
/// and every problem returned, so one run shows them all.
pub fn load(paths: &[PathBuf], policy: &EnvPolicy) -> Result<Manifest, Vec<Problem>> {
    let files = expand_inputs(paths)?;
    let mut loaded = Vec::new();
    let mut problems = Vec::new();
    for f in &files {
        match load_file(f) {
            Ok(l) => loaded.push(l),
            Err(mut p) => problems.append(&mut p),
        }
    }
    match validate(loaded, policy) {
        Ok(m) if problems.is_empty() => Ok(m),
        Ok(_) => Err(problems),
        Err(mut more) => {
            problems.append(&mut more);
            Err(problems)
        }
    }
}

/// The JSON Schema (draft-07) of a job file, from the loader's own types.
pub fn schema() -> serde_json::Value {
    let generator = schemars::generate::SchemaSettings::draft07().into_generator();
    let schema = generator.into_root_schema_for::<JobFile>();
    serde_json::to_value(schema).expect("a schema is JSON")
}
