//! Reading a training stage's results: `metrics.csv` (one row per epoch) and
//! `run.json` (the run's facts: device, versions). Timings are not among
//! them: they are the run's measurements, in its manifest.
//!
//! Both `plot` and `report` read runs through here, so a malformed file is
//! reported the same way everywhere: the file, the line, what was expected.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use pipe_engine::{Artifact, Error, Result, Value};

/// The columns the `train` kind writes, in order.
pub const COLUMNS: [&str; 6] = [
    "epoch",
    "train_loss",
    "train_acc",
    "test_loss",
    "test_acc",
    "lr",
];

/// The per-epoch table of one run.
#[derive(Clone, Debug)]
pub struct Metrics {
    pub path: PathBuf,
    pub columns: Vec<String>,
    /// One entry per data row, values in `columns` order.
    pub rows: Vec<Vec<f64>>,
}

impl Metrics {
    /// Reads and checks a metrics CSV: a header with an `epoch` column, then
    /// rows of numbers (`nan` and `inf` are accepted: a diverged run is data).
    pub fn read(path: &Path) -> Result<Metrics> {
        let file = std::fs::File::open(path).map_err(|e| Error::io(path, "read", e))?;
        let mut reader = csv::ReaderBuilder::new().flexible(true).from_reader(file);
        let header = reader
            .headers()
            .map_err(|e| Error::bad_data(path, format!("cannot read the header: {e}")))?;
        let columns: Vec<String> = header.iter().map(|c| c.trim().to_string()).collect();
        if !columns.iter().any(|c| c == "epoch") {
            return Err(
                Error::bad_data(path, "the header has no `epoch` column").with_hint(format!(
                    "a training stage writes the columns {}",
                    COLUMNS.join(",")
                )),
            );
        }
        let mut rows = Vec::new();
        for record in reader.records() {
            let record =
                record.map_err(|e| Error::bad_data(path, format!("cannot read a row: {e}")))?;
            let line = record.position().map_or(0, csv::Position::line);
            if record.len() != columns.len() {
                return Err(Error::bad_data(
                    path,
                    format!(
                        "line {line}: {} fields where the header has {}",
                        record.len(),
                        columns.len()
                    ),
                ));
            }
            let mut row = Vec::with_capacity(columns.len());
            for (field, column) in record.iter().zip(&columns) {
                let value = field.trim().parse::<f64>().map_err(|_| {
                    Error::bad_data(
                        path,
                        format!("line {line}: `{column}` is `{field}`, not a number"),
                    )
                })?;
                row.push(value);
            }
            rows.push(row);
        }
        if rows.is_empty() {
            return Err(Error::bad_data(path, "no epochs recorded (only a header)")
                .with_hint("the training stage wrote no rows; check its log"));
        }
        Ok(Metrics {
            path: path.to_path_buf(),
            columns,
            rows,
        })
    }

    /// The index of a column, or an error naming the columns present.
    pub fn index(&self, column: &str) -> Result<usize> {
        self.columns
            .iter()
            .position(|c| c == column)
            .ok_or_else(|| {
                Error::bad_data(
                    &self.path,
                    format!("no column `{column}` (it has: {})", self.columns.join(", ")),
                )
            })
    }

    /// All values of a column, in row order.
    pub fn column(&self, column: &str) -> Result<Vec<f64>> {
        let i = self.index(column)?;
        Ok(self.rows.iter().map(|r| r[i]).collect())
    }

    /// (epoch, value) pairs of a column, skipping non-finite values.
    pub fn series(&self, column: &str) -> Result<Vec<(i64, f64)>> {
        let epochs = self.column("epoch")?;
        let values = self.column(column)?;
        Ok(epochs
            .into_iter()
            .zip(values)
            .filter(|(e, v)| e.is_finite() && v.is_finite())
            .map(|(e, v)| (e.round() as i64, v))
            .collect())
    }
}

/// Accuracies as fractions: a series written in percent (any value above
/// 1) is divided by 100, so that both spellings of a run compare.
pub fn as_fractions(series: Vec<(i64, f64)>) -> Vec<(i64, f64)> {
    let scale = if series.iter().any(|p| p.1 > 1.0 + 1e-9) {
        100.0
    } else {
        1.0
    };
    series.into_iter().map(|(e, a)| (e, a / scale)).collect()
}

/// `run.json` of a training stage: kept as JSON and read leniently, since
/// only a few fields matter here and their absence is not an error.
#[derive(Clone, Debug, Default)]
pub struct RunInfo(pub serde_json::Map<String, serde_json::Value>);

impl RunInfo {
    pub fn read(path: &Path) -> Result<RunInfo> {
        let text = std::fs::read_to_string(path).map_err(|e| Error::io(path, "read", e))?;
        match serde_json::from_str(&text) {
            Ok(serde_json::Value::Object(map)) => Ok(RunInfo(map)),
            Ok(_) => Err(Error::bad_data(path, "not a JSON object")),
            Err(e) => Err(Error::bad_data(path, format!("not valid JSON: {e}"))),
        }
    }

    /// The first of `keys` holding a string (or a number, shown as text).
    pub fn text(&self, keys: &[&str]) -> Option<String> {
        keys.iter().find_map(|k| match self.0.get(*k)? {
            serde_json::Value::String(s) if !s.is_empty() => Some(s.clone()),
            serde_json::Value::Number(n) => Some(n.to_string()),
            _ => None,
        })
    }

    /// The first of `keys` holding a number.
    pub fn number(&self, keys: &[&str]) -> Option<f64> {
        keys.iter().find_map(|k| self.0.get(*k)?.as_f64())
    }
}

/// One training stage's results as the reporting kinds see them.
#[derive(Clone, Debug)]
pub struct Run {
    pub stage: String,
    pub matrix: BTreeMap<String, Value>,
    pub metrics: Metrics,
    /// Empty when the stage wrote no `run.json`.
    pub info: RunInfo,
}

impl Run {
    /// Reads `metrics.csv` (required) and `run.json` (optional) of a stage.
    pub fn load(artifact: &Artifact) -> Result<Run> {
        let csv = artifact.file("metrics.csv").map_err(|e| {
            e.with_hint(
                "`runs` must name training stages (kind `train`), which write `metrics.csv`",
            )
        })?;
        let metrics = Metrics::read(csv)?;
        let info = match artifact.files.get("run.json") {
            Some(path) => RunInfo::read(path)?,
            None => RunInfo::default(),
        };
        Ok(Run {
            stage: artifact.stage.clone(),
            matrix: artifact.matrix.clone(),
            metrics,
            info,
        })
    }
}
