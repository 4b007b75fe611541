//! Diagnostics about pipeline files: what is wrong, where, and how to fix it.
//!
//! Validation collects every [`Diagnostic`] rather than stopping at the first.
//! Rendering (text with the source line, JSON, GitHub Actions annotations)
//! lives in `render`; the data here carries no formatting.

pub mod sink;

use std::path::PathBuf;

/// Where a node was written: 1-based line and column, length in characters
/// on that line (0 when unknown, e.g. a block mapping).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Pos {
    pub line: usize,
    pub column: usize,
    pub len: usize,
}

/// A position in a pipeline file. Lines and columns are 1-based.
#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub struct Span {
    pub file: PathBuf,
    pub line: usize,
    pub column: usize,
    /// Length in characters of the offending text on that line (0: unknown).
    pub len: usize,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Severity {
    Error,
    Warning,
}

/// One problem found in a pipeline file or on the command line.
#[derive(Clone, Debug, PartialEq)]
pub struct Diagnostic {
    pub severity: Severity,
    /// Lower-case, names things in backticks: "unknown stage kind `trian`".
    pub message: String,
    pub span: Option<Span>,
    /// A suggested fix: "did you mean `train`?".
    pub hint: Option<String>,
}

impl Diagnostic {
    pub fn error(message: impl Into<String>) -> Diagnostic {
        Diagnostic {
            severity: Severity::Error,
            message: message.into(),
            span: None,
            hint: None,
        }
    }

    pub fn warning(message: impl Into<String>) -> Diagnostic {
        Diagnostic {
            severity: Severity::Warning,
            ..Diagnostic::error(message)
        }
    }

    pub fn at(mut self, span: Span) -> Diagnostic {
        self.span = Some(span);
        self
    }

    pub fn hint(mut self, hint: impl Into<String>) -> Diagnostic {
        self.hint = Some(hint.into());
        self
    }
}

/// The closest candidate to `word` by edit distance, if close enough to be a
/// plausible typo ("trian" -> "train").
pub fn suggest<'a>(word: &str, candidates: impl IntoIterator<Item = &'a str>) -> Option<&'a str> {
    let max = (word.chars().count() / 3).max(1);
    candidates
        .into_iter()
        .map(|c| (edit_distance(word, c), c))
        .filter(|(d, _)| *d <= max)
        .min_by_key(|(d, _)| *d)
        .map(|(_, c)| c)
}

/// The hint for an unknown name among `names`: the likely typo, or what
/// `owner` does take ("kind `train` takes `data`, `weights`").
pub fn unknown_name_hint(word: &str, names: &[&str], owner: &str, what: &str) -> String {
    match suggest(word, names.iter().copied()) {
        Some(s) => format!("did you mean `{s}`?"),
        None if names.is_empty() => format!("{owner} takes no {what}"),
        None => {
            let list: Vec<String> = names.iter().map(|n| format!("`{n}`")).collect();
            format!("{owner} takes {}", list.join(", "))
        }
    }
}

/// Levenshtein distance, counting a transposition of neighbours as one edit.
pub fn edit_distance(a: &str, b: &str) -> usize {
    let a: Vec<char> = a.chars().collect();
    let b: Vec<char> = b.chars().collect();
    let mut d = vec![vec![0usize; b.len() + 1]; a.len() + 1];
    for (i, row) in d.iter_mut().enumerate() {
        row[0] = i;
    }
    for (j, cell) in d[0].iter_mut().enumerate() {
        *cell = j;
    }
    for i in 1..=a.len() {
        for j in 1..=b.len() {
            let cost = usize::from(a[i - 1] != b[j - 1]);
            d[i][j] = (d[i - 1][j] + 1)
                .min(d[i][j - 1] + 1)
                .min(d[i - 1][j - 1] + cost);
            if i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] {
                d[i][j] = d[i][j].min(d[i - 2][j - 2] + 1);
            }
        }
    }
    d[a.len()][b.len()]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn suggests_close_names_only() {
        assert_eq!(suggest("trian", ["train", "plot", "report"]), Some("train"));
        assert_eq!(suggest("xyz", ["train", "plot"]), None);
    }
}
