//! Turns a pickled [`TensorRef`] and its storage's raw bytes into a
//! contiguous tch tensor, checking every offset and stride against the
//! storage so a corrupt file cannot read out of bounds.
//!
//! A view that is not contiguous is copied; the copies of a whole file may
//! add at most the file's storage bytes plus [`COPY_SLACK`], so a small
//! file of many transposed or stride-0 (expanded) views of one big storage
//! cannot multiply into all of memory.

use std::cell::Cell;
use std::collections::HashMap;

use tch::Tensor;

use super::dtype::Dtype;
use super::pickle::{StorageRef, TensorRef};

/// What copies of views may add beyond the storages' own bytes.
pub const COPY_SLACK: u64 = 64 << 20;

/// The most dimensions a tensor may have (PyTorch's own limit is 64).
const MAX_DIMS: usize = 64;

/// Storages by key, each a 1-D CPU tensor of its elements (shared by all the
/// tensors that view it).
#[derive(Default)]
pub struct Storages {
    by_key: HashMap<String, Tensor>,
    /// The bytes of every storage, the base of the copy allowance.
    stored: u64,
    /// Bytes copied out of non-contiguous views so far.
    copied: Cell<u64>,
}

impl Storages {
    /// Adds the raw bytes of storage `key`; `little` is the file's byte order.
    pub fn insert(
        &mut self,
        key: &str,
        dtype: Dtype,
        bytes: &[u8],
        little: bool,
    ) -> Result<(), String> {
        let size = dtype.size();
        if !bytes.len().is_multiple_of(size) {
            return Err(format!(
                "storage `{key}` has {} bytes, not a multiple of {size}",
                bytes.len()
            ));
        }
        let numel = i64::try_from(bytes.len() / size).map_err(|_| "storage too large")?;
        let tensor = if little == cfg!(target_endian = "little") || size == 1 {
            Tensor::f_from_data_size(bytes, &[numel], dtype.kind())
        } else {
            let mut swapped = bytes.to_vec();
            swapped.chunks_exact_mut(size).for_each(<[u8]>::reverse);
            Tensor::f_from_data_size(&swapped, &[numel], dtype.kind())
        }
        .map_err(|e| format!("storage `{key}`: {e}"))?;
        self.stored = self.stored.saturating_add(bytes.len() as u64);
        self.by_key.insert(key.to_string(), tensor);
        Ok(())
    }

    /// A contiguous copy of the view `t` describes.
    pub fn tensor(&self, name: &str, t: &TensorRef) -> Result<Tensor, String> {
        let storage = self.by_key.get(&t.storage.key).ok_or_else(|| {
            format!(
                "tensor `{name}`: storage `{}` is missing from the file",
                t.storage.key
            )
        })?;
        let have = u64::try_from(storage.numel()).map_err(|_| "storage too large")?;
        let (base, len) =
            view_bounds(&t.storage, have).map_err(|e| format!("tensor `{name}`: {e}"))?;
        if storage.kind() != t.storage.dtype.kind() {
            return Err(format!(
                "tensor `{name}`: storage `{}` is read with two element types",
                t.storage.key
            ));
        }
        if t.offset < 0 || t.stride.iter().any(|&s| s < 0) || t.size.iter().any(|&s| s < 0) {
            return Err(format!(
                "tensor `{name}` has a negative offset, size or stride"
            ));
        }
        if t.size.len() > MAX_DIMS {
            return Err(format!(
                "tensor `{name}` has {} dimensions, more than {MAX_DIMS}",
                t.size.len()
            ));
        }
        let empty = t.size.contains(&0);
        if !empty {
            let mut last = i128::from(t.offset);
            for (&n, &s) in t.size.iter().zip(&t.stride) {
                last += i128::from(n - 1) * i128::from(s);
            }
            if last >= i128::from(len) {
                return Err(format!(
                    "tensor `{name}` reaches element {last} of a storage of {len} elements (corrupt file?)"
                ));
            }
        }
        let offset = i64::try_from(base).map_err(|_| "storage too large")? + t.offset;
        let view = storage
            .f_as_strided(t.size.as_slice(), t.stride.as_slice(), offset)
            .map_err(|e| format!("tensor `{name}`: {e}"))?;
        if !view.is_contiguous() {
            self.charge_copy(name, t)?;
        }
        view.f_contiguous()
            .map_err(|e| format!("tensor `{name}`: {e}"))
    }

    /// Counts the copy of view `t` against the storages' bytes plus
    /// [`COPY_SLACK`], before it is made.
    fn charge_copy(&self, name: &str, t: &TensorRef) -> Result<(), String> {
        let bytes = t
            .size
            .iter()
            .try_fold(t.storage.dtype.size() as u64, |n, &d| {
                n.checked_mul(u64::try_from(d).ok()?)
            })
            .unwrap_or(u64::MAX);
        let copied = self.copied.get().saturating_add(bytes);
        if copied > self.stored.saturating_add(COPY_SLACK) {
            return Err(format!(
                "tensor `{name}`: its views copy more than the file's {} MB of storages plus {} MB (many expanded or transposed views of one storage; corrupt file?)",
                self.stored >> 20,
                COPY_SLACK >> 20
            ));
        }
        self.copied.set(copied);
        Ok(())
    }
}

/// The element range of a storage (a pre-1.0 view is a slice of its root).
fn view_bounds(s: &StorageRef, have: u64) -> Result<(u64, u64), String> {
    match &s.view {
        None => {
            if have < s.numel {
                return Err(format!(
                    "storage `{}` holds {have} elements, the pickle says {}",
                    s.key, s.numel
                ));
            }
            Ok((0, s.numel))
        }
        Some((_, offset, size)) => {
            if offset.checked_add(*size).is_none_or(|end| end > have) {
                return Err(format!("a view of storage `{}` lies outside it", s.key));
            }
            Ok((*offset, *size))
        }
    }
}
