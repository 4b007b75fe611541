//! `run.json`: what a training run was and what it reached, for reports
//! and for people (which device, which libtorch, the best epoch). How long
//! it took is a measurement of the run, in the result's manifest
//! ([`super::timing`]), so that the same training gives the same file.

use std::path::Path;

use pipe_engine::{Error, Result};
use serde::Serialize;
use tch::Device;

use super::spec::TrainSpec;
use crate::metrics::EpochRow;

/// The content of `run.json`.
#[derive(Clone, Debug, Serialize)]
pub struct Summary {
    pub model: String,
    pub mode: &'static str,
    pub optimizer: &'static str,
    pub lr: f64,
    pub batch_size: usize,
    pub num_classes: i64,
    pub image_size: i64,
    pub seed: u64,
    pub epochs: usize,
    pub best_epoch: usize,
    pub min_test_loss: f64,
    pub best_test_acc: f64,
    pub final_train_loss: f64,
    pub final_test_loss: f64,
    pub device: String,
    pub amp: &'static str,
    pub channels_last: bool,
    pub libtorch: Option<String>,
    pub cuda: Option<String>,
    pub params_total: i64,
    pub params_trainable: i64,
}

impl Summary {
    pub fn new(
        spec: &TrainSpec,
        rows: &[EpochRow],
        best_epoch: usize,
        image_size: i64,
        device: Device,
        (total, trainable): (i64, i64),
    ) -> Summary {
        let best = rows.iter().find(|r| r.epoch == best_epoch);
        let last = rows.last();
        Summary {
            model: spec.model.clone(),
            mode: spec.mode.name(),
            optimizer: spec.optim.name(),
            lr: spec.optim.lr(),
            batch_size: spec.batch_size,
            num_classes: spec.num_classes,
            image_size,
            seed: spec.seed,
            epochs: spec.epochs,
            best_epoch,
            min_test_loss: best.map_or(f64::NAN, |r| r.test_loss),
            best_test_acc: rows.iter().map(|r| r.test_acc).fold(f64::NAN, f64::max),
            final_train_loss: last.map_or(f64::NAN, |r| r.train_loss),
            final_test_loss: last.map_or(f64::NAN, |r| r.test_loss),
            device: crate::device::describe(device),
            amp: if spec.bf16 { "bf16" } else { "none" },
            channels_last: spec.channels_last,
            libtorch: crate::doctor::libtorch_version(),
            cuda: crate::doctor::cuda_version(),
            params_total: total,
            params_trainable: trainable,
        }
    }

    pub fn write(&self, path: &Path) -> Result<()> {
        let text =
            serde_json::to_string_pretty(self).map_err(|e| Error::internal(e.to_string()))?;
        std::fs::write(path, text + "\n").map_err(|e| Error::io(path, "write", e))
    }
}
