//! PyTorch checkpoint files in, named CPU tensors out, without Python and
//! without executing pickle code.
//!
//! Reads `torch.save` files in the zip format ([`zipped`]) and the legacy
//! pre-1.6 format ([`legacy`]) through a pickle reader that knows only a
//! whitelist of globals ([`pickle`]), and `.safetensors` files. A state dict
//! nested under `state_dict`, `model`, `model_state_dict` or `module` is
//! unwrapped. [`read`] keeps the file's key names; [`read_current`] applies
//! torchvision's legacy renames ([`rename`]); [`load_weights`] loads a file
//! into a model's `VarStore` strictly.

mod dtype;
mod legacy;
mod load;
mod pickle;
mod rename;
mod storage;
mod zipped;

use std::collections::HashSet;
use std::path::Path;

use pipe_engine::{Error, Result};
use tch::{nn, Tensor};

pub use load::{load_tensors, LoadReport};
pub use rename::rename;

use pickle::{Object, StorageRef, TensorRef};

/// Keys under which training scripts commonly nest a state dict.
const NESTED: &[&str] = &["state_dict", "model", "model_state_dict", "module"];

/// The tensors of a checkpoint file, in file order, with the file's key
/// names, as contiguous CPU tensors of the stored dtype.
pub fn read(path: &Path) -> Result<Vec<(String, Tensor)>> {
    let head = head_bytes(path)?;
    if head.starts_with(b"PK\x03\x04") {
        let (object, storages) = zipped::read(path)?;
        return tensors(path, &object, &storages);
    }
    if legacy::looks_like(&head) {
        let data = std::fs::read(path).map_err(|e| Error::io(path, "read", e))?;
        let (object, storages) = legacy::read(path, &data)?;
        return tensors(path, &object, &storages);
    }
    if is_safetensors(&head) {
        return Tensor::read_safetensors(path)
            .map_err(|e| Error::bad_data(path, format!("not a readable safetensors file: {e}")));
    }
    Err(Error::bad_data(
        path,
        "not a PyTorch checkpoint (neither a `torch.save` zip, a legacy `torch.save` pickle, nor safetensors)",
    )
    .with_hint("pass a `.pth`/`.pt` file written by `torch.save`, or a `.safetensors` file"))
}

/// The first bytes of a file, enough to tell the formats apart.
fn head_bytes(path: &Path) -> Result<Vec<u8>> {
    use std::io::Read;
    let file = std::fs::File::open(path).map_err(|e| Error::io(path, "open", e))?;
    let mut head = Vec::with_capacity(16);
    file.take(16)
        .read_to_end(&mut head)
        .map_err(|e| Error::io(path, "read", e))?;
    Ok(head)
}

/// [`read`] with torchvision's legacy key names replaced by current ones.
pub fn read_current(path: &Path) -> Result<Vec<(String, Tensor)>> {
    let tensors = read(path)?;
    Ok(tensors
        .into_iter()
        .map(|(k, t)| (rename(&k).unwrap_or(k), t))
        .collect())
}

/// Loads the checkpoint at `path` into `vs` (renames applied, strict; see
/// [`load_tensors`]). `skip_head` names the model's head prefix (`fc`,
/// `classifier`, `heads.head`) to keep freshly initialised, as when a
/// 1000-class ImageNet checkpoint initialises a 10-class model.
pub fn load_weights(
    vs: &mut nn::VarStore,
    path: &Path,
    skip_head: Option<&str>,
) -> Result<LoadReport> {
    let tensors = read_current(path)?;
    load_tensors(vs, &tensors, skip_head, path)
}

/// safetensors: a little-endian u64 header length, then a JSON object.
fn is_safetensors(data: &[u8]) -> bool {
    data.len() > 8 && data[8] == b'{'
}

/// Every storage the object refers to, each key once, in first-use order.
fn storage_refs(object: &Object) -> Vec<StorageRef> {
    fn walk<'a>(o: &'a Object, seen: &mut HashSet<&'a str>, out: &mut Vec<StorageRef>) {
        match o {
            Object::Storage(s) => push(s, seen, out),
            Object::Tensor(t) => push(&t.storage, seen, out),
            Object::Tuple(items) | Object::List(items) => {
                items.iter().for_each(|i| walk(i, seen, out));
            }
            Object::Dict(pairs) => pairs.iter().for_each(|(k, v)| {
                walk(k, seen, out);
                walk(v, seen, out);
            }),
            _ => {}
        }
    }
    fn push<'a>(s: &'a StorageRef, seen: &mut HashSet<&'a str>, out: &mut Vec<StorageRef>) {
        if seen.insert(&s.key) {
            out.push(s.clone());
        }
    }
    let mut out = Vec::new();
    walk(object, &mut HashSet::new(), &mut out);
    out
}

fn tensors(
    path: &Path,
    object: &Object,
    storages: &storage::Storages,
) -> Result<Vec<(String, Tensor)>> {
    let refs = state_dict(path, object)?;
    refs.into_iter()
        .map(|(name, t)| {
            storages
                .tensor(&name, t)
                .map(|tensor| (name, tensor))
                .map_err(|e| Error::bad_data(path, e))
        })
        .collect()
}

/// The (key, tensor) entries of the state dict in `object`, unwrapping one
/// of the [`NESTED`] keys where the top level is not itself a state dict.
fn state_dict<'a>(path: &Path, object: &'a Object) -> Result<Vec<(String, &'a TensorRef)>> {
    let Object::Dict(pairs) = object else {
        return Err(
            Error::bad_data(path, "the checkpoint is not a dict of tensors")
                .with_hint("save `model.state_dict()`, not the model"),
        );
    };
    let mut out = Vec::new();
    let mut others = Vec::new();
    for (k, v) in pairs {
        match (k, v) {
            (Object::Str(k), Object::Tensor(t)) => out.push((k.clone(), t)),
            (Object::Str(k), _) => others.push(k.as_str()),
            _ => others.push("<a key that is not a string>"),
        }
    }
    if others.is_empty() {
        return Ok(out);
    }
    for key in NESTED {
        if let Some((_, inner)) = pairs
            .iter()
            .find(|(k, _)| *k == Object::Str((*key).to_string()))
        {
            if matches!(inner, Object::Dict(_)) {
                return state_dict(path, inner);
            }
        }
    }
    Err(Error::bad_data(
        path,
        format!(
            "the checkpoint holds things other than tensors: {}",
            others
                .iter()
                .take(8)
                .map(|k| format!("`{k}`"))
                .collect::<Vec<_>>()
                .join(", ")
        ),
    )
    .with_hint(
        "pipe reads state dicts (name -> tensor), also nested under `state_dict` or `model`",
    ))
}
