//! Per-epoch checkpoints, so that no run is lost to a crash or a kill.
//!
//! After epoch `e` the run writes `work/epoch-000e/` holding
//! `last.safetensors` (every model variable, BatchNorm statistics too, by
//! torchvision name), `best.safetensors` (the weights of the epoch with the
//! lowest test loss so far) and `state.safetensors` (optimizer state, the
//! epoch counter, the best epoch and all metric rows so far). The directory
//! is written under a temporary name and renamed, so it is either complete
//! or absent; older ones are removed afterwards. The same three files are
//! also stage outputs, which is how a run with more epochs continues a
//! cached shorter one. No RNG state is saved: every random choice of epoch
//! `e` is seeded from `(seed, e)`.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use pipe_engine::{Error, Result};
use tch::{nn::VarStore, Kind, Tensor};

use crate::metrics::EpochRow;
use crate::optim::Optimizer;

/// Where a resumable state lies (a checkpoint directory or a cached
/// stage's outputs).
#[derive(Clone, Debug)]
pub struct Saved {
    pub last: PathBuf,
    pub best: PathBuf,
    pub state: PathBuf,
}

impl Saved {
    pub fn in_dir(dir: &Path) -> Saved {
        Saved {
            last: dir.join("last.safetensors"),
            best: dir.join("best.safetensors"),
            state: dir.join("state.safetensors"),
        }
    }
}

/// What `state.safetensors` holds besides the optimizer's tensors.
pub struct Progress {
    pub epoch: usize,
    pub best_epoch: usize,
    pub rows: Vec<EpochRow>,
    pub optim: BTreeMap<String, Tensor>,
}

fn dir_name(epoch: usize) -> String {
    format!("epoch-{epoch:04}")
}

/// The newest complete checkpoint in `work`, with its epoch.
pub fn latest(work: &Path) -> Result<Option<(usize, Saved)>> {
    let entries = match std::fs::read_dir(work) {
        Ok(e) => e,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(Error::io(work, "read", e)),
    };
    let mut best: Option<(usize, PathBuf)> = None;
    for entry in entries {
        let entry = entry.map_err(|e| Error::io(work, "read", e))?;
        let name = entry.file_name();
        let Some(epoch) = name
            .to_str()
            .and_then(|n| n.strip_prefix("epoch-"))
            .and_then(|n| n.parse::<usize>().ok())
        else {
            continue;
        };
        if best.as_ref().is_none_or(|(e, _)| epoch > *e) {
            best = Some((epoch, entry.path()));
        }
    }
    Ok(best.map(|(e, dir)| (e, Saved::in_dir(&dir))))
}

/// Which weights are the best so far.
pub struct Best<'a> {
    pub epoch: usize,
    /// This epoch's weights are the new best.
    pub now: bool,
    /// Otherwise the best weights are carried over from this file.
    pub previous: Option<&'a Path>,
}

/// Writes the checkpoint of `epoch` into `work`.
pub fn save(
    work: &Path,
    epoch: usize,
    vs: &VarStore,
    optim: &Optimizer,
    rows: &[EpochRow],
    best: Best,
) -> Result<Saved> {
    let Best {
        epoch: best_epoch,
        now: best_now,
        previous: previous_best,
    } = best;
    std::fs::create_dir_all(work).map_err(|e| Error::io(work, "create", e))?;
    let tmp = work.join(format!(".{}.tmp", dir_name(epoch)));
    if tmp.exists() {
        std::fs::remove_dir_all(&tmp).map_err(|e| Error::io(&tmp, "remove", e))?;
    }
    std::fs::create_dir_all(&tmp).map_err(|e| Error::io(&tmp, "create", e))?;
    let files = Saved::in_dir(&tmp);
    save_weights(vs, &files.last, optim.steps())?;
    if best_now {
        link_or_copy(&files.last, &files.best)?;
    } else if let Some(prev) = previous_best {
        link_or_copy(prev, &files.best)?;
    }
    write_state(&files.state, epoch, best_epoch, rows, optim)?;
    let dir = work.join(dir_name(epoch));
    if dir.exists() {
        std::fs::remove_dir_all(&dir).map_err(|e| Error::io(&dir, "remove", e))?;
    }
    std::fs::rename(&tmp, &dir).map_err(|e| Error::io(&dir, "create", e))?;
    // Older checkpoints are superseded; a failure to remove one only costs disk.
    if let Ok(entries) = std::fs::read_dir(work) {
        for entry in entries.flatten() {
            let name = entry.file_name();
            let name = name.to_string_lossy();
            if name.starts_with("epoch-") && name != dir_name(epoch) {
                let _ = std::fs::remove_dir_all(entry.path());
            }
        }
    }
    Ok(Saved::in_dir(&dir))
}

fn write_state(
    path: &Path,
    epoch: usize,
    best_epoch: usize,
    rows: &[EpochRow],
    optim: &Optimizer,
) -> Result<()> {
    let flat: Vec<f64> = rows.iter().flat_map(|r| r.to_array()).collect();
    let metrics = Tensor::from_slice(&flat).view([rows.len() as i64, EpochRow::WIDTH as i64]);
    let mut tensors = vec![
        (
            "meta.epoch".to_string(),
            Tensor::from_slice(&[epoch as i64]),
        ),
        (
            "meta.best_epoch".to_string(),
            Tensor::from_slice(&[best_epoch as i64]),
        ),
        ("meta.metrics".to_string(), metrics),
    ];
    for (name, t) in optim.state_tensors() {
        tensors.push((name, t.to_device(tch::Device::Cpu).contiguous()));
    }
    Tensor::write_safetensors(&tensors, path)
        .map_err(|e| Error::failed(format!("cannot write `{}`: {e}", path.display())))
}

/// Reads a `state.safetensors`.
pub fn read_state(path: &Path) -> Result<Progress> {
    let tensors: BTreeMap<String, Tensor> = Tensor::read_safetensors(path)
        .map_err(|e| Error::bad_data(path, format!("cannot read checkpoint: {e}")))?
        .into_iter()
        .collect();
    let int = |name: &str| -> Result<usize> {
        let t = tensors
            .get(name)
            .ok_or_else(|| Error::bad_data(path, format!("checkpoint has no `{name}`")))?;
        Ok(t.int64_value(&[0]).max(0) as usize)
    };
    let epoch = int("meta.epoch")?;
    let best_epoch = int("meta.best_epoch")?;
    let metrics = tensors
        .get("meta.metrics")
        .ok_or_else(|| Error::bad_data(path, "checkpoint has no `meta.metrics`"))?;
    let flat = Vec::<f64>::try_from(metrics.to_kind(Kind::Double).flatten(0, -1))
        .map_err(|e| Error::bad_data(path, e.to_string()))?;
    let rows = flat
        .chunks(EpochRow::WIDTH)
        .map(EpochRow::from_array)
        .collect::<Option<Vec<_>>>()
        .ok_or_else(|| Error::bad_data(path, "`meta.metrics` has the wrong width"))?;
    if rows.len() != epoch {
        return Err(Error::bad_data(
            path,
            format!(
                "checkpoint of epoch {epoch} holds {} metric rows",
                rows.len()
            ),
        ));
    }
    let optim = tensors
        .into_iter()
        .filter(|(k, _)| k.starts_with("optim."))
        .collect();
    Ok(Progress {
        epoch,
        best_epoch,
        rows,
        optim,
    })
}

/// Writes every variable of `vs` (on the CPU, contiguous) by name, plus
/// BatchNorm's `num_batches_tracked` (no variable holds it, but PyTorch's
/// `load_state_dict` wants it) set to `batches` training steps.
pub fn save_weights(vs: &VarStore, path: &Path, batches: i64) -> Result<()> {
    let mut tensors: Vec<(String, Tensor)> = Vec::new();
    for (name, t) in vs.variables() {
        if let Some(prefix) = name.strip_suffix(".running_mean") {
            tensors.push((
                format!("{prefix}.num_batches_tracked"),
                Tensor::from(batches),
            ));
        }
        tensors.push((name, t.detach().to_device(tch::Device::Cpu).contiguous()));
    }
    tensors.sort_by(|a, b| a.0.cmp(&b.0));
    Tensor::write_safetensors(&tensors, path)
        .map_err(|e| Error::failed(format!("cannot write `{}`: {e}", path.display())))
}

/// Hard-links `from` to `to` (same file system), else copies it.
pub fn link_or_copy(from: &Path, to: &Path) -> Result<()> {
    if to.exists() {
        std::fs::remove_file(to).map_err(|e| Error::io(to, "remove", e))?;
    }
    if std::fs::hard_link(from, to).is_ok() {
        return Ok(());
    }
    std::fs::copy(from, to)
        .map(|_| ())
        .map_err(|e| Error::io(to, "write", e))
}
