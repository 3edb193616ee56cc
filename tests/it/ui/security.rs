//! The page as an attack surface, asked with plain HTTP: no token, 401;
//! a `Host` that is not the bound address or `localhost`, refused (DNS
//! rebinding); a POST from another origin or with none, 403 (CSRF); no
//! CORS header ever; and what the page lists shows no secret.

use reqwest::header::{HeaderMap, HeaderValue};
use reqwest::{redirect, Client, StatusCode};

use super::Ui;
use crate::support::cli::Job;

fn client() -> Client {
    let _ = rustls::crypto::ring::default_provider().install_default();
    Client::builder()
        .redirect(redirect::Policy::none())
        .no_proxy()
        .build()
        .unwrap()
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
}

const JOB: &str = "\
version: 1
# kept: a comment the Add form must not lose
defaults:
  output_dir: out
jobs:
  - name: tv
    url: \"http://127.0.0.1:9/v/{{index}}.ts\"
    padding: 6
    range: { start: 1, end: 3 }
    headers:
      Cookie: \"session=${SNATCH_TV_COOKIE}\"
";

const SECRET: &str = "s3cr3t-cookie-value";

fn ui(job: &Job) -> Ui {
    Ui::start(
        job.dir.path(),
        &["jobs.yaml"],
        &[("SNATCH_TV_COOKIE", SECRET)],
    )
}

#[test]
fn without_the_token_every_address_is_401() {
    let job = Job::new(JOB);
    let ui = ui(&job);
    let rt = runtime();
    let c = client();
    for path in ["/", "/app.js", "/api/jobs", "/api/events", "/nothing"] {
        let r = rt
            .block_on(c.get(format!("{}{path}", ui.origin)).send())
            .unwrap();
        assert_eq!(r.status(), StatusCode::UNAUTHORIZED, "{path}");
    }
    // One character changed, whatever the first one is.
    let first = if ui.token.starts_with('0') { '1' } else { '0' };
    let wrong = format!("{}/?token={first}{}", ui.origin, &ui.token[1..]);
    let r = rt.block_on(c.get(wrong).send()).unwrap();
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    let wrong_cookie = format!("snatch_ui_{}=nope", ui.port);
    let r = rt
        .block_on(
            c.get(format!("{}/api/jobs", ui.origin))
                .header("cookie", wrong_cookie)
                .send(),
        )
        .unwrap();
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
}

#[test]
fn the_first_visit_sets_a_strict_http_only_cookie_and_drops_the_token() {
    let job = Job::new(JOB);
    let ui = ui(&job);
    let rt = runtime();
    let c = client();
    let r = rt.block_on(c.get(ui.first_url()).send()).unwrap();
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    assert_eq!(r.headers()["location"], "/");
    let cookie = r.headers()["set-cookie"].to_str().unwrap().to_string();
    assert!(cookie.starts_with(&format!("{};", ui.cookie())), "{cookie}");
    assert!(
        cookie.contains("HttpOnly") && cookie.contains("SameSite=Strict"),
        "{cookie}"
    );
    let page = rt
        .block_on(
            c.get(format!("{}/", ui.origin))
                .header("cookie", ui.cookie())
                .send(),
        )
        .unwrap();
    assert_eq!(page.status(), StatusCode::OK);
    let csp = page.headers()["content-security-policy"]
        .to_str()
        .unwrap()
        .to_string();
    assert!(csp.contains("script-src 'self'"), "{csp}");
    let text = rt.block_on(page.text()).unwrap();
    assert!(text.contains("<script src=\"/app.js\""), "{text}");
    assert!(!text.contains(&ui.token), "the page holds no token");
}

#[test]
fn a_host_other_than_the_bound_address_or_localhost_is_refused() {
    let job = Job::new(JOB);
    let ui = ui(&job);
    let rt = runtime();
    let c = client();
    let get = |host: &str| {
        let r = c
            .get(format!("{}/api/jobs", ui.origin))
            .header("host", host)
            .header("cookie", ui.cookie());
        rt.block_on(r.send()).unwrap().status()
    };
    let port = ui.port;
    assert_eq!(get(&format!("127.0.0.1:{port}")), StatusCode::OK);
    assert_eq!(get(&format!("localhost:{port}")), StatusCode::OK);
    for bad in [
        format!("attacker.example:{port}"),
        format!("127.0.0.1.nip.io:{port}"),
        format!("127.0.0.1:{}", port.wrapping_add(1)),
        "localhost".to_string(),
    ] {
        assert_eq!(get(&bad), StatusCode::FORBIDDEN, "{bad}");
    }
    // The first visit too: a rebinding page cannot collect the cookie.
    let r = c
        .get(ui.first_url())
        .header("host", format!("attacker.example:{port}"));
    let r = rt.block_on(r.send()).unwrap();
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
    assert!(r.headers().get("set-cookie").is_none());
}

#[test]
fn a_post_from_another_origin_or_without_one_is_403_and_changes_nothing() {
    let job = Job::new(JOB);
    let before = std::fs::read(&job.file).unwrap();
    let ui = ui(&job);
    let rt = runtime();
    let c = client();
    let form = r#"{"input":"http://127.0.0.1:9/w/000001.ts","range":"1-2","file":0}"#;
    let post = |path: &str, origin: Option<&str>, body: &str| {
        let mut h = HeaderMap::new();
        h.insert("cookie", HeaderValue::from_str(&ui.cookie()).unwrap());
        h.insert("content-type", HeaderValue::from_static("application/json"));
        if let Some(o) = origin {
            h.insert("origin", HeaderValue::from_str(o).unwrap());
        }
        let r = c
            .post(format!("{}{path}", ui.origin))
            .headers(h)
            .body(body.to_string());
        rt.block_on(r.send()).unwrap()
    };
    for origin in [Some("http://attacker.example"), Some("null"), None] {
        for (path, body) in [
            ("/api/add", form),
            ("/api/run", "{\"jobs\":null}"),
            ("/api/stop", "{}"),
        ] {
            let r = post(path, origin, body);
            assert_eq!(r.status(), StatusCode::FORBIDDEN, "{path} from {origin:?}");
            assert!(r.headers().get("access-control-allow-origin").is_none());
        }
    }
    assert_eq!(
        std::fs::read(&job.file).unwrap(),
        before,
        "the job file is unchanged"
    );
    assert!(!job.path("out").exists(), "nothing ran");
    // From the page's own origin the same write goes through `snatch new`.
    let own = ui.origin.clone();
    let r = post("/api/add", Some(&own), form);
    assert_eq!(r.status(), StatusCode::OK);
    let answer: serde_json::Value = serde_json::from_str(&rt.block_on(r.text()).unwrap()).unwrap();
    assert_eq!(answer["ok"], true, "{answer}");
    assert_eq!(answer["written"], true, "{answer}");
    let after = std::fs::read_to_string(&job.file).unwrap();
    assert!(
        after.starts_with(std::str::from_utf8(&before).unwrap()),
        "{after}"
    );
    assert!(after.contains("- name: w"), "{after}");
}

#[test]
fn no_answer_carries_a_cors_header_or_a_secret() {
    let job = Job::new(JOB);
    let ui = ui(&job);
    let rt = runtime();
    let c = client();
    let r = c
        .get(format!("{}/api/jobs", ui.origin))
        .header("cookie", ui.cookie())
        .header("origin", "http://attacker.example");
    let r = rt.block_on(r.send()).unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    assert!(r
        .headers()
        .keys()
        .all(|k| !k.as_str().starts_with("access-control-")));
    let text = rt.block_on(r.text()).unwrap();
    assert!(!text.contains(SECRET), "{text}");
    let jobs: serde_json::Value = serde_json::from_str(&text).unwrap();
    let tv = &jobs["jobs"][0];
    assert_eq!(tv["name"], "tv");
    assert_eq!(tv["segments"], 3);
    assert_eq!(tv["state"]["kind"], "never_run");
    assert_eq!(tv["first_url"], "http://127.0.0.1:9/v/000001.ts");
    assert_eq!(
        tv["headers"][0],
        serde_json::json!(["Cookie", "session=***"])
    );
}

#[test]
fn listen_binds_elsewhere_and_still_needs_the_token_and_its_host() {
    let job = Job::new(JOB);
    let ui = Ui::start(job.dir.path(), &["jobs.yaml", "--listen", "127.0.0.2"], &[]);
    assert!(ui.origin.starts_with("http://127.0.0.2:"), "{}", ui.origin);
    let rt = runtime();
    let c = client();
    let get = |host: String, cookie: bool| {
        let mut r = c
            .get(format!("{}/api/jobs", ui.origin))
            .header("host", host);
        if cookie {
            r = r.header("cookie", ui.cookie());
        }
        rt.block_on(r.send()).unwrap().status()
    };
    let port = ui.port;
    assert_eq!(get(format!("127.0.0.2:{port}"), true), StatusCode::OK);
    assert_eq!(
        get(format!("127.0.0.2:{port}"), false),
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        get(format!("127.0.0.1:{port}"), true),
        StatusCode::FORBIDDEN
    );
    assert!(
        std::net::TcpStream::connect(("127.0.0.1", port)).is_err(),
        "nothing listens on 127.0.0.1"
    );
}

#[test]
fn the_page_escapes_what_it_names() {
    let job = Job::new(JOB);
    let odd = "x<script>alert(1)</script>.yaml";
    let ui = Ui::start(job.dir.path(), &["jobs.yaml", odd], &[]);
    let rt = runtime();
    let c = client();
    let r = c
        .get(format!("{}/", ui.origin))
        .header("cookie", ui.cookie());
    let page = rt.block_on(rt.block_on(r.send()).unwrap().text()).unwrap();
    assert!(
        page.contains("x&lt;script&gt;alert(1)&lt;/script&gt;.yaml"),
        "{page}"
    );
    assert!(!page.contains("<script>alert"), "{page}");
}
