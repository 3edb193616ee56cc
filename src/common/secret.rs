//! A value that may hold secrets (values from `${…}`): the real form, sent
//! to the server, and the shown form, with every secret as `***`. Every
//! stage carries URLs and headers as [`Secret`]s; only a request exposes
//! the real form.

use std::fmt;

/// A value that may hold secrets. `Debug`, `Display` and `Serialize` show
/// only the redacted form; the real one is reached through [`Secret::expose`].
#[derive(Clone, PartialEq, Eq)]
pub struct Secret {
    real: String,
    shown: String,
}

impl Secret {
    /// Both forms, made apart (a value rendered with its secrets, and the
    /// same rendered with `***` for each).
    pub fn pair(real: String, shown: String) -> Secret {
        Secret { real, shown }
    }

    pub fn plain(s: impl Into<String>) -> Secret {
        let s = s.into();
        Secret {
            real: s.clone(),
            shown: s,
        }
    }

    /// The value as sent to the server. Never log or write it.
    pub fn expose(&self) -> &str {
        &self.real
    }

    pub fn shown(&self) -> &str {
        &self.shown
    }

    pub fn is_secret(&self) -> bool {
        self.real != self.shown
    }

    /// The same value, shown as [`crate::common::mask::text`] shows it: for a URL
    /// a server named, which may repeat a token in any spelling.
    pub fn masked(self) -> Secret {
        let shown = crate::common::mask::text(&self.shown).into_owned();
        Secret { shown, ..self }
    }

    /// Applies the same text change to both forms (for a value rendered
    /// around placeholders).
    pub fn map(&self, f: impl Fn(&str) -> String) -> Secret {
        Secret {
            real: f(&self.real),
            shown: f(&self.shown),
        }
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&self.shown, f)
    }
}

impl fmt::Display for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.shown)
    }
}

impl serde::Serialize for Secret {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.shown)
    }
}
