use super::*;

/// Feeds `body` in chunks of `size` and finishes.
fn check(body: &[u8], size: usize) -> Result<Format, CheckError> {
    let mut c = Check::new();
    for chunk in body.chunks(size.max(1)) {
        c.feed(chunk)?;
    }
    c.finish()?;
    Ok(c.format().expect("a format"))
}

/// The ADTS body that passed with a byte dropped (proptest found it): the
/// length byte of a frame of 689 bytes dropped, its header then says 688.
#[test]
fn a_dropped_adts_length_byte_that_states_the_shorter_length_is_well_formed() {
    let body = well_formed(2, &[27367, 56682, 30838, 59582, 19416]);
    let mut short = body.clone();
    short.remove(394);
    assert!(in_adts_length(&body, 5, 394));
    assert!(check(&short, 1).is_ok());
    // A byte of the same frame's payload is caught.
    let mut short = body.clone();
    short.remove(400);
    assert!(!in_adts_length(&body, 5, 400));
    assert!(check(&short, 1).is_err());
}

/// Where a refused body went wrong, whatever the chunking.
fn offset(e: &CheckError) -> Option<u64> {
    match e {
        CheckError::Malformed { at, .. } => Some(*at),
        _ => None,
    }
}

/// Every chunking of `body` gives the same verdict, at the same offset.
fn verdict(body: &[u8]) -> Result<Format, String> {
    let whole = check(body, body.len());
    for size in [1, 2, 3, 4, 5, 7, 8, 9, 10, 11, 16, 100, 187, 188, 189] {
        let cut = check(body, size);
        assert_eq!(cut.is_ok(), whole.is_ok(), "chunks of {size}: {cut:?}");
        let (a, b) = (cut.err(), whole.as_ref().err());
        assert_eq!(a.as_ref().and_then(offset), b.and_then(offset), "{size}");
    }
    whole.map_err(|e| e.to_string())
}

/// A TS packet: PID, whether it starts a unit, adaptation field control,
/// a zero payload.
fn packet(pid: u16, start: bool, control: u8) -> Vec<u8> {
    let mut p = vec![0u8; 188];
    p[0] = TS_SYNC;
    p[1] = (pid >> 8) as u8 & 0x1F | if start { 0x40 } else { 0 };
    p[2] = pid as u8;
    p[3] = control << 4;
    p
}

/// A PAT-like start, then payload packets.
fn ts(packets: usize) -> Vec<u8> {
    let mut body = packet(0, true, 1);
    for _ in 1..packets {
        body.extend(packet(0x100, false, 1));
    }
    body
}

fn mp4_box(kind: &[u8; 4], payload: usize) -> Vec<u8> {
    let mut b = ((payload + 8) as u32).to_be_bytes().to_vec();
    b.extend_from_slice(kind);
    b.extend(std::iter::repeat_n(0u8, payload));
    b
}

fn adts(len: usize) -> Vec<u8> {
    let mut f = vec![0u8; len];
    f[0] = 0xFF;
    f[1] = 0xF1;
    f[3] = ((len >> 11) & 0x03) as u8;
    f[4] = ((len >> 3) & 0xFF) as u8;
    f[5] = ((len & 0x07) << 5) as u8;
    f
}

/// An MPEG-1 layer III frame at 128 kbit/s, 44.1 kHz: 417 bytes.
fn mp3_frame() -> Vec<u8> {
    let mut f = vec![0u8; 417];
    f[..4].copy_from_slice(&[0xFF, 0xFB, 0x90, 0x00]);
    f
}

fn id3(size: usize) -> Vec<u8> {
    let mut t = b"ID3\x04\x00\x00".to_vec();
    t.extend([0, 0, (size >> 7) as u8 & 0x7f, size as u8 & 0x7f]);
    t.extend(std::iter::repeat_n(b'x', size));
    t
}

const HTML: &[u8] = b"<!DOCTYPE html><html><head><title>Sign in</title></head></html>";

/// A body made of well-formed pieces of one format, `n` of each.
fn well_formed(kind: usize, sizes: &[u16]) -> Vec<u8> {
    let mut body = Vec::new();
    match kind {
        0 => {
            for (i, &s) in sizes.iter().enumerate() {
                let pid = if i == 0 { 0 } else { s & 0x1FFF };
                let mut p = packet(pid, i == 0 || s & 1 == 1, 1 + (s % 3) as u8);
                p[4] = if p[3] >> 4 == 2 { 183 } else { (s % 183) as u8 };
                body.extend(p);
            }
        }
        1 => {
            body.extend(mp4_box(b"moof", 8));
            for &s in sizes {
                body.extend(mp4_box(BOXES_SEEN[s as usize % 4], s as usize % 300));
            }
        }
        _ => {
            body.extend(id3(sizes.len()));
            for &s in sizes {
                body.extend(adts(7 + s as usize % 1000));
            }
        }
    }
    body
}

/// Whether byte `at` of a `well_formed(2, …)` body (an ID3 tag of
/// `tag` bytes, then ADTS frames) is one of a frame header's bytes 3 to 6,
/// where its length is written.
fn in_adts_length(body: &[u8], tag: usize, at: usize) -> bool {
    let mut start = 10 + tag;
    while start + 6 < body.len() {
        if (start + 3..=start + 6).contains(&at) {
            return true;
        }
        let f = &body[start..];
        start += ((f[3] as usize & 3) << 11) | ((f[4] as usize) << 3) | (f[5] as usize >> 5);
    }
    false
}

const BOXES_SEEN: [&[u8; 4]; 4] = [b"mdat", b"moof", b"free", b"emsg"];

proptest::proptest! {
    /// No input panics, and the verdict (and where it went wrong) never
    /// depends on how the body was cut into chunks.
    #[test]
    fn any_bytes_any_chunks_one_verdict(
        kind in 0usize..8,
        tail in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..600),
        size in 1usize..64,
    ) {
        let heads: [&[u8]; 8] = [
            b"", b"\x47", b"\x47\x40\0\x10", b"\0\0\0\x10moof", b"\0\0\0\0mdat",
            b"\0\0\0\x01mdat", b"ID3\x04\0\0\0\0\0\x05", b"\xff\xfb\x90\0",
        ];
        let body = [heads[kind], &tail].concat();
        let whole = check(&body, body.len().max(1));
        let cut = check(&body, size);
        proptest::prop_assert_eq!(cut.is_ok(), whole.is_ok());
        let at = whole.as_ref().err().and_then(offset);
        proptest::prop_assert_eq!(cut.as_ref().err().and_then(offset), at);
        proptest::prop_assert!(at.is_none_or(|at| at < body.len() as u64));
        proptest::prop_assert_eq!(Check::start(&body).is_err(), {
            let mut c = Check::new();
            c.feed(&body).is_err() || body.len() < SNIFF
        });
    }

    /// Well-formed bodies of every format pass in any chunking; a byte
    /// dropped from them never passes.
    #[test]
    fn well_formed_bodies_pass_and_a_dropped_byte_fails(
        kind in 0usize..3,
        sizes in proptest::collection::vec(proptest::prelude::any::<u16>(), 1..12),
        size in 1usize..300,
        drop in proptest::prelude::any::<proptest::sample::Index>(),
    ) {
        let body = well_formed(kind, &sizes);
        proptest::prop_assert!(check(&body, size).is_ok(), "{:?}", check(&body, size));
        let at = drop.index(body.len());
        // ADTS states each frame's length in its header: a byte dropped
        // from the length's bytes can leave a header that states the
        // shorter length, a well-formed stream (with zeros after the
        // length, any length ≡ 1 mod 8 did). The payload's bytes, and
        // every byte of the other formats, are what this can hold to.
        proptest::prop_assume!(kind != 2 || !in_adts_length(&body, sizes.len(), at));
        let mut short = body.clone();
        short.remove(at);
        proptest::prop_assert!(check(&short, size).is_err());
    }
}

#[test]
fn huge_box_sizes_never_overflow() {
    let mut b = 1u32.to_be_bytes().to_vec();
    b.extend_from_slice(b"mdat");
    b.extend_from_slice(&u64::MAX.to_be_bytes());
    let mut c = Check::new();
    let e = c.feed(&[mp4_box(b"moof", 8), b].concat()).unwrap_err();
    assert_eq!(offset(&e), Some(16), "{e}");
}

#[test]
fn mpeg_ts_whole_packets_only() {
    assert_eq!(verdict(&ts(3)), Ok(Format::Ts));
    let cut = &ts(3)[..400];
    assert!(verdict(cut).unwrap_err().contains("188-byte"));
    let mut bad = ts(3);
    bad[376] = 0;
    let e = verdict(&bad).unwrap_err();
    assert!(e.starts_with("not a valid MPEG-TS segment: at byte 376, no sync byte"));
    assert!(e.contains(r#"("\x00\x01\x00\x10\x00"#), "{e}");
}

#[test]
fn mpeg_ts_packet_headers_hold_together() {
    // `G` every 188 bytes, text between: the header is made of letters.
    let mut text = Vec::new();
    for _ in 0..4 {
        text.push(TS_SYNC);
        text.extend(HTML.iter().cycle().take(187));
    }
    let e = verdict(&text).unwrap_err();
    assert!(
        e.contains("at byte 0, a packet header with the reserved"),
        "{e}"
    );
    assert!(e.contains(r#"("G<!DOCTYPE"#), "{e}");
    let mut reserved = ts(3);
    reserved[188 + 3] = 0;
    let e = verdict(&reserved).unwrap_err();
    assert!(
        e.contains("at byte 188, a packet header with the reserved"),
        "{e}"
    );
    let mut long = [ts(1), packet(0x100, false, 3)].concat();
    long[188 + 4] = 183;
    let e = verdict(&long).unwrap_err();
    assert!(e.contains("at byte 188, an adaptation field of 183 bytes where a payload"));
    long[188 + 4] = 182;
    assert_eq!(verdict(&long), Ok(Format::Ts));
}

#[test]
fn mpeg_ts_must_carry_something() {
    let null = packet(0x1FFF, false, 1);
    let e = verdict(&null).unwrap_err();
    assert!(e.contains(
        "every packet is a null packet (PID 0x1FFF) (188 bytes, starting \"G\\x1f\\xff\\x10"
    ));
    let e = verdict(&[null.clone(), packet(0x100, false, 1)].concat()).unwrap_err();
    assert!(e.contains("no packet starts a table or a stream"), "{e}");
    // A null packet with the start flag does not count.
    let e = verdict(&[packet(0x1FFF, true, 1), packet(0x100, false, 1)].concat());
    assert!(e.is_err());
    let mid_stream = [packet(0x100, false, 1), packet(0x101, true, 3), null].concat();
    assert_eq!(verdict(&mid_stream), Ok(Format::Ts));
}

#[test]
fn fragmented_mp4_boxes() {
    let init = [mp4_box(b"ftyp", 16), mp4_box(b"moov", 300)].concat();
    assert_eq!(verdict(&init), Ok(Format::Mp4));
    let media = [
        mp4_box(b"styp", 12),
        mp4_box(b"sidx", 30),
        mp4_box(b"moof", 100),
        mp4_box(b"mdat", 1000),
        mp4_box(b"skip", 4),
    ]
    .concat();
    assert_eq!(verdict(&media), Ok(Format::Mp4));
    // A 64-bit size.
    let mut large = 1u32.to_be_bytes().to_vec();
    large.extend_from_slice(b"mdat");
    large.extend_from_slice(&40u64.to_be_bytes());
    large.extend([7u8; 24]);
    assert_eq!(
        verdict(&[mp4_box(b"moof", 8), large.clone()].concat()),
        Ok(Format::Mp4)
    );
    large[15] = 12;
    let e = verdict(&[mp4_box(b"moof", 8), large].concat()).unwrap_err();
    assert!(e.contains("at byte 16, a \"mdat\" box of 12 bytes, smaller than its 16-byte"));
    // Cut inside a box, an unknown box, a box too small.
    assert!(verdict(&media[..media.len() - 1])
        .unwrap_err()
        .contains("inside an MP4 box"));
    let odd = [mp4_box(b"moof", 8), mp4_box(b"html", 8)].concat();
    let e = verdict(&odd).unwrap_err();
    assert!(e.contains("at byte 16, a box of type \"html\""), "{e}");
    let mut tiny = mp4_box(b"moof", 8);
    tiny[3] = 4;
    assert!(verdict(&tiny).is_err());
}

#[test]
fn an_mp4_box_running_to_the_end_is_refused() {
    let mut open = 0u32.to_be_bytes().to_vec();
    open.extend_from_slice(b"mdat");
    open.extend_from_slice(HTML);
    let e = verdict(&open).unwrap_err();
    assert!(
        e.starts_with("not a valid fragmented MP4 segment: at byte 0, a \"mdat\" box of size 0")
    );
    assert!(
        e.contains(r#"("\x00\x00\x00\x00mdat<!DOCTYPE html>"#),
        "{e}"
    );
    let e = verdict(&[mp4_box(b"moof", 8), open].concat()).unwrap_err();
    assert!(e.contains("at byte 16,"), "{e}");
}

#[test]
fn mp4_must_carry_media() {
    let e = verdict(&[mp4_box(b"styp", 8), mp4_box(b"free", 100)].concat()).unwrap_err();
    assert!(e.contains("no moov, moof or mdat box (124 bytes"), "{e}");
}

#[test]
fn adts_and_id3_audio() {
    let frames = [adts(200), adts(7), adts(300)].concat();
    assert_eq!(verdict(&frames), Ok(Format::Audio));
    let tagged = [id3(60), id3(5), frames.clone()].concat();
    assert_eq!(verdict(&tagged), Ok(Format::Audio));
    assert!(verdict(&tagged[..tagged.len() - 3])
        .unwrap_err()
        .contains("inside an audio frame"));
    let junk = [id3(20), HTML.to_vec()].concat();
    let e = verdict(&junk).unwrap_err();
    assert!(e.contains("at byte 30, no ADTS or MPEG audio frame"), "{e}");
    assert!(e.contains(r#"("<!DOCTYPE"#), "{e}");
    let mp3 = [id3(3), mp3_frame(), mp3_frame()].concat();
    assert_eq!(verdict(&mp3), Ok(Format::Audio));
}

#[test]
fn audio_frames_chain_and_tags_come_first() {
    // A frame header where the previous frame's length does not end.
    let mut frames = [adts(200), adts(100)].concat();
    frames[4] = (201 >> 3) as u8;
    frames[5] = ((201 & 7) << 5) as u8;
    let e = verdict(&frames).unwrap_err();
    assert!(
        e.contains("at byte 201, no ADTS or MPEG audio frame"),
        "{e}"
    );
    let late = [adts(100), id3(10), adts(100)].concat();
    let e = verdict(&late).unwrap_err();
    assert!(
        e.contains("at byte 100, an ID3 tag after the first audio frame"),
        "{e}"
    );
    let mixed = [adts(100), mp3_frame()].concat();
    let e = verdict(&mixed).unwrap_err();
    assert!(
        e.contains("at byte 100, an MPEG audio frame after ADTS frames"),
        "{e}"
    );
    // An ID3 tag that covers an HTML page is no audio.
    let wrapped = [id3(0)[..6].to_vec(), vec![0, 0, 0, HTML.len() as u8]].concat();
    let e = verdict(&[wrapped, HTML.to_vec()].concat()).unwrap_err();
    assert!(
        e.contains("ID3 tags and no audio frame (73 bytes, starting \"ID3"),
        "{e}"
    );
}

#[test]
fn the_start_of_a_body_is_checked_alone() {
    assert_eq!(Check::start(&ts(2)[..300]), Ok(Format::Ts));
    assert_eq!(Check::start(&mp4_box(b"moof", 100)[..50]), Ok(Format::Mp4));
    assert!(Check::start(HTML).is_err());
    assert!(Check::start(&[0u8, 0, 0, 0, b'm', b'd', b'a', b't', b'<', b'h']).is_err());
    assert!(Check::start(b"G").is_err());
    assert_eq!(Check::start(b""), Err(CheckError::Empty));
}

#[test]
fn a_refused_body_says_what_arrived_as_a_variant() {
    let mut c = Check::new();
    let e = c.feed(b"<html><head><title>Sign in</title>").unwrap_err();
    assert!(
        matches!(
            e,
            CheckError::NotMedia {
                arrived: Arrived::HtmlPage,
                ..
            }
        ),
        "{e:?}"
    );
    let mut c = Check::new();
    let e = c.feed(b"#EXTM3U\n#EXT-X-VERSION:3\n").unwrap_err();
    assert!(matches!(
        e,
        CheckError::NotMedia {
            arrived: Arrived::Playlist,
            ..
        }
    ));
    assert_eq!(Check::new().finish(), Err(CheckError::Empty));
}

#[test]
fn what_is_not_a_segment_is_named_and_escaped() {
    let html = b"<!DOCTYPE html>\n<html><body><img src=x onerror=alert(1)>`x`";
    let e = verdict(html).unwrap_err();
    assert!(e.starts_with("an HTML page"), "{e}");
    assert!(e.contains(r#""<!DOCTYPE html>\x0a<html>"#), "{e}");
    assert!(e.contains('…'), "cut short: {e}");
    assert!(verdict(b"{\"error\": \"expired\"}")
        .unwrap_err()
        .starts_with("JSON"));
    assert!(verdict(b"Access denied, go away")
        .unwrap_err()
        .starts_with("text"));
    assert_eq!(verdict(b"").unwrap_err(), "the body is empty");
    assert!(verdict(b"abc").unwrap_err().starts_with("text"));
    assert!(verdict(&[TS_SYNC, 0, 0]).unwrap_err().contains("too short"));
    assert_eq!(preview(b"a`b\\c\"\r\x00"), r#""a\`b\\c\"\x0d\x00""#);
}
