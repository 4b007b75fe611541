//! The report's content, independent of its format: a title, provenance,
//! the results table, figures and notes. `markdown` and `html` render it.

use super::provenance::Provenance;

/// A table of text cells; the first column names the run.
#[derive(Clone, Debug, Default)]
pub struct Table {
    pub header: Vec<String>,
    pub rows: Vec<Vec<String>>,
}

/// A figure from a `plot` stage.
#[derive(Clone, Debug)]
pub struct Figure {
    pub stage: String,
    pub caption: String,
    /// The file name the Markdown links to (copied beside `report.md`).
    pub file_name: String,
    pub png: Vec<u8>,
    /// The same figure as SVG (what the HTML inlines), if the stage wrote one.
    pub svg: Option<String>,
}

/// A run's confusion matrix, drawn as an SVG heatmap.
#[derive(Clone, Debug)]
pub struct Confusion {
    /// The training run.
    pub stage: String,
    /// The `evaluate` stage that measured it.
    pub evaluation: String,
    /// The file the Markdown links to (written beside `report.md`).
    pub file_name: String,
    pub svg: String,
}

#[derive(Clone, Debug)]
pub struct Document {
    pub title: String,
    pub provenance: Provenance,
    pub table: Table,
    /// What the published column means, e.g. "published: minimum test loss".
    pub reference_note: Option<String>,
    /// `reference` entries that selected no run (likely typos).
    pub unused_references: Vec<String>,
    pub figures: Vec<Figure>,
    /// Free text from the pipeline, in Markdown.
    pub notes: String,
    /// Per run, the test accuracy of each class (header: `run`, class names).
    pub per_class: Option<Table>,
    pub confusions: Vec<Confusion>,
}

/// Format helpers shared by both renderers.
pub mod fmt {
    /// A loss with four decimals; tiny ones in scientific notation, so
    /// that a near-perfect run does not read `0.0000`.
    pub fn loss(v: f64) -> String {
        if v != 0.0 && v.abs() < 1e-3 {
            format!("{v:.2e}")
        } else {
            format!("{v:.4}")
        }
    }

    /// A fraction as a percentage with two decimals.
    pub fn percent(v: f64) -> String {
        format!("{:.2}%", v * 100.0)
    }

    /// A duration in the largest sensible units.
    pub fn duration(secs: f64) -> String {
        if !secs.is_finite() || secs < 0.0 {
            return "-".into();
        }
        if secs < 60.0 {
            return format!("{secs:.1} s");
        }
        let s = secs.round() as u64;
        if s < 3600 {
            format!("{}m {:02}s", s / 60, s % 60)
        } else {
            format!("{}h {:02}m", s / 3600, s % 3600 / 60)
        }
    }

    pub fn rate(v: f64) -> String {
        format!("{v:.1}")
    }

    #[cfg(test)]
    mod tests {
        use super::*;

        #[test]
        fn formats() {
            assert_eq!(loss(0.116_64), "0.1166");
            assert_eq!(loss(0.000_012_97), "1.30e-5");
            assert_eq!(percent(0.0312), "3.12%");
            assert_eq!(duration(42.14), "42.1 s");
            assert_eq!(duration(725.0), "12m 05s");
            assert_eq!(duration(7500.0), "2h 05m");
        }
    }
}
