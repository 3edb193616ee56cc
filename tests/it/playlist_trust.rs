//! What a playlist names is the server's, not the job file's: secrets stay
//! with the job's own origin (and the hosts it lists), whoever named a
//! URL and whatever redirect came before; tokens never show, in any
//! spelling. Real HTTP from the project's test server on 127.0.0.1 and
//! 127.0.0.2, HLS made by ffmpeg, real merges.

use crate::support;

use std::path::Path;

use support::cli::{files_below, stderr, Job};
use support::hls::{copy_to, decode_errors, make, Hls, KEY};
use support::server::{Fault, Request, TestServer};

const TOKEN: &str = "tok-s3cr3t-9f8e7d";
const SID: &str = "sid-s3cr3t-1a2b3c";

/// An AES-128 playlist on `a` (at `/vod/index.m3u8`) whose segments and
/// key are all on `b`; both servers' roots are returned.
fn split_playlist(name: &str) -> (tempfile::TempDir, TestServer, tempfile::TempDir, TestServer) {
    let made = make(Hls {
        name,
        encrypt: Some(None),
        ..Hls::default()
    });
    let (root_a, root_b) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    copy_to(&made, root_b.path(), "vod");
    std::fs::create_dir_all(root_b.path().join("keys")).unwrap();
    std::fs::write(root_b.path().join(format!("keys/{name}.key")), KEY).unwrap();
    let b = TestServer::start_on("127.0.0.2", root_b.path(), Default::default());
    let text = std::fs::read_to_string(made.join("index.m3u8")).unwrap();
    let text = text
        .replace("URI=\"/keys/", &format!("URI=\"{}/keys/", b.url()))
        .replace("\nseg", &format!("\n{}/vod/seg", b.url()));
    std::fs::create_dir_all(root_a.path().join("vod")).unwrap();
    std::fs::write(root_a.path().join("vod/index.m3u8"), text).unwrap();
    let a = TestServer::start_on("127.0.0.1", root_a.path(), Default::default());
    (root_a, a, root_b, b)
}

fn secret_job(playlist: &str, extra: &str) -> Job {
    Job::new(&format!(
        "version: 1\ndefaults:\n  retry: {{ attempts: 2, backoff: 20ms, max_backoff: 50ms }}\njobs:\n  - name: v\n    playlist: \"{playlist}\"\n    headers:\n      Authorization: \"Bearer ${{SNATCH_T_TOKEN}}\"\n      Cookie: \"sid=${{SNATCH_T_SID}}\"\n      Referer: \"https://tv.example.com/v/1\"\n{extra}"
    ))
}

fn secrets() -> [(&'static str, &'static str); 2] {
    [("SNATCH_T_TOKEN", TOKEN), ("SNATCH_T_SID", SID)]
}

/// No request of `requests` carried a secret.
fn none_carries_secrets(requests: &[Request]) {
    for r in requests {
        assert!(
            !carries_secrets(r),
            "{} got a secret: {:?}",
            r.path,
            r.headers
        );
    }
}

fn carries_secrets(r: &Request) -> bool {
    r.headers.iter().any(|(n, v)| {
        n.eq_ignore_ascii_case("authorization")
            || n.eq_ignore_ascii_case("cookie")
            || v.contains(TOKEN)
            || v.contains(SID)
    })
}

#[test]
fn secrets_stay_with_the_playlist_s_origin_not_the_hosts_it_names() {
    let (_ra, a, _rb, b) = split_playlist("trust-split");
    let job = secret_job(&format!("{}/vod/index.m3u8", a.url()), "");
    let out = job.run_env(&secrets());
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert_eq!(decode_errors(&job.path("out/v.mp4")), "");

    let ra = a.requests();
    assert_eq!(ra.len(), 1, "only the playlist is on the job's own host");
    assert_eq!(
        ra[0].header("authorization"),
        Some(format!("Bearer {TOKEN}").as_str())
    );
    assert_eq!(ra[0].header("cookie"), Some(format!("sid={SID}").as_str()));
    let rb = b.requests();
    assert_eq!(rb.len(), 4, "three segments and the key: {rb:?}");
    none_carries_secrets(&rb);
    for r in &rb {
        assert_eq!(
            r.header("referer"),
            Some("https://tv.example.com/v/1"),
            "{}",
            r.path
        );
    }
    assert_no_secret_in(job.dir.path(), &out);
}

#[test]
fn a_listed_host_gets_the_secrets() {
    let (_ra, a, _rb, b) = split_playlist("trust-split");
    let job = secret_job(
        &format!("{}/vod/index.m3u8", a.url()),
        "    send_secrets_to: [\"127.0.0.2\"]\n",
    );
    let out = job.run_env(&secrets());
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let rb = b.requests();
    assert_eq!(rb.len(), 4);
    for r in &rb {
        assert_eq!(
            r.header("authorization"),
            Some(format!("Bearer {TOKEN}").as_str()),
            "{}",
            r.path
        );
    }
}

/// A plain playlist on 127.0.0.2 (`/vod/index.m3u8`), whose URL on
/// 127.0.0.1 redirects there.
fn redirected_playlist() -> ([tempfile::TempDir; 2], TestServer, TestServer) {
    let made = make(Hls::default());
    let (root_a, root_b) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    copy_to(&made, root_b.path(), "vod");
    let b = TestServer::start_on("127.0.0.2", root_b.path(), Default::default());
    let a = TestServer::start_on("127.0.0.1", root_a.path(), Default::default());
    a.always(
        "/vod/index.m3u8",
        Fault::Redirect {
            status: 302,
            location: format!("{}/vod/index.m3u8", b.url()),
        },
    );
    ([root_a, root_b], a, b)
}

#[test]
fn after_a_redirect_to_another_origin_no_request_carries_secrets() {
    let (_roots, a, b) = redirected_playlist();
    let job = secret_job(&format!("{}/vod/index.m3u8", a.url()), "");
    let out = job.run_env(&secrets());
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert_eq!(a.requests().len(), 1);
    assert!(carries_secrets(&a.requests()[0]));
    let rb = b.requests();
    assert_eq!(rb.len(), 4, "the playlist and three segments: {rb:?}");
    none_carries_secrets(&rb);
    assert_no_secret_in(job.dir.path(), &out);
}

#[test]
fn plan_probe_keeps_secrets_with_their_origin_too() {
    let (_ra, a, _rb, b) = split_playlist("trust-split");
    let job = secret_job(&format!("{}/vod/index.m3u8", a.url()), "");
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_snatch"))
        .current_dir(job.dir.path())
        .args(["plan", "--probe"])
        .arg(&job.file)
        .envs(secrets())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert!(carries_secrets(&a.requests()[0]));
    let rb = b.requests();
    assert!(
        rb.len() >= 2,
        "the key and the first and last segment: {rb:?}"
    );
    none_carries_secrets(&rb);
    assert_no_secret_in(job.dir.path(), &out);
}

/// No secret value, in any spelling, in the output of the command or any
/// file below `dir`.
fn assert_no_secret_in(dir: &Path, out: &std::process::Output) {
    let printed = format!("{}{}", String::from_utf8_lossy(&out.stdout), stderr(out));
    for value in [TOKEN, SID] {
        assert!(!printed.contains(value), "printed: {printed}");
        for file in files_below(dir) {
            let bytes = std::fs::read(&file).unwrap();
            let found = bytes.windows(value.len()).any(|w| w == value.as_bytes());
            assert!(!found, "{} holds a secret", file.display());
        }
    }
}

#[test]
fn a_send_secrets_to_entry_that_is_not_a_host_is_refused_where_it_stands() {
    let job = Job::new(
        "version: 1\njobs:\n  - name: v\n    playlist: \"https://tv.example.com/v/index.m3u8\"\n    send_secrets_to: [\"cdn.example.com\", \"*\"]\n",
    );
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_snatch"))
        .current_dir(job.dir.path())
        .arg("validate")
        .arg(&job.file)
        .env("NO_COLOR", "1")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = stderr(&out);
    assert!(err.contains("jobs.yaml:5:42"), "{err}");
    assert!(
        err.contains("send_secrets_to: `*` is not a host name"),
        "{err}"
    );
}

const QT: &str = "Qt0k/en+v4l==";

/// Every spelling of `v` a server or URL parser may write.
fn spellings(v: &str) -> Vec<String> {
    let enc = |upper: bool, form: bool| -> String {
        v.bytes()
            .map(|b| match b {
                b' ' if form => "+".to_string(),
                b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => {
                    (b as char).to_string()
                }
                _ if upper => format!("%{b:02X}"),
                _ => format!("%{b:02x}"),
            })
            .collect()
    };
    vec![
        v.to_string(),
        enc(true, false),
        enc(false, false),
        enc(true, true),
    ]
}

#[test]
fn a_token_the_server_repeats_or_encodes_never_shows() {
    let made = make(Hls::default());
    let root = tempfile::tempdir().unwrap();
    copy_to(&made, root.path(), "vod");
    let text = std::fs::read_to_string(made.join("index.m3u8")).unwrap();
    // The server repeats the job's token in every URI it lists, once as
    // it is and once percent-encoded.
    let encoded = &spellings(QT)[1];
    let listed = text.replace(".ts\n", &format!(".ts?p={QT}&q={encoded}\n"));
    std::fs::write(root.path().join("vod/listed.m3u8"), listed).unwrap();
    let server = TestServer::start(root.path());
    // The job's URL redirects on its origin, the token percent-encoded.
    server.always(
        "/vod/index.m3u8",
        Fault::Redirect {
            status: 302,
            location: format!("/vod/listed.m3u8?token={encoded}"),
        },
    );
    server.always("/vod/seg1.ts", Fault::Status(404));
    let job = Job::new(&format!(
        "version: 1\ndefaults:\n  retry: {{ attempts: 2, backoff: 20ms, max_backoff: 50ms }}\njobs:\n  - name: v\n    playlist: \"{}/vod/index.m3u8?token=${{SNATCH_T_QT}}\"\n",
        server.url()
    ));
    let out = job
        .command(&["--junit", "junit.xml", "--summary", "summary.md", "-v"])
        .env("SNATCH_T_QT", QT)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    let err = stderr(&out);
    assert!(err.contains("segment 1"), "the failure is told: {err}");
    assert!(err.contains("seg1.ts"), "and where: {err}");
    let printed = format!("{}{err}", String::from_utf8_lossy(&out.stdout));
    let files: Vec<_> = files_below(job.dir.path())
        .into_iter()
        .filter(|f| f.file_name() != Some(std::ffi::OsStr::new("jobs.yaml")))
        .collect();
    assert!(files.iter().any(|f| f.ends_with("report.json")));
    assert!(files.iter().any(|f| f.ends_with("summary.md")));
    for s in spellings(QT) {
        assert!(!printed.contains(&s), "`{s}` printed: {printed}");
        for file in &files {
            let text = String::from_utf8_lossy(&std::fs::read(file).unwrap()).into_owned();
            assert!(!text.contains(&s), "`{s}` in {}: {text}", file.display());
        }
    }
}

#[test]
fn snatch_new_lists_the_hosts_a_playlist_names_when_the_job_has_secrets() {
    let (_ra, a, _rb, b) = split_playlist("trust-split");
    let dir = tempfile::tempdir().unwrap();
    let url = format!("{}/vod/index.m3u8", a.url());
    let new = |extra: &[&str]| {
        std::process::Command::new(env!("CARGO_BIN_EXE_snatch"))
            .current_dir(dir.path())
            .args(["new", &url, "--name", "v"])
            .args(extra)
            .env("NO_COLOR", "1")
            .output()
            .unwrap()
    };
    // Without a secret, nothing to send anywhere.
    let out = new(&["--dry-run"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert!(!String::from_utf8_lossy(&out.stdout).contains("send_secrets_to"));
    // With a cookie, the host the playlist names gets it too, and a note
    // says so.
    let out = new(&["-H", &format!("Cookie: sid={SID}")]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let yaml = std::fs::read_to_string(dir.path().join("jobs.yaml")).unwrap();
    let origin = b.url();
    assert!(
        yaml.contains(&format!("send_secrets_to: [\"{origin}\"]")),
        "{yaml}"
    );
    assert!(!yaml.contains(SID), "{yaml}");
    let err = stderr(&out);
    let named = format!("the playlist names other hosts ({origin})");
    assert!(err.contains(&named), "{err}");
    // The job it wrote runs, the cookie reaching both hosts.
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_snatch"))
        .current_dir(dir.path())
        .args(["run", "jobs.yaml"])
        .env("SNATCH_V_COOKIE", format!("sid={SID}"))
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let rb = b.requests();
    assert_eq!(rb.len(), 4, "{rb:?}");
    assert!(rb
        .iter()
        .all(|r| r.header("cookie") == Some(&format!("sid={SID}"))));
}

#[test]
fn snatch_new_never_lists_where_a_redirect_led() {
    let (_roots, a, _b) = redirected_playlist();
    let dir = tempfile::tempdir().unwrap();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_snatch"))
        .current_dir(dir.path())
        .args(["new", &format!("{}/vod/index.m3u8", a.url()), "--name", "v"])
        .args(["-H", &format!("Cookie: sid={SID}"), "--dry-run"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let yaml = String::from_utf8_lossy(&out.stdout);
    assert!(yaml.contains("Cookie:"), "{yaml}");
    assert!(!yaml.contains("send_secrets_to"), "{yaml}");
}
