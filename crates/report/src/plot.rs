//! Figures of per-epoch curves of one metric, one series per training run,
//! as PNG and SVG: what the `plot` stage kind (`kinds/plot.rs`) and
//! `pipe exp plot` draw.

mod chart;
mod log_axis;
mod render;
mod ticks;
mod typeset;

use pipe_engine::{Error, Result};

pub use chart::{Figure, Series};
pub use render::{png, svg};

use crate::metrics::{as_fractions, Metrics};

/// The metrics a figure can show: every column but the epoch.
pub const METRICS: &[&str] = &["train_loss", "train_acc", "test_loss", "test_acc", "lr"];

/// Whether a column is an accuracy (drawn in percent, as tables show it).
fn is_accuracy(metric: &str) -> bool {
    metric.ends_with("_acc")
}

/// A metric's name in words for the y axis: `test loss`, `test accuracy (%)`.
pub fn y_label(metric: &str) -> String {
    let words = metric
        .replace('_', " ")
        .replace("acc", "accuracy")
        .replace("images per s", "images/s");
    if is_accuracy(metric) {
        format!("{words} (%)")
    } else {
        words
    }
}

/// One labelled curve of `metric` from a per-epoch table: accuracies in
/// percent; with `log_y`, every value must be positive.
pub fn curve(metrics: &Metrics, metric: &str, label: String, log_y: bool) -> Result<Series> {
    let mut points = metrics.series(metric)?;
    if points.is_empty() {
        return Err(Error::bad_data(
            &metrics.path,
            format!("`{metric}` has no finite value"),
        ));
    }
    if is_accuracy(metric) {
        points = as_fractions(points)
            .into_iter()
            .map(|(e, a)| (e, a * 100.0))
            .collect();
    }
    if log_y {
        if let Some((e, v)) = points.iter().find(|p| p.1 <= 0.0) {
            return Err(Error::bad_data(
                &metrics.path,
                format!("`log_y` needs positive values, but `{metric}` is {v} at epoch {e}"),
            )
            .with_hint("set `log_y: false` for this figure"));
        }
    }
    Ok(Series { label, points })
}

pub(crate) fn write(dir: &std::path::Path, name: &str, bytes: &[u8]) -> Result<()> {
    let path = dir.join(name);
    std::fs::write(&path, bytes).map_err(|e| Error::io(path, "write", e))
}
