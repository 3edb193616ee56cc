//! Hand-written MPDs, each a small edit of one ffmpeg wrote, beside
//! copies of its files: the shapes ffmpeg's dash muxer does not write.
//! Every edit asserts it found what it edits, so a change in ffmpeg's
//! output fails here, not in a test of snatch.

use std::path::Path;

use super::{
    cached, ffmpeg, lock, made_global_sidx, made_timeline, plain, the_box, Dash, Source, KID,
};

/// `text` with the one `from` replaced.
fn once(text: &str, from: &str, to: &str) -> String {
    assert_eq!(text.matches(from).count(), 1, "one {from:?} in {text}");
    text.replacen(from, to, 1)
}

/// `text` with each of the `n` `from` replaced.
fn each(text: &str, from: &str, to: &str, n: usize) -> String {
    assert_eq!(text.matches(from).count(), n, "{n} {from:?} in {text}");
    text.replace(from, to)
}

/// Replaces the elements `<name …>…</name>`, in order, by what `by` makes
/// of their index and text.
fn elements(text: &str, name: &str, mut by: impl FnMut(usize, &str) -> String) -> String {
    let (open, close) = (format!("<{name} "), format!("</{name}>"));
    let mut out = String::new();
    let mut rest = text;
    let mut i = 0;
    while let Some(start) = rest.find(&open) {
        let end = start + rest[start..].find(&close).expect("closed") + close.len();
        out.push_str(&rest[..start]);
        out.push_str(&by(i, &rest[start..end]));
        rest = &rest[end..];
        i += 1;
    }
    assert!(i > 0, "no {name} in {text}");
    out + rest
}

/// Copies the files of `from` whose names start with `prefix` to `to`.
fn copy(from: &Path, prefix: &str, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for e in std::fs::read_dir(from).unwrap().flatten() {
        let name = e.file_name().to_string_lossy().into_owned();
        if e.path().is_file() && name.starts_with(prefix) {
            std::fs::copy(e.path(), to.join(&name)).unwrap();
        }
    }
}

/// ffmpeg's [`super::timeline`] MPD and all its files in `dir`.
fn from_timeline(dir: &Path) -> String {
    let from = made_timeline();
    copy(&from, "", dir);
    std::fs::read_to_string(from.join("manifest.mpd")).unwrap()
}

/// `SegmentList` of `SegmentURL@media` (three segments of 2 s each,
/// `@duration`) and `Initialization@sourceURL`, on the files of
/// [`super::timeline`].
pub fn segment_list() -> Dash {
    let _guard = lock();
    plain(cached("segment_list", |dir| {
        let mpd = from_timeline(dir);
        let mpd = elements(&mpd, "SegmentTemplate", |rep, _| {
            let mut list = format!(
                "<SegmentList timescale=\"1000\" duration=\"2000\">\n\
                 \t\t\t\t\t<Initialization sourceURL=\"init-stream{rep}.m4s\" />\n"
            );
            for n in 1..=3 {
                let media = format!("chunk-stream{rep}-{n:05}.m4s");
                assert!(dir.join(&media).is_file(), "{media}");
                list += &format!("\t\t\t\t\t<SegmentURL media=\"{media}\" />\n");
            }
            list + "\t\t\t\t</SegmentList>"
        });
        std::fs::write(dir.join("manifest.mpd"), mpd).unwrap();
    }))
}

/// `SegmentBase@indexRange` (the one `sidx` of each file, ffmpeg's
/// `-global_sidx 1`) with `Initialization@range` (`ftyp` and `moov`),
/// one file per representation below a `BaseURL`.
pub fn segment_base() -> Dash {
    let _guard = lock();
    plain(cached("segment_base", |dir| {
        let from = made_global_sidx();
        copy(&from, "", dir);
        let mpd = std::fs::read_to_string(from.join("manifest.mpd")).unwrap();
        let mpd = elements(&mpd, "SegmentList", |rep, _| {
            let file = std::fs::read(dir.join(format!("manifest-stream{rep}.mp4"))).unwrap();
            let (_, moov_end) = the_box(&file, "moov");
            let (first, last) = the_box(&file, "sidx");
            assert_eq!(first, moov_end + 1, "the sidx follows the moov");
            format!(
                "<SegmentBase indexRange=\"{first}-{last}\" indexRangeExact=\"true\">\n\
                 \t\t\t\t\t<Initialization range=\"0-{moov_end}\" />\n\
                 \t\t\t\t</SegmentBase>"
            )
        });
        std::fs::write(dir.join("manifest.mpd"), mpd).unwrap();
    }))
}

/// Relative `BaseURL`s at the four levels, the files of
/// [`super::timeline`] below them: MPD `media/`, Period `p0/`,
/// AdaptationSet `video/` and `audio/`, Representation `r0/` and `r1/`,
/// so representation 0's files are in `media/p0/video/r0/`.
pub fn base_urls() -> Dash {
    let _guard = lock();
    plain(cached("base_urls", |dir| {
        let from = made_timeline();
        for (rep, kind) in [(0, "video"), (1, "audio")] {
            let to = dir.join(format!("media/p0/{kind}/r{rep}"));
            copy(&from, &format!("init-stream{rep}."), &to);
            copy(&from, &format!("chunk-stream{rep}-"), &to);
        }
        let mpd = std::fs::read_to_string(from.join("manifest.mpd")).unwrap();
        let mpd = once(
            &mpd,
            "</ProgramInformation>\n",
            "</ProgramInformation>\n\t<BaseURL>media/</BaseURL>\n",
        );
        let mpd = once(
            &mpd,
            "start=\"PT0.0S\">\n",
            "start=\"PT0.0S\">\n\t\t<BaseURL>p0/</BaseURL>\n",
        );
        let mpd = elements(&mpd, "Representation", |rep, text| {
            let kind = ["video", "audio"][rep];
            let text = once(
                text,
                "<SegmentTemplate ",
                &format!("<BaseURL>r{rep}/</BaseURL>\n\t\t\t\t<SegmentTemplate "),
            );
            format!("<BaseURL>{kind}/</BaseURL>\n\t\t\t{text}")
        });
        std::fs::write(dir.join("manifest.mpd"), mpd).unwrap();
    }))
}

/// Two periods, each with its own init segments and content: 4 s of the
/// `testsrc2` pattern and a 440 Hz tone (`p0-init-0.m4s`,
/// `p0-chunk-0-00001.m4s`, …), then 2 s of `testsrc` and 880 Hz
/// (`p1-…`); 6 s in all. `p0.mpd` and `p1.mpd`, what ffmpeg wrote of
/// each, stay beside `manifest.mpd`.
pub fn two_periods() -> Dash {
    let _guard = lock();
    plain(cached("two_periods", |dir| {
        let second = Source {
            pattern: "testsrc",
            tone: 880,
            secs: 2,
            ..Source::default()
        };
        let first = Source {
            secs: 4,
            ..Source::default()
        };
        for (p, source) in [(0, first), (1, second)] {
            let dash = [
                "-init_seg_name".to_string(),
                format!("p{p}-init-$RepresentationID$.$ext$"),
                "-media_seg_name".to_string(),
                format!("p{p}-chunk-$RepresentationID$-$Number%05d$.$ext$"),
            ];
            let dash: Vec<&str> = dash.iter().map(String::as_str).collect();
            ffmpeg(dir, &source, &["-b:v", "100k"], &dash, &format!("p{p}.mpd"));
        }
        let p0 = std::fs::read_to_string(dir.join("p0.mpd")).unwrap();
        let p1 = std::fs::read_to_string(dir.join("p1.mpd")).unwrap();
        let head = &p0[..p0.find("\t<Period ").unwrap()];
        let head = once(
            head,
            "mediaPresentationDuration=\"PT4.0S\"",
            "mediaPresentationDuration=\"PT6.0S\"",
        );
        let period = |mpd: &str, from: &str, to: &str| {
            let start = mpd.find("\t<Period ").unwrap();
            let end = mpd.find("</MPD>").unwrap();
            once(&mpd[start..end], from, to)
        };
        let p0 = period(
            &p0,
            "<Period id=\"0\" start=\"PT0.0S\">",
            "<Period id=\"0\" start=\"PT0.0S\" duration=\"PT4.0S\">",
        );
        let p1 = period(
            &p1,
            "<Period id=\"0\" start=\"PT0.0S\">",
            "<Period id=\"1\" start=\"PT4.0S\" duration=\"PT2.0S\">",
        );
        std::fs::write(dir.join("manifest.mpd"), format!("{head}{p0}{p1}</MPD>\n")).unwrap();
    }))
}

/// [`super::timeline`] with content protection declared on both
/// adaptation sets: MPEG Common Encryption (`urn:mpeg:dash:mp4protection:2011`,
/// `cenc`, with [`KID`]) and Widevine
/// (`urn:uuid:edef8ba9-79d6-4ace-a3c8-27dcd51d21ed`). The segments are
/// ffmpeg's, not encrypted: a reader must refuse on the MPD alone.
pub fn protected() -> Dash {
    let _guard = lock();
    plain(cached("protected", |dir| {
        let mpd = from_timeline(dir);
        let mpd = once(
            &mpd,
            "xmlns=\"urn:mpeg:dash:schema:mpd:2011\"",
            "xmlns=\"urn:mpeg:dash:schema:mpd:2011\"\n\txmlns:cenc=\"urn:mpeg:cenc:2013\"",
        );
        let protection = format!(
            "<ContentProtection schemeIdUri=\"urn:mpeg:dash:mp4protection:2011\" value=\"cenc\" cenc:default_KID=\"{KID}\" />\n\
             \t\t\t<ContentProtection schemeIdUri=\"urn:uuid:edef8ba9-79d6-4ace-a3c8-27dcd51d21ed\" value=\"Widevine\" />\n\
             \t\t\t<Representation "
        );
        let mpd = each(&mpd, "<Representation ", &protection, 2);
        std::fs::write(dir.join("manifest.mpd"), mpd).unwrap();
    }))
}

/// [`super::timeline`] as a live MPD: `type="dynamic"`, an
/// `availabilityStartTime`, a `minimumUpdatePeriod`, no
/// `mediaPresentationDuration`.
pub fn dynamic() -> Dash {
    let _guard = lock();
    plain(cached("dynamic", |dir| {
        let mpd = from_timeline(dir);
        let mpd = once(&mpd, "type=\"static\"", "type=\"dynamic\"");
        let mpd = once(
            &mpd,
            "mediaPresentationDuration=\"PT6.0S\"",
            "availabilityStartTime=\"2026-01-01T00:00:00Z\"\n\
             \tpublishTime=\"2026-01-01T00:00:06Z\"\n\
             \tminimumUpdatePeriod=\"PT2.0S\"\n\
             \ttimeShiftBufferDepth=\"PT30.0S\"",
        );
        std::fs::write(dir.join("manifest.mpd"), mpd).unwrap();
    }))
}
