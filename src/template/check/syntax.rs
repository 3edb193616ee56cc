//! Template mistakes said in plain words: unclosed braces found before the
//! parser runs, the parser's own errors reworded (its text never reaches
//! the user), and the correct form of each helper.

use handlebars::{TemplateError, TemplateErrorReason};

use super::{problem, TemplateProblem};

const FORMS: &str =
    "templates look like `{{index}}`, `{{vars.NAME}}`, `{{pad n 4}}`, `{{#if (eq n 5)}}…{{else}}…{{/if}}`";

/// The first `{{` without its `}}` (before the next `{{`), if any.
pub fn unclosed(source: &str) -> Option<TemplateProblem> {
    let mut from = 0;
    while let Some(rel) = source[from..].find("{{") {
        let open = from + rel;
        let triple = source[open..].starts_with("{{{");
        let body = open + if triple { 3 } else { 2 };
        let close = if triple { "}}}" } else { "}}" };
        let end = source[body..].find(close).map(|e| body + e);
        let next_open = source[body..].find("{{").map(|e| body + e);
        match (end, next_open) {
            (Some(e), n) if n.is_none_or(|n| e < n) => from = e + close.len(),
            _ => {
                let stop = next_open.unwrap_or(source.len());
                let shown: String = source[open..stop].chars().take(40).collect();
                return Some(
                    problem(
                        format!("the template has unclosed braces: `{shown}` needs `{close}`"),
                        format!("close it with `{close}`, e.g. `{{{{index}}}}`"),
                    )
                    .at(open..stop),
                );
            }
        }
    }
    None
}

/// Places a problem found on the syntax tree (which keeps no positions):
/// at the first `{{…}}` that names the word the message quotes first.
pub fn locate(source: &str, p: TemplateProblem) -> TemplateProblem {
    if p.span.is_some() {
        return p;
    }
    let word = p.message.split('`').nth(1).unwrap_or("").to_string();
    match find_word(source, &word) {
        Some(at) => p.at(at..at + word.len()),
        None => p,
    }
}

fn find_word(source: &str, word: &str) -> Option<usize> {
    if word.is_empty() {
        return None;
    }
    let part = |c: char| c.is_alphanumeric() || matches!(c, '_' | '.' | '-' | '@');
    let mut from = 0;
    while let Some(open) = source[from..].find("{{").map(|i| from + i) {
        let close = source[open..].find("}}").map_or(source.len(), |i| open + i);
        let expr = &source[open..close];
        let mut at = 0;
        while let Some(i) = expr[at..].find(word).map(|i| at + i) {
            let before = expr[..i].chars().next_back();
            let after = expr[i + word.len()..].chars().next();
            if !before.is_some_and(part) && !after.is_some_and(part) {
                return Some(open + i);
            }
            at = i + word.len();
        }
        from = close;
    }
    None
}

/// The parser's error in plain words, located where it says.
pub fn parse_error(source: &str, e: &TemplateError) -> TemplateProblem {
    let at = e.pos().and_then(|(line, col)| offset(source, line, col));
    let p = match e.reason() {
        TemplateErrorReason::MismatchingClosedHelper(open, close)
        | TemplateErrorReason::MismatchingClosedDecorator(open, close) => problem(
            format!("`{{{{#{open}}}}}` is closed by `{{{{/{close}}}}}`"),
            format!("close a block with its own name: `{{{{#{open} …}}}}…{{{{/{open}}}}}`"),
        ),
        TemplateErrorReason::NestedSubexpression => {
            problem("the template nests `(…)` where it may not", FORMS)
        }
        _ if opens_more_blocks_than_it_closes(source) => problem(
            "the template opens a block it does not close",
            "close each block with its own name: `{{#if (eq n 5)}}…{{/if}}`",
        ),
        _ => match at {
            Some(i) => problem(
                format!(
                    "the template is not valid near `{}`",
                    source[i..].chars().take(20).collect::<String>()
                ),
                FORMS,
            ),
            None => problem(
                "the template is not valid (is a block such as `{{#if …}}` missing its `{{/if}}`?)",
                FORMS,
            ),
        },
    };
    match at {
        Some(i) => p.at(i..source.len().min(i + 1)),
        None => p,
    }
}

fn opens_more_blocks_than_it_closes(source: &str) -> bool {
    let opens = source.matches("{{#").count() + source.matches("{{~#").count();
    let closes = source.matches("{{/").count() + source.matches("{{~/").count();
    opens > closes
}

/// The byte offset of a 1-based line and column the parser gives.
fn offset(source: &str, line: usize, col: usize) -> Option<usize> {
    let mut off = 0;
    for (i, l) in source.split_inclusive('\n').enumerate() {
        if i + 1 == line {
            let c = l
                .char_indices()
                .nth(col.saturating_sub(1))
                .map_or(l.len(), |(b, _)| b);
            return Some((off + c).min(source.len().saturating_sub(1)));
        }
        off += l.len();
    }
    None
}

/// A helper used wrongly, with its correct form.
pub fn helper_form(name: &str) -> TemplateProblem {
    let (what, form, note) = match name {
        "pad" => (
            "needs a number and a width",
            "{{pad n 4}}",
            "`n` is the index as a number; `index` is already padded text",
        ),
        "if" | "unless" => (
            "is a block with one condition",
            "{{#if (eq n 5)}}…{{else}}…{{/if}}",
            "a block opens with `{{#…}}` and closes with `{{/…}}`",
        ),
        "not" | "len" => (
            "takes one value",
            "{{#if (not (eq n 5))}}…{{/if}}",
            "use it inside a block's condition",
        ),
        "and" | "or" => (
            "takes the values to combine",
            "{{#if (and (gt n 3) (lt n 9))}}…{{/if}}",
            "use it inside a block's condition",
        ),
        _ => (
            "compares two values",
            "{{#if (eq n 5)}}…{{/if}}",
            "use it inside a block's condition",
        ),
    };
    problem(format!("`{name}` {what}: `{form}`"), note)
}
