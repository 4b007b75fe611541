//! Rendering of errors and diagnostics: text (with the source line and a
//! caret), JSON, and GitHub Actions annotations.

use crate::error::Error;

/// The text printed to stderr for an error, ending in a newline.
pub fn error(error: &Error, _color: bool) -> String {
    let mut out = format!("error: {error}\n");
    if let Some(hint) = error.hint() {
        out.push_str(&format!("  hint: {hint}\n"));
    }
    out
}
