//! What training and evaluation measure: per-epoch rows of `metrics.csv`,
//! and a [`Tally`] of loss, accuracy and the confusion matrix over a split.
//!
//! Losses are summed per sample in f64 and divided once at the end, so a
//! split's loss does not depend on the evaluation batch size beyond float
//! rounding inside libtorch.

use std::path::Path;

use pipe_engine::{Error, Result};
use serde::{Deserialize, Serialize};
use tch::{Kind, Reduction, Tensor};

/// One row of `metrics.csv`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct EpochRow {
    /// 1-based.
    pub epoch: usize,
    pub train_loss: f64,
    pub train_acc: f64,
    pub test_loss: f64,
    pub test_acc: f64,
    pub lr: f64,
}

impl EpochRow {
    /// Number of f64 fields when a row is stored as a tensor row.
    pub const WIDTH: usize = 6;

    pub fn to_array(&self) -> [f64; Self::WIDTH] {
        [
            self.epoch as f64,
            self.train_loss,
            self.train_acc,
            self.test_loss,
            self.test_acc,
            self.lr,
        ]
    }

    pub fn from_array(a: &[f64]) -> Option<EpochRow> {
        let [epoch, train_loss, train_acc, test_loss, test_acc, lr] = *a else {
            return None;
        };
        Some(EpochRow {
            epoch: epoch as usize,
            train_loss,
            train_acc,
            test_loss,
            test_acc,
            lr,
        })
    }
}

/// Writes `rows` as `metrics.csv` (with a header).
pub fn write_csv(path: &Path, rows: &[EpochRow]) -> Result<()> {
    let io = |e: csv::Error| match e.into_kind() {
        csv::ErrorKind::Io(e) => Error::io(path, "write", e),
        other => Error::internal(format!("csv: {other:?}")),
    };
    let mut w = csv::Writer::from_path(path).map_err(io)?;
    for row in rows {
        w.serialize(row).map_err(io)?;
    }
    w.flush().map_err(|e| Error::io(path, "write", e))
}

/// Reads a `metrics.csv` written by [`write_csv`]. Its columns are results
/// only: no timings, which differ between two runs of the same training
/// (they are measurements, [`crate::train::timing`]).
pub fn read_csv(path: &Path) -> Result<Vec<EpochRow>> {
    let mut r = csv::Reader::from_path(path).map_err(|e| Error::bad_data(path, e.to_string()))?;
    r.deserialize()
        .collect::<Result<Vec<EpochRow>, _>>()
        .map_err(|e| Error::bad_data(path, format!("not a metrics file: {e}")))
}

/// Running totals over the batches of a split.
#[derive(Clone, Debug)]
pub struct Tally {
    pub loss_sum: f64,
    pub correct: f64,
    pub count: usize,
    /// `confusion[true][predicted]`.
    pub confusion: Vec<Vec<u64>>,
}

impl Tally {
    pub fn new(classes: usize) -> Tally {
        Tally {
            loss_sum: 0.0,
            correct: 0.0,
            count: 0,
            confusion: vec![vec![0; classes]; classes],
        }
    }

    /// Adds a batch of logits `[B, C]` and index labels `[B]`.
    pub fn add(&mut self, logits: &Tensor, labels: &Tensor) -> Result<()> {
        let logits = logits.to_kind(Kind::Float);
        let loss = logits.cross_entropy_loss::<Tensor>(labels, None, Reduction::Sum, -100, 0.0);
        self.loss_sum += loss.double_value(&[]);
        let pred = logits.argmax(1, false).to_device(tch::Device::Cpu);
        let truth = labels.to_device(tch::Device::Cpu);
        let pred = Vec::<i64>::try_from(&pred).map_err(|e| Error::internal(e.to_string()))?;
        let truth = Vec::<i64>::try_from(&truth).map_err(|e| Error::internal(e.to_string()))?;
        let classes = self.confusion.len();
        for (&t, &p) in truth.iter().zip(&pred) {
            let (t, p) = (
                usize::try_from(t).unwrap_or(usize::MAX),
                usize::try_from(p).unwrap_or(usize::MAX),
            );
            if t >= classes || p >= classes {
                return Err(Error::failed(format!(
                    "label {t} or prediction {p} is outside the {classes} classes"
                ))
                .with_hint("set `num_classes` to the number of classes in the data"));
            }
            self.confusion[t][p] += 1;
            if t == p {
                self.correct += 1.0;
            }
        }
        self.count += truth.len();
        Ok(())
    }

    pub fn loss(&self) -> f64 {
        self.loss_sum / self.count.max(1) as f64
    }

    pub fn accuracy(&self) -> f64 {
        self.correct / self.count.max(1) as f64
    }

    /// Per class: correct / number of samples of that class (`NaN` when the
    /// class does not occur).
    pub fn per_class_accuracy(&self) -> Vec<f64> {
        self.confusion
            .iter()
            .enumerate()
            .map(|(i, row)| {
                let n: u64 = row.iter().sum();
                if n == 0 {
                    f64::NAN
                } else {
                    row[i] as f64 / n as f64
                }
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rows_round_trip_through_csv() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("metrics.csv");
        let row = EpochRow {
            epoch: 1,
            train_loss: 0.1 + 0.2,
            train_acc: 0.5,
            test_loss: 1e-17,
            test_acc: 1.0 / 3.0,
            lr: 0.001,
        };
        write_csv(&path, std::slice::from_ref(&row)).unwrap();
        assert_eq!(read_csv(&path).unwrap(), vec![row.clone()]);
        assert_eq!(EpochRow::from_array(&row.to_array()), Some(row));
    }

    #[test]
    fn tally_counts() {
        let logits = Tensor::from_slice(&[2.0f32, 0.0, 0.0, 1.0, 3.0, 0.0]).view([3, 2]);
        let labels = Tensor::from_slice(&[0i64, 1, 1]);
        let mut t = Tally::new(2);
        t.add(&logits, &labels).unwrap();
        assert_eq!(t.confusion, vec![vec![1, 0], vec![1, 1]]);
        assert!((t.accuracy() - 2.0 / 3.0).abs() < 1e-12);
        let manual = [
            -(2f64.exp() / (2f64.exp() + 1.0)).ln(),
            -(1f64.exp() / (1f64.exp() + 1.0)).ln(),
            -(1.0 / (3f64.exp() + 1.0)).ln(),
        ];
        assert!((t.loss() - manual.iter().sum::<f64>() / 3.0).abs() < 1e-6);
        assert_eq!(t.per_class_accuracy(), vec![1.0, 0.5]);
    }
}
