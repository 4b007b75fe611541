//! One training run from start (or from a checkpoint) to its outputs: the
//! epoch loop, the per-epoch test evaluation, checkpoints and the files a
//! `train` stage produces.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Instant;

use pipe_engine::{Error, Progress, Result};
use tch::{nn, Kind, Reduction, Tensor};

use pipe_data::augment::Policy;
use pipe_data::loader::{epoch_order, Batch, Dataset, Images, Labels, Loader, LoaderConfig};

use super::data::{to_channels_last, Normalizer, Split};
use super::init::load_weights;
use super::spec::{Mode, TrainSpec};
use super::state::{self, Saved};
use super::summary::Summary;
use super::timing::Timing;
use crate::metrics::{write_csv, EpochRow, Tally};
use crate::models::{self, Model};
use crate::optim::Optimizer;

/// Builds a model: `(path, classes, image_size)`. Tests pass small models;
/// the kind uses [`models::build`] with the spec's model name.
pub type Builder = dyn Fn(&nn::Path, i64, i64) -> Result<Box<dyn Model>> + Sync;

/// The files a run reads.
#[derive(Clone, Debug, Default)]
pub struct Inputs {
    pub train: PathBuf,
    pub test: PathBuf,
    /// Starting weights (required by transfer and finetune).
    pub weights: Option<PathBuf>,
    /// A cached run of the same stage with fewer epochs to continue.
    pub prior: Option<(usize, Saved)>,
    /// Augmentation applied to training batches on CPU threads.
    pub policy: Option<Policy>,
}

/// The training split: on the device (no augmentation), or in host memory
/// for the augmenting [`Loader`].
enum TrainData {
    Device(Split),
    Host {
        data: Arc<Dataset>,
        policy: Arc<Policy>,
    },
}

impl TrainData {
    fn load(path: &Path, policy: Option<&Policy>, device: tch::Device) -> Result<TrainData> {
        match policy {
            None | Some(Policy::None) => Ok(TrainData::Device(Split::load(path, device)?)),
            Some(p) => {
                let data = Dataset::load(path)?;
                if data.channels != 3 {
                    return Err(Error::bad_data(
                        path,
                        format!("images have {} channels, not 3", data.channels),
                    ));
                }
                Ok(TrainData::Host {
                    data: Arc::new(data),
                    policy: Arc::new(p.clone()),
                })
            }
        }
    }

    fn len(&self) -> usize {
        match self {
            TrainData::Device(s) => s.len(),
            TrainData::Host { data, .. } => data.n,
        }
    }

    fn image_size(&self) -> i64 {
        match self {
            TrainData::Device(s) => s.image_size().0,
            TrainData::Host { data, .. } => data.height as i64,
        }
    }

    fn max_label(&self) -> i64 {
        match self {
            TrainData::Device(s) => s.max_label(),
            TrainData::Host { data, .. } => data.labels.iter().copied().max().map_or(0, |m| m + 1),
        }
    }
}

/// How a run talks to its caller.
pub struct Hooks<'a> {
    pub progress: &'a Progress,
    pub cancel: &'a AtomicBool,
    /// GPUs the scheduler handed the stage.
    pub gpus: &'a [usize],
    /// Fail (as a crash would) right after this epoch's checkpoint: tests
    /// of resuming use it.
    pub fail_after_epoch: Option<usize>,
    /// Overrides [`models::build`].
    pub builder: Option<&'a Builder>,
}

impl<'a> Hooks<'a> {
    pub fn quiet(progress: &'a Progress, cancel: &'a AtomicBool) -> Hooks<'a> {
        Hooks {
            progress,
            cancel,
            gpus: &[],
            fail_after_epoch: None,
            builder: None,
        }
    }
}

/// Runs training and writes `metrics.csv`, `best.safetensors`,
/// `last.safetensors`, `state.safetensors` and `run.json` into `out`.
/// Checkpoints go to `work`; a checkpoint found there is resumed.
pub fn train(
    spec: &TrainSpec,
    inputs: &Inputs,
    out: &Path,
    work: &Path,
    hooks: &Hooks,
) -> Result<Summary> {
    let started = Instant::now();
    let device = crate::device::resolve(&spec.device, hooks.gpus)?;
    if spec.bf16 {
        if !device.is_cuda() {
            return Err(Error::failed("`amp: bf16` needs a CUDA device")
                .with_hint("use `amp: none` on the CPU"));
        }
        crate::device::check_autocast()?;
    }
    let train_split = TrainData::load(&inputs.train, inputs.policy.as_ref(), device)?;
    let test_split = Split::load(&inputs.test, device)?;
    if train_split.len() == 0 {
        return Err(Error::bad_data(&inputs.train, "has no images"));
    }
    let classes = spec.num_classes;
    for (max, path) in [
        (train_split.max_label(), &inputs.train),
        (test_split.max_label(), &inputs.test),
    ] {
        if max > classes {
            return Err(Error::bad_data(
                path,
                format!("has label {} but `num_classes` is {classes}", max - 1),
            )
            .with_hint("raise `num_classes`"));
        }
    }
    let image_size = spec.image_size.unwrap_or(train_split.image_size());

    let Prepared {
        vs,
        model,
        mut optim,
        counts,
    } = prepare(
        spec,
        device,
        image_size,
        inputs.weights.as_deref(),
        hooks.builder,
        hooks.progress,
    )?;

    // Where to start: this stage's own checkpoint, else a shorter cached run.
    let mut rows: Vec<EpochRow> = Vec::new();
    let mut best_epoch = 0;
    let mut best_file: Option<PathBuf> = None;
    let mut resumed_from = None;
    let mut continued_from = None;
    let start = match state::latest(work)? {
        Some((epoch, saved)) => {
            resumed_from = Some(epoch);
            Some(saved)
        }
        None => inputs.prior.clone().map(|(epochs, saved)| {
            continued_from = Some(epochs);
            saved
        }),
    };
    if let Some(saved) = &start {
        let progress = state::read_state(&saved.state)?;
        load_weights(&vs, &saved.last, "")?;
        optim.load_state(&progress.optim)?;
        rows = progress.rows;
        best_epoch = progress.best_epoch;
        best_file = Some(saved.best.clone());
        let what = if resumed_from.is_some() {
            "resuming"
        } else {
            "continuing"
        };
        hooks
            .progress
            .log(format!("{what} after epoch {}", rows.len()));
    }
    if rows.len() > spec.epochs {
        return Err(Error::internal(format!(
            "starting point has {} epochs, more than {}",
            rows.len(),
            spec.epochs
        )));
    }

    let norm = {
        let (mean, std) = models::normalization(&spec.model);
        Normalizer::new(mean, std, device, spec.channels_last)
    };
    let batches = train_split.len().div_ceil(spec.batch_size);
    if let TrainData::Host { policy, .. } = &train_split {
        hooks
            .progress
            .log(format!("augmentation `{}` on CPU threads", policy.name()));
    }
    hooks
        .progress
        .set_total((spec.epochs * batches) as u64, false);
    hooks.progress.set_position((rows.len() * batches) as u64);
    let mut saved_dir: Option<Saved> = start.clone();
    let mut timing = Timing::default();
    for epoch in rows.len() + 1..=spec.epochs {
        let t0 = Instant::now();
        // pipe's models draw nothing from libtorch's global generator while
        // training (ViT's dropout is 0; augmentation and shuffling use their
        // own generators from (seed, epoch)). It is seeded per epoch all the
        // same, so that a model which does draw repeats on resume; under the
        // lock, or it would reset the generator under another stage's
        // initialisation in this process.
        {
            let _guard = RNG_LOCK
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            tch::manual_seed(
                (spec.seed as i64)
                    .wrapping_mul(1_000_003)
                    .wrapping_add(epoch as i64),
            );
        }
        let (train_loss, train_acc) = train_epoch(
            spec,
            model.as_ref(),
            &mut optim,
            &train_split,
            &norm,
            epoch,
            hooks,
        )?;
        let train_seconds = t0.elapsed().as_secs_f64();
        let tally = evaluate(
            model.as_ref(),
            &test_split,
            &norm,
            spec.eval_batch_size,
            spec.bf16,
            classes,
        )?;
        let row = EpochRow {
            epoch,
            train_loss,
            train_acc,
            test_loss: tally.loss(),
            test_acc: tally.accuracy(),
            lr: spec.optim.lr(),
        };
        let seconds = t0.elapsed().as_secs_f64();
        let images_per_s = train_split.len() as f64 / train_seconds.max(1e-9);
        timing.add(seconds, images_per_s);
        let best_now = rows.iter().all(|r| row.test_loss < r.test_loss);
        if best_now {
            best_epoch = epoch;
        }
        hooks.progress.log(format!(
            "epoch {epoch}/{}: train loss {:.4} acc {:.4}, test loss {:.4} acc {:.4}, {:.1} img/s, {:.1} s",
            spec.epochs,
            row.train_loss,
            row.train_acc,
            row.test_loss,
            row.test_acc,
            images_per_s,
            seconds
        ));
        rows.push(row);
        let saved = state::save(
            work,
            epoch,
            &vs,
            &optim,
            &rows,
            state::Best {
                epoch: best_epoch,
                now: best_now,
                previous: best_file.as_deref(),
            },
        )?;
        best_file = Some(saved.best.clone());
        saved_dir = Some(saved);
        if hooks.fail_after_epoch == Some(epoch) {
            return Err(Error::failed(format!(
                "stopped after epoch {epoch} as asked (a test of resuming)"
            )));
        }
    }

    let saved = saved_dir.ok_or_else(|| Error::internal("no epoch was trained"))?;
    std::fs::create_dir_all(out).map_err(|e| Error::io(out, "create", e))?;
    write_csv(&out.join("metrics.csv"), &rows)?;
    let outs = Saved::in_dir(out);
    state::link_or_copy(&saved.last, &outs.last)?;
    state::link_or_copy(&saved.best, &outs.best)?;
    state::link_or_copy(&saved.state, &outs.state)?;
    let summary = Summary::new(spec, &rows, best_epoch, image_size, device, counts);
    // How the run went, for `pipe exp show`: in the result's manifest, not
    // in its files, so that two runs of the same training are identical.
    let measure = |name: &str, value: Option<f64>| {
        if let Some(v) = value {
            hooks.progress.measure(name, v);
        }
    };
    measure("wall_seconds", Some(started.elapsed().as_secs_f64()));
    measure("epoch_seconds", timing.mean_seconds());
    measure("images_per_s", timing.mean_images_per_s());
    measure("resumed_from_epoch", resumed_from.map(|e| e as f64));
    measure("continued_from_epochs", continued_from.map(|e| e as f64));
    summary.write(&out.join("run.json"))?;
    Ok(summary)
}

/// Held while seeding libtorch's global generator and drawing from it.
pub static RNG_LOCK: std::sync::Mutex<()> = std::sync::Mutex::new(());

/// A model ready to train: its variables, the model and its optimizer.
pub struct Prepared {
    pub vs: nn::VarStore,
    pub model: Box<dyn Model>,
    pub optim: Optimizer,
    /// (total, trainable) parameters.
    pub counts: (i64, i64),
}

/// Builds the model for `spec` on `device`, loads `weights` (all but a head
/// of another class count), freezes all but the head in transfer mode and
/// creates the optimizer over the trainable parameters.
pub fn prepare(
    spec: &TrainSpec,
    device: tch::Device,
    image_size: i64,
    weights: Option<&Path>,
    builder: Option<&Builder>,
    progress: &Progress,
) -> Result<Prepared> {
    let classes = spec.num_classes;
    let vs = nn::VarStore::new(device);
    let model = {
        // libtorch has one global generator: stages training side by side in
        // one process must not interleave their seeding and initialisation.
        let _guard = RNG_LOCK
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        tch::manual_seed(spec.seed as i64);
        match builder {
            Some(build) => build(&vs.root(), classes, image_size)?,
            None => models::build(&spec.model, &vs.root(), classes, image_size)?,
        }
    };
    let head = model.head();
    match (spec.mode, weights) {
        (Mode::Scratch, Some(_)) => progress.log("scratch mode: the `weights` input is not used"),
        (Mode::Scratch, None) => {}
        (mode, Some(path)) => {
            let loaded = load_weights(&vs, path, head)?;
            if !loaded.head_skipped.is_empty() {
                progress.log(format!(
                    "{}: new `{head}` head for {classes} classes",
                    mode.name()
                ));
            }
        }
        (mode, None) => {
            return Err(
                Error::failed(format!("mode `{}` needs the `weights` input", mode.name()))
                    .with_hint("add `weights: <a weights stage>` or use `mode: scratch`"),
            )
        }
    }
    if spec.mode == Mode::Transfer {
        freeze_all_but(&vs, head);
    }
    if spec.channels_last {
        for (_, mut t) in vs.variables() {
            if t.dim() == 4 {
                tch::no_grad(|| t.set_data(&to_channels_last(&t)));
            }
        }
    }
    let counts = count_params(&vs);
    let optim = Optimizer::new(spec.optim.clone(), trainable(&vs));
    Ok(Prepared {
        vs,
        model,
        optim,
        counts,
    })
}

/// Transfer mode: `requires_grad = false` on every variable outside `head`.
pub fn freeze_all_but(vs: &nn::VarStore, head: &str) {
    for (name, t) in vs.variables() {
        if !(name == head || name.starts_with(&format!("{head}."))) {
            let _ = t.set_requires_grad(false);
        }
    }
}

/// The variables that require gradients, sorted by name.
pub fn trainable(vs: &nn::VarStore) -> Vec<(String, Tensor)> {
    let mut params: Vec<(String, Tensor)> = vs
        .variables()
        .into_iter()
        .filter(|(_, t)| t.requires_grad())
        .collect();
    params.sort_by(|a, b| a.0.cmp(&b.0));
    params
}

/// Total and trainable parameter counts (buffers such as BatchNorm's
/// running statistics are not parameters).
fn count_params(vs: &nn::VarStore) -> (i64, i64) {
    let mut total = 0;
    let mut trainable = 0;
    for (name, t) in vs.variables() {
        if name.ends_with("running_mean") || name.ends_with("running_var") {
            continue;
        }
        total += t.numel() as i64;
        if t.requires_grad() {
            trainable += t.numel() as i64;
        }
    }
    (total, trainable)
}

/// One pass over the training split; returns (mean loss, accuracy).
fn train_epoch(
    spec: &TrainSpec,
    model: &dyn Model,
    optim: &mut Optimizer,
    data: &TrainData,
    norm: &Normalizer,
    epoch: usize,
    hooks: &Hooks,
) -> Result<(f64, f64)> {
    let device = norm.device();
    let n = data.len() as i64;
    let mut loss_sum = Tensor::zeros([], (Kind::Double, device));
    let mut correct = Tensor::zeros([], (Kind::Int64, device));
    let batches = (n as usize).div_ceil(spec.batch_size);
    let mut on_batch = |b: usize, images: Tensor, target: Tensor| -> Result<()> {
        check_cancelled(hooks.cancel)?;
        let len = images.size()[0];
        let x = norm.apply(&images);
        let (loss, logits) = step(model, optim, &x, &target, spec.bf16)?;
        tch::no_grad(|| {
            // Soft targets (mixed batches) count as their largest class.
            let truth = if target.dim() == 2 {
                target.argmax(1, false)
            } else {
                target.shallow_clone()
            };
            loss_sum += loss.to_kind(Kind::Double) * len as f64;
            correct += logits.argmax(1, false).eq_tensor(&truth).sum(Kind::Int64);
        });
        hooks.progress.inc(1);
        if b % 10 == 9 || b + 1 == batches {
            hooks.progress.message(format!(
                "epoch {epoch}/{} loss {:.4}",
                spec.epochs,
                loss.double_value(&[])
            ));
        }
        Ok(())
    };
    match data {
        TrainData::Device(split) => {
            let order: Vec<i64> = epoch_order(split.len(), spec.seed, epoch as u64, true)
                .into_iter()
                .map(|i| i as i64)
                .collect();
            let order = Tensor::from_slice(&order).to_device(device);
            let bs = spec.batch_size as i64;
            for b in 0..batches {
                let start = b as i64 * bs;
                let index = order.narrow(0, start, bs.min(n - start));
                let (images, labels) = split.gather(&index);
                on_batch(b, images, labels)?;
            }
        }
        TrainData::Host { data, policy } => {
            let config = LoaderConfig {
                batch_size: spec.batch_size,
                shuffle: true,
                drop_last: false,
                seed: spec.seed,
                epoch: epoch as u64,
                threads: spec.threads.unwrap_or(0),
                prefetch: 2,
                num_classes: spec.num_classes as usize,
            };
            for (b, batch) in Loader::new(Arc::clone(data), Arc::clone(policy), config).enumerate()
            {
                let (images, target) = batch_tensors(&batch)?;
                on_batch(b, images.to_device(device), target.to_device(device))?;
            }
        }
    }
    let loss = loss_sum.double_value(&[]) / n as f64;
    if !loss.is_finite() {
        return Err(
            Error::failed(format!("the training loss became {loss} in epoch {epoch}"))
                .with_hint("lower `lr`"),
        );
    }
    Ok((loss, correct.int64_value(&[]) as f64 / n as f64))
}

/// A loader batch as CPU tensors: images u8 or f32 `[n, c, h, w]`, labels
/// i64 `[n]` or f32 probabilities `[n, classes]`.
fn batch_tensors(batch: &Batch) -> Result<(Tensor, Tensor)> {
    let shape = [
        batch.n as i64,
        batch.channels as i64,
        batch.height as i64,
        batch.width as i64,
    ];
    let images = match &batch.images {
        Images::U8(v) => Tensor::from_slice(v),
        Images::F32(v) => Tensor::from_slice(v),
    }
    .view(shape);
    let labels = match &batch.labels {
        Labels::Hard(v) => Tensor::from_slice(v),
        Labels::Soft(v) => {
            let classes = v.len() / batch.n.max(1);
            Tensor::from_slice(v).view([batch.n as i64, classes as i64])
        }
    };
    Ok((images, labels))
}

/// Forward, cross-entropy (index or probability targets), backward and an
/// optimizer step. Returns the detached loss and logits.
pub fn step(
    model: &dyn Model,
    optim: &mut Optimizer,
    x: &Tensor,
    target: &Tensor,
    bf16: bool,
) -> Result<(Tensor, Tensor)> {
    let logits = if bf16 {
        crate::device::autocast_bf16(|| model.forward_t(x, true))?
    } else {
        model.forward_t(x, true)
    };
    let logits = logits.to_kind(Kind::Float);
    let loss = logits.cross_entropy_loss::<Tensor>(target, None, Reduction::Mean, -100, 0.0);
    optim.minimize(&loss)?;
    Ok((loss.detach(), logits.detach()))
}

/// Loss, accuracy and confusion of `model` (eval mode, no gradients) over a split.
pub fn evaluate(
    model: &dyn Model,
    data: &Split,
    norm: &Normalizer,
    batch_size: usize,
    bf16: bool,
    classes: i64,
) -> Result<Tally> {
    let mut tally = Tally::new(classes as usize);
    let n = data.len() as i64;
    let bs = batch_size as i64;
    tch::no_grad(|| -> Result<()> {
        for b in 0..(n + bs - 1) / bs {
            let len = bs.min(n - b * bs);
            let images = data.images.narrow(0, b * bs, len);
            let labels = data.labels.narrow(0, b * bs, len);
            let x = norm.apply(&images);
            let logits = if bf16 {
                crate::device::autocast_bf16(|| model.forward_t(&x, false))?
            } else {
                model.forward_t(&x, false)
            };
            tally.add(&logits, &labels)?;
        }
        Ok(())
    })?;
    Ok(tally)
}

fn check_cancelled(cancel: &AtomicBool) -> Result<()> {
    if cancel.load(Ordering::Relaxed) {
        Err(Error::Cancelled)
    } else {
        Ok(())
    }
}
