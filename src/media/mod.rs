//! A segment is judged by its bytes, whatever its URL or `Content-Type`
//! says, all of them, as they arrive: MPEG-TS ([`ts`]: whole 188-byte
//! packets, each with a sync byte and a sound header, some of them not
//! null), fragmented MP4 ([`mp4`]: known boxes chained exactly to the end,
//! at least one of them `moov`, `moof` or `mdat`), AAC in ADTS frames or
//! MPEG audio (MP2/MP3) frames ([`audio`]: each frame where the previous
//! one ends, ID3 tags only before the first). Anything else (an HTML page,
//! JSON, text, an empty body) is refused with a short, escaped preview of
//! what arrived.
//!
//! The check streams and holds no body: [`Check::feed`] takes it in chunks
//! of any size and refuses as soon as the bytes go wrong, naming the byte
//! offset and what was there; [`Check::finish`] refuses a body that stops
//! mid-packet, mid-box or mid-frame, or that carries nothing to play.
//! [`Check::start`] is the same check on a body's first bytes only (what
//! `end: auto` probes with). As the bytes pass, [`clock`] reads the
//! segment's own timestamps (MPEG-TS PES timestamps, fragmented MP4
//! sample durations, ADTS frames' samples): [`Check::timing`].
//!
//! [`sidx`] reads the segment index of a DASH `SegmentBase@indexRange`
//! into the byte ranges of its subsegments.

mod audio;
pub mod clock;
pub mod decrypt;
mod mp4;
pub mod sidx;
#[cfg(test)]
mod tests;
mod ts;
mod walk;

pub use ts::TS_SYNC;

/// Bytes needed to tell the formats apart (an ID3 header is the longest).
const SNIFF: usize = 10;
/// How many bytes of a refused body its preview shows.
const PREVIEW: usize = 40;

/// What a body turned out to be.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum Format {
    #[error("MPEG-TS")]
    Ts,
    #[error("fragmented MP4")]
    Mp4,
    /// ADTS or MPEG audio frames, with ID3 tags before them or not.
    #[error("AAC/MPEG audio")]
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
    /// Bytes of a known format that go wrong at byte `at`; `preview` is
    /// what is there.
    #[error("not a valid {format} segment: at byte {at}, {flaw} ({preview})")]
    Malformed {
        format: Format,
        at: u64,
        flaw: Flaw,
        preview: String,
    },
    /// A whole body of a known format that carries nothing to play;
    /// `preview` is its start.
    #[error("not a valid {format} segment: {lack} ({len} bytes, starting {preview})")]
    Hollow {
        format: Format,
        lack: Lack,
        len: u64,
        preview: String,
    },
}

/// What is wrong at a place in a body.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Flaw {
    #[error("no sync byte (0x47) where a packet starts")]
    NoSync,
    #[error("a packet header with the reserved adaptation_field_control 00")]
    ReservedControl,
    #[error("an adaptation field of {len} bytes where {fits}")]
    Adaptation { len: u8, fits: &'static str },
    #[error("a box of type {kind}, not one a segment holds")]
    UnknownBox { kind: String },
    #[error("a {kind} box of size 0 (\"to the end of the file\"), which a segment may not use")]
    OpenBox { kind: String },
    #[error("a {kind} box of {size} bytes, smaller than its {header}-byte header")]
    TinyBox {
        kind: String,
        size: u64,
        header: u64,
    },
    #[error("a unit of {0} bytes, longer than any body")]
    TooLong(u64),
    #[error("an ID3 tag whose size is not sync-safe")]
    Id3Size,
    #[error("an ID3 tag after the first audio frame (tags only come before)")]
    LateId3,
    #[error("no ADTS or MPEG audio frame where the previous one ends")]
    NoFrame,
    #[error("an {now} frame after {first} frames")]
    MixedFrames {
        now: &'static str,
        first: &'static str,
    },
    #[error("an ADTS frame of {0} bytes, shorter than its header")]
    TinyFrame(u64),
    #[error("a free-format or bad MPEG audio frame header")]
    BadMpegHeader,
}

/// What a whole body of a known format lacks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum Lack {
    #[error("every packet is a null packet (PID 0x1FFF)")]
    OnlyNull,
    #[error("no packet starts a table or a stream (PAT, PMT or PES)")]
    NoStart,
    #[error("no moov, moof or mdat box")]
    NoMedia,
    #[error("ID3 tags and no audio frame")]
    NoFrame,
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

/// A flaw at byte `at`, where `head` (the bytes gathered of the unit
/// there) and then `rest` are.
fn malformed(format: Format, at: u64, flaw: Flaw, (head, rest): (&[u8], &[u8])) -> CheckError {
    let rest = &rest[..rest.len().min(PREVIEW + 4096)];
    CheckError::Malformed {
        format,
        at,
        flaw,
        preview: preview(&[head, rest].concat()),
    }
}

#[derive(Debug)]
enum State {
    /// The first bytes, kept until the format can be told.
    Sniffing(Vec<u8>),
    Ts(ts::Ts),
    Mp4(walk::Walk<mp4::Mp4>),
    Audio(walk::Walk<audio::Audio>),
}

/// Checks a body as it streams.
#[derive(Debug)]
pub struct Check {
    state: State,
    /// The body's first bytes, for the preview of a hollow one.
    first: Vec<u8>,
    /// Bytes fed so far.
    pub len: u64,
    /// The timestamps of an MPEG-TS body.
    clock: clock::Clock,
    /// The sample durations of a fragmented MP4 body.
    fragments: clock::frag::Fragments,
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
            first: Vec::new(),
            len: 0,
            clock: clock::Clock::default(),
            fragments: clock::frag::Fragments::default(),
        }
    }

    /// The check of a body's first bytes only (the rest not seen): the
    /// format they start, or why they start none. Bytes too few to tell
    /// a format are judged as a whole body.
    pub fn start(bytes: &[u8]) -> Result<Format, CheckError> {
        let mut c = Check::new();
        c.feed(bytes)?;
        match c.format() {
            Some(format) => Ok(format),
            None => Err(c.finish().err().unwrap_or(CheckError::Empty)),
        }
    }

    /// The format, once the first bytes told it.
    pub fn format(&self) -> Option<Format> {
        match self.state {
            State::Sniffing(_) => None,
            State::Ts(_) => Some(Format::Ts),
            State::Mp4(_) => Some(Format::Mp4),
            State::Audio(_) => Some(Format::Audio),
        }
    }

    /// Takes the next chunk of the body.
    pub fn feed(&mut self, chunk: &[u8]) -> Result<(), CheckError> {
        // One byte past the preview, so that it shows the body goes on.
        if self.first.len() <= PREVIEW {
            let take = (PREVIEW + 1 - self.first.len()).min(chunk.len());
            self.first.extend_from_slice(&chunk[..take]);
        }
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
            State::Ts(t) => {
                t.feed(start, chunk)?;
                self.clock.feed(chunk);
            }
            State::Mp4(w) => {
                w.feed(start, chunk)?;
                self.fragments.feed(chunk);
            }
            State::Audio(w) => w.feed(start, chunk)?,
        }
        self.len += chunk.len() as u64;
        Ok(())
    }

    /// What the body's own timestamps tell of its length (an MPEG-TS
    /// body's PES timestamps, a fragmented MP4 body's sample durations, an
    /// ADTS body's samples); None when they tell nothing.
    pub fn timing(&self) -> Option<clock::Timing> {
        match &self.state {
            State::Ts(_) => self.clock.timing(),
            State::Mp4(_) => Some(clock::Timing {
                tracks: self.fragments.runs()?,
                ..clock::Timing::default()
            }),
            State::Audio(w) => {
                let (samples, rate) = w.units().samples()?;
                Some(clock::Timing {
                    aac: Some(clock::Aac(samples, rate)),
                    ..clock::Timing::default()
                })
            }
            State::Sniffing(_) => None,
        }
    }

    /// The body has ended: refuses one that is empty, not a segment, cut
    /// inside a packet, box or frame, or carrying nothing to play.
    pub fn finish(&self) -> Result<(), CheckError> {
        let (format, lack) = match &self.state {
            State::Sniffing(head) if head.is_empty() => return Err(CheckError::Empty),
            State::Sniffing(head) => {
                // Too short to tell: a whole segment is never this small,
                // but say what it looks like.
                sniff(head)?;
                return Err(CheckError::TooShort {
                    len: head.len(),
                    preview: preview(head),
                });
            }
            State::Ts(t) => (Format::Ts, t.finish(self.len)?),
            State::Mp4(w) => (Format::Mp4, w.finish(self.len)?),
            State::Audio(w) => (Format::Audio, w.finish(self.len)?),
        };
        match lack {
            None => Ok(()),
            Some(lack) => Err(CheckError::Hollow {
                format,
                lack,
                len: self.len,
                preview: preview(&self.first),
            }),
        }
    }
}

/// Tells the format from the first bytes, or says what arrived instead.
fn sniff(head: &[u8]) -> Result<State, CheckError> {
    if head.first() == Some(&TS_SYNC) {
        return Ok(State::Ts(ts::Ts::default()));
    }
    if head.len() >= 8 && mp4::known(&head[4..8]) {
        return Ok(State::Mp4(walk::Walk::default()));
    }
    if head.starts_with(b"ID3") || audio::is_adts(head) || audio::is_mpeg_audio(head) {
        return Ok(State::Audio(walk::Walk::default()));
    }
    Err(CheckError::NotMedia {
        arrived: what_arrived(head),
        preview: preview(head),
    })
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
        masked.extend_from_slice(crate::common::mask::text(chunk.valid()).as_bytes());
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
