//! The Handlebars registry for URL and output templates: strict mode (an
//! unknown variable is an error, never an empty string), no HTML escaping,
//! and the `pad` helper (`{{pad n 4}}`). Every template is checked on its
//! syntax tree ([`check`]) before it is registered: no partials, no
//! decorators, only the documented helpers.

pub mod check;

pub use check::{Scope, TemplateProblem, Uses};

use handlebars::{handlebars_helper, Handlebars};

handlebars_helper!(pad: |n: u64, width: u64| format!("{:0w$}", n, w = width.min(64) as usize));

/// Why a template cannot be registered or filled in, in plain words:
/// Handlebars' own text never reaches the user.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TemplateError {
    /// Refused by the syntax-tree check: partials, decorators, unknown
    /// helpers, unclosed braces (the problem carries its help and span).
    #[error("{}", .0.message)]
    Refused(TemplateProblem),
    #[error("unknown variable `{0}`")]
    UnknownVariable(String),
    #[error("the template names a variable that is not defined")]
    UndefinedVariable,
    /// A helper given the wrong parameters: renders its correct form.
    #[error("{}", check::helper_form(.0).message)]
    HelperMisused(String),
    #[error("`{0}` is not a helper job templates offer")]
    NoSuchHelper(String),
    #[error("the template could not be filled in")]
    NotFilled,
}

/// Compiled templates, registered under keys chosen by the caller.
#[derive(Debug, Clone)]
pub struct Templates {
    hb: Handlebars<'static>,
}

impl Default for Templates {
    fn default() -> Self {
        Self::new()
    }
}

impl Templates {
    pub fn new() -> Templates {
        let mut hb = Handlebars::new();
        hb.set_strict_mode(true);
        hb.register_escape_fn(handlebars::no_escape);
        hb.register_helper("pad", Box::new(pad));
        Templates { hb }
    }

    /// Compiles `template` under `key`, refusing partials, decorators and
    /// unknown helpers. The error is one sentence.
    pub fn register(&mut self, key: &str, template: &str) -> Result<(), TemplateError> {
        let t = check::compile_checked(template).map_err(TemplateError::Refused)?;
        self.hb.register_template(key, t);
        Ok(())
    }

    /// Renders the template under `key`. An unknown variable is an error.
    pub fn render(&self, key: &str, data: &serde_json::Value) -> Result<String, TemplateError> {
        self.hb.render(key, data).map_err(|e| render_error(&e))
    }
}

/// A render error by its Handlebars reason (the syntax-tree check makes
/// these rare: they are a last line).
fn render_error(e: &handlebars::RenderError) -> TemplateError {
    use handlebars::RenderErrorReason as R;
    match e.reason() {
        R::MissingVariable(Some(var)) => TemplateError::UnknownVariable(var.clone()),
        R::MissingVariable(None) => TemplateError::UndefinedVariable,
        R::ParamNotFoundForIndex(h, _)
        | R::ParamNotFoundForName(h, _)
        | R::ParamTypeMismatchForName(h, _, _)
        | R::HashTypeMismatchForName(h, _, _) => TemplateError::HelperMisused(h.to_string()),
        R::InvalidParamType(_) => TemplateError::HelperMisused("pad".into()),
        R::HelperNotFound(h) => TemplateError::NoSuchHelper(h.clone()),
        _ => TemplateError::NotFilled,
    }
}

/// Whether a URL template names the segment index (`{{index}}`, `{{n}}`, or
/// `{{pad n …}}`).
pub fn mentions_index(template: &str) -> bool {
    let mut rest = template;
    while let Some(open) = rest.find("{{") {
        let after = &rest[open + 2..];
        let Some(close) = after.find("}}") else {
            return false;
        };
        let expr = &after[..close];
        if expr
            .split(|c: char| c.is_whitespace() || c == '(' || c == ')' || c == '{' || c == '}')
            .any(|t| t == "index" || t == "n")
        {
            return true;
        }
        rest = &after[close + 2..];
    }
    false
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn renders_strictly_without_escaping() {
        let mut t = Templates::new();
        t.register("u", "https://x/{{vars.a}}/{{pad n 4}}&{{index}}.ts")
            .unwrap();
        let out = t
            .render("u", &json!({"vars": {"a": "<b>&"}, "n": 7, "index": "007"}))
            .unwrap();
        assert_eq!(out, "https://x/<b>&/0007&007.ts");
        t.register("bad", "{{vars.missing}}.mp4").unwrap();
        let err = t.render("bad", &json!({"vars": {}})).unwrap_err();
        assert_eq!(err, TemplateError::UnknownVariable("vars.missing".into()));
        assert!(t.register("broken", "{{#if}}").is_err());
        assert!(t
            .register("recursive", "{{#*inline \"p\"}}{{> p}}{{/inline}}{{> p}}")
            .is_err());
    }

    #[test]
    fn render_errors_never_show_handlebars_text() {
        let mut t = Templates::new();
        t.register("pad", "{{pad n 4}}").unwrap();
        t.register("var", "{{vars.course}}").unwrap();
        let padded = t.render("pad", &json!({"n": "seven"})).unwrap_err();
        assert_eq!(padded, TemplateError::HelperMisused("pad".into()));
        let padded = padded.to_string();
        assert_eq!(padded, "`pad` needs a number and a width: `{{pad n 4}}`");
        let var = t
            .render("var", &json!({"vars": {}}))
            .unwrap_err()
            .to_string();
        assert_eq!(var, "unknown variable `vars.course`");
        let none = t.render("pad", &json!({})).unwrap_err().to_string();
        for e in [padded, var, none] {
            assert!(
                !e.contains("strict mode") && !e.contains("Helper/Decorator"),
                "{e}"
            );
        }
    }

    #[test]
    fn finds_the_index_placeholder() {
        assert!(mentions_index("a/{{index}}.ts"));
        assert!(mentions_index("a/{{ index }}.ts"));
        assert!(mentions_index("a/{{pad n 5}}.ts"));
        assert!(!mentions_index("a/{{name}}.ts"));
        assert!(!mentions_index("a/index.ts"));
    }
}
