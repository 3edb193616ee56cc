//! Adding a job's text to a job file by inserting it: every byte already
//! there (comments, blank lines, odd formatting) stays as it is. See
//! [`super::command`] for where the job goes.

use std::ops::Range;

/// Where the new job goes in an existing file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum Spot {
    /// The file has no top-level `jobs:` key.
    NoKey,
    /// `jobs:` is a block list (or empty, also as `jobs: []`): insert at
    /// byte `at`.
    Block {
        at: usize,
        /// The bytes of ` []` after `jobs:`, removed so that the list
        /// becomes a block list.
        remove: Option<Range<usize>>,
        /// Indentation of the list's `-`.
        indent: String,
        items: usize,
        /// Whether items are separated by blank lines.
        spaced: bool,
    },
}

pub(super) struct Line<'a> {
    pub(super) start: usize,
    /// Without the line end.
    pub(super) text: &'a str,
}

pub(super) fn split_lines(text: &str) -> Vec<Line<'_>> {
    let mut start = 0;
    text.split_inclusive('\n')
        .map(|raw| {
            let line = Line {
                start,
                text: raw.trim_end_matches(['\n', '\r']),
            };
            start += raw.len();
            line
        })
        .collect()
}

/// The key of a top-level `key:` line.
pub(super) fn top_key(line: &str) -> Option<&str> {
    let line = line.strip_prefix('\u{feff}').unwrap_or(line);
    if !line.starts_with(|c: char| c.is_ascii_alphabetic() || c == '_') {
        return None;
    }
    let end = line
        .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_' || c == '-'))
        .unwrap_or(line.len());
    let rest = line[end..].trim_start_matches(' ');
    let after = rest.strip_prefix(':')?;
    (after.is_empty() || after.starts_with([' ', '\t'])).then_some(&line[..end])
}

pub(super) fn is_item(trimmed: &str) -> bool {
    trimmed == "-" || trimmed.starts_with("- ") || trimmed.starts_with("-\t")
}

pub(super) fn is_content(line: &str) -> bool {
    let t = line.trim_start();
    !t.is_empty() && !t.starts_with('#')
}

/// Finds where a job goes. The error is the byte range and text of the
/// line that makes `jobs` something other than a block list.
pub(super) fn find_spot(text: &str) -> Result<Spot, (usize, usize, String)> {
    let lines = split_lines(text);
    let Some(j) = lines.iter().position(|l| top_key(l.text) == Some("jobs")) else {
        return Ok(Spot::NoKey);
    };
    let odd = |l: &Line| Err((l.start, l.text.len(), l.text.trim().to_string()));
    let colon = lines[j].text.find(':').map_or(0, |c| c + 1);
    let after_colon = &lines[j].text[colon..];
    let remove = empty_flow_list(after_colon)
        .map(|r| lines[j].start + colon + r.start..lines[j].start + colon + r.end);
    let after_colon = after_colon.trim();
    if remove.is_none() && !(after_colon.is_empty() || after_colon.starts_with('#')) {
        return odd(&lines[j]);
    }
    // The block runs to the next line that starts at column 0 and is neither
    // a comment nor a list item (a key, `---`, `...`).
    let end = (j + 1..lines.len())
        .find(|&k| {
            let l = lines[k].text;
            l.starts_with(|c: char| !c.is_whitespace() && c != '#') && !is_item(l)
        })
        .unwrap_or(lines.len());
    let (indent, items, spaced) = match (j + 1..end).find(|&k| is_content(lines[k].text)) {
        None => ("  ".to_string(), 0, false),
        Some(first) => {
            let l = lines[first].text;
            let t = l.trim_start();
            let indent = &l[..l.len() - t.len()];
            if !is_item(t) || indent.contains('\t') || remove.is_some() {
                return odd(&lines[first]);
            }
            let item_lines: Vec<usize> = (first..end)
                .filter(|&k| lines[k].text.strip_prefix(indent).is_some_and(is_item))
                .collect();
            let spaced = item_lines.iter().skip(1).any(|&k| {
                (j + 1..k)
                    .rev()
                    .map(|i| lines[i].text.trim())
                    .find(|t| !t.starts_with('#'))
                    .is_some_and(str::is_empty)
            });
            (indent.to_string(), item_lines.len(), spaced)
        }
    };
    let at = if end == lines.len() {
        text.len()
    } else {
        // Before the blank lines and column-0 comments that lead to the next key.
        let last = (j..end)
            .rev()
            .find(|&k| {
                let l = lines[k].text;
                !l.trim().is_empty() && !l.starts_with('#')
            })
            .unwrap_or(j);
        lines[last + 1].start
    };
    Ok(Spot::Block {
        at,
        remove,
        indent,
        items,
        spaced,
    })
}

/// The bytes of `[]` (with the blanks before it) when `after` (the text
/// after `jobs:`) is an empty flow list with nothing but a comment after it.
fn empty_flow_list(after: &str) -> Option<Range<usize>> {
    let open = after.len() - after.trim_start().len();
    let inner = after[open..].strip_prefix('[')?;
    let close = open + 1 + inner.find(']')?;
    let rest = &after[close + 1..];
    let nothing_in = after[open + 1..close].trim().is_empty();
    let nothing_after = rest.trim().is_empty()
        || rest.starts_with([' ', '\t']) && rest.trim_start().starts_with('#');
    (nothing_in && nothing_after).then_some(0..close + 1)
}

/// The lines as a list item under `indent`, each ending in `nl`.
pub(super) fn item_text(lines: &[String], indent: &str, nl: &str) -> String {
    let mut out = String::new();
    for (i, l) in lines.iter().enumerate() {
        out.push_str(indent);
        out.push_str(if i == 0 { "- " } else { "  " });
        out.push_str(l);
        out.push_str(nl);
    }
    out
}

/// A new file holding only this job. Returns the text and the item.
/// `schema`: the `# yaml-language-server: $schema=…` line, when there is a
/// schema to point to.
pub(super) fn compose_new_file(lines: &[String], schema: Option<&str>) -> (String, String) {
    let item = item_text(lines, "  ", "\n");
    let schema = schema.map_or_else(String::new, |s| format!("{s}\n"));
    (format!("{schema}version: 1\n\njobs:\n{item}"), item)
}

/// The file's text with the job inserted at `spot`; every byte of `text`
/// is kept. Returns the text and the item (with `\n` line ends).
/// `schema` as for [`compose_new_file`]: written into a file with no content yet.
pub(super) fn compose(
    text: &str,
    spot: &Spot,
    lines: &[String],
    schema: Option<&str>,
) -> (String, String) {
    let nl = if text.contains("\r\n") { "\r\n" } else { "\n" };
    let mut out = String::with_capacity(text.len() + 512);
    match spot {
        Spot::NoKey => {
            let item = item_text(lines, "  ", "\n");
            out.push_str(text);
            if !out.is_empty() && !out.ends_with('\n') {
                out.push_str(nl);
            }
            let lines_of = split_lines(text);
            let has_content = lines_of.iter().any(|l| is_content(l.text));
            if let Some(schema) = schema.filter(|_| !has_content) {
                if !text.contains("yaml-language-server") {
                    out.push_str(schema);
                    out.push_str(nl);
                }
            }
            if !lines_of.iter().any(|l| top_key(l.text) == Some("version")) {
                out.push_str("version: 1");
                out.push_str(nl);
            }
            out.push_str(nl);
            out.push_str("jobs:");
            out.push_str(nl);
            out.push_str(&item_text(lines, "  ", nl));
            (out, item)
        }
        Spot::Block {
            at,
            remove,
            indent,
            items,
            spaced,
        } => {
            let item = item_text(lines, indent, "\n");
            let (before, after) = text.split_at(*at);
            match remove {
                Some(r) => {
                    out.push_str(&before[..r.start]);
                    out.push_str(&before[r.end..]);
                }
                None => out.push_str(before),
            }
            if !out.is_empty() && !out.ends_with('\n') {
                out.push_str(nl);
            }
            let blank_before = out.ends_with(&format!("{nl}{nl}")) || out == nl;
            if *spaced && *items > 0 && !blank_before {
                out.push_str(nl);
            }
            out.push_str(&item_text(lines, indent, nl));
            out.push_str(after);
            (out, item)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lines() -> Vec<String> {
        vec![
            "name: new".to_string(),
            "url: \"u{{index}}\"".to_string(),
            "count: 3".to_string(),
        ]
    }

    fn insert(text: &str) -> String {
        let spot = find_spot(text).unwrap();
        compose(text, &spot, &lines(), Some("# schema")).0
    }

    #[test]
    fn appends_when_jobs_is_the_last_key() {
        let text = "version: 1\njobs:\n  - name: a   # first\n    count: 1\n# trailing\n";
        assert_eq!(
            insert(text),
            format!("{text}  - name: new\n    url: \"u{{{{index}}}}\"\n    count: 3\n")
        );
        // No newline at the end: one is added, nothing else changes.
        let text = "version: 1\njobs:\n  - name: a\n    count: 1";
        assert!(insert(text).starts_with(&format!("{text}\n  - name: new\n")));
    }

    #[test]
    fn inserts_before_the_next_top_level_key_and_its_comments() {
        let text =
            "version: 1\njobs:\n- name: a\n  count: 1\n\n# the limits\nlimits:\n  global: {}\n";
        assert_eq!(
            insert(text),
            "version: 1\njobs:\n- name: a\n  count: 1\n- name: new\n  url: \"u{{index}}\"\n  count: 3\n\n# the limits\nlimits:\n  global: {}\n"
        );
    }

    #[test]
    fn keeps_blank_lines_between_items_and_crlf() {
        let text = "jobs:\r\n  - name: a\r\n\r\n  # b\r\n  - name: b\r\n";
        let out = insert(text);
        assert_eq!(
            out,
            format!("{text}\r\n  - name: new\r\n    url: \"u{{{{index}}}}\"\r\n    count: 3\r\n")
        );
    }

    #[test]
    fn empty_jobs_and_missing_jobs() {
        let text = "version: 1\njobs:\nlimits: {}\n";
        assert_eq!(
            insert(text),
            "version: 1\njobs:\n  - name: new\n    url: \"u{{index}}\"\n    count: 3\nlimits: {}\n"
        );
        assert_eq!(find_spot("# only a comment\n").unwrap(), Spot::NoKey);
        let out = insert("# only a comment\n");
        assert!(out.starts_with("# only a comment\n"), "{out}");
        assert!(
            out.contains("version: 1\n\njobs:\n  - name: new\n"),
            "{out}"
        );
    }

    #[test]
    fn an_empty_flow_list_becomes_a_block_list() {
        let job = "  - name: new\n    url: \"u{{index}}\"\n    count: 3\n";
        for (text, want) in [
            ("version: 1\njobs: []\n", format!("version: 1\njobs:\n{job}")),
            ("jobs: [ ]   # none yet\n", format!("jobs:   # none yet\n{job}")),
            (
                "version: 1\njobs: []\n\nlimits: {}\n",
                format!("version: 1\njobs:\n{job}\nlimits: {{}}\n"),
            ),
            (
                "version: 1\r\njobs: []",
                "version: 1\r\njobs:\r\n  - name: new\r\n    url: \"u{{index}}\"\r\n    count: 3\r\n"
                    .to_string(),
            ),
        ] {
            assert_eq!(insert(text), want, "{text:?}");
        }
    }

    #[test]
    fn the_schema_line_only_when_given_and_only_in_a_file_with_no_content() {
        let lines = lines();
        let (text, _) = compose_new_file(&lines, None);
        assert!(text.starts_with("version: 1\n"), "{text}");
        let (text, _) = compose_new_file(&lines, Some("# s"));
        assert!(text.starts_with("# s\nversion: 1\n"), "{text}");
        let (text, _) = compose("# mine\n", &Spot::NoKey, &lines, None);
        assert!(text.starts_with("# mine\nversion: 1\n"), "{text}");
        let (text, _) = compose("# mine\n", &Spot::NoKey, &lines, Some("# s"));
        assert!(text.starts_with("# mine\n# s\nversion: 1\n"), "{text}");
        let (text, _) = compose("limits: {}\n", &Spot::NoKey, &lines, Some("# s"));
        assert!(!text.contains("# s"), "{text}");
    }

    #[test]
    fn refuses_flow_lists_and_other_shapes() {
        for text in [
            "version: 1\njobs: [ { name: a } ]\n",
            "version: 1\njobs: [] []\n",
            "version: 1\njobs: []#x\n",
            "version: 1\njobs: []\n  - name: a\n",
            "version: 1\njobs: &all\n  - name: a\n",
            "version: 1\njobs:\n  [ ]\n",
        ] {
            assert!(find_spot(text).is_err(), "{text}");
        }
    }
}
