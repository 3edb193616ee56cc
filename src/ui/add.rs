//! The Add form: the seed's window, grown up. What the page sends becomes
//! `snatch new`'s arguments and goes through [`crate::new::run_new`], the
//! one path `snatch new` takes: first as a dry run (the job's YAML and the
//! variables to export, nothing written), then for real (validated, the
//! file replaced atomically, every byte already in it kept).

use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use crate::new::{run_new, NewArgs, NewOutput};

/// What the page's form sends.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct AddForm {
    /// A segment URL, two URLs (on separate lines or spaces apart), a
    /// "Copy as cURL" command, or a playlist's URL.
    pub input: String,
    /// `FIRST-LAST`, or `FIRST-auto`.
    pub range: String,
    /// The video's length, with `segment`.
    pub length: String,
    /// Seconds per segment, with `length`.
    pub segment: String,
    pub referer: String,
    pub name: String,
    /// Which of the page's job files (an index into its list).
    pub file: usize,
}

/// What the page shows after a preview or a write.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct AddAnswer {
    pub ok: bool,
    /// `created jobs.yaml with job …`, or the problems, as `snatch new`
    /// says them.
    pub message: String,
    pub yaml: String,
    /// `export SNATCH_…='…'` lines: the user's own copied credentials,
    /// shown to them once, never logged.
    pub exports: Vec<String>,
    pub notes: Vec<String>,
    pub written: bool,
}

/// `snatch new`'s arguments for the form, writing to `file`.
pub fn args_of(form: &AddForm, file: PathBuf, dry_run: bool) -> NewArgs {
    let text = form.input.trim();
    let some = |s: &str| Some(s.trim().to_string()).filter(|s| !s.is_empty());
    let (urls, from_curl) = match text.starts_with("curl ") || text.starts_with("curl.exe ") {
        true => (Vec::new(), Some(text.to_string())),
        false => (text.split_whitespace().map(str::to_string).collect(), None),
    };
    NewArgs {
        urls,
        file: Some(file),
        from_curl,
        name: some(&form.name),
        range: some(&form.range),
        length: some(&form.length),
        segment: some(&form.segment),
        referer: some(&form.referer),
        dry_run,
        ..NewArgs::default()
    }
}

/// Runs `snatch new` on the form (on a thread of its own: a playlist's
/// URL is read once, over the network).
pub async fn add(form: AddForm, file: PathBuf, dry_run: bool) -> AddAnswer {
    let args = args_of(&form, file, dry_run);
    let done = tokio::task::spawn_blocking(move || run_new(&args, &mut std::io::empty())).await;
    match done {
        Ok(Ok(out)) => answer(out),
        Ok(Err(problems)) => refused(super::load::problems_text(&problems)),
        Err(e) => refused(format!("snatch failed internally: {e}")),
    }
}

fn answer(out: NewOutput) -> AddAnswer {
    AddAnswer {
        ok: true,
        message: out.summary(),
        yaml: out.job_yaml,
        exports: out.exports,
        notes: out.notes.into_iter().chain(out.details).collect(),
        written: out.written,
    }
}

fn refused(message: String) -> AddAnswer {
    AddAnswer {
        ok: false,
        message,
        yaml: String::new(),
        exports: Vec::new(),
        notes: Vec::new(),
        written: false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_form_becomes_snatch_new_arguments() {
        let form = AddForm {
            input: "  https://cdn.example/v/seg-001.ts\nhttps://cdn.example/v/seg-002.ts ".into(),
            length: "1:00".into(),
            segment: "4".into(),
            referer: "https://tv.example/".into(),
            name: " ".into(),
            ..AddForm::default()
        };
        let a = args_of(&form, "jobs.yaml".into(), true);
        assert_eq!(a.urls.len(), 2);
        assert_eq!(a.from_curl, None);
        assert_eq!(a.length.as_deref(), Some("1:00"));
        assert_eq!(a.segment.as_deref(), Some("4"));
        assert_eq!(a.referer.as_deref(), Some("https://tv.example/"));
        assert_eq!(a.name, None);
        assert_eq!(a.range, None);
        assert!(a.dry_run);
        let curl = AddForm {
            input: "curl 'https://cdn.example/v/seg-001.ts' -H 'Cookie: a=b'".into(),
            ..AddForm::default()
        };
        let a = args_of(&curl, "jobs.yaml".into(), false);
        assert!(a.urls.is_empty());
        assert!(a.from_curl.unwrap().starts_with("curl "));
    }
}
