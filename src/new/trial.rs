//! Checking the new file before it replaces the old one: loaded and planned
//! like `snatch validate` does, holding the old jobs and the new one.

use std::collections::BTreeMap;
use std::path::Path;

use crate::common::diag::{display_path, Problem, SourceFile};
use crate::manifest::env::{self, EnvPolicy};
use crate::manifest::{self, Loc, Manifest, Sp};
use crate::plan::{self, PlanContext, Selection};

use super::detect::Detected;
use super::job_text::{JobText, What};

pub(super) fn plan_context(policy: &EnvPolicy) -> PlanContext<'_> {
    static SELECTION: std::sync::OnceLock<Selection> = std::sync::OnceLock::new();
    PlanContext {
        date: "2000-01-01".to_string(),
        env: policy,
        output_dir: None,
        selection: SELECTION.get_or_init(Selection::default),
        allow_local: Vec::new(),
    }
}

/// May read what the old file reads (it was allowed before) and `SNATCH_*`;
/// every variable of the new text counts as set (the user exports them later).
pub(super) fn env_policy(old: &str, new: &str) -> EnvPolicy {
    EnvPolicy {
        allowed: env::names_in(old),
        values: env::names_in(new)
            .into_iter()
            .map(|n| (n, "x".to_string()))
            .collect(),
    }
}

/// Loads and plans the new text (at `temp`) and checks it holds the old jobs
/// and the new one, whose URL (and init URL) renders back the URL it was
/// made from (`detected`: the index in it; `None` for a playlist).
/// Returns the new job's segment count.
pub(super) fn check_new_text(
    temp: &Path,
    file: &Path,
    new_text: &str,
    policy: &EnvPolicy,
    old_names: &[String],
    job: &JobText,
    detected: Option<&Detected>,
) -> Result<u64, Vec<Problem>> {
    let temp_shown = display_path(temp);
    let file_shown = display_path(file);
    let real = SourceFile::new(file, new_text.to_string());
    let relocate = |problems: Vec<Problem>| -> Vec<Problem> {
        problems
            .into_iter()
            .map(|mut p| {
                if p.file.as_ref().is_some_and(|f| f.path == temp) {
                    p.file = Some(real.clone());
                }
                p.message = p.message.replace(&temp_shown, &file_shown);
                p.help = p.help.map(|h| h.replace(&temp_shown, &file_shown));
                p
            })
            .collect()
    };
    let m = manifest::load(&[temp.to_path_buf()], policy).map_err(relocate)?;
    let plan = plan::plan(&m, &plan_context(policy)).map_err(relocate)?;

    let at_name = |m: &Manifest| {
        m.jobs
            .iter()
            .find(|j| j.name == job.name)
            .map_or(Loc::default(), |j| j.loc)
    };
    let mut want: Vec<&str> = old_names.iter().map(String::as_str).collect();
    want.push(&job.name);
    want.sort_unstable();
    let mut got: Vec<&str> = m.jobs.iter().map(|j| j.name.as_str()).collect();
    got.sort_unstable();
    if got != want {
        return Err(vec![Problem::at(
            &real,
            at_name(&m),
            format!(
                "snatch could not place the job in {file_shown}: the file would hold the jobs {got:?} instead of {want:?}"
            ),
        )
        .help("add the job by hand")]);
    }
    let spec = m.jobs.iter().find(|j| j.name == job.name).expect("checked");
    let planned = plan
        .jobs
        .iter()
        .find(|j| j.name == job.name)
        .expect("planned");

    // The templates must give back the URLs they were made from.
    let (index, n) = detected.map_or((String::new(), 0), |d| {
        (format!("{:0w$}", d.index, w = d.padding as usize), d.index)
    });
    let ctx = serde_json::json!({
        "index": index, "n": n, "name": job.name,
        "vars": {}, "date": "2000-01-01",
    });
    renders_back(
        &real,
        &spec.url,
        &job.url.replace("{{index}}", &index),
        &ctx,
    )?;
    if let (
        Some(init),
        What::Segments {
            init: Some(text), ..
        },
    ) = (&spec.init, &job.what)
    {
        renders_back(&real, init, text, &ctx)?;
    }
    Ok(planned.source.len())
}

/// Checks that `template` (as loaded) renders to `expected` (job-file text).
fn renders_back(
    real: &std::sync::Arc<SourceFile>,
    template: &Sp<String>,
    expected: &str,
    ctx: &serde_json::Value,
) -> Result<(), Vec<Problem>> {
    let mut templates = crate::template::Templates::new();
    let rendered = templates
        .register("url", template)
        .and_then(|()| templates.render("url", ctx))
        .map(|r| shown(&r));
    let expected = shown(expected);
    match rendered {
        Ok(r) if r == expected => Ok(()),
        Ok(r) => Err(vec![Problem::at(real, template.loc, format!(
            "the URL cannot be written as a job template: it would fetch `{r}` instead of `{expected}`"
        ))
        .help("the URL holds text that job files read as a placeholder (`(*)`, or `\\` before the number); add the job by hand")]),
        Err(e) => Err(vec![Problem::at(real, template.loc, format!("the URL cannot be used: {e}"))]),
    }
}

/// A value with its `${NAME}` placeholders shown as `***` (and `$${` as `${`).
pub(super) fn shown(s: &str) -> String {
    env::parse(s)
        .ok()
        .and_then(|pieces| {
            let values: BTreeMap<String, String> = env::vars(&pieces)
                .map(|v| (v.to_string(), String::new()))
                .collect();
            env::resolve(&pieces, &values).ok()
        })
        .map_or_else(|| s.to_string(), |s| s.shown().to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn placeholders_found() {
        let names = env::names_in("a ${SNATCH_A} $${LIT} ${bad name} ${B_2} ${9x}");
        assert_eq!(
            names.into_iter().collect::<Vec<_>>(),
            ["B_2", "LIT", "SNATCH_A"]
        );
    }
}
