//! The remuxer's core: PES packets in, samples out. Each access unit or
//! AAC frame is written into `mdat` as it comes; the tracks keep their
//! tables; at the end the index is written after the samples.

use std::fs::File;
use std::io::{BufWriter, Seek, SeekFrom, Write};
use std::path::PathBuf;

use super::aac::{self, Setup};
use super::h264::Video;
use super::mp4w::{self, VideoSetup};
use super::track::Track;
use super::ts::{Demux, Kind, Pes};
use super::RemuxError;

/// The most samples of a job (video pictures and audio frames): 16 Mi, a
/// day of 60 fps video with 48 kHz audio, about 128 MiB of tables.
pub(super) const SAMPLES_MAX: usize = 16 << 20;
/// A step of the clock larger than this (10 s) is a discontinuity.
const JUMP_S: i64 = 10;
const WRAP: i64 = 1 << 33;
/// ADTS frames hold 1024 samples each.
const FRAME: i64 = 1024;

/// One merge's remuxing.
pub(super) struct Muxer {
    demux: Demux,
    out: BufWriter<File>,
    file: PathBuf,
    /// Bytes written so far: where the next sample goes.
    at: u64,
    video: Option<(Track, Video)>,
    audio: Option<(Track, Setup)>,
    /// The stream of the last sample written (a change starts a chunk).
    last: Option<Kind>,
    /// The last timestamp read (90 kHz, past 33-bit wraps).
    clock: Option<i64>,
    samples: usize,
    buf: Vec<u8>,
}

fn unsupported(what: &str) -> RemuxError {
    RemuxError::Unsupported(what.into())
}

impl Muxer {
    /// Starts the file: `ftyp` and the head of `mdat`.
    pub(super) fn new(file: File, path: PathBuf) -> Result<Muxer, RemuxError> {
        let mut m = Muxer {
            demux: Demux::default(),
            out: BufWriter::with_capacity(1 << 20, file),
            file: path,
            at: 0,
            video: None,
            audio: None,
            last: None,
            clock: None,
            samples: 0,
            buf: Vec::new(),
        };
        m.write(&mp4w::head())?;
        Ok(m)
    }

    fn write(&mut self, bytes: &[u8]) -> Result<(), RemuxError> {
        self.out.write_all(bytes).map_err(|e| self.fault(e))?;
        self.at += bytes.len() as u64;
        Ok(())
    }

    fn fault(&self, source: std::io::Error) -> RemuxError {
        let file = self.file.clone();
        RemuxError::Write { file, source }
    }

    /// Takes the next bytes of the TS stream.
    pub(super) fn push(&mut self, bytes: &[u8]) -> Result<(), RemuxError> {
        let mut demux = std::mem::take(&mut self.demux);
        let done = demux.push(bytes, &mut |p| self.pes(p));
        self.demux = demux;
        done
    }

    /// A timestamp past the wraps of its 33 bits: the one nearest the last.
    fn unwrap(&mut self, ts: u64) -> i64 {
        let ts = ts as i64;
        let v = match self.clock {
            None => ts,
            Some(last) => {
                let base = last - last.rem_euclid(WRAP) + ts;
                [base - WRAP, base, base + WRAP]
                    .into_iter()
                    .min_by_key(|v| (v - last).abs())
                    .unwrap_or(base)
            }
        };
        self.clock = Some(v);
        v
    }

    fn pes(&mut self, pes: Pes) -> Result<(), RemuxError> {
        let Some(pts) = pes.pts else {
            return Err(unsupported("a PES without a timestamp"));
        };
        match pes.kind {
            Kind::Video => {
                let pts = self.unwrap(pts);
                let dts = pes.dts.map_or(pts, |d| self.unwrap(d));
                self.picture(&pes.data, dts, pts)
            }
            Kind::Audio => {
                let pts = self.unwrap(pts);
                self.sound(&pes.data, pts)
            }
        }
    }

    fn picture(&mut self, data: &[u8], dts: i64, pts: i64) -> Result<(), RemuxError> {
        let (track, video) = self
            .video
            .get_or_insert_with(|| (Track::new(90_000), Video::default()));
        let mut buf = std::mem::take(&mut self.buf);
        buf.clear();
        let key = video.sample(data, &mut buf)?;
        // Pictures before the first random access point are left out, as
        // ffmpeg's `-c copy` leaves them (they cannot be decoded).
        if buf.is_empty() || (track.sizes.is_empty() && !key) {
            self.buf = buf;
            return Ok(());
        }
        if pts < dts {
            return Err(unsupported("a picture shown before it is decoded"));
        }
        step(track, dts, 90_000)?;
        let written = self.sample(Kind::Video, &buf, dts, pts, key);
        self.buf = buf;
        written
    }

    fn sound(&mut self, data: &[u8], pts: i64) -> Result<(), RemuxError> {
        for (i, (setup, frame)) in aac::frames(data)?.into_iter().enumerate() {
            let (track, first) = self
                .audio
                .get_or_insert_with(|| (Track::new(setup.rate()), setup));
            if setup != *first {
                return Err(unsupported("the AAC setup changes"));
            }
            let rate = i64::from(setup.rate());
            let t90 = pts + i as i64 * FRAME * 90_000 / rate;
            let mut t = t90 * rate / 90_000;
            if !track.sizes.is_empty() && (t - (track.last_dts + FRAME)).abs() < FRAME / 2 {
                t = track.last_dts + FRAME;
            }
            step(track, t, rate)?;
            if track.sizes.is_empty() {
                track.start_90k = t90;
            }
            self.sample(Kind::Audio, frame, t, t, true)?;
        }
        Ok(())
    }

    /// Writes one sample and enters it in its track.
    fn sample(
        &mut self,
        kind: Kind,
        bytes: &[u8],
        dts: i64,
        pts: i64,
        key: bool,
    ) -> Result<(), RemuxError> {
        self.samples += 1;
        if self.samples > SAMPLES_MAX {
            return Err(RemuxError::TooManySamples(SAMPLES_MAX));
        }
        let size = u32::try_from(bytes.len()).map_err(|_| unsupported("a sample over 4 GiB"))?;
        let chunk = (self.last != Some(kind)).then_some(self.at);
        self.last = Some(kind);
        self.write(bytes)?;
        let track = match kind {
            Kind::Video => self.video.as_mut().map(|v| &mut v.0),
            Kind::Audio => self.audio.as_mut().map(|a| &mut a.0),
        };
        if let Some(t) = track {
            t.add(size, dts, pts, key, chunk);
            if kind == Kind::Video {
                t.start_90k = t.min_pts;
            }
        }
        Ok(())
    }

    /// Ends the stream: the index written, `mdat`'s length set, the file
    /// flushed.
    pub(super) fn finish(mut self) -> Result<(), RemuxError> {
        let mut demux = std::mem::take(&mut self.demux);
        demux.end(&mut |p| self.pes(p))?;
        if self.samples == 0 {
            return Err(unsupported("no picture or sound"));
        }
        let moov = self.index()?;
        let mdat = self.at - mp4w::MDAT_LEN_AT + 8;
        let out = &mut self.out;
        let patched = out
            .flush()
            .and_then(|()| out.get_mut().seek(SeekFrom::Start(mp4w::MDAT_LEN_AT)))
            .and_then(|_| out.get_mut().write_all(&mdat.to_be_bytes()))
            .and_then(|()| out.get_mut().seek(SeekFrom::End(0)))
            .and_then(|_| out.write_all(&moov))
            .and_then(|()| out.flush());
        patched.map_err(|e| self.fault(e))
    }

    fn index(&mut self) -> Result<Vec<u8>, RemuxError> {
        let video = match self.video.as_mut() {
            Some((t, v)) if !t.sizes.is_empty() => {
                let (width, height) = v.size()?;
                let setup = VideoSetup {
                    sps: v.sps.clone().ok_or_else(|| unsupported("no SPS"))?,
                    pps: v.pps.clone().ok_or_else(|| unsupported("no PPS"))?,
                    width,
                    height,
                };
                Some((t.end(None), setup))
            }
            _ => None,
        };
        let audio = match self.audio.as_mut() {
            Some((t, a)) if !t.sizes.is_empty() => Some((t.end(Some(FRAME as u32)), *a)),
            _ => None,
        };
        let starts = [
            video
                .as_ref()
                .and(self.video.as_ref())
                .map(|v| v.0.start_90k),
            audio
                .as_ref()
                .and(self.audio.as_ref())
                .map(|a| a.0.start_90k),
        ];
        let start = starts.into_iter().flatten().min().unwrap_or(0);
        let video = video.map(|(len, s)| (&self.video.as_ref().expect("some").0, len, s));
        let audio = audio.map(|(len, s)| (&self.audio.as_ref().expect("some").0, len, s));
        mp4w::moov(video, audio, start)
    }
}

/// A decoding time `dts` (at `rate` ticks a second) must come after the
/// track's last one, and not far after it (a discontinuity).
fn step(track: &Track, dts: i64, rate: i64) -> Result<(), RemuxError> {
    if track.sizes.is_empty() {
        return Ok(());
    }
    if dts <= track.last_dts {
        return Err(unsupported("timestamps that go back (a discontinuity)"));
    }
    if dts - track.last_dts > JUMP_S * rate {
        return Err(unsupported("timestamps that jump ahead (a discontinuity)"));
    }
    Ok(())
}
