use super::*;

const IDS: Ids = Ids {
    id: "v1",
    bandwidth: 800000,
};

fn uris(s: &[DashSegment]) -> Vec<&str> {
    s.iter().map(|s| s.uri.as_str()).collect()
}

#[test]
fn identifiers_are_filled_with_widths_and_dollars() {
    let f = |t: &str| fill(t, IDS, Some(7), Some(90000));
    assert_eq!(
        f("$RepresentationID$/seg-$Number%05d$.m4s").unwrap(),
        "v1/seg-00007.m4s"
    );
    assert_eq!(
        f("$Bandwidth$-$Time$-$$.m4s").unwrap(),
        "800000-90000-$.m4s"
    );
    assert_eq!(f("t$Time%012d$").unwrap(), "t000000090000");
    assert_eq!(f("n$Number%d$").unwrap(), "n7");
    assert_eq!(f("plain.m4s").unwrap(), "plain.m4s");
    for bad in [
        "$Nmber$",
        "$Number",
        "a$RepresentationID%03d$",
        "$Number%x$",
    ] {
        let e = f(bad).unwrap_err();
        assert!(matches!(e, AddressError::Identifier { .. }), "{bad}: {e}");
    }
    let init = fill("init-$RepresentationID$.mp4", IDS, None, None).unwrap();
    assert_eq!(init, "init-v1.mp4");
    assert!(fill("init-$Number$.mp4", IDS, None, None).is_err());
}

fn template(media: &str) -> Template {
    Template {
        media: media.into(),
        timescale: 1000,
        start_number: 1,
        ..Template::default()
    }
}

#[test]
fn a_duration_template_fills_the_period_and_cuts_the_last() {
    let t = Template {
        duration: Some(2000.0),
        start_number: 5,
        ..template("s$Number$.m4s")
    };
    let s = template_segments(&t, IDS, Some(7.0)).unwrap();
    assert_eq!(uris(&s), ["s5.m4s", "s6.m4s", "s7.m4s", "s8.m4s"]);
    assert_eq!(s[3].duration, 1.0);
    assert_eq!(s.iter().map(|s| s.duration).sum::<f64>(), 7.0);
    let exact = template_segments(&t, IDS, Some(8.0)).unwrap();
    assert_eq!(
        exact.len(),
        4,
        "a period of whole segments has no extra one"
    );
    assert_eq!(
        template_segments(&t, IDS, None),
        Err(AddressError::NoPeriodDuration)
    );
    let time = Template {
        duration: Some(2000.0),
        ..template("$Time$.m4s")
    };
    assert!(matches!(
        template_segments(&time, IDS, Some(4.0)),
        Err(AddressError::TimeWithoutTimeline(_))
    ));
}

#[test]
fn a_timeline_repeats_keeps_gaps_and_runs_to_the_period_end() {
    let s = |t, d, r| TimelineEntry { t, d, r };
    let t = Template {
        timescale: 10,
        presentation_time_offset: 100,
        start_number: 0,
        timeline: Some(vec![
            s(Some(100), 20, 1),
            s(Some(150), 10, 0),
            s(None, 5, -1),
        ]),
        ..template("$Time$-$Number$.m4s")
    };
    let got = template_segments(&t, IDS, Some(8.0)).unwrap();
    // 100, 120 (r=1); a gap to 150; then 160.. by 5 up to 100 + 80.
    assert_eq!(
        uris(&got),
        [
            "100-0.m4s",
            "120-1.m4s",
            "150-2.m4s",
            "160-3.m4s",
            "165-4.m4s",
            "170-5.m4s",
            "175-6.m4s"
        ]
    );
    assert_eq!(got[0].duration, 2.0);
    assert_eq!(got[6].duration, 0.5);
    // r=-1 before another S runs up to that S's @t.
    let t = Template {
        timescale: 1,
        timeline: Some(vec![s(Some(0), 2, -1), s(Some(6), 3, 0)]),
        ..template("$Time$")
    };
    assert_eq!(
        uris(&template_segments(&t, IDS, None).unwrap()),
        ["0", "2", "4", "6"]
    );
    let open = Template {
        timeline: Some(vec![s(None, 2, -1)]),
        ..template("$Time$")
    };
    assert_eq!(
        template_segments(&open, IDS, None),
        Err(AddressError::NoPeriodDuration)
    );
}

#[test]
fn hostile_timelines_are_refused_not_expanded() {
    let s = |t, d, r| TimelineEntry { t, d, r };
    let huge = Template {
        timeline: Some(vec![s(None, 1, i64::MAX)]),
        ..template("$Number$")
    };
    assert_eq!(
        template_segments(&huge, IDS, None),
        Err(AddressError::TooMany)
    );
    let to_end = Template {
        timeline: Some(vec![s(None, 1, -1)]),
        ..template("$Number$")
    };
    assert_eq!(
        template_segments(&to_end, IDS, Some(1e12)),
        Err(AddressError::TooMany)
    );
    let zero = Template {
        timeline: Some(vec![s(None, 0, 3)]),
        ..template("$Number$")
    };
    assert_eq!(template_segments(&zero, IDS, None), Err(AddressError::Zero));
    let overflow = Template {
        timeline: Some(vec![s(Some(u64::MAX - 1), 5, 1)]),
        ..template("$Number$")
    };
    assert_eq!(
        template_segments(&overflow, IDS, None),
        Err(AddressError::Overflow)
    );
    let no_scale = Template {
        timescale: 0,
        duration: Some(1.0),
        ..template("$Number$")
    };
    assert_eq!(
        template_segments(&no_scale, IDS, Some(1.0)),
        Err(AddressError::Zero)
    );
    let many = Template {
        duration: Some(1.0),
        ..template("$Number$")
    };
    assert_eq!(
        template_segments(&many, IDS, Some(1e9)),
        Err(AddressError::TooMany)
    );
}

#[test]
fn ranges_and_list_entries() {
    assert_eq!(
        parse_range("100-199"),
        Ok(ByteRange {
            offset: 100,
            length: 100
        })
    );
    for bad in ["5-4", "1", "a-b", "-3", "0-18446744073709551615"] {
        assert!(parse_range(bad).is_err(), "{bad}");
    }
    let s = list_segment(None, Some("0-9"), 2.0).unwrap();
    assert_eq!((s.uri.as_str(), s.range.map(|r| r.length)), ("", Some(10)));
}
