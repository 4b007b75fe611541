//! Reporting stage kinds for `pipe`: `plot` (per-epoch metric curves, PNG and
//! SVG) and `report` (Markdown and self-contained HTML results).
//!
//! Both read training stages' `metrics.csv` and `run.json` through
//! [`metrics`]; neither knows how training works.

pub mod experiments;
mod font;
pub mod kinds;
pub mod label;
pub mod metrics;
pub mod plot;
pub mod report;

use pipe_engine::Registry;

/// Adds this crate's stage kinds to `registry`.
pub fn register(registry: &mut Registry) {
    registry.add_all(kinds::KINDS);
}
