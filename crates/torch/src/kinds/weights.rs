//! Runs `kind: weights` (declared in `pipe_torch_spec::kinds::weights`): fetches
//! the checkpoint, checks it against pipe's model and rewrites it as
//! safetensors with torchvision's current key names.

use std::path::{Path, PathBuf};

use pipe_data::download::{fetch, file_name_of};
use pipe_data::Checksum;
use pipe_engine::{Context, Error, Kind, Result};
use pipe_torch_spec::weights::{self, find, WeightsSpec};
pub use pipe_torch_spec::weights::{default_variant, hash_prefix, published_url};
use tch::{nn, Device, Tensor};

use crate::{checkpoint, models};

/// `kind: weights`, run in this process.
pub const KIND: Kind = Kind::in_process(weights::DECLARATION, run);

fn run(ctx: &Context) -> Result<()> {
    let spec = WeightsSpec::from_params(ctx.params)?;
    let (model, variant) = (spec.model.as_str(), spec.variant.as_str());
    let (file, source) = match (&spec.path, &spec.url) {
        (Some(path), _) => (PathBuf::from(path), path.clone()),
        (None, url) => {
            let url = match url {
                Some(u) => u.clone(),
                None => published_url(model, variant).ok_or_else(|| {
                    Error::failed(format!("unknown variant `{variant}` of `{model}`"))
                })?,
            };
            let name = file_name_of(&url)
                .ok_or_else(|| Error::failed(format!("`{url}` names no file")))?;
            let checksum = match &spec.sha256 {
                Some(s) => Checksum::Sha256(s.clone()),
                None => Checksum::Sha256(
                    hash_prefix(&name)
                        .ok_or_else(|| {
                            Error::failed(format!(
                                "`{name}` carries no SHA-256 prefix; give `sha256`"
                            ))
                        })?
                        .to_string(),
                ),
            };
            let dest = ctx.work.join(&name);
            ctx.progress.message(format!("downloading {name}"));
            fetch(&url, &dest, &checksum, ctx.progress, ctx.cancel)?;
            (dest, url)
        }
    };
    ctx.check_cancelled()?;
    ctx.progress.message("reading checkpoint");
    let raw = checkpoint::read(&file)?;
    let renamed = raw
        .iter()
        .filter(|(k, _)| checkpoint::rename(k).is_some())
        .count();
    let tensors: Vec<(String, Tensor)> = raw
        .into_iter()
        .map(|(k, t)| (checkpoint::rename(&k).unwrap_or(k), t))
        .collect();
    let shape = describe(model, &tensors, &file)?;
    verify(model, &shape, &tensors, &file)?;
    ctx.check_cancelled()?;
    let out = ctx.out.join("weights.safetensors");
    Tensor::write_safetensors(&tensors, &out)
        .map_err(|e| Error::io(&out, "write", std::io::Error::other(e.to_string())))?;
    let json = serde_json::json!({
        "model": model,
        "variant": if spec.path.is_some() { variant.to_string() } else { find(model, variant).map_or(variant, |w| w.variant).to_string() },
        "source": source,
        "num_classes": shape.classes,
        "image_size": shape.image_size,
        "tensors": tensors.len(),
        "renamed_keys": renamed,
    });
    let path = ctx.out.join("weights.json");
    let text = serde_json::to_string_pretty(&json).map_err(|e| Error::internal(e.to_string()))?;
    std::fs::write(&path, text + "\n").map_err(|e| Error::io(&path, "write", e))?;
    ctx.progress.log(format!(
        "{model}: {} tensors, {} classes ({renamed} keys renamed)",
        tensors.len(),
        shape.classes
    ));
    Ok(())
}

/// What a checkpoint says about the model it fits.
struct Shape {
    classes: i64,
    image_size: i64,
}

fn describe(model: &str, tensors: &[(String, Tensor)], file: &Path) -> Result<Shape> {
    let get = |key: &str| {
        tensors
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, t)| t.size())
    };
    let head = format!("{}.weight", models::head_of(model)?);
    let classes = get(&head).and_then(|s| s.first().copied()).ok_or_else(|| {
        Error::bad_data(
            file,
            format!("no `{head}` in the checkpoint: not a `{model}` state dict"),
        )
    })?;
    let image_size = match models::patch_size(model) {
        None => 224,
        Some(patch) => {
            let seq = get("encoder.pos_embedding")
                .and_then(|s| s.get(1).copied())
                .ok_or_else(|| {
                    Error::bad_data(
                        file,
                        format!("no `encoder.pos_embedding`: not a `{model}` state dict"),
                    )
                })?;
            let grid = ((seq - 1) as f64).sqrt().round() as i64;
            if grid * grid != seq - 1 {
                return Err(Error::bad_data(file, format!("a position embedding of {seq} tokens is not a square grid plus a class token")));
            }
            grid * patch
        }
    };
    Ok(Shape {
        classes,
        image_size,
    })
}

/// Loads the tensors into a fresh model strictly, so a checkpoint that does
/// not fit fails here, naming the keys, not later in training.
fn verify(model: &str, shape: &Shape, tensors: &[(String, Tensor)], file: &Path) -> Result<()> {
    let mut vs = nn::VarStore::new(Device::Cpu);
    let _net = models::build(model, &vs.root(), shape.classes, shape.image_size)?;
    checkpoint::load_tensors(&mut vs, tensors, None, file)?;
    Ok(())
}
