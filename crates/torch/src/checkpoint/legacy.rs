//! `torch.save`'s legacy format (before PyTorch 1.6, or with
//! `_use_new_zipfile_serialization=False`): five things in a row: pickles of
//! the magic number, the protocol version and `sys_info`, the main pickle
//! (storages as persistent ids), a pickle of the storage keys, then each
//! storage as a little-endian u64 element count and its raw bytes, in the
//! order of those keys.

use std::collections::BTreeMap;
use std::path::Path;

use pipe_engine::{Error, Result};

use super::pickle::{self, Object};
use super::storage::Storages;
use super::storage_refs;

const MAGIC: i128 = 0x1950_a86a_20f9_469c_fc6c;
const PROTOCOL: i128 = 1001;

/// Whether `data` starts like a legacy checkpoint (a pickle).
pub fn looks_like(data: &[u8]) -> bool {
    data.first() == Some(&0x80)
}

/// Reads the main pickle and every storage after it.
pub fn read(path: &Path, data: &[u8]) -> Result<(Object, Storages)> {
    let bad = |m: String| Error::bad_data(path, m);
    let mut pos = 0;
    let mut next = |what: &str| -> Result<Object> {
        let (o, n) = pickle::load(&data[pos..]).map_err(|e| bad(format!("{what}: {e}")))?;
        pos += n;
        Ok(o)
    };
    if next("the magic number")? != Object::Int(MAGIC) {
        return Err(bad(
            "a pickle, but not a `torch.save` file (wrong magic number)".into(),
        ));
    }
    if next("the protocol version")? != Object::Int(PROTOCOL) {
        return Err(bad("unsupported `torch.save` protocol version".into()));
    }
    let little = match next("sys_info")? {
        Object::Dict(items) => !items
            .iter()
            .any(|(k, v)| *k == Object::Str("little_endian".into()) && *v == Object::Bool(false)),
        _ => true,
    };
    let object = next("the checkpoint")?;
    let keys = match next("the storage keys")? {
        Object::List(keys) => keys,
        _ => return Err(bad("the storage key list is not a list".into())),
    };
    let dtypes: BTreeMap<String, _> = storage_refs(&object)
        .into_iter()
        .map(|s| (s.key, s.dtype))
        .collect();
    let mut storages = Storages::default();
    for key in keys {
        let Object::Str(key) = key else {
            return Err(bad("a storage key is not a string".into()));
        };
        let dtype = *dtypes
            .get(&key)
            .ok_or_else(|| bad(format!("storage `{key}` is stored but never used")))?;
        let count = data
            .get(pos..pos.saturating_add(8))
            .ok_or_else(|| bad(format!("storage `{key}` is truncated")))?;
        let mut n = [0u8; 8];
        n.copy_from_slice(count);
        let n = if little {
            u64::from_le_bytes(n)
        } else {
            u64::from_be_bytes(n)
        };
        pos += 8;
        let len = usize::try_from(n)
            .ok()
            .and_then(|n| n.checked_mul(dtype.size()))
            .filter(|len| pos.checked_add(*len).is_some_and(|end| end <= data.len()))
            .ok_or_else(|| bad(format!("storage `{key}` is truncated (file cut short?)")))?;
        storages
            .insert(&key, dtype, &data[pos..pos + len], little)
            .map_err(bad)?;
        pos += len;
    }
    Ok((object, storages))
}
