//! One representation of one period as a track: its `BaseURL` resolved
//! down the levels, its addressing inherited down them (a
//! representation's attribute over its set's over its period's), its
//! media segments listed and its init segment named.

use dash_mpd_core::{
    BaseURL, Initialization, Period, SegmentBase, SegmentList, SegmentTemplate, MPD,
};

use super::choose::Pick;
use super::MpdError;
use crate::plan::source::dash::{
    fill, list_segment, parse_range, template_segments, AddressError, DashSegment, Ids, Template,
    TimelineEntry,
};
use crate::plan::source::playlist::{Added, Base, Part, Resolved, Segments};
use crate::resolve::hls::{check_uri, join_to};

/// The levels above a representation.
pub struct Levels<'a> {
    pub mpd: &'a MPD,
    pub period: &'a Period,
}

/// The representation `pick`'s segments and init segment, resolved
/// against `base` (the URL that served the MPD).
pub fn read(
    levels: &Levels,
    base: &Base,
    pick: Pick,
    period_seconds: Option<f64>,
) -> Result<Resolved, MpdError> {
    let rep_id = pick.rep.id.clone().unwrap_or_default();
    let uri = |error| MpdError::Uri {
        rep: rep_id.clone(),
        error,
    };
    let base = rep_base(levels, pick, base).map_err(uri)?;
    let (init, media) = match addressed(levels, pick, &rep_id, period_seconds)? {
        Addressed::Listed(init, media) => (init, media),
        Addressed::Indexed(b) => return segment_base(&b, base, rep_id),
    };
    if media.is_empty() {
        return Err(MpdError::NoSegment(rep_id));
    }
    let init = match init {
        Some((u, range)) => Some(Part {
            url: join_to(&base, &u).map_err(uri)?,
            range,
        }),
        None => None,
    };
    let mut segments = Segments::new(base.clone(), 0);
    for m in &media {
        check_uri(&base, &m.uri).map_err(uri)?;
        let added = Added {
            uri: &m.uri,
            duration: m.duration as f32,
            range: m.range,
            discontinuity: false,
        };
        segments.push(added).map_err(|_| MpdError::Address {
            rep: rep_id.clone(),
            error: AddressError::TooMany,
        })?;
    }
    segments.shrink();
    Ok(Resolved {
        segments,
        init,
        media_shown: format!("{} (representation `{rep_id}`)", base.url().shown()),
        ..Resolved::default()
    })
}

/// How a representation's segments are found.
enum Addressed {
    /// Listed by the MPD: the init segment and the media segments.
    Listed(Init, Vec<DashSegment>),
    /// In its file's segment index.
    Indexed(SegmentBase),
}

/// The representation's addressing, inherited down the levels: a
/// template's, else a list's, else a `SegmentBase`.
fn addressed(
    levels: &Levels,
    pick: Pick,
    rep_id: &str,
    period_seconds: Option<f64>,
) -> Result<Addressed, MpdError> {
    let addr = |error: AddressError| MpdError::Address {
        rep: rep_id.into(),
        error,
    };
    let ids = Ids {
        id: rep_id,
        bandwidth: pick.rep.bandwidth.unwrap_or(0),
    };
    let (p, s, r) = (levels.period, pick.set, pick.rep);
    let template = [&p.SegmentTemplate, &s.SegmentTemplate, &r.SegmentTemplate];
    if let Some(t) = inherited_template(&template.map(Option::as_ref)) {
        let init = template_init(&t, ids).map_err(addr)?;
        let media = template_segments(&template_of(&t), ids, period_seconds).map_err(addr)?;
        return Ok(Addressed::Listed(init, media));
    }
    let list = [&p.SegmentList, &s.SegmentList, &r.SegmentList];
    if let Some(list) = inherited_list(&list.map(Option::as_ref)) {
        let (init, media) = list_of(&list).map_err(addr)?;
        return Ok(Addressed::Listed(init, media));
    }
    let base = [&p.SegmentBase, &s.SegmentBase, &r.SegmentBase];
    match inherited_base(&base.map(Option::as_ref)) {
        Some(b) => Ok(Addressed::Indexed(b)),
        None => Err(MpdError::NoAddressing(rep_id.into())),
    }
}

/// The representation's base: the first `BaseURL` of each level, each
/// resolved against the one above, the top one against the MPD's URL.
fn rep_base(levels: &Levels, pick: Pick, mpd_url: &Base) -> Result<Base, crate::resolve::UriError> {
    let chain: [&[BaseURL]; 4] = [
        &levels.mpd.base_url,
        &levels.period.BaseURL,
        &pick.set.BaseURL,
        &pick.rep.BaseURL,
    ];
    let mut base = mpd_url.clone();
    for level in chain {
        if let Some(b) = level.first() {
            let text = b.base.trim();
            if !text.is_empty() {
                base = Base::new(join_to(&base, text)?);
            }
        }
    }
    Ok(base)
}

/// Field by field, the lower level's over the upper's.
fn inherited_template(levels: &[Option<&SegmentTemplate>]) -> Option<SegmentTemplate> {
    let mut out: Option<SegmentTemplate> = None;
    for t in levels.iter().flatten() {
        let up = out.unwrap_or_default();
        out = Some(SegmentTemplate {
            media: t.media.clone().or(up.media),
            initialization: t.initialization.clone().or(up.initialization),
            Initialization: t.Initialization.clone().or(up.Initialization),
            startNumber: t.startNumber.or(up.startNumber),
            duration: t.duration.or(up.duration),
            timescale: t.timescale.or(up.timescale),
            presentationTimeOffset: t.presentationTimeOffset.or(up.presentationTimeOffset),
            SegmentTimeline: t.SegmentTimeline.clone().or(up.SegmentTimeline),
            ..SegmentTemplate::default()
        });
    }
    out
}

fn inherited_list(levels: &[Option<&SegmentList>]) -> Option<SegmentList> {
    let mut out: Option<SegmentList> = None;
    for l in levels.iter().flatten() {
        let up = out.unwrap_or_default();
        let urls = match l.segment_urls.is_empty() {
            true => up.segment_urls,
            false => l.segment_urls.clone(),
        };
        out = Some(SegmentList {
            duration: l.duration.or(up.duration),
            timescale: l.timescale.or(up.timescale),
            Initialization: l.Initialization.clone().or(up.Initialization),
            segment_urls: urls,
            ..SegmentList::default()
        });
    }
    out
}

fn inherited_base(levels: &[Option<&SegmentBase>]) -> Option<SegmentBase> {
    let mut out: Option<SegmentBase> = None;
    for b in levels.iter().flatten() {
        let up = out.unwrap_or_default();
        out = Some(SegmentBase {
            indexRange: b.indexRange.clone().or(up.indexRange),
            Initialization: b.Initialization.clone().or(up.Initialization),
            ..SegmentBase::default()
        });
    }
    out
}

/// A `SegmentBase`: the init segment, and the index range of the file
/// (the `BaseURL`) whose `sidx` lists the media segments, read by resolve.
fn segment_base(b: &SegmentBase, base: Base, rep: String) -> Result<Resolved, MpdError> {
    let addr = |error| MpdError::Address {
        rep: rep.clone(),
        error,
    };
    let uri = |error| MpdError::Uri {
        rep: rep.clone(),
        error,
    };
    let range = b
        .indexRange
        .as_deref()
        .ok_or(MpdError::NoIndexRange(rep.clone()));
    let range = parse_range(range?).map_err(addr)?;
    let init = match &b.Initialization {
        Some(i) => {
            let (u, range) = initialization(i).map_err(addr)?;
            Some(Part {
                url: join_to(&base, &u).map_err(uri)?,
                range,
            })
        }
        None => None,
    };
    let file = join_to(&base, "").map_err(uri)?;
    Ok(Resolved {
        segments: Segments::new(base.clone(), 0),
        init,
        media_shown: format!("{} (representation `{rep}`)", base.url().shown()),
        index: Some(Part {
            url: file,
            range: Some(range),
        }),
        ..Resolved::default()
    })
}

fn template_of(t: &SegmentTemplate) -> Template {
    Template {
        media: t.media.clone().unwrap_or_default(),
        timescale: t.timescale.unwrap_or(1),
        duration: t.duration,
        start_number: t.startNumber.unwrap_or(1),
        presentation_time_offset: t.presentationTimeOffset.unwrap_or(0),
        timeline: t.SegmentTimeline.as_ref().map(|tl| {
            tl.segments
                .iter()
                .map(|s| TimelineEntry {
                    t: s.t,
                    d: s.d,
                    r: s.r.unwrap_or(0),
                })
                .collect()
        }),
    }
}

type Init = Option<(String, Option<crate::plan::source::ByteRange>)>;

/// A template's init segment: `@initialization`, else its
/// `Initialization` element.
fn template_init(t: &SegmentTemplate, ids: Ids) -> Result<Init, AddressError> {
    if let Some(text) = &t.initialization {
        return Ok(Some((fill(text, ids, None, None)?, None)));
    }
    t.Initialization.as_ref().map(initialization).transpose()
}

/// An `Initialization`: `@sourceURL` (else the `BaseURL` itself) and `@range`.
fn initialization(
    i: &Initialization,
) -> Result<(String, Option<crate::plan::source::ByteRange>), AddressError> {
    let range = i.range.as_deref().map(parse_range).transpose()?;
    Ok((i.sourceURL.clone().unwrap_or_default(), range))
}

/// A `SegmentList`'s init segment and media segments.
fn list_of(l: &SegmentList) -> Result<(Init, Vec<DashSegment>), AddressError> {
    let scale = l.timescale.unwrap_or(1);
    if scale == 0 {
        return Err(AddressError::Zero);
    }
    let duration = l.duration.unwrap_or(0) as f64 / scale as f64;
    if l.segment_urls.len() as u64 > crate::manifest::MAX_SEGMENTS {
        return Err(AddressError::TooMany);
    }
    let media = l
        .segment_urls
        .iter()
        .map(|u| list_segment(u.media.as_deref(), u.mediaRange.as_deref(), duration))
        .collect::<Result<Vec<_>, _>>()?;
    let init = l.Initialization.as_ref().map(initialization).transpose()?;
    Ok((init, media))
}
