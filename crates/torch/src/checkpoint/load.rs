//! Copies a state dict into a `VarStore` by name, strictly: every variable
//! must be given and every tensor must land, with equal shapes, except the
//! head when it is being replaced and BatchNorm's `num_batches_tracked`
//! (tch's BatchNorm has no counter; see [`crate::models`]).

use std::collections::{BTreeSet, HashMap};
use std::path::Path;

use pipe_engine::{Error, Result};
use tch::{nn, Tensor};

/// What a load did.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct LoadReport {
    /// Variables set from the checkpoint.
    pub loaded: usize,
    /// Checkpoint keys under the skipped head (left at their fresh init).
    pub skipped_head: Vec<String>,
    /// `num_batches_tracked` keys, which have no variable here.
    pub ignored: usize,
}

/// How many names an error lists before "and N more".
const SHOW: usize = 8;

/// Copies `tensors` (current key names) into `vs`. With `skip_head =
/// Some("fc")`, checkpoint keys under `fc.` are ignored and the model's own
/// `fc.*` keep their initialisation. Nothing is copied unless everything fits.
pub fn load_tensors(
    vs: &mut nn::VarStore,
    tensors: &[(String, Tensor)],
    skip_head: Option<&str>,
    source: &Path,
) -> Result<LoadReport> {
    let head = skip_head.map(|h| format!("{h}."));
    let in_head = |k: &str| head.as_deref().is_some_and(|h| k.starts_with(h));
    let vars: HashMap<String, Tensor> = vs.variables();
    let mut report = LoadReport::default();
    let mut unexpected = Vec::new();
    let mut mismatched = Vec::new();
    let mut given = BTreeSet::new();
    let mut plan = Vec::new();
    for (key, t) in tensors {
        if key.ends_with("num_batches_tracked") {
            report.ignored += 1;
        } else if in_head(key) {
            report.skipped_head.push(key.clone());
        } else if let Some(var) = vars.get(key) {
            given.insert(key.as_str());
            if var.size() == t.size() {
                plan.push((var, t));
            } else {
                mismatched.push(format!(
                    "`{key}`: checkpoint {:?}, model {:?}",
                    t.size(),
                    var.size()
                ));
            }
        } else {
            unexpected.push(format!("`{key}`"));
        }
    }
    let mut missing: Vec<String> = vars
        .keys()
        .filter(|k| !given.contains(k.as_str()) && !in_head(k))
        .map(|k| format!("`{k}`"))
        .collect();
    missing.sort();
    if !(missing.is_empty() && unexpected.is_empty() && mismatched.is_empty()) {
        let mut parts = Vec::new();
        for (what, list) in [
            ("missing", &missing),
            ("unexpected", &unexpected),
            ("shape mismatch", &mismatched),
        ] {
            if !list.is_empty() {
                parts.push(format!("{what} ({}): {}", list.len(), shorten(list)));
            }
        }
        let hint = if skip_head.is_none() && !mismatched.is_empty() {
            "check that the checkpoint was saved from this model; if only the head differs (another class count), load with the head skipped"
        } else {
            "check that the checkpoint was saved from this model (pipe expects torchvision's key names)"
        };
        return Err(Error::bad_data(
            source,
            format!("does not fit the model: {}", parts.join("; ")),
        )
        .with_hint(hint));
    }
    tch::no_grad(|| -> Result<()> {
        for (var, t) in &plan {
            let mut var = var.shallow_clone();
            var.f_copy_(t)
                .map_err(|e| Error::bad_data(source, format!("copying a tensor failed: {e}")))?;
        }
        Ok(())
    })?;
    report.loaded = plan.len();
    Ok(report)
}

fn shorten(list: &[String]) -> String {
    let mut s = list
        .iter()
        .take(SHOW)
        .cloned()
        .collect::<Vec<_>>()
        .join(", ");
    if list.len() > SHOW {
        s.push_str(&format!(" and {} more", list.len() - SHOW));
    }
    s
}
