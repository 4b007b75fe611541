//! Reporting stage kinds for `pipe`: `plot` (per-epoch metric curves, PNG and
//! SVG) and `report` (Markdown and self-contained HTML results).

use pipe_engine::Registry;

/// Adds this crate's stage kinds to `registry`.
pub fn register(_registry: &mut Registry) {}
