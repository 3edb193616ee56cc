//! The new job as job-file text: its lines, and YAML quoting of the values.

use super::source::Source;

// The job's text

pub(super) struct JobText {
    pub(super) name: String,
    /// The segment URL template, or the playlist's URL.
    pub(super) url: String,
    pub(super) what: What,
    pub(super) headers: Vec<(String, String)>,
    /// Hosts a playlist names that get the job's secrets too.
    pub(super) send_secrets_to: Vec<String>,
    pub(super) output: Option<String>,
}

/// Where the job's segments come from.
pub(super) enum What {
    /// `url` with a segment source, and `init` for fMP4 segments.
    Segments {
        padding: u32,
        source: Source,
        init: Option<String>,
    },
    /// `playlist`, with `variant: best` when it is a master playlist.
    Playlist { master: bool },
}

impl What {
    /// A range whose end is found by probing at run time.
    pub(super) fn ends_auto(&self) -> bool {
        matches!(
            self,
            What::Segments {
                source: Source::RangeAuto { .. },
                ..
            }
        )
    }
}

impl JobText {
    /// The job's lines, unindented; the first becomes the `- ` item line.
    pub(super) fn lines(&self) -> Vec<String> {
        let mut out = vec![format!("name: {}", scalar(&self.name))];
        match &self.what {
            What::Playlist { master } => {
                out.push(format!("playlist: {}", quoted(&self.url)));
                if *master {
                    out.push("variant: best".to_string());
                }
            }
            What::Segments {
                padding,
                source,
                init,
            } => {
                out.push(format!("url: {}", quoted(&self.url)));
                out.extend(init.as_ref().map(|i| format!("init: {}", quoted(i))));
                if *padding > 0 {
                    out.push(format!("padding: {padding}"));
                }
                out.extend(source_lines(source));
            }
        }
        if !self.headers.is_empty() {
            out.push("headers:".to_string());
            for (n, v) in &self.headers {
                out.push(format!("  {}: {}", scalar(n), quoted(v)));
            }
        }
        if !self.send_secrets_to.is_empty() {
            let hosts: Vec<String> = self.send_secrets_to.iter().map(|h| quoted(h)).collect();
            out.push(format!("send_secrets_to: [{}]", hosts.join(", ")));
        }
        if let Some(o) = &self.output {
            out.push(format!("output: {}", quoted(o)));
        }
        out
    }
}

/// The lines of a segment source.
fn source_lines(source: &Source) -> Vec<String> {
    let mut out = Vec::new();
    match source {
        Source::Range { start, end } => {
            out.push(format!("range: {{ start: {start}, end: {end} }}"))
        }
        Source::RangeAuto { start } => out.push(format!("range: {{ start: {start}, end: auto }}")),
        Source::Count { count, start } => {
            out.push(format!("count: {count}"));
            out.extend(start.map(|s| format!("start: {s}")));
        }
        Source::Duration {
            length,
            segment,
            start,
        } => {
            let plain_number = !segment.is_empty()
                && segment.split_once('.').map_or(
                    segment.bytes().all(|b| b.is_ascii_digit()),
                    |(a, b)| {
                        !a.is_empty()
                            && !b.is_empty()
                            && a.bytes().chain(b.bytes()).all(|c| c.is_ascii_digit())
                    },
                );
            let segment = if plain_number {
                segment.clone()
            } else {
                quoted(segment)
            };
            out.push(format!(
                "duration: {{ length: {}, segment: {segment} }}",
                quoted(length)
            ));
            out.extend(start.map(|s| format!("start: {s}")));
        }
    }
    out
}

/// A YAML double-quoted scalar.
pub(super) fn quoted(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\t' => out.push_str("\\t"),
            '\r' => out.push_str("\\r"),
            ' '..='~' => out.push(c),
            '\u{a0}'..='\u{d7ff}' | '\u{e000}'..='\u{fffd}' | '\u{10000}'..
                if !matches!(c, '\u{2028}' | '\u{2029}' | '\u{feff}') =>
            {
                out.push(c)
            }
            c if (c as u32) <= 0xffff => out.push_str(&format!("\\u{:04X}", c as u32)),
            c => out.push_str(&format!("\\U{:08X}", c as u32)),
        }
    }
    out.push('"');
    out
}

/// A name or key: plain when it cannot be read as anything but that text.
pub(super) fn scalar(s: &str) -> String {
    let lower = s.to_ascii_lowercase();
    let plain = !s.is_empty()
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-'))
        && s.starts_with(|c: char| c.is_ascii_alphanumeric())
        && s.chars().any(|c| c.is_ascii_alphabetic())
        && s.parse::<f64>().is_err()
        && !lower.starts_with("0x")
        && !lower.starts_with("0o")
        && !matches!(
            lower.as_str(),
            "true" | "false" | "yes" | "no" | "on" | "off" | "null" | "y" | "n"
        );
    if plain {
        s.to_string()
    } else {
        quoted(s)
    }
}

/// Copied text as a job-file value: `${` would start a variable, `$${` is a literal `${`.
pub(super) fn literal(s: &str) -> String {
    s.replace("${", "$${")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::new::trial::shown;

    #[test]
    fn quoting() {
        assert_eq!(quoted(r#"a"b\c"#), r#""a\"b\\c""#);
        assert_eq!(quoted("x\ny\u{7f}é\u{2028}"), "\"x\\ny\\u007Fé\\u2028\"");
        assert_eq!(scalar("lecture-01"), "lecture-01");
        for s in ["123", "1e3", "true", "No", "-x", ".inf", "0x1f", "a b", ""] {
            assert!(scalar(s).starts_with('"'), "{s}");
        }
        assert_eq!(literal("a${B}c$${d}"), "a$${B}c$$${d}");
        assert_eq!(shown(&literal("a${B}c$${d}")), "a${B}c$${d}");
        assert_eq!(shown("t=${SNATCH_T}"), "t=***");
    }
}
