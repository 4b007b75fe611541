//! The collector of diagnostics during validation: every check reports here
//! and goes on, so that a user sees all problems of a file at once.

use std::path::{Path, PathBuf};

use crate::diagnostic::{suggest, Diagnostic, Pos, Span};

pub struct Sink {
    file: PathBuf,
    pub diagnostics: Vec<Diagnostic>,
    /// What `${...}` has copied so far, in the units of
    /// [`crate::format::validate::resolve::MAX_COPIED`].
    pub copied: usize,
}

impl Sink {
    pub fn new(file: &Path) -> Sink {
        Sink {
            file: file.to_path_buf(),
            diagnostics: Vec::new(),
            copied: 0,
        }
    }

    pub fn span(&self, pos: Pos) -> Span {
        Span {
            file: self.file.clone(),
            line: pos.line,
            column: pos.column,
            len: pos.len,
        }
    }

    /// Reports an error at `pos`; returns it so a hint can be added.
    pub fn error(&mut self, pos: Pos, message: impl Into<String>) -> &mut Diagnostic {
        let d = Diagnostic::error(message).at(self.span(pos));
        self.push(d)
    }

    /// Reports an error that has no place in the file (the command line).
    pub fn error_unplaced(&mut self, message: impl Into<String>) -> &mut Diagnostic {
        self.push(Diagnostic::error(message))
    }

    fn push(&mut self, d: Diagnostic) -> &mut Diagnostic {
        self.diagnostics.push(d);
        let last = self.diagnostics.len() - 1;
        &mut self.diagnostics[last]
    }

    /// An error about an unknown name, with "did you mean" when one is close.
    pub fn unknown<'a>(
        &mut self,
        pos: Pos,
        message: impl Into<String>,
        word: &str,
        candidates: impl IntoIterator<Item = &'a str>,
    ) -> &mut Diagnostic {
        let candidates: Vec<&str> = candidates.into_iter().collect();
        let hint = match suggest(word, candidates.iter().copied()) {
            Some(s) => format!("did you mean `{s}`?"),
            None if candidates.is_empty() => "nothing of that name is declared here".into(),
            None => {
                let shown: Vec<String> = candidates
                    .iter()
                    .take(12)
                    .map(|c| format!("`{c}`"))
                    .collect();
                format!("expected one of {}", shown.join(", "))
            }
        };
        let d = self.error(pos, message);
        d.hint = Some(hint);
        d
    }

    pub fn has_errors(&self) -> bool {
        self.diagnostics
            .iter()
            .any(|d| d.severity == crate::diagnostic::Severity::Error)
    }
}

/// Sets the hint of a diagnostic already reported (the builder method on
/// [`Diagnostic`] takes it by value).
pub trait SetHint {
    fn set_hint(&mut self, hint: impl Into<String>);
}

impl SetHint for Diagnostic {
    fn set_hint(&mut self, hint: impl Into<String>) {
        self.hint = Some(hint.into());
    }
}
