//! Defaults: a folder's (from its settings file, one without jobs), a
//! file's own, and how they fill a job's unset keys.

use super::model::{Job, Settings, Sp};

/// A file's defaults over its folder's: the file's keys win, `headers` and
/// `vars` are merged key by key.
pub fn over(own: &Settings, folder: &Settings) -> Settings {
    let mut s = own.clone();
    macro_rules! fill {
        ($($k:ident),*) => { $( if s.$k.is_none() { s.$k = folder.$k.clone(); } )* };
    }
    fill!(
        output_dir,
        concurrency,
        retry,
        timeout,
        on_missing,
        merge,
        verify,
        max_segment_bytes,
        bytes_per_second,
        send_secrets_to,
        padding,
        start,
        output
    );
    s.headers = merged(&folder.headers, &own.headers);
    s.vars = merged(&folder.vars, &own.vars);
    s
}

/// A job with the keys it leaves unset taken from `d`, where they apply:
/// `padding` to `url` jobs, `start` to `count` and `duration` jobs. The
/// other settings (`concurrency`, `retry`, …) are read from `d` where the
/// job is resolved.
pub fn apply(job: &Sp<Job>, d: &Settings) -> Sp<Job> {
    let mut j = job.value.clone();
    if j.output.is_none() {
        j.output = d.output.clone();
    }
    if j.padding.is_none() && j.playlist.is_none() {
        j.padding = d.padding.clone();
    }
    let counted = j.count.is_some() || j.duration.is_some();
    if j.start.is_none() && counted && j.playlist.is_none() {
        j.start = d.start.clone();
    }
    j.vars = merged(&d.vars, &job.vars);
    Sp::new(j, job.loc)
}

fn merged<V: Clone>(
    under: &Option<std::collections::BTreeMap<String, V>>,
    over: &Option<std::collections::BTreeMap<String, V>>,
) -> Option<std::collections::BTreeMap<String, V>> {
    match (under, over) {
        (None, o) => o.clone(),
        (u, None) => u.clone(),
        (Some(u), Some(o)) => {
            let mut m = u.clone();
            m.extend(o.iter().map(|(k, v)| (k.clone(), v.clone())));
            Some(m)
        }
    }
}
