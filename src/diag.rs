//! Problems found in job files, with the place they were found, and their
//! rendering. Every stage that reads a job file reports through [`Problem`],
//! so every message has the same `file:line:col` shape.

use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use miette::{Diagnostic, LabeledSpan, SourceCode};

use crate::manifest::Loc;

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
