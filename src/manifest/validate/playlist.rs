//! The keys of playlist jobs: `playlist` instead of `url` and a source,
//! `variant` only with `playlist`, `init` only with `url`.

use super::super::env::EnvPolicy;
use super::super::model::{Job, Sp};
use super::{FileCheck, PlaylistSpec};

impl FileCheck<'_> {
    /// The job's URL template and, for a playlist job, its playlist.
    pub(in crate::manifest) fn url_or_playlist(
        &mut self,
        job: &Sp<Job>,
        policy: &EnvPolicy,
    ) -> Option<(Sp<String>, Option<PlaylistSpec>)> {
        let name = &job.name.value;
        match (&job.url, &job.playlist) {
            (Some(u), None) => {
                if let Some(v) = &job.variant {
                    self.err(
                        v.loc,
                        format!("`variant` of job `{name}` goes with `playlist`"),
                        "a `url` job has no variants; remove `variant`",
                    );
                }
                // The url itself is checked with the job's templates.
                let url = u.value.replace("(*)", "{{index}}");
                if let Some(i) = &job.init {
                    self.env_refs(i, policy, name, "the init url");
                }
                Some((Sp::new(url, u.loc), None))
            }
            (None, Some(p)) => {
                self.playlist_only(job);
                self.env_refs(p, policy, name, "the playlist url");
                let spec = PlaylistSpec {
                    url: p.clone(),
                    variant: job.variant.as_ref().map(|v| v.value).unwrap_or_default(),
                };
                Some((p.clone(), Some(spec)))
            }
            (Some(u), Some(_)) => {
                self.err(
                    u.loc,
                    format!("job `{name}` has both `url` and `playlist`"),
                    "keep `playlist` (the segments come from it) or `url` with a segment source",
                );
                None
            }
            (None, None) => {
                self.err(
                    job.name.loc,
                    format!("job `{name}` has no `url` or `playlist`"),
                    "give `playlist: https://…/index.m3u8`, or `url` with `{{index}}` and one of `range`, `count`, `duration`",
                );
                None
            }
        }
    }

    /// Keys that a playlist job's playlist replaces.
    fn playlist_only(&mut self, job: &Sp<Job>) {
        let given = [
            job.range.as_ref().map(|r| ("range", r.loc)),
            job.count.as_ref().map(|r| ("count", r.loc)),
            job.duration.as_ref().map(|r| ("duration", r.loc)),
            job.start.as_ref().map(|r| ("start", r.loc)),
            job.padding.as_ref().map(|r| ("padding", r.loc)),
            job.init.as_ref().map(|r| ("init", r.loc)),
        ];
        for (key, loc) in given.into_iter().flatten() {
            self.err(
                loc,
                format!(
                    "`{key}` of job `{}` goes with `url`, not `playlist`",
                    *job.name
                ),
                "a playlist lists its segments (and its init segment) itself; remove the key",
            );
        }
    }
}
