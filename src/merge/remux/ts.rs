//! The MPEG-TS layer of the remuxer: 188-byte packets taken as they come
//! (a packet may be split between two pieces), the first program of the
//! PAT, its PMT's streams, and each stream's PES packets put back together.
//! Own code rather than a crate: the layer is small (packets, two tables,
//! PES headers) and is fed bytes, not files.

use super::RemuxError;

const PACKET: usize = 188;
const SYNC: u8 = 0x47;
/// The largest PES put together: more is a hostile or broken stream.
const PES_MAX: usize = 32 << 20;

/// H.264 video and AAC in ADTS: the stream types the remuxer copies.
pub(super) const H264: u8 = 0x1B;
pub(super) const ADTS: u8 = 0x0F;
/// Streams ffmpeg's merge leaves out too (`-map 0:v? -map 0:a?`): private
/// sections, timed ID3 metadata, SCTE-35 cues.
const IGNORED: [u8; 3] = [0x05, 0x15, 0x86];

/// Which of the two copied streams a PES is of.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Kind {
    Video,
    Audio,
}

/// One whole PES: its stream, timestamps (90 kHz, 33 bits) and payload.
#[derive(Debug)]
pub(super) struct Pes {
    pub kind: Kind,
    pub pts: Option<u64>,
    pub dts: Option<u64>,
    pub data: Vec<u8>,
}

/// A stream's PES being put together.
#[derive(Debug)]
struct Assembly {
    pid: u16,
    kind: Kind,
    buf: Vec<u8>,
}

/// Where the demultiplexing stands.
#[derive(Debug, Default)]
pub(super) struct Demux {
    /// The start of a packet the last piece ended in.
    carry: Vec<u8>,
    pmt_pid: Option<u16>,
    /// The first PMT's streams (PID, type): a PMT that differs ends the remux.
    streams: Option<Vec<(u16, u8)>>,
    pes: Vec<Assembly>,
}

fn unsupported(what: impl Into<String>) -> RemuxError {
    RemuxError::Unsupported(what.into())
}

impl Demux {
    /// Takes the next bytes of the stream; each PES made whole goes to `out`.
    pub(super) fn push(
        &mut self,
        mut bytes: &[u8],
        out: &mut dyn FnMut(Pes) -> Result<(), RemuxError>,
    ) -> Result<(), RemuxError> {
        if !self.carry.is_empty() {
            let want = (PACKET - self.carry.len()).min(bytes.len());
            self.carry.extend_from_slice(&bytes[..want]);
            bytes = &bytes[want..];
            if self.carry.len() < PACKET {
                return Ok(());
            }
            let packet = std::mem::take(&mut self.carry);
            self.packet(&packet, out)?;
        }
        let mut packets = bytes.chunks_exact(PACKET);
        for p in &mut packets {
            self.packet(p, out)?;
        }
        self.carry.extend_from_slice(packets.remainder());
        Ok(())
    }

    /// The end of the stream: the PES still open are whole.
    pub(super) fn end(
        &mut self,
        out: &mut dyn FnMut(Pes) -> Result<(), RemuxError>,
    ) -> Result<(), RemuxError> {
        if !self.carry.is_empty() {
            return Err(unsupported("the stream ends inside a TS packet"));
        }
        for i in 0..self.pes.len() {
            self.flush(i, out)?;
        }
        Ok(())
    }

    fn packet(
        &mut self,
        p: &[u8],
        out: &mut dyn FnMut(Pes) -> Result<(), RemuxError>,
    ) -> Result<(), RemuxError> {
        if p[0] != SYNC {
            return Err(unsupported("a TS packet without its sync byte"));
        }
        let start = p[1] & 0x40 != 0;
        let pid = u16::from(p[1] & 0x1F) << 8 | u16::from(p[2]);
        let afc = (p[3] >> 4) & 3;
        let body = match afc {
            1 => 4,
            3 => 5 + usize::from(p[4]),
            _ => return Ok(()),
        };
        let Some(payload) = p.get(body..) else {
            return Err(unsupported("a TS adaptation field longer than its packet"));
        };
        if pid == 0 && start {
            return self.pat(payload);
        }
        if Some(pid) == self.pmt_pid && start {
            return self.pmt(payload);
        }
        let Some(i) = self.pes.iter().position(|a| a.pid == pid) else {
            return Ok(());
        };
        if start {
            self.flush(i, out)?;
        } else if self.pes[i].buf.is_empty() {
            // The rest of a PES whose start came before the first piece.
            return Ok(());
        }
        let a = &mut self.pes[i];
        if a.buf.len() + payload.len() > PES_MAX {
            return Err(unsupported(format!("a PES longer than {PES_MAX} bytes")));
        }
        a.buf.extend_from_slice(payload);
        Ok(())
    }

    /// A table's section after its pointer field, up to its CRC.
    fn section(payload: &[u8], id: u8) -> Result<&[u8], RemuxError> {
        let skip = 1 + usize::from(*payload.first().unwrap_or(&0));
        let s = payload.get(skip..).unwrap_or(&[]);
        if s.len() < 3 || s[0] != id {
            return Err(unsupported(format!("a broken table (id {id})")));
        }
        let len = usize::from(s[1] & 0x0F) << 8 | usize::from(s[2]);
        match s.get(3..3 + len) {
            Some(body) if len >= 9 => Ok(&body[..len - 4]),
            _ => Err(unsupported("a table longer than its TS packet")),
        }
    }

    fn pat(&mut self, payload: &[u8]) -> Result<(), RemuxError> {
        let body = Self::section(payload, 0)?;
        let first = body
            .get(5..)
            .unwrap_or(&[])
            .chunks_exact(4)
            .find(|e| e[0] != 0 || e[1] != 0);
        let Some(e) = first else {
            return Err(unsupported("a PAT without a program"));
        };
        let pid = u16::from(e[2] & 0x1F) << 8 | u16::from(e[3]);
        match self.pmt_pid {
            Some(p) if p != pid => Err(unsupported("the PAT changes")),
            _ => {
                self.pmt_pid = Some(pid);
                Ok(())
            }
        }
    }

    fn pmt(&mut self, payload: &[u8]) -> Result<(), RemuxError> {
        let body = Self::section(payload, 2)?;
        if body.len() < 9 {
            return Err(unsupported("a PMT cut short"));
        }
        let info = usize::from(body[7] & 0x0F) << 8 | usize::from(body[8]);
        let mut rest = body.get(9 + info..).unwrap_or(&[]);
        let mut streams = Vec::new();
        while rest.len() >= 5 {
            let pid = u16::from(rest[1] & 0x1F) << 8 | u16::from(rest[2]);
            streams.push((pid, rest[0]));
            let skip = 5 + (usize::from(rest[3] & 0x0F) << 8 | usize::from(rest[4]));
            rest = rest.get(skip..).unwrap_or(&[]);
        }
        match &self.streams {
            Some(s) if *s != streams => Err(unsupported("the PMT changes its streams")),
            Some(_) => Ok(()),
            None => self.take_streams(streams),
        }
    }

    fn take_streams(&mut self, streams: Vec<(u16, u8)>) -> Result<(), RemuxError> {
        for &(pid, kind) in &streams {
            let kind = match kind {
                H264 => Kind::Video,
                ADTS => Kind::Audio,
                k if IGNORED.contains(&k) => continue,
                k => return Err(unsupported(format!("a stream of type 0x{k:02X}"))),
            };
            if self.pes.iter().any(|a| a.kind == kind) {
                return Err(unsupported("more than one stream of a kind"));
            }
            let buf = Vec::new();
            self.pes.push(Assembly { pid, kind, buf });
        }
        if self.pes.is_empty() {
            return Err(unsupported("no H.264 or AAC stream"));
        }
        self.streams = Some(streams);
        Ok(())
    }

    /// Hands on the PES of stream `i` put together so far.
    fn flush(
        &mut self,
        i: usize,
        out: &mut dyn FnMut(Pes) -> Result<(), RemuxError>,
    ) -> Result<(), RemuxError> {
        let a = &mut self.pes[i];
        if a.buf.is_empty() {
            return Ok(());
        }
        let buf = std::mem::take(&mut a.buf);
        out(pes(a.kind, buf)?)
    }
}

/// A PES's header read: its timestamps, and its payload.
fn pes(kind: Kind, mut buf: Vec<u8>) -> Result<Pes, RemuxError> {
    if buf.len() < 9 || buf[..3] != [0, 0, 1] {
        return Err(unsupported("a PES without its start code"));
    }
    let len = usize::from(buf[4]) << 8 | usize::from(buf[5]);
    if len != 0 {
        if 6 + len > buf.len() {
            return Err(unsupported("a PES cut short"));
        }
        buf.truncate(6 + len);
    }
    if buf.len() < 9 {
        return Err(unsupported("a PES cut short"));
    }
    let flags = buf[7] >> 6;
    let head = 9 + usize::from(buf[8]);
    let ts = |at: usize| -> Result<u64, RemuxError> {
        let b = buf
            .get(at..at + 5)
            .ok_or_else(|| unsupported("a PES header longer than the PES"))?;
        Ok(u64::from(b[0] >> 1 & 7) << 30
            | u64::from(b[1]) << 22
            | u64::from(b[2] >> 1) << 15
            | u64::from(b[3]) << 7
            | u64::from(b[4] >> 1))
    };
    let pts = if flags & 2 != 0 { Some(ts(9)?) } else { None };
    let dts = if flags == 3 { Some(ts(14)?) } else { None };
    if head > buf.len() {
        return Err(unsupported("a PES header longer than the PES"));
    }
    buf.drain(..head);
    Ok(Pes {
        kind,
        pts,
        dts,
        data: buf,
    })
}
