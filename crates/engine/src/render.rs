//! Rendering of errors and diagnostics: text (with the source line and a
//! caret, like rustc), JSON, and GitHub Actions annotations.
//!
//! The one place that turns [`Error`]s into words for a terminal. Colour is
//! decided by the caller (`--color`, NO_COLOR); nothing here looks at the
//! environment.

use std::collections::HashMap;
use std::fmt::Write as _;
use std::path::PathBuf;

use crate::diagnostic::{Diagnostic, Severity};
use crate::error::Error;

/// ANSI styles, or nothing.
struct Style {
    on: bool,
}

impl Style {
    fn paint(&self, code: &str, text: &str) -> String {
        if self.on {
            format!("\x1b[{code}m{text}\x1b[0m")
        } else {
            text.to_string()
        }
    }
}

const RED: &str = "1;31";
const YELLOW: &str = "1;33";
const BLUE: &str = "1;34";
const CYAN: &str = "1;36";
const BOLD: &str = "1";

/// The text printed to stderr for an error, ending in a newline.
pub fn error(error: &Error, color: bool) -> String {
    let style = Style { on: color };
    let mut out = String::new();
    match error {
        Error::Invalid(diagnostics) => out.push_str(&text(diagnostics, color)),
        // Each failure was printed when it happened; this is the summary.
        Error::StagesFailed(errors) => {
            let names: Vec<String> = errors
                .iter()
                .filter_map(|e| match e {
                    Error::Stage { stage, .. } => Some(format!("`{stage}`")),
                    _ => None,
                })
                .collect();
            let mut message = error.to_string();
            if !names.is_empty() {
                message = format!("{message}: {}", names.join(", "));
            }
            line(&mut out, &style, RED, "error", &message, error.hint());
        }
        _ => line(
            &mut out,
            &style,
            RED,
            "error",
            &error.to_string(),
            error.hint(),
        ),
    }
    out
}

fn line(
    out: &mut String,
    style: &Style,
    code: &str,
    label: &str,
    message: &str,
    hint: Option<&str>,
) {
    let _ = writeln!(
        out,
        "{}: {}",
        style.paint(code, label),
        style.paint(BOLD, message)
    );
    if let Some(hint) = hint {
        let _ = writeln!(out, "  {}: {hint}", style.paint(CYAN, "hint"));
    }
}

/// Every diagnostic with its location, source line and caret, and hint,
/// separated by blank lines.
pub fn text(diagnostics: &[Diagnostic], color: bool) -> String {
    let style = Style { on: color };
    let mut sources: HashMap<PathBuf, Option<String>> = HashMap::new();
    let mut out = String::new();
    for (i, d) in diagnostics.iter().enumerate() {
        if i > 0 {
            out.push('\n');
        }
        let (code, label) = match d.severity {
            Severity::Error => (RED, "error"),
            Severity::Warning => (YELLOW, "warning"),
        };
        let _ = writeln!(
            out,
            "{}: {}",
            style.paint(code, label),
            style.paint(BOLD, &d.message)
        );
        let Some(span) = &d.span else {
            if let Some(hint) = &d.hint {
                let _ = writeln!(out, "  = {}: {hint}", style.paint(CYAN, "hint"));
            }
            continue;
        };
        let source = sources
            .entry(span.file.clone())
            .or_insert_with(|| std::fs::read_to_string(&span.file).ok());
        let source_line = source
            .as_deref()
            .and_then(|s| s.lines().nth(span.line.saturating_sub(1)))
            .map(|l| l.replace('\t', " "));
        let number = span.line.to_string();
        let pad = " ".repeat(number.len());
        let _ = writeln!(
            out,
            "{pad}{} {}:{}:{}",
            style.paint(BLUE, "-->"),
            span.file.display(),
            span.line,
            span.column
        );
        let bar = style.paint(BLUE, "|");
        if let Some(src) = source_line {
            let _ = writeln!(out, "{pad} {bar}");
            let _ = writeln!(out, "{} {bar} {src}", style.paint(BLUE, &number));
            let carets = "^".repeat(span.len.max(1));
            let indent = " ".repeat(span.column.saturating_sub(1));
            let _ = writeln!(out, "{pad} {bar} {indent}{}", style.paint(code, &carets));
        }
        if let Some(hint) = &d.hint {
            let _ = writeln!(out, "{pad} = {}: {hint}", style.paint(CYAN, "hint"));
        }
    }
    out
}

/// A JSON array of diagnostics: `severity`, `message`, `file`, `line`,
/// `column`, `len`, `hint` (location fields null when unknown).
pub fn diagnostics_json(diagnostics: &[Diagnostic]) -> String {
    let items: Vec<serde_json::Value> = diagnostics.iter().map(diagnostic_json).collect();
    serde_json::to_string_pretty(&items).unwrap_or_else(|_| "[]".into())
}

pub fn diagnostic_json(d: &Diagnostic) -> serde_json::Value {
    let span = d.span.as_ref();
    serde_json::json!({
        "severity": match d.severity { Severity::Error => "error", Severity::Warning => "warning" },
        "message": d.message,
        "file": span.map(|s| s.file.display().to_string()),
        "line": span.map(|s| s.line),
        "column": span.map(|s| s.column),
        "len": span.map(|s| s.len),
        "hint": d.hint,
    })
}

/// GitHub Actions workflow commands, one line per diagnostic:
/// `::error file=F,line=L,col=C::message`.
pub fn github(diagnostics: &[Diagnostic]) -> String {
    let mut out = String::new();
    for d in diagnostics {
        let level = match d.severity {
            Severity::Error => "error",
            Severity::Warning => "warning",
        };
        let mut message = d.message.clone();
        if let Some(hint) = &d.hint {
            message.push_str("\nhint: ");
            message.push_str(hint);
        }
        let message = escape_data(&message);
        match &d.span {
            Some(s) => {
                let _ = writeln!(
                    out,
                    "::{level} file={},line={},col={}::{message}",
                    escape_property(&s.file.display().to_string()),
                    s.line,
                    s.column
                );
            }
            None => {
                let _ = writeln!(out, "::{level}::{message}");
            }
        }
    }
    out
}

fn escape_data(s: &str) -> String {
    s.replace('%', "%25")
        .replace('\r', "%0D")
        .replace('\n', "%0A")
}

fn escape_property(s: &str) -> String {
    escape_data(s).replace(':', "%3A").replace(',', "%2C")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::diagnostic::Span;

    #[test]
    fn text_shows_the_line_and_a_caret() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("p.yaml");
        std::fs::write(&file, "version: 1\nstages:\n  a:\n    kind: trian\n").unwrap();
        let d = Diagnostic::error("unknown stage kind `trian`")
            .at(Span {
                file: file.clone(),
                line: 4,
                column: 11,
                len: 5,
            })
            .hint("did you mean `train`?");
        let got = text(&[d], false);
        let expected = format!(
            "error: unknown stage kind `trian`\n --> {}:4:11\n  |\n4 |     kind: trian\n  |           ^^^^^\n  = hint: did you mean `train`?\n",
            file.display()
        );
        assert_eq!(got, expected);
    }

    #[test]
    fn github_escapes() {
        let d = Diagnostic::error("a, b: 100%").at(Span {
            file: "x,y.yaml".into(),
            line: 2,
            column: 3,
            len: 1,
        });
        assert_eq!(
            github(&[d]),
            "::error file=x%2Cy.yaml,line=2,col=3::a, b: 100%25\n"
        );
    }

    #[test]
    fn failed_stages_are_summarised_by_name() {
        let stage = |name: &str| Error::Stage {
            stage: name.into(),
            message: "exit status 1".into(),
            hint: None,
        };
        let e = Error::StagesFailed(vec![stage("a"), stage("t[x]")]);
        assert_eq!(error(&e, false), "error: 2 stages failed: `a`, `t[x]`\n");
    }

    #[test]
    fn other_errors_are_one_line_and_a_hint() {
        let e = Error::environment("no CUDA").with_hint("run `pipe doctor`");
        assert_eq!(
            error(&e, false),
            "error: no CUDA\n  hint: run `pipe doctor`\n"
        );
    }
}
