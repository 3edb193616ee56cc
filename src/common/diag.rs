//! Problems found in job files, with the place they were found, and their
//! rendering. Every stage that reads a job file reports through [`Problem`],
//! so every message has the same `file:line:col` shape.

use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use miette::{Diagnostic, LabeledSpan, SourceCode};

/// Where a value stood in its file: 1-based line and column, and the byte
/// range of the value for underlining.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Loc {
    pub line: u64,
    pub column: u64,
    pub offset: usize,
    pub len: usize,
}

/// A job file's text, kept for underlining the place of a problem.
#[derive(Debug)]
pub struct SourceFile {
    /// The path as the user named it (or as found in a named folder).
    pub path: PathBuf,
    pub text: Arc<str>,
}

impl SourceFile {
    pub fn new(path: impl Into<PathBuf>, text: impl Into<Arc<str>>) -> Arc<SourceFile> {
        Arc::new(SourceFile {
            path: path.into(),
            text: text.into(),
        })
    }

    /// The location of a byte offset, 1-based.
    pub fn loc_at(&self, offset: usize, len: usize) -> Loc {
        let offset = offset.min(self.text.len());
        let before = &self.text.as_bytes()[..offset];
        let line = before.iter().filter(|&&b| b == b'\n').count() as u64 + 1;
        let line_start = before
            .iter()
            .rposition(|&b| b == b'\n')
            .map_or(0, |p| p + 1);
        let column = String::from_utf8_lossy(&before[line_start..])
            .chars()
            .count() as u64
            + 1;
        Loc {
            line,
            column,
            offset,
            len,
        }
    }
}

/// One problem with the input: what is wrong, where, and what was expected.
#[derive(Debug, Clone)]
pub struct Problem {
    pub file: Option<Arc<SourceFile>>,
    pub loc: Option<Loc>,
    /// One sentence: what is wrong.
    pub message: String,
    /// Short text under the underlined value (defaults to the message).
    pub label: Option<String>,
    /// What was expected, or how to fix it.
    pub help: Option<String>,
}

impl Problem {
    pub fn at(file: &Arc<SourceFile>, loc: Loc, message: impl Into<String>) -> Problem {
        Problem {
            file: Some(file.clone()),
            loc: Some(loc),
            message: message.into(),
            label: None,
            help: None,
        }
    }

    pub fn in_file(file: &Arc<SourceFile>, message: impl Into<String>) -> Problem {
        Problem {
            file: Some(file.clone()),
            loc: None,
            message: message.into(),
            label: None,
            help: None,
        }
    }

    pub fn bare(message: impl Into<String>) -> Problem {
        Problem {
            file: None,
            loc: None,
            message: message.into(),
            label: None,
            help: None,
        }
    }

    pub fn help(mut self, help: impl Into<String>) -> Problem {
        self.help = Some(help.into());
        self
    }

    pub fn label(mut self, label: impl Into<String>) -> Problem {
        self.label = Some(label.into());
        self
    }

    /// `path:line:col`, or just the path, or nothing.
    pub fn location(&self) -> Option<String> {
        let file = self.file.as_ref()?;
        let path = display_path(&file.path);
        Some(match self.loc {
            Some(l) => format!("{path}:{}:{}", l.line, l.column),
            None => path,
        })
    }
}

/// Paths are shown with forward slashes so messages read the same everywhere.
pub fn display_path(p: &Path) -> String {
    p.to_string_lossy().replace('\\', "/")
}

/// Text as a terminal should get it: control characters other than line
/// breaks, and the marks that reorder or hide text (bidi controls,
/// zero-width characters), written as escapes such as `\u{1b}`. Messages
/// may quote what a server sent (a playlist's URI, a key format); none of
/// it can move the cursor, retitle the window or hide words. Masked first
/// ([`crate::common::mask::text`]): no secret and no signed query value shows.
pub fn terminal_text(s: &str) -> std::borrow::Cow<'_, str> {
    match crate::common::mask::text(s) {
        std::borrow::Cow::Borrowed(s) => escaped(s),
        std::borrow::Cow::Owned(s) => std::borrow::Cow::Owned(escaped(&s).into_owned()),
    }
}

fn escaped(s: &str) -> std::borrow::Cow<'_, str> {
    if !s.chars().any(hidden) {
        return std::borrow::Cow::Borrowed(s);
    }
    let mut out = String::with_capacity(s.len() + 16);
    for c in s.chars() {
        if hidden(c) {
            out.extend(c.escape_unicode());
        } else {
            out.push(c);
        }
    }
    std::borrow::Cow::Owned(out)
}

fn hidden(c: char) -> bool {
    c != '\n' && invisible(c)
}

/// Control characters (line breaks included), and the marks that reorder
/// or hide text: bidi controls, zero-width characters.
pub fn invisible(c: char) -> bool {
    c.is_control()
        || matches!(c, '\u{200B}'..='\u{200F}' | '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}' | '\u{FEFF}')
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.location() {
            Some(at) => write!(f, "{at}: {}", self.message),
            None => f.write_str(&self.message),
        }
    }
}

impl std::error::Error for Problem {}

impl Diagnostic for Problem {
    fn help<'a>(&'a self) -> Option<Box<dyn fmt::Display + 'a>> {
        self.help
            .as_ref()
            .map(|h| Box::new(h) as Box<dyn fmt::Display>)
    }

    fn source_code(&self) -> Option<&dyn SourceCode> {
        self.loc?;
        self.file.as_ref().map(|f| &**f as &dyn SourceCode)
    }

    fn labels(&self) -> Option<Box<dyn Iterator<Item = LabeledSpan> + '_>> {
        let loc = self.loc?;
        self.file.as_ref()?;
        let label = self.label.clone().unwrap_or_else(|| "here".to_string());
        Some(Box::new(std::iter::once(LabeledSpan::new(
            Some(label),
            loc.offset,
            loc.len.max(1),
        ))))
    }
}

/// Renders problems for a person: the message with its location, then the
/// offending line underlined. Colour only when `color` is set.
pub fn render(problems: &[Problem], color: bool) -> String {
    use miette::{GraphicalReportHandler, GraphicalTheme};
    let theme = if color {
        GraphicalTheme::unicode()
    } else {
        GraphicalTheme::unicode_nocolor()
    };
    let handler = GraphicalReportHandler::new_themed(theme)
        .with_width(100)
        .with_links(false);
    let mut out = String::new();
    for p in problems {
        let _ = handler.render_report(&mut out, p);
    }
    let files: std::collections::BTreeSet<_> = problems
        .iter()
        .filter_map(|p| p.file.as_ref().map(|f| f.path.clone()))
        .collect();
    let n = problems.len();
    match files.len() {
        0 | 1 if n == 1 => {}
        0 | 1 => out.push_str(&format!("{n} problems found\n")),
        k => out.push_str(&format!("{n} problems found in {k} files\n")),
    }
    out
}

impl SourceCode for SourceFile {
    fn read_span<'a>(
        &'a self,
        span: &miette::SourceSpan,
        context_lines_before: usize,
        context_lines_after: usize,
    ) -> Result<Box<dyn miette::SpanContents<'a> + 'a>, miette::MietteError> {
        let inner = self
            .text
            .read_span(span, context_lines_before, context_lines_after)?;
        let name = display_path(&self.path);
        Ok(Box::new(miette::MietteSpanContents::new_named(
            name,
            inner.data(),
            *inner.span(),
            inner.line(),
            inner.column(),
            inner.line_count(),
        )))
    }
}

/// The known word nearest to `typed`, if it is near enough to be a slip.
pub fn nearest<'a>(typed: &str, known: impl IntoIterator<Item = &'a str>) -> Option<&'a str> {
    let typed = typed.to_ascii_lowercase();
    known
        .into_iter()
        .map(|k| (distance(&typed, k), k))
        .filter(|&(d, k)| {
            d <= (k.chars().count().min(typed.chars().count()) / 3).max(1)
                || is_prefix_slip(&typed, k)
                || is_abbreviation(&typed, k)
        })
        .min_by_key(|&(d, _)| d)
        .map(|(_, k)| k)
}

/// `header` for `headers`, `max_segment` for `max_segment_bytes`.
fn is_prefix_slip(typed: &str, known: &str) -> bool {
    typed.len() >= 4 && known.starts_with(typed)
}

/// `idx` for `index`: a short word whose letters stand in order in the
/// known one, the first the same.
fn is_abbreviation(typed: &str, known: &str) -> bool {
    let mut rest = known.chars();
    (3..=4).contains(&typed.len())
        && typed.chars().next() == known.chars().next()
        && typed.chars().all(|c| rest.any(|k| k == c))
}

/// Edit distance over the first 64 chars (optimal string alignment, as
/// strsim counts it: a swap of two neighbours counts once).
fn distance(a: &str, b: &str) -> usize {
    let cut = |s: &str| s.chars().take(64).collect::<String>();
    strsim::osa_distance(&cut(a), &cut(b))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slips_find_their_word() {
        let keys = [
            "concurrency",
            "padding",
            "headers",
            "retry",
            "output",
            "index",
            "name",
        ];
        assert_eq!(nearest("concurency", keys), Some("concurrency"));
        assert_eq!(nearest("pading", keys), Some("padding"));
        assert_eq!(nearest("header", keys), Some("headers"));
        assert_eq!(nearest("ouptut", keys), Some("output"));
        assert_eq!(nearest("Retry", keys), Some("retry"));
        assert_eq!(nearest("idx", keys), Some("index"));
        assert_eq!(nearest("nmae", keys), Some("name"));
        assert_eq!(nearest("colour", keys), None);
        assert_eq!(nearest("x", keys), None);
        assert_eq!(nearest("max_width", ["max_height", "max_bandwidth"]), None);
    }
}
