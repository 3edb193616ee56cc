//! The fMP4 reader on made-up boxes: every way a `trun` gives durations,
//! the init's `trex` default, and boxes that do not hold together (timing
//! unknown, never a panic), in any chunking.

use super::super::moov::{expected, init_tracks, InitTrack};
use super::super::Kind;
use super::*;

fn boxed(kind: &[u8; 4], body: &[u8]) -> Vec<u8> {
    let mut b = ((body.len() + 8) as u32).to_be_bytes().to_vec();
    b.extend_from_slice(kind);
    b.extend_from_slice(body);
    b
}

/// A full box's version and flags, then 32-bit fields.
fn full(kind: &[u8; 4], version: u8, flags: u32, fields: &[u32]) -> Vec<u8> {
    let mut body = (flags | u32::from(version) << 24).to_be_bytes().to_vec();
    for f in fields {
        body.extend_from_slice(&f.to_be_bytes());
    }
    boxed(kind, &body)
}

fn tfhd(track: u32, default: Option<u32>) -> Vec<u8> {
    match default {
        // sample_description_index, then default_sample_duration.
        Some(d) => full(b"tfhd", 0, 0x0A, &[track, 1, d]),
        None => full(b"tfhd", 0, 0, &[track]),
    }
}

fn tfdt64(time: u64) -> Vec<u8> {
    full(b"tfdt", 1, 0, &[(time >> 32) as u32, time as u32])
}

fn traf(parts: &[Vec<u8>]) -> Vec<u8> {
    boxed(b"traf", &parts.concat())
}

fn moof(trafs: &[Vec<u8>]) -> Vec<u8> {
    let mfhd = full(b"mfhd", 0, 0, &[1]);
    boxed(b"moof", &[mfhd, trafs.concat()].concat())
}

fn runs_of(body: &[u8], piece: usize) -> Option<Vec<Run>> {
    let mut f = Fragments::default();
    for chunk in body.chunks(piece.max(1)) {
        f.feed(chunk);
    }
    f.runs()
}

/// The same runs in every chunking.
fn runs(body: &[u8]) -> Option<Vec<Run>> {
    let whole = runs_of(body, body.len());
    for piece in [1, 2, 3, 5, 8, 13, 64] {
        assert_eq!(runs_of(body, piece), whole, "chunks of {piece}");
    }
    whole
}

#[test]
fn durations_come_from_the_trun_the_tfhd_or_the_trex() {
    // Video: per-sample durations after a data_offset and first flags,
    // with sizes beside them.
    let video = traf(&[
        tfhd(1, Some(999)),
        tfdt64(1 << 40),
        full(b"trun", 0, 0x305, &[3, 8, 0, 100, 10, 200, 20, 300, 30]),
    ]);
    // Audio: the tfhd's default in one trun, none in another.
    let audio = traf(&[
        tfhd(2, Some(1024)),
        full(b"tfdt", 0, 0, &[5]),
        full(b"trun", 0, 0x200, &[3, 1, 1, 1]),
    ]);
    let bare = traf(&[tfhd(2, None), full(b"trun", 0, 0, &[4])]);
    let mdat = boxed(b"mdat", &[0; 50]);
    let body = [moof(&[video, audio]), mdat.clone(), moof(&[bare]), mdat].concat();
    assert_eq!(
        runs(&body),
        Some(vec![
            Run(1, Some(1 << 40), 600, 0),
            Run(2, Some(5), 3072, 4)
        ])
    );
    // The four bare samples last the trex default: (3072 + 4 × 1024) / 1024.
    let tracks = [
        InitTrack {
            id: 1,
            timescale: 100,
            kind: Some(Kind::Video),
            default: None,
        },
        InitTrack {
            id: 2,
            timescale: 1024,
            kind: Some(Kind::Audio),
            default: Some(1024),
        },
    ];
    let got = runs(&body).unwrap();
    assert_eq!(
        expected(Kind::Audio, &tracks, &[&got]),
        Some((7.0, Some(7.0)))
    );
    assert_eq!(
        expected(Kind::Video, &tracks, &[&got]),
        Some((6.0, Some(6.0)))
    );
    // Without a trex default, the audio's length is not known.
    let no_default = [
        tracks[0],
        InitTrack {
            default: None,
            ..tracks[1]
        },
    ];
    assert_eq!(expected(Kind::Audio, &no_default, &[&got]), None);
}

#[test]
fn a_64_bit_box_size_is_read() {
    let inner = traf(&[tfhd(7, Some(10)), full(b"trun", 0, 0, &[2])]);
    let mut body = 1u32.to_be_bytes().to_vec();
    body.extend_from_slice(b"moof");
    body.extend_from_slice(&(16 + inner.len() as u64).to_be_bytes());
    body.extend_from_slice(&inner);
    assert_eq!(runs(&body), Some(vec![Run(7, None, 20, 0)]));
}

#[test]
fn boxes_that_do_not_hold_together_leave_the_timing_unknown() {
    let good = traf(&[tfhd(1, Some(1)), full(b"trun", 0, 0, &[1])]);
    assert!(runs(&moof(std::slice::from_ref(&good))).is_some());
    // A trun that says more samples than its box holds.
    let long = traf(&[tfhd(1, None), full(b"trun", 0, 0x100, &[5, 1, 1])]);
    // A tfdt or trun before any tfhd.
    let early = traf(&[full(b"tfdt", 0, 0, &[1]), tfhd(1, Some(1))]);
    let orphan = traf(&[full(b"trun", 0, 0, &[1])]);
    // A traf whose size runs past its moof.
    let mut past = moof(std::slice::from_ref(&good));
    let at = past.len() - good.len();
    past[at + 3] += 4;
    // Nine tracks.
    let many: Vec<_> = (1..=9).map(|t| traf(&[tfhd(t, Some(1))])).collect();
    for (what, body) in [
        ("long", moof(&[long])),
        ("early", moof(&[early])),
        ("orphan", moof(&[orphan])),
        ("past", past),
        ("many", moof(&many)),
        ("cut", moof(&[good])[..20].to_vec()),
        ("no moof", boxed(b"mdat", &[1; 30])),
    ] {
        assert_eq!(runs(&body), None, "{what}");
    }
}

#[test]
fn an_init_segment_tells_its_tracks() {
    let tkhd = |v: u8, id: u32| match v {
        1 => full(b"tkhd", 1, 0, &[0, 0, 0, 0, id]),
        _ => full(b"tkhd", 0, 0, &[0, 0, id]),
    };
    let mdhd = |scale: u32| full(b"mdhd", 1, 0, &[0, 0, 0, 0, scale]);
    let hdlr = |h: &[u8; 4]| full(b"hdlr", 0, 0, &[0, u32::from_be_bytes(*h)]);
    let trak = |v, id, scale, h| {
        let mdia = boxed(b"mdia", &[mdhd(scale), hdlr(h)].concat());
        boxed(b"trak", &[tkhd(v, id), mdia].concat())
    };
    let mvex = boxed(b"mvex", &full(b"trex", 0, 0, &[2, 1, 1024, 0, 0]));
    let moov = boxed(
        b"moov",
        &[
            trak(0, 1, 90000, b"vide"),
            trak(1, 2, 48000, b"soun"),
            trak(0, 3, 1000, b"text"),
            mvex,
        ]
        .concat(),
    );
    let init = [boxed(b"ftyp", b"iso5"), moov].concat();
    assert_eq!(
        init_tracks(&init),
        [
            InitTrack {
                id: 1,
                timescale: 90000,
                kind: Some(Kind::Video),
                default: None
            },
            InitTrack {
                id: 2,
                timescale: 48000,
                kind: Some(Kind::Audio),
                default: Some(1024)
            },
            InitTrack {
                id: 3,
                timescale: 1000,
                kind: None,
                default: None
            },
        ]
    );
    assert!(init_tracks(b"\0\0\0\x08moov").is_empty());
    assert!(init_tracks(&init[..init.len() - 3]).is_empty());
}

proptest::proptest! {
    /// No bytes panic the reader, and what it reads never depends on the
    /// chunking.
    #[test]
    fn any_bytes_any_chunks_one_reading(
        tail in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..400),
        head in 0usize..3,
        piece in 1usize..40,
    ) {
        let heads = [Vec::new(), b"\0\0\x01\0moof\0\0\0\x40traf".to_vec(),
            moof(&[traf(&[tfhd(1, None)])])];
        let body = [heads[head].clone(), tail].concat();
        proptest::prop_assert_eq!(runs_of(&body, piece), runs_of(&body, body.len()));
        let _ = init_tracks(&body);
    }
}
