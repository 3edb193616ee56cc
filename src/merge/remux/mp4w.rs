//! The MP4 the remuxer writes: `ftyp`, then `mdat` (its 64-bit length
//! written once the samples are all in), then `moov`, encoded by
//! `mp4-atom` from the tracks' tables; the layout ffmpeg's `-f mp4` writes.

use mp4_atom::{
    Avc1, Avcc, Co64, Codec, Ctts, Dinf, Dref, DrefEntry, Edts, Elst, ElstEntry, Encode,
    FixedPoint, FourCC, Hdlr, Mdhd, Mdia, Minf, Moov, Mp4a, Mvhd, Smhd, Stbl, Stco, Stsc, Stsd,
    Stss, Stsz, StszSamples, Stts, Tkhd, Trak, Url, Visual, Vmhd,
};

use super::aac::Setup;
use super::track::Track;
use super::RemuxError;

/// The movie's own timescale (`mvhd`, edit lists): milliseconds, as ffmpeg.
const MOVIE: u32 = 1000;

/// `ftyp` and the head of `mdat` (size 1: the 64-bit length follows).
pub(super) fn head() -> Vec<u8> {
    let mut out = Vec::with_capacity(48);
    out.extend_from_slice(&32u32.to_be_bytes());
    out.extend_from_slice(b"ftypisom");
    out.extend_from_slice(&512u32.to_be_bytes());
    out.extend_from_slice(b"isomiso2avc1mp41");
    out.extend_from_slice(&1u32.to_be_bytes());
    out.extend_from_slice(b"mdat");
    out.extend_from_slice(&16u64.to_be_bytes());
    out
}

/// Where `mdat`'s 64-bit length is.
pub(super) const MDAT_LEN_AT: u64 = 40;

/// What the video track needs beside its tables.
pub(super) struct VideoSetup {
    pub sps: Vec<u8>,
    pub pps: Vec<u8>,
    pub width: u32,
    pub height: u32,
}

/// Ticks of `from` per second as ticks of `to`, rounded down (`up`:
/// up), as ffmpeg rounds an edit's start (down) and length (up).
fn rescale(v: i64, from: u32, to: u32, up: bool) -> i64 {
    let add = if up { i128::from(from) - 1 } else { 0 };
    ((i128::from(v) * i128::from(to) + add).div_euclid(i128::from(from))) as i64
}

/// The index: one track per stream; `start_90k` is where the earliest
/// track starts (it starts at 0 in the file, the others after it).
pub(super) fn moov(
    video: Option<(&Track, u64, VideoSetup)>,
    audio: Option<(&Track, u64, Setup)>,
    start_90k: i64,
) -> Result<Vec<u8>, RemuxError> {
    let mut moov = Moov::default();
    if let Some((t, len, v)) = video {
        let (w, h) = (v.width, v.height);
        let mut avcc = Avcc::new(&v.sps, &v.pps).map_err(bad)?;
        avcc.length_size = 4;
        let codec = Codec::Avc1(Avc1 {
            visual: Visual {
                data_reference_index: 1,
                width: u16::try_from(w).map_err(|_| too_big())?,
                height: u16::try_from(h).map_err(|_| too_big())?,
                ..Visual::default()
            },
            avcc,
            ..Avc1::default()
        });
        let size = (u16::try_from(w).unwrap_or(0), u16::try_from(h).unwrap_or(0));
        moov.trak
            .push(trak(t, len, codec, Some(size), start_90k, moov.trak.len()));
    }
    if let Some((t, len, a)) = audio {
        moov.trak
            .push(trak(t, len, mp4a(a), None, start_90k, moov.trak.len()));
    }
    moov.mvhd = Mvhd {
        timescale: MOVIE,
        duration: moov.trak.iter().map(|t| t.tkhd.duration).max().unwrap_or(0),
        rate: FixedPoint::new(1, 0),
        volume: FixedPoint::new(1, 0),
        next_track_id: moov.trak.len() as u32 + 1,
        ..Mvhd::default()
    };
    let mut out = Vec::new();
    moov.encode(&mut out).map_err(bad)?;
    Ok(super::order::tidy(out))
}

fn bad(e: mp4_atom::Error) -> RemuxError {
    RemuxError::Unsupported(format!("the MP4 index: {e}"))
}

fn too_big() -> RemuxError {
    RemuxError::Unsupported("a picture over 65535 pixels wide or high".into())
}

fn mp4a(a: Setup) -> Codec {
    use mp4_atom::esds;
    let config = esds::DecoderConfig {
        object_type_indication: 0x40,
        stream_type: 0x05,
        dec_specific: Some(esds::DecoderSpecific {
            profile: a.object,
            freq_index: a.rate_index,
            chan_conf: a.channels,
            raw: a.config(),
        }),
        ..Default::default()
    };
    Codec::Mp4a(Mp4a {
        audio: mp4_atom::Audio {
            data_reference_index: 1,
            channel_count: u16::from(a.channels),
            sample_size: 16,
            sample_rate: FixedPoint::new(u16::try_from(a.rate()).unwrap_or(0), 0),
        },
        esds: mp4_atom::Esds {
            es_desc: esds::EsDescriptor {
                es_id: 2,
                dec_config: config,
                ..Default::default()
            },
        },
        btrt: None,
        taic: None,
    })
}

/// One track's box: `len` is its media length in its own ticks; the
/// edit list starts it where its first picture or sound is, after the
/// earliest track's start (an empty edit before it), and skips what its
/// first decoding time leaves before its first presentation time.
fn trak(t: &Track, len: u64, codec: Codec, size: Option<(u16, u16)>, start: i64, n: usize) -> Trak {
    let late = rescale(t.start_90k - start, 90_000, MOVIE, false).max(0) as u64;
    let shown = rescale(len as i64, t.timescale, MOVIE, true).max(0) as u64;
    let mut entries = Vec::new();
    if late > 0 {
        entries.push(ElstEntry {
            segment_duration: late,
            media_time: None,
            media_rate: FixedPoint::new(1, 0),
        });
    }
    entries.push(ElstEntry {
        segment_duration: shown,
        media_time: Some((t.min_pts - t.first_dts).max(0) as u64),
        media_rate: FixedPoint::new(1, 0),
    });
    let (w, h) = size.unwrap_or((0, 0));
    Trak {
        tkhd: Tkhd {
            track_id: n as u32 + 1,
            duration: late + shown,
            enabled: true,
            in_movie: true,
            volume: FixedPoint::new(u8::from(size.is_none()), 0),
            width: FixedPoint::new(w, 0),
            height: FixedPoint::new(h, 0),
            ..Tkhd::default()
        },
        edts: Some(Edts {
            elst: Some(Elst { entries }),
        }),
        mdia: mdia(t, len, codec, size.is_some()),
        ..Trak::default()
    }
}

fn mdia(t: &Track, len: u64, codec: Codec, video: bool) -> Mdia {
    let (handler, name) = match video {
        true => (b"vide", "VideoHandler"),
        false => (b"soun", "SoundHandler"),
    };
    Mdia {
        mdhd: Mdhd {
            timescale: t.timescale,
            duration: len,
            language: "und".into(),
            ..Mdhd::default()
        },
        hdlr: Hdlr {
            handler: FourCC::new(handler),
            name: name.into(),
        },
        minf: Minf {
            vmhd: video.then(Vmhd::default),
            smhd: (!video).then(Smhd::default),
            dinf: Dinf {
                dref: Dref {
                    entries: vec![DrefEntry::Url(Url::default())],
                },
            },
            stbl: stbl(t, codec, video),
            ..Minf::default()
        },
    }
}

fn stbl(t: &Track, codec: Codec, video: bool) -> Stbl {
    let big = t.chunks.last().is_some_and(|&c| c > u64::from(u32::MAX));
    let shifted = t.ctts.iter().any(|e| e.sample_offset != 0);
    Stbl {
        stsd: Stsd {
            codecs: vec![codec],
        },
        stts: Stts {
            entries: t.stts.clone(),
        },
        ctts: shifted.then(|| Ctts {
            entries: t.ctts.clone(),
        }),
        stss: video.then(|| Stss {
            entries: t.keys.clone(),
        }),
        stsc: Stsc {
            entries: t.stsc.clone(),
        },
        stsz: Stsz {
            samples: StszSamples::Different {
                sizes: t.sizes.clone(),
            },
        },
        stco: (!big).then(|| Stco {
            entries: t.chunks.iter().map(|&c| c as u32).collect(),
        }),
        co64: big.then(|| Co64 {
            entries: t.chunks.clone(),
        }),
        ..Stbl::default()
    }
}
