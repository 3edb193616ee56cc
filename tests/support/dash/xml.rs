//! Just enough XML to check a fixture's MPD is well-formed and holds the
//! elements it claims: tags nested and closed in order, one root,
//! attributes quoted and not repeated, `&` only in an entity, no `<` in
//! text or values. It panics on anything else, naming the byte. It is
//! a check of test files, not a parser for snatch.

/// One element: where it is, its attributes and its text.
#[derive(Debug, Clone)]
pub struct Element {
    /// The names from the root down to it, `/`-joined: `MPD/Period/BaseURL`.
    pub path: String,
    pub attrs: Vec<(String, String)>,
    /// Its own text (not its children's), trimmed.
    pub text: String,
}

impl Element {
    pub fn attr(&self, name: &str) -> Option<&str> {
        self.attrs
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }

    /// Its name, the path's last part.
    pub fn name(&self) -> &str {
        self.path.rsplit('/').next().unwrap_or("")
    }
}

/// The elements of a document, in document order; panics if it is not
/// well-formed.
pub fn elements(doc: &str) -> Vec<Element> {
    let mut out: Vec<Element> = Vec::new();
    let mut open: Vec<(String, usize)> = Vec::new();
    let mut roots = 0;
    let mut at = 0;
    while at < doc.len() {
        let rest = &doc[at..];
        let Some(lt) = rest.find('<') else {
            text(&mut out, &open, rest, at);
            break;
        };
        text(&mut out, &open, &rest[..lt], at);
        at += lt;
        let rest = &doc[at..];
        let end = if rest.starts_with("<?") {
            skip(rest, "?>", at)
        } else if rest.starts_with("<!--") {
            skip(rest, "-->", at)
        } else if let Some(close) = rest.strip_prefix("</") {
            let gt = close
                .find('>')
                .unwrap_or_else(|| panic!("unclosed tag at {at}"));
            let name = close[..gt].trim();
            let (top, _) = open
                .pop()
                .unwrap_or_else(|| panic!("</{name}> at {at} closes nothing"));
            assert_eq!(top, name, "</{name}> at {at} closes <{top}>");
            gt + 3
        } else {
            let (tag, len, empty) = tag(rest, at);
            let parent = open.last().map(|(_, i)| out[*i].path.clone());
            assert!(
                parent.is_some() || roots == 0,
                "a second root <{}> at {at}",
                tag.0
            );
            roots += usize::from(parent.is_none());
            let path = parent.map_or(tag.0.clone(), |p| format!("{p}/{}", tag.0));
            if !empty {
                open.push((tag.0, out.len()));
            }
            out.push(Element {
                path,
                attrs: tag.1,
                text: String::new(),
            });
            len
        };
        at += end;
    }
    assert!(open.is_empty(), "unclosed elements at the end: {open:?}");
    assert_eq!(roots, 1, "one root element");
    out
}

/// The elements whose path ends with `tail` (`Period/BaseURL`).
pub fn find<'a>(all: &'a [Element], tail: &str) -> Vec<&'a Element> {
    all.iter()
        .filter(|e| e.path == tail || e.path.ends_with(&format!("/{tail}")))
        .collect()
}

/// Adds text to the open element (only whitespace outside the root).
fn text(out: &mut [Element], open: &[(String, usize)], text: &str, at: usize) {
    entities(text, at);
    match open.last() {
        Some((_, i)) => out[*i].text.push_str(text.trim()),
        None => assert!(text.trim().is_empty(), "text outside the root at {at}"),
    }
}

/// The length up to and with `end`.
fn skip(rest: &str, end: &str, at: usize) -> usize {
    rest.find(end)
        .unwrap_or_else(|| panic!("no {end} after {at}"))
        + end.len()
}

/// A tag's name and attributes.
type Tag = (String, Vec<(String, String)>);

/// An opening tag at the start of `rest`: its name and attributes, its
/// length, and whether it is empty (`/>`).
fn tag(rest: &str, at: usize) -> (Tag, usize, bool) {
    let mut i = 1;
    let name_len = name_at(&rest[i..]);
    assert!(name_len > 0, "a tag with no name at {at}");
    let name = rest[i..i + name_len].to_string();
    i += name_len;
    let mut attrs: Vec<(String, String)> = Vec::new();
    loop {
        let spaces = rest[i..].len() - rest[i..].trim_start().len();
        i += spaces;
        let r = &rest[i..];
        if r.starts_with("/>") {
            return ((name, attrs), i + 2, true);
        }
        if r.starts_with('>') {
            return ((name, attrs), i + 1, false);
        }
        assert!(spaces > 0, "no space before an attribute at {}", at + i);
        let n = name_at(r);
        assert!(n > 0, "a bad character in <{name}> at {}", at + i);
        let key = r[..n].to_string();
        let r = r[n..].trim_start();
        let r = r
            .strip_prefix('=')
            .unwrap_or_else(|| panic!("{key} without = at {}", at + i));
        let r2 = r.trim_start();
        let quote = r2.chars().next().filter(|c| *c == '"' || *c == '\'');
        let quote = quote.unwrap_or_else(|| panic!("{key} unquoted at {}", at + i));
        let len = r2[1..]
            .find(quote)
            .unwrap_or_else(|| panic!("{key} unclosed at {}", at + i));
        let value = &r2[1..1 + len];
        assert!(!value.contains('<'), "< in {key} at {}", at + i);
        entities(value, at + i);
        assert!(
            attrs.iter().all(|(k, _)| *k != key),
            "{key} twice at {}",
            at + i
        );
        attrs.push((key, value.to_string()));
        i = rest.len() - r2.len() + 1 + len + 1;
    }
}

/// The length of the XML name at the start of `s`.
fn name_at(s: &str) -> usize {
    s.find(|c: char| !(c.is_alphanumeric() || matches!(c, ':' | '_' | '-' | '.')))
        .unwrap_or(s.len())
}

/// Every `&` starts one of XML's entities or a character reference.
fn entities(s: &str, at: usize) {
    for (i, _) in s.match_indices('&') {
        let r = &s[i..];
        let ok = ["&amp;", "&lt;", "&gt;", "&quot;", "&apos;"]
            .iter()
            .any(|e| r.starts_with(e))
            || (r.starts_with("&#") && r.find(';').is_some_and(|e| e > 2));
        assert!(ok, "a bare & at {}", at + i);
    }
}
