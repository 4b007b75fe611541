//! Runs `kind: train` (declared in `pipe_torch_spec::kinds::train`): the
//! stage's inputs and history handed to [`crate::train::train`].

use pipe_engine::{Artifact, Context, Kind, Result};

use crate::train::{train, Hooks, Inputs, Saved, TrainSpec};

/// `kind: train`, run in this process.
pub const KIND: Kind = Kind::in_process(pipe_torch_spec::train::DECLARATION, run);

fn run(ctx: &Context) -> Result<()> {
    let spec = TrainSpec::from_params(ctx.params)?;
    let data = ctx.input("data")?;
    let policy = match ctx.opt_input("augment") {
        Some(augment) => Some(pipe_data::augment::Policy::load(
            augment.file("policy.json")?,
        )?),
        None => None,
    };
    let inputs = Inputs {
        train: data.file("train.safetensors")?.to_path_buf(),
        test: data.file("test.safetensors")?.to_path_buf(),
        weights: ctx.opt_input("weights").map(weights_file).transpose()?,
        prior: prior_run(ctx, spec.epochs),
        policy,
    };
    let hooks = Hooks {
        progress: ctx.progress,
        cancel: ctx.cancel,
        gpus: ctx.gpus,
        // Interrupting a run is for tests, through `Hooks` (tests/train.rs).
        fail_after_epoch: None,
        builder: None,
    };
    train(&spec, &inputs, ctx.out, ctx.work, &hooks).map(|_| ())
}

/// The weights file of a `weights` or `train` stage.
fn weights_file(a: &Artifact) -> Result<std::path::PathBuf> {
    for name in ["weights.safetensors", "best.safetensors"] {
        if let Some(p) = a.files.get(name) {
            return Ok(p.clone());
        }
    }
    a.file("weights.safetensors")
        .map(std::path::Path::to_path_buf)
}

/// The cached run of this stage with the most epochs below `epochs`, if it
/// kept its resumable state.
fn prior_run(ctx: &Context, epochs: usize) -> Option<(usize, Saved)> {
    ctx.history
        .variants("epochs")
        .into_iter()
        .filter_map(|(value, artifact)| {
            let e = usize::try_from(value.as_i64()?).ok()?;
            if e == 0 || e >= epochs {
                return None;
            }
            let saved = Saved {
                last: artifact.files.get("last.safetensors")?.clone(),
                best: artifact.files.get("best.safetensors")?.clone(),
                state: artifact.files.get("state.safetensors")?.clone(),
            };
            Some((e, saved))
        })
        .max_by_key(|(e, _)| *e)
}
