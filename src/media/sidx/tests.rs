//! The segment index parser on a `sidx` ffmpeg wrote, on made-up boxes of
//! both versions, on every way a box can fail to hold together, and on
//! random bytes (never a panic).

use super::*;
use proptest::prelude::*;

/// The global `sidx` ffmpeg 5.1 wrote at bytes 832–907 of a video
/// representation (`-f dash -single_file 1 -global_sidx 1`, 6 s of
/// 160x90 at 10 fps, 2 s segments): version 1, timescale 10240, three
/// subsegments of 41,729, 30,523 and 26,800 bytes, 2 s each. In that file
/// the moof boxes start at 908, 42637 and 73160, and the last byte is 99959.
const FFMPEG_SIDX: &str = "\
    0000004c73696478010000000000000100002800000000000000000000000000\
    00000000000000030000a30100005000800000000000773b0000500080000000\
    000068b00000500080000000";

fn hex(s: &str) -> Vec<u8> {
    let s: String = s.split_whitespace().collect();
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
        .collect()
}

fn boxed(kind: &[u8; 4], body: &[u8]) -> Vec<u8> {
    let mut b = ((body.len() + 8) as u32).to_be_bytes().to_vec();
    b.extend_from_slice(kind);
    b.extend_from_slice(body);
    b
}

/// One reference: (type, size, duration, starts_with_SAP).
type Ref = (u8, u32, u32, bool);

/// A `sidx` box of `version` with these fields and references.
fn sidx(version: u8, timescale: u32, earliest: u64, first_offset: u64, refs: &[Ref]) -> Vec<u8> {
    let mut body = vec![version, 0, 0, 0];
    body.extend_from_slice(&1u32.to_be_bytes());
    body.extend_from_slice(&timescale.to_be_bytes());
    if version == 0 {
        body.extend_from_slice(&(earliest as u32).to_be_bytes());
        body.extend_from_slice(&(first_offset as u32).to_be_bytes());
    } else {
        body.extend_from_slice(&earliest.to_be_bytes());
        body.extend_from_slice(&first_offset.to_be_bytes());
    }
    body.extend_from_slice(&[0, 0]);
    body.extend_from_slice(&(refs.len() as u16).to_be_bytes());
    for &(kind, size, duration, sap) in refs {
        body.extend_from_slice(&(u32::from(kind) << 31 | size).to_be_bytes());
        body.extend_from_slice(&duration.to_be_bytes());
        body.extend_from_slice(&(u32::from(sap) << 31 | 1 << 28).to_be_bytes());
    }
    boxed(b"sidx", &body)
}

#[test]
fn ffmpeg_global_sidx_tiles_the_media_after_it() {
    let bytes = hex(FFMPEG_SIDX);
    assert_eq!(bytes.len(), 76);
    let subs = parse(&bytes, 832).unwrap();
    let ranges: Vec<_> = subs.iter().map(|s| (s.first, s.last)).collect();
    assert_eq!(ranges, [(908, 42636), (42637, 73159), (73160, 99959)]);
    for (i, s) in subs.iter().enumerate() {
        assert_eq!(s.duration, 2.0);
        assert_eq!(s.start, 2.0 * i as f64);
        assert!(s.starts_with_sap);
    }
    assert_eq!(subs.iter().map(Subsegment::bytes).sum::<u64>(), 99960 - 908);
}

#[test]
fn version_0_with_a_first_offset_and_an_earliest_time() {
    let refs = [(0, 1000, 90_000, true), (0, 500, 45_000, false)];
    let bytes = sidx(0, 90_000, 180_000, 100, &refs);
    assert_eq!(bytes.len(), 8 + 24 + 24);
    let subs = parse(&bytes, 5000).unwrap();
    // The box ends at 5056; 100 bytes on, the first subsegment starts.
    assert_eq!(
        subs,
        [
            Subsegment {
                first: 5156,
                last: 6155,
                start: 2.0,
                duration: 1.0,
                starts_with_sap: true
            },
            Subsegment {
                first: 6156,
                last: 6655,
                start: 3.0,
                duration: 0.5,
                starts_with_sap: false
            },
        ]
    );
}

#[test]
fn version_1_with_64_bit_times_and_offsets() {
    let earliest = 3 * (1u64 << 32);
    let first_offset = 1u64 << 33;
    let bytes = sidx(
        1,
        1 << 16,
        earliest,
        first_offset,
        &[(0, 10, 1 << 15, true)],
    );
    let subs = parse(&bytes, 0).unwrap();
    let first = bytes.len() as u64 + first_offset;
    assert_eq!((subs[0].first, subs[0].last), (first, first + 9));
    assert_eq!(subs[0].start, earliest as f64 / 65536.0);
    assert_eq!(subs[0].duration, 0.5);
}

#[test]
fn boxes_before_the_sidx_are_passed_and_bytes_after_it_unread() {
    let index = sidx(0, 1000, 0, 0, &[(0, 40, 1000, true)]);
    let mut bytes = boxed(b"styp", b"msdhmsix");
    bytes.extend_from_slice(&boxed(b"free", &[]));
    bytes.extend_from_slice(&index);
    bytes.extend_from_slice(b"whatever follows");
    let subs = parse(&bytes, 100).unwrap();
    let end = 100 + 16 + 8 + index.len() as u64;
    assert_eq!((subs[0].first, subs[0].last), (end, end + 39));
}

#[test]
fn a_64_bit_box_size_is_read() {
    let plain = sidx(0, 1000, 0, 0, &[(0, 40, 1000, true)]);
    let mut big = 1u32.to_be_bytes().to_vec();
    big.extend_from_slice(b"sidx");
    big.extend_from_slice(&(plain.len() as u64 + 8).to_be_bytes());
    big.extend_from_slice(&plain[8..]);
    let subs = parse(&big, 0).unwrap();
    assert_eq!(subs[0].first, big.len() as u64);
}

fn refused(bytes: &[u8], offset: u64) -> SidxError {
    parse(bytes, offset).expect_err("refused")
}

#[test]
fn no_sidx_names_what_is_there() {
    assert_eq!(
        refused(&[], 0),
        SidxError::NoSidx {
            found: "no box".into()
        }
    );
    let moov = boxed(b"moov", &[0; 8]);
    let e = refused(&moov, 0);
    assert_eq!(
        e.to_string(),
        "the index range holds no sidx box (it holds the boxes \"moov\")"
    );
    let many = [moov.clone(), moov.clone(), moov.clone(), moov.clone(), moov].concat();
    assert!(refused(&many, 0).to_string().ends_with("\"moov\", …)"));
}

#[test]
fn cut_boxes_are_refused() {
    let whole = sidx(1, 1000, 0, 0, &[(0, 40, 1000, true), (0, 40, 1000, true)]);
    for len in 1..whole.len() {
        match refused(&whole[..len], 10) {
            SidxError::Cut { at, have, .. } => {
                assert_eq!((at, have), (10, len as u64), "cut at {len}")
            }
            e => panic!("cut at {len}: {e}"),
        }
    }
    let e = refused(&whole[..50], 832);
    assert_eq!(
        e.to_string(),
        "the index range ends inside a \"sidx\" box at byte 832: 64 bytes needed, 50 there (cut short?)"
    );
}

#[test]
fn box_sizes_that_do_not_hold_together_are_refused() {
    let mut open = sidx(0, 1000, 0, 0, &[(0, 40, 1000, true)]);
    open[..4].copy_from_slice(&0u32.to_be_bytes());
    assert!(matches!(refused(&open, 0), SidxError::OpenBox { .. }));
    let mut tiny = open.clone();
    tiny[..4].copy_from_slice(&4u32.to_be_bytes());
    assert!(matches!(
        refused(&tiny, 0),
        SidxError::TinyBox { size: 4, .. }
    ));
    // One reference more than the box holds, and one fewer.
    for count in [2u16, 0] {
        let mut wrong = sidx(0, 1000, 0, 0, &[(0, 40, 1000, true)]);
        wrong[30..32].copy_from_slice(&count.to_be_bytes());
        assert!(
            matches!(refused(&wrong, 0), SidxError::Size { .. }),
            "{count}"
        );
    }
    // Too small for the fixed fields, and empty.
    let short = boxed(b"sidx", &[1, 0, 0, 0, 0, 0, 0, 1]);
    assert!(matches!(
        refused(&short, 0),
        SidxError::Size { need: 40, .. }
    ));
    assert!(matches!(
        refused(&boxed(b"sidx", &[]), 0),
        SidxError::Size { .. }
    ));
}

#[test]
fn fields_snatch_cannot_use_are_refused() {
    let mut v2 = sidx(1, 1000, 0, 0, &[(0, 40, 1000, true)]);
    v2[8] = 2;
    assert_eq!(refused(&v2, 0), SidxError::Version(2));
    let zero = sidx(0, 0, 0, 0, &[(0, 40, 1000, true)]);
    assert_eq!(refused(&zero, 0), SidxError::ZeroTimescale);
    assert_eq!(
        refused(&sidx(1, 1000, 0, 0, &[]), 0),
        SidxError::NoReference
    );
    let nested = sidx(0, 1000, 0, 0, &[(0, 40, 1000, true), (1, 80, 1000, true)]);
    let e = refused(&nested, 0);
    assert_eq!(e, SidxError::Nested { index: 1 });
    assert!(e.to_string().contains("does not follow"), "{e}");
    let empty = sidx(0, 1000, 0, 0, &[(0, 40, 1000, true), (0, 0, 1000, true)]);
    assert_eq!(refused(&empty, 0), SidxError::EmptyReference { index: 1 });
}

#[test]
fn offsets_past_2_to_the_64_are_refused() {
    let refs = [(0, 40, 1000, true), (0, 40, 1000, true)];
    let bytes = sidx(1, 1000, 0, u64::MAX - 100, &refs);
    assert_eq!(refused(&bytes, 0), SidxError::Overflow { index: 0 });
    // The first ends on the last byte there is; the second has no room.
    let fits = u64::MAX - bytes.len() as u64 - 39;
    let bytes = sidx(1, 1000, 0, fits, &refs);
    assert_eq!(refused(&bytes, 0), SidxError::Overflow { index: 1 });
    // Where the range itself is.
    let plain = sidx(0, 1000, 0, 0, &refs);
    let offset = u64::MAX - 10;
    assert_eq!(refused(&plain, offset), SidxError::RangeOverflow { offset });
    // The range fits, the first subsegment does not.
    let offset = u64::MAX - plain.len() as u64;
    assert_eq!(refused(&plain, offset), SidxError::Overflow { index: 0 });
}

#[test]
fn the_largest_index_is_read() {
    let refs = vec![(0u8, 1u32, 1u32, true); MAX_REFERENCES];
    let bytes = sidx(1, 1, 0, 0, &refs);
    assert!(bytes.len() as u64 <= MAX_BOX);
    let subs = parse(&bytes, 0).unwrap();
    assert_eq!(subs.len(), MAX_REFERENCES);
    assert_eq!(subs.last().unwrap().last, bytes.len() as u64 + 65_534);
}

proptest! {
    #[test]
    fn random_bytes_never_panic(
        bytes in proptest::collection::vec(any::<u8>(), 0..300),
        offset in any::<u64>(),
    ) {
        let _ = parse(&bytes, offset);
    }

    /// A sidx header with random fields after it: refused or read, never
    /// a panic.
    #[test]
    fn random_fields_never_panic(
        version in 0u8..3,
        tail in proptest::collection::vec(any::<u8>(), 0..120),
        offset in any::<u64>(),
    ) {
        let mut body = vec![version, 0, 0, 0];
        body.extend_from_slice(&tail);
        let _ = parse(&boxed(b"sidx", &body), offset);
    }

    /// Any well-formed flat index tiles the bytes after it exactly.
    #[test]
    fn subsegments_tile_from_the_first_offset(
        version in 0u8..2,
        first_offset in 0u64..1_000_000,
        offset in 0u64..1u64 << 40,
        refs in proptest::collection::vec((1u32..1 << 31, any::<u32>(), any::<bool>()), 1..50),
    ) {
        let refs: Vec<Ref> = refs.into_iter().map(|(s, d, sap)| (0, s, d, sap)).collect();
        let bytes = sidx(version, 1000, 0, first_offset, &refs);
        let subs = parse(&bytes, offset).unwrap();
        prop_assert_eq!(subs[0].first, offset + bytes.len() as u64 + first_offset);
        for (s, r) in subs.iter().zip(&refs) {
            prop_assert_eq!(s.bytes(), u64::from(r.1));
            prop_assert_eq!(s.starts_with_sap, r.3);
        }
        for w in subs.windows(2) {
            prop_assert_eq!(w[1].first, w[0].last + 1);
            prop_assert!(w[1].start >= w[0].start);
        }
    }
}
