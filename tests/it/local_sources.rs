//! Local segment sources stay in their workspace at run time too: a
//! template that renders another path for some indices only, or a planted
//! symlink, fails the job naming the path, and nothing of the file it
//! names lands in the output folder.

use crate::support;

use std::path::Path;

use support::cli::{files_below, stderr, Job};
use support::media::segments;

const CANARY: &str = "canary-7f3e9d-environment";

/// A job folder holding segments 1 and 3 (and 2 where `with_two`), with
/// the given url template over indices 1..=3.
fn job_with(url: &str, with_two: bool) -> Job {
    let job = Job::new(&format!(
        "version: 1\njobs:\n  - name: local\n    url: '{url}'\n    padding: 6\n    range: {{ start: 1, end: 3 }}\n    retry: {{ attempts: 1 }}\n"
    ));
    let media = segments(3, 1);
    std::fs::create_dir(job.path("seg")).unwrap();
    for i in [1, 2, 3] {
        if i == 2 && !with_two {
            continue;
        }
        let name = format!("{i:06}.ts");
        std::fs::copy(media.join(&name), job.path("seg").join(&name)).unwrap();
    }
    job
}

fn nothing_below_holds(dir: &Path, needle: &[u8]) {
    for f in files_below(dir) {
        let bytes = std::fs::read(&f).unwrap_or_default();
        assert!(
            !bytes.windows(needle.len()).any(|w| w == needle),
            "{} holds the refused file's bytes",
            f.display()
        );
    }
}

#[cfg(target_os = "linux")]
#[test]
fn a_template_that_renders_proc_for_one_index_fails_that_job() {
    let job = job_with(
        "{{#if (eq n 2)}}/proc/self/environ{{else}}seg/{{index}}.ts{{/if}}",
        false,
    );
    let out = job
        .command(&[])
        .env("SNATCH_TEST_CANARY", CANARY)
        .output()
        .unwrap();
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(1), "{err}");
    let report = job.report();
    let text = format!("{err}{report}");
    assert!(text.contains("/proc/self/environ"), "{text}");
    assert!(text.contains("never reads"), "{text}");
    assert_eq!(report["jobs"][0]["status"], "failed", "{report}");
    nothing_below_holds(job.dir.path(), CANARY.as_bytes());
}

#[cfg(unix)]
#[test]
fn a_planted_symlink_to_a_file_outside_is_not_read() {
    let victim = tempfile::tempdir().unwrap();
    let secret = victim.path().join("id_rsa");
    std::fs::write(&secret, "victim-private-key-bytes").unwrap();
    let job = job_with("seg/{{index}}.ts", false);
    std::os::unix::fs::symlink(&secret, job.path("seg/000002.ts")).unwrap();
    let out = job.run(&[]);
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(1), "{err}");
    let text = format!("{err}{}", job.report());
    assert!(text.contains("seg/000002.ts"), "{text}");
    assert!(text.contains("--allow-local"), "{text}");
    nothing_below_holds(
        job.dir.path().join("out").as_path(),
        b"victim-private-key-bytes",
    );
}

#[test]
fn segments_inside_the_job_folder_are_merged() {
    let job = job_with("seg/{{index}}.ts", true);
    let out = job.run(&[]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert!(job.path("out/local.mp4").exists());
}
