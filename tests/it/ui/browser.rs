//! The page in a real browser: headless Chromium driven over WebDriver
//! (chromedriver, fantoccini). The test opens the address `snatch ui`
//! printed, pastes a segment URL of the test server into the Add form,
//! sees the job's YAML, adds it, runs it, watches its bar reach done and
//! reads the report; the merged file is checked with ffprobe.
//!
//! Screenshots (PNG) are saved under `target/tmp/ui/<test>/`; with
//! `SNATCH_UI_SCREENSHOTS=DIR` (relative to the crate) the two the README
//! shows are written there too: `ui-add.png` (the Add form with a job's
//! YAML) and `ui-run.png` (the page in the middle of a run).
//!
//! Chromium and chromedriver must be installed (`.ci/run` installs
//! Debian's `chromium` and `chromium-driver`): without them the test fails
//! and says so.

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use fantoccini::{Client, ClientBuilder, Locator};
use serde_json::json;

use super::Ui;
use crate::support::server::{Fault, TestServer};
use crate::support::{cli::Job, media};

/// chromedriver on a free port of 127.0.0.1; killed on drop.
struct Driver {
    child: Child,
    url: String,
}

impl Driver {
    fn start() -> Driver {
        let exe = [
            "chromedriver",
            "/usr/bin/chromedriver",
            "/usr/lib/chromium/chromedriver",
        ]
        .into_iter()
        .find(|p| Command::new(p).arg("--version").output().is_ok())
        .unwrap_or_else(|| {
            panic!(
                "chromedriver is not installed: the browser test needs Chromium and its \
                     WebDriver (Debian: apt-get install -y chromium chromium-driver; .ci/run \
                     installs them)"
            )
        });
        let port = TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let child = Command::new(exe)
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("chromedriver starts");
        let deadline = Instant::now() + Duration::from_secs(20);
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(
                Instant::now() < deadline,
                "chromedriver did not listen on {port}"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
        Driver {
            child,
            url: format!("http://127.0.0.1:{port}"),
        }
    }
}

impl Drop for Driver {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Headless Chromium, its window the size of the README's screenshots.
async fn browser(driver: &Driver) -> Client {
    let mut options = json!({
        "args": ["--headless=new", "--no-sandbox", "--disable-gpu",
                 "--disable-dev-shm-usage", "--window-size=1280,1000"]
    });
    if Path::new("/usr/bin/chromium").exists() {
        options["binary"] = json!("/usr/bin/chromium");
    }
    let mut caps = serde_json::Map::new();
    caps.insert("goog:chromeOptions".into(), options);
    let connector = hyper_util::client::legacy::connect::HttpConnector::new();
    ClientBuilder::new(connector)
        .capabilities(caps)
        .connect(&driver.url)
        .await
        .unwrap_or_else(|e| panic!("Chromium does not start under chromedriver: {e}"))
}

/// Where this test keeps its screenshots.
fn output_folder(test: &str) -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("ui").join(test);
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// Saves a screenshot under `dir`, and as the README's `readme` one when
/// `SNATCH_UI_SCREENSHOTS` names a folder.
async fn screenshot(c: &Client, dir: &Path, name: &str, readme: Option<&str>) {
    let png = c.screenshot().await.unwrap();
    assert!(png.starts_with(b"\x89PNG"), "a PNG");
    std::fs::write(dir.join(name), &png).unwrap();
    if let (Some(to), Some(readme)) = (std::env::var_os("SNATCH_UI_SCREENSHOTS"), readme) {
        let to = Path::new(env!("CARGO_MANIFEST_DIR")).join(to);
        std::fs::create_dir_all(&to).unwrap();
        std::fs::write(to.join(readme), &png).unwrap();
    }
}

/// The element `css`'s `data-status` and visible text, read at once (the
/// page replaces its rows as the run goes).
async fn read(c: &Client, css: &str) -> Option<(String, String)> {
    let script = "const e = document.querySelector(arguments[0]); \
                  return e ? [e.dataset.status || '', e.innerText] : null;";
    let got = c.execute(script, vec![json!(css)]).await.ok()?;
    let pair: Option<(String, String)> = serde_json::from_value(got).ok()?;
    pair
}

/// The text of the element `css`, once `ready` holds of it.
async fn wait_text(c: &Client, css: &str, what: &str, ready: impl Fn(&str) -> bool) -> String {
    let deadline = Instant::now() + Duration::from_secs(90);
    let mut last = String::new();
    while Instant::now() < deadline {
        if let Some((_, text)) = read(c, css).await {
            last = text;
            if ready(&last) {
                return last;
            }
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("{what}: `{css}` never did; it last said {last:?}");
}

/// The `data-status` of the job's bar, once `ready` holds of it.
async fn wait_bar(c: &Client, job: &str, ready: impl Fn(&str, &str) -> bool) -> String {
    let css = format!(".bar-row[data-job=\"{job}\"]");
    let deadline = Instant::now() + Duration::from_secs(90);
    let mut seen: Vec<String> = Vec::new();
    while Instant::now() < deadline {
        if let Some((status, text)) = read(c, &css).await {
            if ready(&status, &text) {
                return status;
            }
            let line = format!("{status}: {text}");
            if seen.last() != Some(&line) {
                seen.push(line);
            }
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!(
        "the bar of `{job}` never got there; it said:\n{}",
        seen.join("\n")
    );
}

async fn fill(c: &Client, id: &str, text: &str) {
    let e = c.find(Locator::Id(id)).await.unwrap();
    e.clear().await.unwrap();
    e.send_keys(text).await.unwrap();
}

async fn click(c: &Client, id: &str) {
    c.find(Locator::Id(id))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
}

const SKELETON: &str = "\
version: 1
defaults:
  output_dir: out
  concurrency: 2
jobs: []
";

#[test]
fn a_job_added_in_the_page_runs_to_its_report() {
    let media = media::segments(12, 1);
    let server = TestServer::with_latency(&media, Duration::from_millis(250));
    // A retry, and a pause of the host the bars and host lines show.
    server.script("/000004.ts", [Fault::Status(503)]);
    server.script(
        "/000007.ts",
        [Fault::RetryAfter {
            status: 429,
            value: "1".into(),
        }],
    );
    let job = Job::new(SKELETON);
    let ui = Ui::start(job.dir.path(), &["jobs.yaml"], &[]);
    let driver = Driver::start();
    let shots = output_folder("a_job_added_in_the_page_runs_to_its_report");
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let c = browser(&driver).await;
        let result = drive(&c, &ui, &server, &shots).await;
        let _ = c.close().await;
        result
    });
    let output = job.path("out/show.mp4");
    let (duration, streams) = media::probe(&output);
    assert!((duration - 12.0).abs() < 0.5, "{duration}");
    assert_eq!(streams, ["video", "audio"]);
}

async fn drive(c: &Client, ui: &Ui, server: &TestServer, shots: &Path) {
    c.goto(&ui.first_url()).await.unwrap();
    let here = c.current_url().await.unwrap();
    assert_eq!(
        here.as_str(),
        format!("{}/", ui.origin),
        "the token left the address bar"
    );
    wait_text(c, "#no-jobs", "the empty list says so", |t| {
        t.contains("No jobs yet")
    })
    .await;

    // Add: a pasted segment URL, the range, a Referer, a name.
    fill(c, "add-input", &format!("{}/000001.ts", server.url())).await;
    fill(c, "add-range", "1-12").await;
    fill(c, "add-referer", "https://tv.example/watch").await;
    fill(c, "add-name", "show").await;
    click(c, "add-preview").await;
    let yaml = wait_text(c, "#add-yaml", "the YAML shows", |t| {
        t.contains("name: show")
    })
    .await;
    assert!(yaml.contains("range: { start: 1, end: 12 }"), "{yaml}");
    assert!(
        yaml.contains("Referer: \"https://tv.example/watch\""),
        "{yaml}"
    );
    let message = c
        .find(Locator::Id("add-message"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(message.starts_with("dry run"), "{message}");
    screenshot(c, shots, "1-add.png", Some("ui-add.png")).await;
    click(c, "add-write").await;
    wait_text(c, "#add-message", "the job is added", |t| {
        t.starts_with("added job `show`")
    })
    .await;
    wait_text(c, "#jobs tbody", "the list shows the job", |t| {
        t.contains("never run")
    })
    .await;

    // Run it, and watch.
    let select = "#jobs tr[data-job=\"show\"] input";
    c.find(Locator::Css(select))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    click(c, "run-selected").await;
    wait_bar(c, "show", |status, text| {
        status == "running" && !text.starts_with("0/") && text.contains("retr")
    })
    .await;
    wait_text(c, "#jobs tbody", "the list says running", |t| {
        t.contains("running")
    })
    .await;
    let host = wait_text(c, "#hosts", "the host line shows the pause", |t| {
        t.contains("paused until")
    })
    .await;
    assert!(host.contains("limit 8 in flight"), "{host}");
    let scroll = "document.getElementById('run-panel').scrollIntoView()";
    c.execute(scroll, vec![]).await.unwrap();
    screenshot(c, shots, "2-run.png", Some("ui-run.png")).await;
    let status = wait_bar(c, "show", |status, _| {
        status != "running" && status != "waiting"
    })
    .await;
    assert_eq!(status, "ok");
    let bar = c
        .find(Locator::Css(".bar-row[data-job=\"show\"]"))
        .await
        .unwrap();
    let bar = bar.text().await.unwrap();
    assert!(bar.contains("12/12 segments"), "{bar}");

    // The report: the Markdown summary's content, and each output.
    let report = wait_text(c, "#report-markdown", "the report shows", |t| {
        t.contains("show")
    })
    .await;
    assert!(report.starts_with("### snatch run"), "{report}");
    assert!(report.contains("1 ok"), "{report}");
    let outputs = wait_text(c, "#outputs tbody", "the outputs show", |t| {
        t.contains("show")
    })
    .await;
    assert!(outputs.contains("show.mp4"), "{outputs}");
    assert!(outputs.contains("video, audio"), "{outputs}");
    assert!(outputs.contains("0:12"), "{outputs}");
    wait_text(c, "#jobs tbody", "the list says done", |t| {
        t.contains("done (0:12")
    })
    .await;
    screenshot(c, shots, "3-done.png", None).await;
}
