//! Errors in trust-as-code, phrased for the person who edits the files.

use std::fmt;
use std::path::{Path, PathBuf};

/// One problem found in the trust-as-code: where it is and what is expected instead.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Diagnostic {
    /// The file (or environment variable / flag, shown as such) the problem is in.
    pub origin: String,
    /// 1-based line number, when known.
    pub line: Option<usize>,
    /// The dotted key the problem concerns, when there is one.
    pub key: Option<String>,
    /// What is wrong and what is expected.
    pub message: String,
}

impl Diagnostic {
    /// A problem in a file.
    pub fn in_file(
        path: &Path,
        line: Option<usize>,
        key: Option<&str>,
        message: impl Into<String>,
    ) -> Self {
        Diagnostic {
            origin: path.display().to_string(),
            line,
            key: key.map(str::to_owned),
            message: message.into(),
        }
    }

    /// A problem in a value that came from an environment variable or a flag.
    pub fn in_setting(origin: impl Into<String>, message: impl Into<String>) -> Self {
        Diagnostic {
            origin: origin.into(),
            line: None,
            key: None,
            message: message.into(),
        }
    }
}

impl fmt::Display for Diagnostic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.origin)?;
        if let Some(line) = self.line {
            write!(f, ":{line}")?;
        }
        write!(f, ": ")?;
        if let Some(key) = &self.key {
            write!(f, "`{key}`: ")?;
        }
        write!(f, "{}", self.message)
    }
}

/// Every problem found in one load, so that `candor check-config` can print them all at once.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Diagnostics(pub Vec<Diagnostic>);

impl Diagnostics {
    /// Adds a problem.
    pub fn push(&mut self, diagnostic: Diagnostic) {
        self.0.push(diagnostic);
    }

    /// True when nothing was wrong.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// The problems, in the order they were found.
    pub fn iter(&self) -> impl Iterator<Item = &Diagnostic> {
        self.0.iter()
    }
}

impl fmt::Display for Diagnostics {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let count = self.0.len();
        writeln!(
            f,
            "{count} problem{} in the trust-as-code:",
            if count == 1 { "" } else { "s" }
        )?;
        for d in &self.0 {
            writeln!(f, "  {d}")?;
        }
        Ok(())
    }
}

impl std::error::Error for Diagnostics {}

/// The 1-based line number of a byte offset in `text`.
pub fn line_of(text: &str, offset: usize) -> usize {
    text.as_bytes()
        .iter()
        .take(offset.min(text.len()))
        .filter(|b| **b == b'\n')
        .count()
        + 1
}

/// Turns a TOML parse/deserialise error into a diagnostic pointing at its line.
pub fn from_toml_error(
    path: &Path,
    text: &str,
    line_offset: usize,
    err: &toml::de::Error,
) -> Diagnostic {
    let line = err
        .span()
        .map(|span| line_of(text, span.start) + line_offset);
    // toml's message carries its own excerpt of the source; keep only the first sentence-ish line.
    let message = err.message().trim().to_owned();
    Diagnostic {
        origin: path.display().to_string(),
        line,
        key: None,
        message: tidy_toml_message(&message),
    }
}

fn tidy_toml_message(message: &str) -> String {
    let m = message.replace("unknown field", "unknown key");
    if m.contains("unknown key") {
        format!("{m}; remove it or fix its spelling")
    } else {
        m
    }
}

/// A path relative to `base`, or `path` itself when that is not possible.
pub fn display_path(base: &Path, path: &Path) -> PathBuf {
    path.strip_prefix(base)
        .map(Path::to_path_buf)
        .unwrap_or_else(|_| path.to_path_buf())
}
