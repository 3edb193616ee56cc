//! The DASH fixtures (`tests/support/dash.rs`) are what they claim,
//! checked without snatch: ffmpeg reads the MPDs it wrote, served over
//! real HTTP by the test server (ffprobe: duration, streams, heights);
//! every MPD is well-formed XML with the elements its fixture names; the
//! files each MPD addresses exist, and each representation's init and
//! segments, joined in order, decode and last as long as the MPD says.

use crate::support;

use std::path::{Path, PathBuf};
use std::process::Command;

use support::dash::xml::{elements, find, Element};
use support::dash::{self, boxes, Dash};
use support::hls::decode_errors;
use support::media::probe;
use support::server::TestServer;

/// ffprobe of the MPD served over HTTP: (duration, stream types, heights).
fn ffprobe_over_http(d: &Dash, mpd: &str) -> (f64, Vec<String>, Vec<u64>) {
    let server = TestServer::start(&d.dir);
    let url = format!("{}/{mpd}", server.url());
    let out = Command::new("ffprobe")
        .args([
            "-v",
            "error",
            "-show_entries",
            "format=duration:stream=codec_type,height",
        ])
        .args(["-of", "json", &url])
        .output()
        .expect("ffprobe runs");
    assert!(
        out.status.success(),
        "ffprobe {url}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let secs = v["format"]["duration"].as_str().unwrap().parse().unwrap();
    let streams = v["streams"].as_array().unwrap();
    let kinds = streams
        .iter()
        .map(|s| s["codec_type"].as_str().unwrap().to_string());
    let heights = streams.iter().filter_map(|s| s["height"].as_u64());
    (secs, kinds.collect(), heights.collect())
}

/// The files `init` and `segments` of `dir` joined into one, which must
/// decode without an error and last `secs` (± 0.1 s).
fn assert_plays(dir: &Path, init: &str, segments: &[String], secs: f64) {
    let mut joined = std::fs::read(dir.join(init)).unwrap_or_else(|e| panic!("{init}: {e}"));
    for s in segments {
        joined.extend(std::fs::read(dir.join(s)).unwrap_or_else(|e| panic!("{s}: {e}")));
    }
    let file = tempfile::Builder::new().suffix(".mp4").tempfile().unwrap();
    std::fs::write(file.path(), joined).unwrap();
    assert_eq!(decode_errors(file.path()), "", "{init} + {segments:?}");
    let (got, _) = probe(file.path());
    assert!(
        (got - secs).abs() < 0.1,
        "{init} + {segments:?}: {got} s, not {secs}"
    );
}

/// The segment names a `SegmentTemplate` addresses (`$RepresentationID$`,
/// `$Number%05d$`, `$Time$`; a timeline, or `@duration` over `secs`).
fn template_names(template: &Element, timeline: &[&Element], rep: &str, secs: f64) -> Vec<String> {
    let media = template
        .attr("media")
        .unwrap()
        .replace("$RepresentationID$", rep);
    let number: u64 = template.attr("startNumber").unwrap_or("1").parse().unwrap();
    let times: Vec<u64> = if timeline.is_empty() {
        let scale: f64 = template.attr("timescale").unwrap().parse().unwrap();
        let each: f64 = template.attr("duration").unwrap().parse().unwrap();
        let count = (secs * scale / each).ceil() as u64;
        (0..count).map(|i| i * each as u64).collect()
    } else {
        let mut t = 0;
        let mut out = Vec::new();
        for s in timeline {
            t = s.attr("t").map_or(t, |v| v.parse().unwrap());
            let d: u64 = s.attr("d").unwrap().parse().unwrap();
            for _ in 0..=s.attr("r").map_or(0, |r| r.parse::<u64>().unwrap()) {
                out.push(t);
                t += d;
            }
        }
        out
    };
    let name = |(i, t): (usize, &u64)| {
        let n = format!("{:05}", number + i as u64);
        media
            .replace("$Number%05d$", &n)
            .replace("$Time$", &t.to_string())
    };
    times.iter().enumerate().map(name).collect()
}

/// Each representation of a template MPD (no BaseURL) plays from the
/// files its template addresses, as long as its period (`secs`, in
/// order); the names, per period and representation.
fn assert_template_plays(d: &Dash, secs: &[f64]) -> Vec<Vec<String>> {
    let all = elements(&d.mpd_text());
    let periods = find(&all, "MPD/Period");
    assert_eq!(periods.len(), secs.len(), "periods");
    let mut names = Vec::new();
    for (period, &secs) in periods.iter().zip(secs) {
        let inside = all_after(&all, period);
        for rep in inside.iter().filter(|e| e.name() == "Representation") {
            let id = rep.attr("id").unwrap();
            let below = all_after(&all, rep);
            let template = *below
                .iter()
                .find(|e| e.name() == "SegmentTemplate")
                .unwrap();
            let timeline: Vec<&Element> =
                below.iter().copied().filter(|e| e.name() == "S").collect();
            let files = template_names(template, &timeline, id, secs);
            let init = template
                .attr("initialization")
                .unwrap()
                .replace("$RepresentationID$", id);
            assert_plays(&d.dir, &init, &files, secs);
            names.push(files);
        }
    }
    names
}

/// The elements inside `parent`: those after it whose path is below its
/// path, up to the first that is not.
fn all_after<'a>(all: &'a [Element], parent: &Element) -> Vec<&'a Element> {
    let at = all.iter().position(|e| std::ptr::eq(e, parent)).unwrap();
    let prefix = format!("{}/", parent.path);
    all[at + 1..]
        .iter()
        .take_while(|e| e.path.starts_with(&prefix))
        .collect()
}

#[test]
fn ffmpeg_reads_its_template_mpds_and_every_segment_is_there() {
    for d in [
        dash::timeline(),
        dash::duration(),
        dash::time(),
        dash::two_videos(),
    ] {
        let (secs, kinds, heights) = ffprobe_over_http(&d, d.mpd);
        assert!((secs - d.secs).abs() < 0.05, "{}: {secs}", d.dir.display());
        assert!(kinds.contains(&"video".to_string()) && kinds.contains(&"audio".to_string()));
        assert_eq!(heights, d.heights, "{}", d.dir.display());
        let names = assert_template_plays(&d, &[d.secs]);
        assert_eq!(
            names.len(),
            d.heights.len() + 1,
            "video representations and the audio"
        );
        assert!(names.iter().all(|n| n.len() == 3), "{names:?}");
    }
    let t = dash::time();
    let all = elements(&t.mpd_text());
    assert!(find(&all, "SegmentTemplate")
        .iter()
        .all(|e| e.attr("media").unwrap().contains("$Time$")));
    assert!(t.dir.join("chunk-1-44032.m4s").is_file() && t.dir.join("chunk-1-0.m4s").is_file());
    let d = elements(&dash::duration().mpd_text());
    assert!(find(&d, "SegmentTimeline").is_empty());
    assert!(find(&d, "SegmentTemplate")
        .iter()
        .all(|e| e.attr("duration") == Some("2000000")));
    let two = elements(&dash::two_videos().mpd_text());
    assert_eq!(find(&two, "AdaptationSet").len(), 2);
    let bandwidths: Vec<_> = find(&two, "Representation")
        .iter()
        .map(|r| r.attr("bandwidth").unwrap())
        .collect();
    assert_eq!(bandwidths, ["100000", "300000", "32000"]);
}

/// The byte range `a-b` as (a, b).
fn range(s: &str) -> (u64, u64) {
    let (a, b) = s.split_once('-').unwrap();
    (a.parse().unwrap(), b.parse().unwrap())
}

/// The one-file representations of an MPD: (file, its bytes, its `Initialization@range`).
fn one_files(d: &Dash, all: &[Element]) -> Vec<(PathBuf, Vec<u8>, (u64, u64))> {
    let urls = find(all, "Representation/BaseURL");
    let inits = find(all, "Initialization");
    assert_eq!(urls.len(), 2);
    let file = |(u, i): (&&Element, &&Element)| {
        let path = d.dir.join(&u.text);
        let bytes = std::fs::read(&path).unwrap();
        (path, bytes, range(i.attr("range").unwrap()))
    };
    urls.iter().zip(&inits).map(file).collect()
}

#[test]
fn single_file_ranges_tile_each_file() {
    let d = dash::single_file();
    let all = elements(&d.mpd_text());
    assert!(find(&all, "SegmentTemplate").is_empty() && find(&all, "SegmentBase").is_empty());
    let urls = find(&all, "SegmentList/SegmentURL");
    assert_eq!(urls.len(), 6);
    for (i, (path, bytes, init)) in one_files(&d, &all).into_iter().enumerate() {
        assert_eq!(init.0, 0);
        let mut next = init.1 + 1;
        for u in &urls[3 * i..3 * i + 3] {
            let (first, last) = range(u.attr("mediaRange").unwrap());
            let (i0, i1) = range(u.attr("indexRange").unwrap());
            assert_eq!(first, next, "{}: no gap", path.display());
            let at = |kind: &str, at: u64| boxes(&bytes).iter().any(|b| b.0 == kind && b.1 == at);
            assert!(
                at("sidx", i0) && at("moof", i1 + 1),
                "{}: {first}",
                path.display()
            );
            next = last + 1;
        }
        assert_eq!(next, bytes.len() as u64, "{}: to the end", path.display());
        let (secs, _) = probe(&path);
        assert!((secs - d.secs).abs() < 0.1, "{}: {secs}", path.display());
    }
}

#[test]
fn segment_base_points_at_the_one_sidx_of_each_file() {
    let d = dash::segment_base();
    let all = elements(&d.mpd_text());
    assert!(find(&all, "SegmentList").is_empty());
    let bases = find(&all, "Representation/SegmentBase");
    assert_eq!(bases.len(), 2);
    for ((path, bytes, init), base) in one_files(&d, &all).into_iter().zip(bases) {
        let kinds = boxes(&bytes);
        let (first, last) = range(base.attr("indexRange").unwrap());
        let sidx = kinds.iter().find(|b| b.0 == "sidx").unwrap();
        assert_eq!(
            (first, last),
            (sidx.1, sidx.1 + sidx.2 - 1),
            "{}",
            path.display()
        );
        assert_eq!(init, (0, first - 1), "ftyp and moov");
        assert_eq!(kinds.iter().filter(|b| b.0 == "sidx").count(), 1);
        assert_eq!(kinds[kinds.len() - 1].0, "mdat");
        let (secs, _) = probe(&path);
        assert!((secs - d.secs).abs() < 0.1, "{}: {secs}", path.display());
    }
}

#[test]
fn segment_list_names_files_that_play() {
    let d = dash::segment_list();
    let all = elements(&d.mpd_text());
    assert!(find(&all, "SegmentTemplate").is_empty());
    let lists = find(&all, "Representation/SegmentList");
    assert_eq!(lists.len(), 2);
    for list in lists {
        let inside = all_after(&all, list);
        let init = inside
            .iter()
            .find(|e| e.name() == "Initialization")
            .unwrap();
        let media: Vec<String> = inside
            .iter()
            .filter(|e| e.name() == "SegmentURL")
            .map(|e| e.attr("media").unwrap().to_string())
            .collect();
        assert_eq!(media.len(), 3);
        assert_plays(&d.dir, init.attr("sourceURL").unwrap(), &media, d.secs);
    }
}

#[test]
fn base_urls_at_four_levels_lead_to_the_files() {
    let d = dash::base_urls();
    let all = elements(&d.mpd_text());
    let text = |tail: &str| {
        find(&all, tail)
            .iter()
            .map(|e| e.text.clone())
            .collect::<Vec<_>>()
    };
    assert_eq!(text("MPD/BaseURL"), ["media/"]);
    assert_eq!(text("MPD/Period/BaseURL"), ["p0/"]);
    assert_eq!(text("Period/AdaptationSet/BaseURL"), ["video/", "audio/"]);
    assert_eq!(text("AdaptationSet/Representation/BaseURL"), ["r0/", "r1/"]);
    for (rep, kind) in [("0", "video"), ("1", "audio")] {
        let folder = d.dir.join(format!("media/p0/{kind}/r{rep}"));
        let segments: Vec<String> = (1..=3)
            .map(|n| format!("chunk-stream{rep}-{n:05}.m4s"))
            .collect();
        assert_plays(&folder, &format!("init-stream{rep}.m4s"), &segments, d.secs);
    }
    assert!(
        !d.dir.join("init-stream0.m4s").exists(),
        "only below the BaseURLs"
    );
}

#[test]
fn two_periods_each_with_its_init_and_content() {
    let d = dash::two_periods();
    let all = elements(&d.mpd_text());
    let periods = find(&all, "MPD/Period");
    let attrs: Vec<_> = periods
        .iter()
        .map(|p| {
            (
                p.attr("id").unwrap(),
                p.attr("start").unwrap(),
                p.attr("duration").unwrap(),
            )
        })
        .collect();
    assert_eq!(
        attrs,
        [("0", "PT0.0S", "PT4.0S"), ("1", "PT4.0S", "PT2.0S")]
    );
    assert_eq!(
        find(&all, "MPD")[0].attr("mediaPresentationDuration"),
        Some("PT6.0S")
    );
    for (p, secs) in [(0, 4.0), (1, 2.0)] {
        let (got, _, _) = ffprobe_over_http(&d, &format!("p{p}.mpd"));
        assert!((got - secs).abs() < 0.05, "p{p}.mpd: {got}");
    }
    let names = assert_template_plays(&d, &[4.0, 2.0]);
    assert_eq!(names[0], ["p0-chunk-0-00001.m4s", "p0-chunk-0-00002.m4s"]);
    assert_eq!(names[2], ["p1-chunk-0-00001.m4s"]);
    // Different content: the periods' first segments differ.
    let first = |p: u32| std::fs::read(d.dir.join(format!("p{p}-chunk-0-00001.m4s"))).unwrap();
    assert_ne!(first(0), first(1));
}

#[test]
fn protected_declares_cenc_and_widevine_on_each_adaptation_set() {
    let d = dash::protected();
    let all = elements(&d.mpd_text());
    assert_eq!(
        find(&all, "MPD")[0].attr("xmlns:cenc"),
        Some("urn:mpeg:cenc:2013")
    );
    let schemes: Vec<_> = find(&all, "AdaptationSet/ContentProtection")
        .iter()
        .map(|c| c.attr("schemeIdUri").unwrap())
        .collect();
    let cenc = "urn:mpeg:dash:mp4protection:2011";
    let widevine = "urn:uuid:edef8ba9-79d6-4ace-a3c8-27dcd51d21ed";
    assert_eq!(schemes, [cenc, widevine, cenc, widevine]);
    let kids = find(&all, "ContentProtection")
        .iter()
        .filter_map(|c| c.attr("cenc:default_KID"))
        .count();
    assert_eq!(kids, 2);
    assert!(all
        .iter()
        .any(|e| e.attr("cenc:default_KID") == Some(dash::KID)));
    assert_template_plays(&d, &[d.secs]);
}

#[test]
fn dynamic_is_a_live_mpd() {
    let d = dash::dynamic();
    let all = elements(&d.mpd_text());
    let mpd = find(&all, "MPD")[0];
    assert_eq!(mpd.attr("type"), Some("dynamic"));
    assert_eq!(mpd.attr("mediaPresentationDuration"), None);
    assert!(
        mpd.attr("availabilityStartTime").is_some() && mpd.attr("minimumUpdatePeriod").is_some()
    );
    assert_template_plays(&d, &[d.secs]);
}

#[test]
fn the_xml_check_refuses_what_is_not_well_formed() {
    let bad = [
        "<MPD><Period></MPD>",
        "<MPD a=\"1\" a=\"2\"/>",
        "<MPD a=1/>",
        "<MPD/><MPD/>",
        "<MPD>a & b</MPD>",
        "<MPD><Period></Period>",
        "text<MPD/>",
    ];
    for doc in bad {
        let caught = std::panic::catch_unwind(|| elements(doc));
        assert!(caught.is_err(), "{doc}");
    }
    let good = elements("<?xml version=\"1.0\"?><!-- c --><MPD x='1'><B>t &amp; u</B><C/></MPD>");
    let paths: Vec<_> = good.iter().map(|e| e.path.as_str()).collect();
    assert_eq!(paths, ["MPD", "MPD/B", "MPD/C"]);
    assert_eq!(good[1].text, "t &amp; u");
}
