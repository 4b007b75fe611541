//! Starting weights of a run: copies a safetensors state dict (a `weights`
//! stage's `weights.safetensors`, or another run's `best`/`last`) into a
//! model's variables by torchvision name.
//!
//! The head is left as initialised when its shape differs (another class
//! count: the report replaces the head), BatchNorm's `num_batches_tracked`
//! is ignored (no variable holds it), and any other missing or misshapen
//! variable is an error rather than a silently random layer.

use std::path::Path;

use pipe_engine::{Error, Result};
use tch::{nn::VarStore, Tensor};

/// What loading did.
#[derive(Debug, Default, PartialEq)]
pub struct Loaded {
    pub copied: usize,
    /// Head variables kept at their fresh initialisation.
    pub head_skipped: Vec<String>,
}

/// Loads `path` into `vs`; `head` is the model's head prefix (`fc`, ...).
pub fn load_weights(vs: &VarStore, path: &Path, head: &str) -> Result<Loaded> {
    let file: std::collections::HashMap<String, Tensor> = Tensor::read_safetensors(path)
        .map_err(|e| Error::bad_data(path, format!("cannot read weights: {e}")))?
        .into_iter()
        .collect();
    let mut loaded = Loaded::default();
    let mut problems = Vec::new();
    let mut vars: Vec<(String, Tensor)> = vs.variables().into_iter().collect();
    vars.sort_by(|a, b| a.0.cmp(&b.0));
    let in_head = |name: &str| name == head || name.starts_with(&format!("{head}."));
    for (name, mut var) in vars {
        match file.get(&name) {
            Some(src) if src.size() == var.size() => {
                tch::no_grad(|| var.copy_(src));
                loaded.copied += 1;
            }
            Some(_) if in_head(&name) => loaded.head_skipped.push(name),
            Some(src) => problems.push(format!(
                "`{name}` has shape {:?} there, {:?} in the model",
                src.size(),
                var.size()
            )),
            None if in_head(&name) => loaded.head_skipped.push(name),
            None => problems.push(format!("`{name}` is missing")),
        }
    }
    if !problems.is_empty() {
        let n = problems.len();
        problems.truncate(5);
        return Err(Error::bad_data(
            path,
            format!(
                "does not fit the model ({n} problem{}): {}",
                if n == 1 { "" } else { "s" },
                problems.join("; ")
            ),
        )
        .with_hint("are these weights for the same architecture as `model`?"));
    }
    Ok(loaded)
}
