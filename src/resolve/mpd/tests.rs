use super::*;

fn mpd(body: &str) -> String {
    format!(
        "<?xml version=\"1.0\"?>\n<MPD xmlns=\"urn:mpeg:dash:schema:mpd:2011\" type=\"static\" \
         mediaPresentationDuration=\"PT6S\">{body}</MPD>"
    )
}

const AV: &str = r#"<Period>
  <AdaptationSet contentType="video" mimeType="video/mp4">
    <SegmentTemplate timescale="1000" duration="2000" initialization="i-$RepresentationID$.mp4" media="$RepresentationID$/$Number%03d$.m4s"/>
    <Representation id="hi" bandwidth="900000" width="640" height="360"/>
    <Representation id="lo" bandwidth="300000" width="320" height="180"/>
  </AdaptationSet>
  <AdaptationSet contentType="audio" mimeType="audio/mp4" lang="de">
    <SegmentTemplate timescale="1000" duration="2000" initialization="i-$RepresentationID$.mp4" media="$RepresentationID$/$Number$.m4s"/>
    <Representation id="de" bandwidth="64000"/>
  </AdaptationSet>
  <AdaptationSet contentType="audio" mimeType="audio/mp4" lang="en">
    <Role schemeIdUri="urn:mpeg:dash:role:2011" value="main"/>
    <SegmentTemplate timescale="1000" duration="2000" initialization="i-$RepresentationID$.mp4" media="$RepresentationID$/$Number$.m4s"/>
    <Representation id="en-lo" bandwidth="64000"/>
    <Representation id="en-hi" bandwidth="128000"/>
  </AdaptationSet>
  <AdaptationSet contentType="text" mimeType="application/ttml+xml" lang="fr">
    <Representation id="sub-fr" bandwidth="1000"><BaseURL>fr.ttml</BaseURL></Representation>
  </AdaptationSet>
</Period>"#;

fn base() -> Secret {
    Secret::plain("https://h.example/v/manifest.mpd?token=t")
}

fn urls(r: &Resolved) -> Vec<String> {
    r.segments
        .iter()
        .map(|s| s.part.url.expose().to_string())
        .collect()
}

#[test]
fn the_variant_picks_video_and_the_main_audio_set_its_best_representation() {
    let r = read(&mpd(AV), &base(), Variant::Best).unwrap();
    assert_eq!(
        urls(&r),
        [
            "https://h.example/v/hi/001.m4s",
            "https://h.example/v/hi/002.m4s",
            "https://h.example/v/hi/003.m4s"
        ]
    );
    assert_eq!(
        r.init.as_ref().unwrap().url.expose(),
        "https://h.example/v/i-hi.mp4"
    );
    let audio = r.audio.as_ref().unwrap();
    assert_eq!(
        audio.init.as_ref().unwrap().url.expose(),
        "https://h.example/v/i-en-hi.mp4"
    );
    assert_eq!(audio.segments.len(), 3);
    assert_eq!(r.segments.duration(), 6.0);
    let note = r.variant_note.unwrap();
    assert!(
        note.starts_with("representation `hi` 640x360 at 900000 bit/s (of "),
        "{note}"
    );
    assert!(note.contains("audio `en-hi` 128000 bit/s"), "{note}");
    assert!(
        note.ends_with("text tracks skipped: `sub-fr` (fr)"),
        "{note}"
    );
    let worst = read(&mpd(AV), &base(), Variant::Worst).unwrap();
    assert_eq!(urls(&worst)[0], "https://h.example/v/lo/001.m4s");
    let e = read(&mpd(AV), &base(), Variant::MaxHeight(100)).unwrap_err();
    assert!(e.to_string().contains("320x180 at 300000 bit/s"), "{e}");
}

#[test]
fn base_urls_resolve_down_the_levels_and_lists_give_ranges() {
    let text = mpd(r#"<BaseURL>https://cdn.example/root/</BaseURL>
<Period><BaseURL>p1/</BaseURL>
  <AdaptationSet mimeType="video/mp4"><BaseURL>/abs/</BaseURL>
    <Representation id="v" bandwidth="1" width="2" height="2">
      <BaseURL>file.mp4</BaseURL>
      <SegmentList timescale="10" duration="20">
        <Initialization range="0-99"/>
        <SegmentURL mediaRange="100-199"/>
        <SegmentURL media="two.m4s"/>
      </SegmentList>
    </Representation>
  </AdaptationSet>
</Period>"#);
    let r = read(&text, &base(), Variant::Best).unwrap();
    let s: Vec<_> = r.segments.iter().collect();
    assert_eq!(s[0].part.url.expose(), "https://cdn.example/abs/file.mp4");
    assert_eq!(
        s[0].part.range.map(|r| (r.offset, r.length)),
        Some((100, 100))
    );
    assert_eq!(s[1].part.url.expose(), "https://cdn.example/abs/two.m4s");
    assert_eq!(s[1].duration, 2.0);
    let init = r.init.unwrap();
    assert_eq!(init.url.expose(), "https://cdn.example/abs/file.mp4");
    assert_eq!(init.range.map(|r| r.length), Some(100));
    assert!(r.audio.is_none());
}

#[test]
fn a_template_inherits_down_the_levels() {
    let text = mpd(r#"<Period duration="PT4S">
  <SegmentTemplate timescale="90000" startNumber="10" media="$Bandwidth$-$Number$.m4s" initialization="init.mp4"/>
  <AdaptationSet mimeType="video/mp4">
    <SegmentTemplate duration="180000"/>
    <Representation id="v" bandwidth="5" width="2" height="2"/>
  </AdaptationSet>
</Period>"#);
    let r = read(&text, &base(), Variant::Best).unwrap();
    assert_eq!(
        urls(&r),
        [
            "https://h.example/v/5-10.m4s",
            "https://h.example/v/5-11.m4s"
        ]
    );
}

#[test]
fn drm_live_and_other_shapes_are_refused_naming_why() {
    let drm = AV.replacen(
        "<Representation id=\"hi\"",
        "<ContentProtection schemeIdUri=\"urn:uuid:edef8ba9-79d6-4ace-a3c8-27dcd51d21ed\"/>\
         <Representation id=\"hi\"",
        1,
    );
    let e = read(&mpd(&drm), &base(), Variant::Best)
        .unwrap_err()
        .to_string();
    assert!(e.contains("DRM (Widevine, urn:uuid:edef8ba9"), "{e}");
    let cenc = AV.replacen(
        "<Representation id=\"de\"",
        "<Representation id=\"de\"><ContentProtection schemeIdUri=\"urn:mpeg:dash:mp4protection:2011\" value=\"cenc\"/></Representation><Representation id=\"x\"",
        1,
    );
    let e = read(&mpd(&cenc), &base(), Variant::Best)
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("DRM (Common Encryption cenc, urn:mpeg:dash:mp4protection:2011)"),
        "{e}"
    );
    let live = mpd(AV).replace("type=\"static\"", "type=\"dynamic\"");
    assert_eq!(
        read(&live, &base(), Variant::Best).err(),
        Some(MpdError::Dynamic)
    );
    let mute = AV
        .split("<AdaptationSet contentType=\"audio\"")
        .next()
        .unwrap()
        .to_string()
        + "</Period>";
    let some_audio = mpd(&format!("{AV}{mute}"));
    assert_eq!(
        read(&some_audio, &base(), Variant::Best).err(),
        Some(MpdError::AudioInSomePeriods)
    );
    let entries = mpd(&format!(
        "<Period><SegmentTimeline>{}</SegmentTimeline></Period>",
        "<S d=\"1\"/>".repeat(MAX_ENTRIES + 1)
    ));
    assert_eq!(
        read(&entries, &base(), Variant::Best).err(),
        Some(MpdError::TooManyEntries(MAX_ENTRIES + 1))
    );
    let many = mpd(&"<Period></Period>".repeat(MAX_PERIODS + 1));
    assert_eq!(
        read(&many, &base(), Variant::Best).err(),
        Some(MpdError::TooManyPeriods(MAX_PERIODS + 1))
    );
    let local = mpd(&AV.replacen("<Representation id=\"hi\" bandwidth=\"900000\" width=\"640\" height=\"360\"/>",
        "<Representation id=\"hi\" bandwidth=\"900000\" width=\"640\" height=\"360\"><BaseURL>file:///etc/</BaseURL></Representation>", 1));
    let e = read(&local, &base(), Variant::Best)
        .unwrap_err()
        .to_string();
    assert!(e.contains("not http or https"), "{e}");
    assert!(matches!(
        read("<MPD><Period", &base(), Variant::Best),
        Err(MpdError::Parse(_))
    ));
}

#[test]
fn a_segment_base_names_its_file_index_range_and_init() {
    let text = mpd(r#"<Period><AdaptationSet mimeType="video/mp4">
  <Representation id="v" bandwidth="1" width="2" height="2"><BaseURL>v.mp4</BaseURL>
    <SegmentBase indexRange="800-899"><Initialization range="0-799"/></SegmentBase>
  </Representation></AdaptationSet></Period>"#);
    let r = read(&text, &base(), Variant::Best).unwrap();
    assert!(r.segments.is_empty(), "read from the index by resolve");
    let index = r.index.unwrap();
    assert_eq!(index.url.expose(), "https://h.example/v/v.mp4");
    assert_eq!(index.range.map(|r| (r.offset, r.length)), Some((800, 100)));
    let init = r.init.unwrap();
    assert_eq!(init.url.expose(), "https://h.example/v/v.mp4");
    assert_eq!(init.range.map(|r| r.length), Some(800));
    let none = text.replace(" indexRange=\"800-899\"", "");
    assert_eq!(
        read(&none, &base(), Variant::Best).err(),
        Some(MpdError::NoIndexRange("v".into()))
    );
}

#[test]
fn periods_follow_one_another_each_under_its_own_base_and_init() {
    let period = |id: &str, dur: &str| {
        format!(
            r#"<Period id="{id}" duration="{dur}"><BaseURL>{id}/</BaseURL>
  <AdaptationSet mimeType="video/mp4">
    <SegmentTemplate timescale="1" duration="2" initialization="init.mp4" media="$Number$.m4s"/>
    <Representation id="v" bandwidth="1" width="2" height="2"/>
  </AdaptationSet></Period>"#
        )
    };
    let text = mpd(&format!("{}{}", period("a", "PT4S"), period("b", "PT2S")));
    let r = read(&text, &base(), Variant::Best).unwrap();
    assert_eq!(
        urls(&r),
        [
            "https://h.example/v/a/1.m4s",
            "https://h.example/v/a/2.m4s",
            "https://h.example/v/b/1.m4s"
        ]
    );
    assert_eq!(
        r.init.unwrap().url.expose(),
        "https://h.example/v/a/init.mp4"
    );
    let [second] = r.periods.as_slice() else {
        panic!("{:?}", r.periods)
    };
    assert_eq!(second.position, 2);
    assert_eq!(second.after, Some(4.0));
    let init = second.init.as_ref().unwrap();
    assert_eq!(init.url.expose(), "https://h.example/v/b/init.mp4");
    assert_eq!(r.segments.duration(), 6.0, "the sum of the periods");
    assert!(r
        .variant_note
        .unwrap()
        .starts_with("2 periods; in the first: "));
}
