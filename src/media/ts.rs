//! MPEG-TS bodies: whole 188-byte packets, each starting with the sync
//! byte and a header that holds together (an `adaptation_field_control`
//! that is not the reserved 00, an adaptation field that fits its packet).
//! A whole body must carry a packet that is not null (PID 0x1FFF), and one
//! of those must start a table or a stream (`payload_unit_start_indicator`:
//! a PAT, PMT or PES start). Every segment ffmpeg or a packager cuts has
//! one; a body of padding, or of `G` every 188 bytes and anything between,
//! does not hold together. Continuity counters, tables and PES contents
//! are not read (a segment cut from a longer stream may start anywhere).

use super::{malformed, CheckError, Flaw, Format, Lack};

/// The MPEG-TS packet size and sync byte.
pub const TS_PACKET: u64 = 188;
pub const TS_SYNC: u8 = 0x47;

/// The PID of null (padding) packets.
const NULL_PID: u16 = 0x1FFF;
/// The bytes of a packet's header read: sync, 3 header bytes and the
/// adaptation field length.
const HEAD: usize = 5;

/// Where the walk over a TS body stands.
#[derive(Debug, Default)]
pub(super) struct Ts {
    /// The header of the packet being read (its first `HEAD` bytes).
    head: [u8; HEAD],
    /// A packet that is not null has been seen.
    real: bool,
    /// A packet that is not null and starts a table or a stream.
    unit_start: bool,
}

impl Ts {
    /// Takes the bytes of the body from offset `start`.
    pub(super) fn feed(&mut self, start: u64, chunk: &[u8]) -> Result<(), CheckError> {
        let mut i = 0;
        while i < chunk.len() {
            let in_packet = ((start + i as u64) % TS_PACKET) as usize;
            if in_packet >= HEAD {
                i += TS_PACKET as usize - in_packet;
                continue;
            }
            let take = (HEAD - in_packet).min(chunk.len() - i);
            self.head[in_packet..in_packet + take].copy_from_slice(&chunk[i..i + take]);
            let at = start + i as u64 - in_packet as u64;
            i += take;
            let whole = in_packet + take == HEAD;
            let judged = if in_packet == 0 && self.head[0] != TS_SYNC {
                Err(Flaw::NoSync)
            } else if whole {
                self.packet()
            } else {
                Ok(())
            };
            if let Err(flaw) = judged {
                let head = &self.head[..in_packet + take];
                return Err(malformed(Format::Ts, at, flaw, (head, &chunk[i..])));
            }
        }
        Ok(())
    }

    /// Judges the header of a packet.
    fn packet(&mut self) -> Result<(), Flaw> {
        let h = &self.head;
        let fits = match (h[3] >> 4) & 3 {
            0 => return Err(Flaw::ReservedControl),
            2 if h[4] != 183 => Some("only an adaptation field follows (183)"),
            3 if h[4] > 182 => Some("a payload follows (at most 182)"),
            _ => None,
        };
        if let Some(fits) = fits {
            return Err(Flaw::Adaptation { len: h[4], fits });
        }
        let pid = u16::from_be_bytes([h[1] & 0x1F, h[2]]);
        if pid != NULL_PID {
            self.real = true;
            self.unit_start |= h[1] & 0x40 != 0;
        }
        Ok(())
    }

    /// The body has ended after `len` bytes: whole packets, something in
    /// them.
    pub(super) fn finish(&self, len: u64) -> Result<Option<Lack>, CheckError> {
        if !len.is_multiple_of(TS_PACKET) {
            return Err(CheckError::PartialPacket { len });
        }
        Ok(match (self.real, self.unit_start) {
            (false, _) => Some(Lack::OnlyNull),
            (true, false) => Some(Lack::NoStart),
            (true, true) => None,
        })
    }
}
