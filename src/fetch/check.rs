//! A segment is judged by its bytes, whatever its URL or `Content-Type`
//! says: MPEG-TS (a sync byte every 188 bytes, whole packets), fragmented
//! MP4 (a sequence of known boxes), AAC in ADTS frames, MPEG audio
//! (MP2/MP3) frames, either with ID3 tags. Anything else (an HTML page, JSON, text, an empty body) is
//! refused with a short, escaped preview of what arrived.
//!
//! The check streams: [`Check::feed`] takes the body in chunks of any size
//! and refuses as soon as the bytes go wrong; [`Check::finish`] refuses a
//! body that stops mid-packet, mid-box or mid-frame.

/// The MPEG-TS packet size and sync byte.
pub const TS_PACKET: u64 = 188;
pub const TS_SYNC: u8 = 0x47;

/// Bytes needed to tell the formats apart (an ID3 header is the longest).
const SNIFF: usize = 10;
/// How many bytes of a refused body its preview shows.
const PREVIEW: usize = 40;

/// The box types a fragmented-MP4 media or init segment may hold.
const MP4_BOXES: [&[u8; 4]; 9] = [
    b"styp", b"moof", b"mdat", b"sidx", b"prft", b"emsg", b"free", b"ftyp", b"moov",
];

/// What a body turned out to be.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Ts,
    Mp4,
    /// ADTS or MPEG audio frames, with ID3 tags before them or not.
    Audio,
}

/// Why a body is not a segment. Each renders the sentence a failed job
/// shows; the previews in it are escaped (see [`preview`]).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CheckError {
    #[error("the body is empty")]
    Empty,
    /// Fewer bytes than it takes to tell a format, and the whole body.
    #[error("{len} bytes is too short for a video segment ({preview})")]
    TooShort { len: usize, preview: String },
    /// The first bytes are none of the accepted formats.
    #[error("{arrived}, not a video or audio segment (starts with {preview})")]
    NotMedia { arrived: Arrived, preview: String },
    #[error("{len} bytes is not a whole number of 188-byte MPEG-TS packets (cut short?)")]
    PartialPacket { len: u64 },
    /// `what` is "MP4 box" or "audio frame".
    #[error("the body ends inside an {what} ({len} bytes arrived; cut short?)")]
    CutInside { what: &'static str, len: u64 },
    #[error("a unit longer than any body")]
    UnitTooLong,
    /// A known format whose bytes go wrong: `what` is the format ("MPEG-TS
    /// segment", "ID3 tag", ...), `why` the place or the value.
    #[error("not a valid {what} ({why})")]
    Malformed { what: &'static str, why: String },
}

/// A guess at what a refused body is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum Arrived {
    #[error("an HTML page")]
    HtmlPage,
    #[error("an XML or HTML document")]
    Markup,
    #[error("JSON")]
    Json,
    #[error("a playlist")]
    Playlist,
    #[error("text")]
    Text,
    #[error("unknown bytes")]
    Unknown,
}

fn malformed(what: &'static str, why: impl Into<String>) -> CheckError {
    CheckError::Malformed {
        what,
        why: why.into(),
    }
}

/// Where a streamed walk over length-prefixed units (boxes, frames, tags)
/// stands: the header of the unit that starts at `next` is being gathered.
#[derive(Debug, Default)]
struct Walk {
    next: u64,
    head: Vec<u8>,
    /// An MP4 box of size 0 runs to the end of the body.
    open_ended: bool,
}

#[derive(Debug)]
enum State {
    /// The first bytes, kept until the format can be told.
    Sniffing(Vec<u8>),
    Ts,
    Mp4(Walk),
    Audio(Walk),
}

/// Checks a body as it streams.
#[derive(Debug)]
pub struct Check {
    state: State,
    /// Bytes fed so far.
    pub len: u64,
}

impl Default for Check {
    fn default() -> Self {
        Check::new()
    }
}

impl Check {
    pub fn new() -> Check {
        Check {
            state: State::Sniffing(Vec::new()),
            len: 0,
        }
    }

    /// The format, once the first bytes told it.
    pub fn format(&self) -> Option<Format> {
        match self.state {
            State::Sniffing(_) => None,
            State::Ts => Some(Format::Ts),
            State::Mp4(_) => Some(Format::Mp4),
            State::Audio(_) => Some(Format::Audio),
        }
    }

    /// Takes the next chunk of the body.
    pub fn feed(&mut self, chunk: &[u8]) -> Result<(), CheckError> {
        if let State::Sniffing(head) = &mut self.state {
            head.extend_from_slice(chunk);
            if head.len() < SNIFF {
                self.len += chunk.len() as u64;
                return Ok(());
            }
            let head = std::mem::take(head);
            self.state = sniff(&head)?;
            self.len = 0;
            return self.walk(&head);
        }
        self.walk(chunk)
    }

    fn walk(&mut self, chunk: &[u8]) -> Result<(), CheckError> {
        let start = self.len;
        match &mut self.state {
            State::Sniffing(_) => unreachable!("sniffed before walking"),
            State::Ts => ts_walk(start, chunk)?,
            State::Mp4(w) => w.feed(start, chunk, mp4_unit)?,
            State::Audio(w) => w.feed(start, chunk, audio_unit)?,
        }
        self.len += chunk.len() as u64;
        Ok(())
    }

    /// The body has ended: refuses one that is empty, not a segment, or
    /// cut inside a packet, box or frame.
    pub fn finish(&self) -> Result<(), CheckError> {
        match &self.state {
            State::Sniffing(head) if head.is_empty() => Err(CheckError::Empty),
            State::Sniffing(head) => {
                // Too short to tell: a whole segment is never this small,
                // but say what it looks like.
                sniff(head)?;
                Err(CheckError::TooShort {
                    len: head.len(),
                    preview: preview(head),
                })
            }
            State::Ts if !self.len.is_multiple_of(TS_PACKET) => {
                Err(CheckError::PartialPacket { len: self.len })
            }
            State::Ts => Ok(()),
            State::Mp4(w) => w.finish(self.len, "MP4 box"),
            State::Audio(w) => w.finish(self.len, "audio frame"),
        }
    }
}

/// Tells the format from the first bytes, or says what arrived instead.
fn sniff(head: &[u8]) -> Result<State, CheckError> {
    if head.first() == Some(&TS_SYNC) {
        return Ok(State::Ts);
    }
    if head.len() >= 8 && MP4_BOXES.iter().any(|b| &head[4..8] == *b) {
        return Ok(State::Mp4(Walk::default()));
    }
    if head.starts_with(b"ID3") || is_adts(head) || is_mpeg_audio(head) {
        return Ok(State::Audio(Walk::default()));
    }
    Err(CheckError::NotMedia {
        arrived: what_arrived(head),
        preview: preview(head),
    })
}

fn ts_walk(start: u64, chunk: &[u8]) -> Result<(), CheckError> {
    let first = (TS_PACKET - start % TS_PACKET) % TS_PACKET;
    let mut i = first as usize;
    while i < chunk.len() {
        if chunk[i] != TS_SYNC {
            let at = start + i as u64;
            return Err(malformed(
                "MPEG-TS segment",
                format!("no sync byte at byte {at}"),
            ));
        }
        i += TS_PACKET as usize;
    }
    Ok(())
}

/// Reads a unit's header from the bytes gathered so far: asks for more,
/// or gives the unit's whole length.
type Unit = fn(&[u8]) -> Result<UnitHead, CheckError>;

enum UnitHead {
    /// Gather this many header bytes first.
    Need(usize),
    /// The unit's length in bytes, header included; `None` runs to the end.
    Len(Option<u64>),
}

impl Walk {
    fn feed(&mut self, start: u64, chunk: &[u8], unit: Unit) -> Result<(), CheckError> {
        let end = start + chunk.len() as u64;
        while !self.open_ended {
            match unit(&self.head)? {
                UnitHead::Need(n) => {
                    if self.next >= end {
                        break;
                    }
                    let at = (self.next - start) as usize;
                    let take = (n - self.head.len()).min(chunk.len() - at);
                    self.head.extend_from_slice(&chunk[at..at + take]);
                    self.next += take as u64;
                }
                UnitHead::Len(len) => {
                    let unit_start = self.next - self.head.len() as u64;
                    self.head.clear();
                    match len.map(|l| unit_start.checked_add(l)) {
                        None => self.open_ended = true,
                        Some(Some(next)) => self.next = next,
                        Some(None) => return Err(CheckError::UnitTooLong),
                    }
                }
            }
        }
        Ok(())
    }

    fn finish(&self, len: u64, what: &'static str) -> Result<(), CheckError> {
        if self.open_ended || (self.head.is_empty() && self.next == len) {
            return Ok(());
        }
        Err(CheckError::CutInside { what, len })
    }
}

/// An MP4 box: 32-bit size and a type; size 1 means a 64-bit size follows,
/// size 0 runs to the end.
fn mp4_unit(head: &[u8]) -> Result<UnitHead, CheckError> {
    if head.len() < 8 {
        return Ok(UnitHead::Need(8));
    }
    let kind = &head[4..8];
    if !MP4_BOXES.iter().any(|b| kind == *b) {
        let why = format!("an unexpected box {}", preview(kind));
        return Err(malformed("fragmented MP4 segment", why));
    }
    let size = u32::from_be_bytes([head[0], head[1], head[2], head[3]]) as u64;
    let size = match size {
        0 => return Ok(UnitHead::Len(None)),
        1 if head.len() < 16 => return Ok(UnitHead::Need(16)),
        1 => u64::from_be_bytes(head[8..16].try_into().expect("8 bytes")),
        s => s,
    };
    let header = if head.len() >= 16 { 16 } else { 8 };
    if size < header {
        let why = format!("a {} box of {size} bytes", preview(kind));
        return Err(malformed("fragmented MP4 segment", why));
    }
    Ok(UnitHead::Len(Some(size)))
}

/// ADTS frames, MPEG audio frames and ID3v2 tags, in any order.
fn audio_unit(head: &[u8]) -> Result<UnitHead, CheckError> {
    if head.len() < 3 {
        return Ok(UnitHead::Need(3));
    }
    if head.starts_with(b"ID3") {
        if head.len() < 10 {
            return Ok(UnitHead::Need(10));
        }
        let size = head[6..10]
            .iter()
            .try_fold(0u64, |acc, &b| (b < 0x80).then_some(acc << 7 | b as u64));
        let Some(size) = size else {
            return Err(malformed("ID3 tag", "its size is not sync-safe"));
        };
        let footer = if head[5] & 0x10 != 0 { 10 } else { 0 };
        return Ok(UnitHead::Len(Some(10 + size + footer)));
    }
    if is_mpeg_audio(head) {
        return mpeg_audio_unit(head);
    }
    if !is_adts(head) {
        let why = format!("no ADTS or MPEG audio frame at {}", preview(&head[..3]));
        return Err(malformed("audio segment", why));
    }
    if head.len() < 6 {
        return Ok(UnitHead::Need(6));
    }
    let len = ((head[3] as u64 & 0x03) << 11) | ((head[4] as u64) << 3) | (head[5] as u64 >> 5);
    if len < 7 {
        let why = format!("a frame of {len} bytes");
        return Err(malformed("AAC/ADTS segment", why));
    }
    Ok(UnitHead::Len(Some(len)))
}

/// An ADTS frame header: 12 sync bits, then layer 00.
fn is_adts(head: &[u8]) -> bool {
    head.len() >= 2 && head[0] == 0xFF && head[1] & 0xF6 == 0xF0
}

/// An MPEG audio (MP1/MP2/MP3) frame header: 11 sync bits, a version that
/// is not reserved, a layer that is not 00 (that is ADTS).
fn is_mpeg_audio(head: &[u8]) -> bool {
    head.len() >= 2
        && head[0] == 0xFF
        && head[1] & 0xE0 == 0xE0
        && (head[1] >> 3) & 3 != 1
        && (head[1] >> 1) & 3 != 0
}

/// An MPEG audio frame's length from its 4-byte header.
fn mpeg_audio_unit(head: &[u8]) -> Result<UnitHead, CheckError> {
    const KBPS: [[u32; 14]; 5] = [
        [
            32, 64, 96, 128, 160, 192, 224, 256, 288, 320, 352, 384, 416, 448,
        ],
        [
            32, 48, 56, 64, 80, 96, 112, 128, 160, 192, 224, 256, 320, 384,
        ],
        [
            32, 40, 48, 56, 64, 80, 96, 112, 128, 160, 192, 224, 256, 320,
        ],
        [
            32, 48, 56, 64, 80, 96, 112, 128, 144, 160, 176, 192, 224, 256,
        ],
        [8, 16, 24, 32, 40, 48, 56, 64, 80, 96, 112, 128, 144, 160],
    ];
    const RATES: [[u32; 3]; 3] = [
        [11025, 12000, 8000],
        [22050, 24000, 16000],
        [44100, 48000, 32000],
    ];
    if head.len() < 4 {
        return Ok(UnitHead::Need(4));
    }
    let version = (head[1] >> 3) & 3; // 0: MPEG-2.5, 2: MPEG-2, 3: MPEG-1
    let layer = 4 - ((head[1] >> 1) & 3); // 1, 2 or 3
    let rate_index = (head[2] >> 4) as usize;
    let freq_index = ((head[2] >> 2) & 3) as usize;
    if rate_index == 0 || rate_index == 15 || freq_index == 3 {
        let why = "a free-format or bad frame header";
        return Err(malformed("MPEG audio segment", why));
    }
    let table = match (version == 3, layer) {
        (true, l) => l as usize - 1,
        (false, 1) => 3,
        (false, _) => 4,
    };
    let bits = KBPS[table][rate_index - 1] as u64 * 1000;
    let freq = RATES[version.saturating_sub(1) as usize][freq_index] as u64;
    let pad = ((head[2] >> 1) & 1) as u64;
    let len = match layer {
        1 => (12 * bits / freq + pad) * 4,
        3 if version != 3 => 72 * bits / freq + pad,
        _ => 144 * bits / freq + pad,
    };
    Ok(UnitHead::Len(Some(len)))
}

/// A guess at what a refused body is, for the message.
fn what_arrived(head: &[u8]) -> Arrived {
    let text = String::from_utf8_lossy(head)
        .trim_start()
        .to_ascii_lowercase();
    if text.starts_with("<!doctype html") || text.starts_with("<html") || text.starts_with("<head")
    {
        Arrived::HtmlPage
    } else if text.starts_with('<') {
        Arrived::Markup
    } else if text.starts_with('{') || text.starts_with('[') {
        Arrived::Json
    } else if text.starts_with("#extm3u") {
        Arrived::Playlist
    } else if head
        .iter()
        .all(|&b| b.is_ascii_graphic() || b.is_ascii_whitespace())
    {
        Arrived::Text
    } else {
        Arrived::Unknown
    }
}

/// The first bytes of a body, quoted and escaped: printable ASCII as is
/// (backticks and backslashes escaped), everything else as `\xNN`, so no
/// server can put markup, control characters or a line break into a
/// message.
pub fn preview(bytes: &[u8]) -> String {
    // Masked before it is cut or escaped, so that a secret the body holds
    // shows in none of its spellings, nor in part.
    let window = &bytes[..bytes.len().min(PREVIEW + 4096)];
    let mut masked = Vec::with_capacity(window.len());
    for chunk in window.utf8_chunks() {
        masked.extend_from_slice(crate::mask::text(chunk.valid()).as_bytes());
        masked.extend_from_slice(chunk.invalid());
    }
    let mut s = String::from("\"");
    for &b in masked.iter().take(PREVIEW) {
        match b {
            b'\\' | b'`' | b'"' => {
                s.push('\\');
                s.push(b as char);
            }
            0x20..=0x7e => s.push(b as char),
            _ => s.push_str(&format!("\\x{b:02x}")),
        }
    }
    s.push('"');
    if bytes.len() > PREVIEW {
        s.push('…');
    }
    s
}

#[cfg(test)]
mod tests {
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

    /// Every chunking of `body` gives the same verdict.
    fn verdict(body: &[u8]) -> Result<Format, String> {
        let whole = check(body, body.len()).map_err(|e| e.to_string());
        for size in [1, 2, 3, 5, 7, 8, 9, 10, 11, 16, 100, 188, 189] {
            assert_eq!(
                check(body, size).is_ok(),
                whole.is_ok(),
                "chunks of {size}: {:?}",
                check(body, size)
            );
        }
        whole
    }

    fn ts(packets: usize) -> Vec<u8> {
        let mut p = [0u8; 188];
        p[0] = TS_SYNC;
        p.repeat(packets)
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

    fn id3(size: usize) -> Vec<u8> {
        let mut t = b"ID3\x04\x00\x00".to_vec();
        t.extend([0, 0, (size >> 7) as u8 & 0x7f, size as u8 & 0x7f]);
        t.extend(std::iter::repeat_n(b'x', size));
        t
    }

    proptest::proptest! {
        /// No input panics, and the verdict never depends on how the body
        /// was cut into chunks.
        #[test]
        fn any_bytes_any_chunks_one_verdict(
            kind in 0usize..5,
            tail in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..600),
            size in 1usize..64,
        ) {
            let heads: [&[u8]; 5] = [
                b"", b"\x47", b"\0\0\0\x10moof", b"ID3\x04\0\0\0\0\0\x05",
                b"\xff\xfb\x90\0",
            ];
            let body = [heads[kind], &tail].concat();
            let whole = check(&body, body.len().max(1)).is_ok();
            proptest::prop_assert_eq!(check(&body, size).is_ok(), whole);
        }
    }

    #[test]
    fn huge_box_sizes_never_overflow() {
        let mut b = 1u32.to_be_bytes().to_vec();
        b.extend_from_slice(b"mdat");
        b.extend_from_slice(&u64::MAX.to_be_bytes());
        let mut c = Check::new();
        c.feed(&[mp4_box(b"moof", 8), b].concat()).unwrap_err();
    }

    #[test]
    fn mpeg_ts_whole_packets_only() {
        assert_eq!(verdict(&ts(3)), Ok(Format::Ts));
        let cut = &ts(3)[..400];
        assert!(verdict(cut).unwrap_err().contains("188-byte"));
        let mut bad = ts(3);
        bad[376] = 0;
        assert!(verdict(&bad).unwrap_err().contains("byte 376"));
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
        ]
        .concat();
        assert_eq!(verdict(&media), Ok(Format::Mp4));
        // A 64-bit size; a last box running to the end.
        let mut large = 1u32.to_be_bytes().to_vec();
        large.extend_from_slice(b"mdat");
        large.extend_from_slice(&40u64.to_be_bytes());
        large.extend([7u8; 24]);
        assert_eq!(
            verdict(&[mp4_box(b"moof", 8), large].concat()),
            Ok(Format::Mp4)
        );
        let mut open = 0u32.to_be_bytes().to_vec();
        open.extend_from_slice(b"mdat");
        open.extend([1u8; 50]);
        assert_eq!(
            verdict(&[mp4_box(b"moof", 8), open].concat()),
            Ok(Format::Mp4)
        );
        // Cut inside a box, an unknown box, a box too small.
        assert!(verdict(&media[..media.len() - 1])
            .unwrap_err()
            .contains("inside an MP4 box"));
        let odd = [mp4_box(b"moof", 8), mp4_box(b"html", 8)].concat();
        assert!(verdict(&odd).unwrap_err().contains("\"html\""));
        let mut tiny = mp4_box(b"moof", 8);
        tiny[3] = 4;
        assert!(verdict(&tiny).is_err());
    }

    #[test]
    fn adts_and_id3_audio() {
        let frames = [adts(200), adts(7), adts(300)].concat();
        assert_eq!(verdict(&frames), Ok(Format::Audio));
        let tagged = [id3(60), frames.clone()].concat();
        assert_eq!(verdict(&tagged), Ok(Format::Audio));
        assert!(verdict(&tagged[..tagged.len() - 3])
            .unwrap_err()
            .contains("inside an audio frame"));
        let junk = [id3(20), b"<html>not audio</html>".to_vec()].concat();
        assert!(verdict(&junk).unwrap_err().contains("ADTS"));
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
}
