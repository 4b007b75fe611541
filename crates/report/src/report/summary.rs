//! The numbers the report shows for one run, computed from its
//! `metrics.csv` (the source of truth) and `run.json` (device, versions).
//! Timings are not results: two runs of the same training give the same
//! report (`pipe exp show` shows the runs' measured speed).

use std::collections::BTreeMap;

use pipe_engine::{Result, Value};

use crate::metrics::{as_fractions, Run};

/// One run's results.
#[derive(Clone, Debug)]
pub struct Summary {
    pub stage: String,
    pub matrix: BTreeMap<String, Value>,
    pub epochs: usize,
    /// The lowest test loss and the epoch it was reached at (the first, on ties).
    pub min_test_loss: f64,
    pub min_epoch: i64,
    /// 1 - test accuracy at `min_epoch` (a fraction), if accuracy was recorded.
    pub error_at_min: Option<f64>,
    /// The best test accuracy (a fraction) and its epoch.
    pub best_test_acc: Option<(f64, i64)>,
    pub final_train_loss: Option<f64>,
    pub device: Option<String>,
    pub libtorch: Option<String>,
    pub cuda: Option<String>,
    /// What the run was made with, for the parameter columns: (name, value)
    /// from `run.json` (model, mode, optimizer, lr) and the matrix.
    pub settings: Vec<(String, String)>,
}

/// The `run.json` fields shown as parameter columns, in this order.
const SETTINGS: [&str; 4] = ["model", "mode", "optimizer", "lr"];

impl Summary {
    pub fn of(run: &Run) -> Result<Summary> {
        let m = &run.metrics;
        let losses = m.series("test_loss")?;
        let Some(&(min_epoch, min_test_loss)) =
            losses.iter().reduce(|a, b| if b.1 < a.1 { b } else { a })
        else {
            return Err(
                pipe_engine::Error::bad_data(&m.path, "`test_loss` has no finite value")
                    .with_hint("the run diverged in every epoch; check its learning rate"),
            );
        };
        let acc = optional(m, "test_acc")?.map(as_fractions);
        let error_at_min = acc
            .as_ref()
            .and_then(|a| a.iter().find(|p| p.0 == min_epoch))
            .map(|p| 1.0 - p.1);
        let best_test_acc = acc
            .as_ref()
            .and_then(|a| {
                a.iter()
                    .copied()
                    .reduce(|x, y| if y.1 > x.1 { y } else { x })
            })
            .map(|(e, a)| (a, e));
        let final_train_loss = optional(m, "train_loss")?.and_then(|s| s.last().map(|p| p.1));
        Ok(Summary {
            stage: run.stage.clone(),
            matrix: run.matrix.clone(),
            epochs: m.rows.len(),
            min_test_loss,
            min_epoch,
            error_at_min,
            best_test_acc,
            final_train_loss,
            device: run.info.text(&["device_name", "device"]),
            libtorch: run
                .info
                .text(&["libtorch_version", "libtorch", "torch_version"]),
            cuda: run.info.text(&["cuda_version", "cuda"]),
            settings: settings(run),
        })
    }

    /// The value a reference number compares with (see `reference_metric`).
    pub fn metric(&self, name: &str) -> Option<f64> {
        match name {
            "min_test_loss" => Some(self.min_test_loss),
            "error_rate" => self.error_at_min,
            "best_test_acc" => self.best_test_acc.map(|p| p.0),
            _ => None,
        }
    }

    pub fn to_json(&self) -> serde_json::Value {
        serde_json::json!({
            "stage": self.stage,
            "matrix": Value::Map(self.matrix.clone()).to_json(),
            "epochs": self.epochs,
            "min_test_loss": self.min_test_loss,
            "min_epoch": self.min_epoch,
            "error_at_min": self.error_at_min,
            "best_test_acc": self.best_test_acc.map(|p| p.0),
            "best_test_acc_epoch": self.best_test_acc.map(|p| p.1),
            "final_train_loss": self.final_train_loss,
            "device": self.device,
        })
    }
}

fn settings(run: &Run) -> Vec<(String, String)> {
    let mut out: Vec<(String, String)> = SETTINGS
        .iter()
        .filter_map(|k| {
            let v = run
                .info
                .text(&[k])
                .or_else(|| run.matrix.get(*k).map(ToString::to_string))?;
            Some((k.to_string(), v))
        })
        .collect();
    for (k, v) in &run.matrix {
        if !SETTINGS.contains(&k.as_str()) {
            out.push((k.clone(), v.to_string()));
        }
    }
    out
}

/// A column's series if the CSV has that column.
fn optional(m: &crate::metrics::Metrics, column: &str) -> Result<Option<Vec<(i64, f64)>>> {
    if m.columns.iter().any(|c| c == column) {
        m.series(column).map(Some)
    } else {
        Ok(None)
    }
}
