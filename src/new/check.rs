//! Checking the new file before it replaces the old one: loaded and planned
//! like `snatch validate` does, holding the old jobs and the new one.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use crate::diag::{display_path, Problem, SourceFile};
use crate::manifest::env::{self, EnvPolicy, Secret};
use crate::manifest::{self, Loc, Manifest};
use crate::plan::{self, PlanContext, Selection};

use super::detect::Detected;
use super::job_text::JobText;

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

/// `${NAME}` names in a text (a superset is fine: it only widens what counts as set).
pub(super) fn placeholder_names(text: &str) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    let mut rest = text;
    while let Some(i) = rest.find("${") {
        rest = &rest[i + 2..];
        let end = rest
            .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
            .unwrap_or(rest.len());
        if end > 0 && rest[end..].starts_with('}') {
            out.insert(rest[..end].to_string());
        }
    }
    out
}

/// May read what the old file reads (it was allowed before) and `SNATCH_*`;
/// every variable of the new text counts as set (the user exports them later).
pub(super) fn env_policy(old: &str, new: &str) -> EnvPolicy {
    EnvPolicy {
        allowed: placeholder_names(old),
        values: placeholder_names(new)
            .into_iter()
            .map(|n| (n, "x".to_string()))
            .collect(),
    }
}

/// Loads and plans the new text (at `temp`) and checks it holds the old jobs
/// and the new one, whose URL renders back the URL it was made from.
/// Returns the new job's segment count.
pub(super) fn check_new_text(
    temp: &Path,
    file: &Path,
    new_text: &str,
    policy: &EnvPolicy,
    old_names: &[String],
    job: &JobText,
    detected: &Detected,
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

    // The template must give back the URL it was made from.
    let index = format!("{:0w$}", detected.index, w = detected.padding as usize);
    let mut templates = crate::template::Templates::new();
    let ctx = serde_json::json!({
        "index": index, "n": detected.index, "name": job.name,
        "vars": {}, "date": "2000-01-01",
    });
    let rendered = templates
        .register("url", &spec.url)
        .and_then(|()| templates.render("url", &ctx))
        .map(|r| shown(&r));
    let expected = shown(&job.url.replace("{{index}}", &index));
    match rendered {
        Ok(r) if r == expected => {}
        Ok(r) => {
            return Err(vec![Problem::at(&real, spec.url.loc, format!(
                "the URL cannot be written as a job template: it would fetch `{r}` instead of `{expected}`"
            ))
            .help("the URL holds text that job files read as a placeholder (`(*)`, or `\\` before the number); add the job by hand")])
        }
        Err(e) => return Err(vec![Problem::at(&real, spec.url.loc, format!("the URL cannot be used: {e}"))]),
    }
    Ok(planned.source.len())
}

/// A value with its `${NAME}` placeholders shown as `***` (and `$${` as `${`).
pub(super) fn shown(s: &str) -> String {
    env::parse(s)
        .ok()
        .and_then(|pieces| {
            let values: BTreeMap<String, String> = env::vars(&pieces)
                .map(|v| (v.to_string(), String::new()))
                .collect();
            Secret::resolve(&pieces, &values).ok()
        })
        .map_or_else(|| s.to_string(), |s| s.shown().to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn placeholders_found() {
        let names = placeholder_names("a ${SNATCH_A} $${LIT} ${bad name} ${B_2}");
        assert_eq!(
            names.into_iter().collect::<Vec<_>>(),
            ["B_2", "LIT", "SNATCH_A"]
        );
    }
}
