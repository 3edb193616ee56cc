//! The syntax-tree check of a template: every variable it names, in every
//! branch, is one the job defines; only the helpers snatch documents, with
//! the arguments they need; no partials, decorators or context changes, so
//! rendering cannot recurse and no segment fails on a name mid-run.

use std::collections::BTreeSet;

use handlebars::template::{HelperTemplate, Parameter, Template, TemplateElement};
use handlebars::{Path, PathSeg};

mod syntax;

pub use syntax::helper_form;

/// Deeper nesting than this is refused (real templates nest two or three).
pub const MAX_DEPTH: u32 = 16;

/// What a template may name.
#[derive(Debug, Clone)]
pub struct Scope<'a> {
    /// `index` and `n` exist (the url, not the output).
    pub per_segment: bool,
    /// The job's `vars` keys.
    pub vars: &'a BTreeSet<String>,
}

impl Scope<'_> {
    /// The variables in words, for a message.
    pub fn known(&self) -> String {
        self.names().join(", ")
    }

    /// The variables, in the order they are listed.
    pub fn names(&self) -> Vec<String> {
        let mut names: Vec<String> = Vec::new();
        if self.per_segment {
            names.extend(["index".into(), "n".into()]);
        }
        names.extend(["name".into(), "date".into()]);
        names.extend(self.vars.iter().map(|k| format!("vars.{k}")));
        names
    }
}

/// What a template names.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Uses {
    /// `index` or `n`.
    pub index: bool,
    /// The `vars` keys.
    pub vars: BTreeSet<String>,
}

/// A template that cannot be used: what is wrong, and what is accepted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TemplateProblem {
    pub message: String,
    pub help: String,
    /// Where in the template, as a byte range, when known.
    pub span: Option<std::ops::Range<usize>>,
}

fn problem(message: impl Into<String>, help: impl Into<String>) -> TemplateProblem {
    TemplateProblem {
        message: message.into(),
        help: help.into(),
        span: None,
    }
}

impl TemplateProblem {
    fn at(mut self, span: std::ops::Range<usize>) -> TemplateProblem {
        self.span = Some(span);
        self
    }
}

const HELPERS: &str = "if, unless, eq, ne, gt, gte, lt, lte, and, or, not, len and pad";

/// Parses `source` and checks it against `scope`.
pub fn check(source: &str, scope: &Scope) -> Result<Uses, TemplateProblem> {
    let t = compile(source)?;
    let mut w = Walk {
        scope: Some(scope),
        uses: Uses::default(),
        depth: 0,
    };
    w.template(&t).map_err(|p| syntax::locate(source, p))?;
    Ok(w.uses)
}

/// Parses `source` and checks its structure only (helpers, no partials).
pub fn compile_checked(source: &str) -> Result<Template, TemplateProblem> {
    let t = compile(source)?;
    let mut w = Walk {
        scope: None,
        uses: Uses::default(),
        depth: 0,
    };
    w.template(&t).map_err(|p| syntax::locate(source, p))?;
    Ok(t)
}

fn compile(source: &str) -> Result<Template, TemplateProblem> {
    let opens = source.matches("{{").count();
    let parens = source.matches('(').count();
    if opens > 256 || parens > 64 {
        return Err(problem(
            "the template has too many `{{` or `(` to be a URL or file name",
            "keep a template to a few `{{…}}` expressions",
        ));
    }
    if let Some(p) = syntax::unclosed(source) {
        return Err(p);
    }
    Template::compile(source).map_err(|e| syntax::parse_error(source, &e))
}

struct Walk<'a> {
    scope: Option<&'a Scope<'a>>,
    uses: Uses,
    depth: u32,
}

impl Walk<'_> {
    fn template(&mut self, t: &Template) -> Result<(), TemplateProblem> {
        self.depth += 1;
        if self.depth > MAX_DEPTH {
            return Err(problem(
                format!("the template nests more than {MAX_DEPTH} levels deep"),
                "flatten the template",
            ));
        }
        for e in &t.elements {
            self.element(e)?;
        }
        self.depth -= 1;
        Ok(())
    }

    fn element(&mut self, e: &TemplateElement) -> Result<(), TemplateProblem> {
        match e {
            TemplateElement::RawString(_) | TemplateElement::Comment(_) => Ok(()),
            TemplateElement::Expression(h) | TemplateElement::HtmlExpression(h) => {
                self.helper(h, false)
            }
            TemplateElement::HelperBlock(h) => self.helper(h, true),
            _ => Err(problem(
                "the template uses a partial or decorator (`{{> …}}`, `{{#> …}}`, `{{#*inline …}}`), which job templates do not support",
                "write the text out where it is needed",
            )),
        }
    }

    fn helper(&mut self, h: &HelperTemplate, block: bool) -> Result<(), TemplateProblem> {
        if !block && h.params.is_empty() && h.hash.is_empty() {
            return self.value(&h.name);
        }
        let name = h.name.as_name().unwrap_or("");
        let arity_ok = match name {
            "if" | "unless" => block && h.params.len() == 1,
            "eq" | "ne" | "gt" | "gte" | "lt" | "lte" | "pad" => !block && h.params.len() == 2,
            "not" | "len" => !block && h.params.len() == 1,
            "and" | "or" => !block && !h.params.is_empty(),
            _ => {
                return Err(problem(
                    format!(
                        "the template uses `{name}`, which is not a helper job templates offer"
                    ),
                    format!("the helpers are {HELPERS}; blocks are `#if` and `#unless`"),
                ))
            }
        };
        if !arity_ok {
            return Err(syntax::helper_form(name));
        }
        if !h.hash.is_empty() || h.block_param.is_some() {
            return Err(problem(
                format!("`{name}` is given named arguments or block parameters, which job templates do not use"),
                format!("the helpers are {HELPERS}, each with plain arguments"),
            ));
        }
        if name == "pad" && !h.params.iter().all(is_number) {
            return Err(syntax::helper_form("pad"));
        }
        for p in &h.params {
            self.value(p)?;
        }
        for t in [&h.template, &h.inverse].into_iter().flatten() {
            self.template(t)?;
        }
        Ok(())
    }

    fn value(&mut self, p: &Parameter) -> Result<(), TemplateProblem> {
        match p {
            Parameter::Literal(_) => Ok(()),
            Parameter::Subexpression(s) => {
                self.depth += 1;
                if self.depth > MAX_DEPTH {
                    return Err(problem(
                        format!("the template nests more than {MAX_DEPTH} levels deep"),
                        "flatten the template",
                    ));
                }
                let r = self.element(s.as_element());
                self.depth -= 1;
                r
            }
            Parameter::Name(n) => self.variable(&[n.as_str()]),
            Parameter::Path(Path::Local(_)) => Err(problem(
                "the template uses an `@` variable, which exists only inside `#each`",
                "job templates name index, n, name, date and vars.*",
            )),
            Parameter::Path(Path::Relative((segs, _))) => {
                let segs: Vec<&PathSeg> = segs
                    .iter()
                    .skip_while(|s| matches!(s, PathSeg::Ruled(_)) && is_root(s))
                    .collect();
                let mut names = Vec::new();
                for s in segs {
                    match s {
                        PathSeg::Named(n) => names.push(n.as_str()),
                        _ => {
                            return Err(problem(
                                "the template climbs the context with `../`",
                                "job templates name index, n, name, date and vars.* directly",
                            ))
                        }
                    }
                }
                self.variable(&names)
            }
            _ => Err(problem(
                "the template uses an expression job templates do not support",
                "job templates name index, n, name, date and vars.*",
            )),
        }
    }

    fn variable(&mut self, names: &[&str]) -> Result<(), TemplateProblem> {
        let Some(scope) = self.scope else {
            return Ok(());
        };
        let known = || format!("known variables: {}", scope.known());
        match names {
            [] => Err(problem(
                "the template names the whole context (`this`), not a variable",
                known(),
            )),
            ["index" | "n"] if scope.per_segment => {
                self.uses.index = true;
                Ok(())
            }
            ["index" | "n"] => Err(problem(
                format!("the template uses `{}`, which only a url has", names[0]),
                known(),
            )),
            ["name" | "date"] => Ok(()),
            ["vars", key] if scope.vars.contains(*key) => {
                self.uses.vars.insert(key.to_string());
                Ok(())
            }
            _ => {
                let name = names.join(".");
                let known_names = scope.names();
                let help = match crate::common::diag::nearest(
                    &name,
                    known_names.iter().map(String::as_str),
                ) {
                    Some(k) => format!("did you mean `{k}`? {}", known()),
                    None => known(),
                };
                Err(problem(format!("unknown variable `{name}`"), help))
            }
        }
    }
}

fn is_root(s: &PathSeg) -> bool {
    // `@root` is the only rule that may lead a path: at the top level it is
    // the context itself. `..` is refused by the caller. Handlebars does not
    // export its grammar's rules, so the `@root` segment is taken from a
    // path it parsed, and compared by value.
    static ROOT: std::sync::OnceLock<Option<PathSeg>> = std::sync::OnceLock::new();
    let root = ROOT.get_or_init(|| match Path::parse("@root.a") {
        Ok(Path::Relative((segs, _))) => segs.into_iter().next(),
        _ => None,
    });
    root.as_ref() == Some(s)
}

/// A number for `pad`: `n`, a whole-number literal, or `(len …)`.
fn is_number(p: &Parameter) -> bool {
    match p {
        Parameter::Literal(v) => v.is_u64(),
        Parameter::Path(Path::Relative((segs, _))) => {
            matches!(segs.as_slice(), [PathSeg::Named(n)] if n == "n")
        }
        Parameter::Name(n) => n == "n",
        Parameter::Subexpression(s) => s.name() == "len",
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scope(vars: &BTreeSet<String>) -> Scope<'_> {
        Scope {
            per_segment: true,
            vars,
        }
    }

    #[test]
    fn every_branch_is_checked() {
        let vars = BTreeSet::from(["course".to_string()]);
        let s = scope(&vars);
        let ok = check(
            "https://h/{{vars.course}}/{{#if (eq n 5)}}{{pad n 4}}{{else}}{{index}}{{/if}}.ts",
            &s,
        )
        .unwrap();
        assert!(ok.index);
        assert_eq!(ok.vars, vars);
        let err = check("h/{{#if (eq n 5)}}{{vars.missing}}{{/if}}{{index}}", &s).unwrap_err();
        assert!(err.message.contains("`vars.missing`"), "{err:?}");
        assert_eq!(
            err.help,
            "known variables: index, n, name, date, vars.course"
        );
        let err = check("h/{{#unless n}}{{else}}{{vars.x}}{{/unless}}", &s).unwrap_err();
        assert!(err.message.contains("vars.x"), "{err:?}");
        let err = check("h/{{#if (and n (not (eq name vars.y)))}}{{/if}}", &s).unwrap_err();
        assert!(err.message.contains("vars.y"), "{err:?}");
        assert!(check("{{@root.vars.course}}{{this.index}}", &s).is_ok());
    }

    #[test]
    fn partials_helpers_and_recursion_are_refused() {
        let vars = BTreeSet::new();
        let s = scope(&vars);
        for bad in [
            "{{#*inline \"p\"}}{{> p}}{{/inline}}{{> p}}{{index}}",
            "{{> p}}",
            "{{#> layout}}x{{/layout}}",
            "{{#each vars}}{{@key}}{{/each}}",
            "{{#with vars}}{{x}}{{/with}}",
            "{{lookup vars n}}",
            "{{log n}}",
            "{{../index}}",
            "{{@index}}",
            "{{this}}",
            "{{vars}}",
            "{{index.x}}",
            "{{pad name 3}}",
            "{{pad n}}",
            "{{#eq n 1}}x{{/eq}}",
            "{{#if n x=1}}{{/if}}",
            "{{#if}}",
        ] {
            assert!(check(bad, &s).is_err(), "{bad}");
        }
        let deep = format!("{{{{pad {}n{} 2}}}}", "(len ".repeat(40), ")".repeat(40));
        assert!(check(&deep, &s).is_err());
        let nested = format!(
            "{}{{{{index}}}}{}",
            "{{#if n}}".repeat(127),
            "{{/if}}".repeat(127)
        );
        assert!(check(&nested, &s).is_err());
    }

    #[test]
    fn mistakes_are_said_in_plain_words_with_their_place() {
        let vars = BTreeSet::new();
        let s = scope(&vars);
        let e = check("https://h/{{index}.ts", &s).unwrap_err();
        assert!(e.message.contains("unclosed braces"), "{e:?}");
        assert_eq!(e.span, Some(10..21));
        let e = check("a/{{index}}/{{vars.x.ts", &s).unwrap_err();
        assert!(e.message.contains("`{{vars.x.ts` needs `}}`"), "{e:?}");
        let e = check("{{idx}}", &s).unwrap_err();
        assert_eq!(e.message, "unknown variable `idx`");
        assert!(e.help.starts_with("did you mean `index`?"), "{e:?}");
        assert_eq!(e.span, Some(2..5));
        let xy = BTreeSet::from(["xy".to_string()]);
        let e = check("{{vars.xy}}/{{vars.x}}", &scope(&xy)).unwrap_err();
        assert_eq!(e.span, Some(14..20), "{e:?}");
        let e = check("h/{{index}}/{{pad n}}", &s).unwrap_err();
        assert_eq!(e.message, "`pad` needs a number and a width: `{{pad n 4}}`");
        assert_eq!(e.span, Some(14..17));
        let e = check("{{#if n}}{{index}}", &s).unwrap_err();
        assert!(
            e.message.contains("opens a block it does not close"),
            "{e:?}"
        );
        let e = check("{{#if n}}{{index}}{{/unless}}", &s).unwrap_err();
        assert!(e.message.contains("is closed by"), "{e:?}");
        assert!(check("{{{index}}}", &s).is_ok());
        assert!(check("a}}b{{index}}", &s).is_ok());
    }

    #[test]
    fn the_output_has_no_index() {
        let vars = BTreeSet::new();
        let s = Scope {
            per_segment: false,
            vars: &vars,
        };
        let err = check("{{name}}-{{index}}.mp4", &s).unwrap_err();
        assert!(err.message.contains("only a url has"), "{err:?}");
        assert_eq!(err.help, "known variables: name, date");
    }
}
