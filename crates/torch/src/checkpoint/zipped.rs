//! `torch.save`'s zip format (PyTorch >= 1.6): `<archive>/data.pkl` holds the
//! pickle, `<archive>/data/<key>` each storage's raw bytes, and
//! `<archive>/byteorder` their byte order (absent in old files: little).
//!
//! What the archive may expand to is bounded before it is read: the pickle
//! to [`MAX_PICKLE`] bytes, each storage to the bytes its pickle declares,
//! and all entries together to [`EXPANSION`] times the file's size plus
//! [`EXPANSION_SLACK`]; `torch.save` stores entries uncompressed, so only a
//! zip bomb comes near.

use std::fs::File;
use std::io::Read;
use std::path::Path;

use pipe_engine::{Error, Result};

use super::pickle::{self, Object};
use super::storage::Storages;
use super::storage_refs;

/// The largest `data.pkl` read: the pickle of a state dict is small (its
/// tensors' bytes are separate entries).
const MAX_PICKLE: u64 = 256 << 20;

/// How many times its own size an archive may expand to, plus
/// [`EXPANSION_SLACK`].
const EXPANSION: u64 = 16;
const EXPANSION_SLACK: u64 = 64 << 20;

/// Reads the pickle and every storage it names.
pub fn read(path: &Path) -> Result<(Object, Storages)> {
    let bad = |m: String| Error::bad_data(path, m);
    let file = File::open(path).map_err(|e| Error::io(path, "open", e))?;
    let on_disk = file
        .metadata()
        .map_err(|e| Error::io(path, "read", e))?
        .len();
    let mut allowance = on_disk
        .saturating_mul(EXPANSION)
        .saturating_add(EXPANSION_SLACK);
    let mut zip =
        zip::ZipArchive::new(file).map_err(|e| bad(format!("not a readable zip archive: {e}")))?;
    let pkl = zip
        .file_names()
        .find(|n| n.ends_with("/data.pkl") && n.matches('/').count() == 1)
        .map(str::to_string)
        .ok_or_else(|| {
            bad("zip archive without `<archive>/data.pkl`: not a `torch.save` file".into())
        })?;
    let prefix = pkl.trim_end_matches("data.pkl").to_string();
    // Up to `max` bytes of entry `name`; more than the allowance left is
    // an error, more than `max` (what the pickle declares) is ignored.
    let mut entry = |zip: &mut zip::ZipArchive<File>,
                     name: &str,
                     max: u64|
     -> Result<Option<Vec<u8>>> {
        let f = match zip.by_name(name) {
            Ok(f) => f,
            Err(zip::result::ZipError::FileNotFound) => return Ok(None),
            Err(e) => return Err(bad(format!("cannot read `{name}` in the archive: {e}"))),
        };
        let limit = max.min(allowance.saturating_add(1));
        let mut buf = Vec::new();
        buf.try_reserve_exact(usize::try_from(f.size().min(limit)).unwrap_or(0))
            .map_err(|_| bad(format!("`{name}` is too large to hold in memory")))?;
        f.take(limit)
            .read_to_end(&mut buf)
            .map_err(|e| bad(format!("cannot read `{name}` in the archive: {e}")))?;
        let got = buf.len() as u64;
        if got > allowance {
            return Err(bad(format!(
                "the archive expands to more than {EXPANSION} times its {on_disk} bytes at `{name}` (a zip bomb?)"
            ))
            .with_hint("re-save the checkpoint with `torch.save`, which stores its entries uncompressed"));
        }
        allowance -= got;
        Ok(Some(buf))
    };
    let data =
        entry(&mut zip, &pkl, MAX_PICKLE + 1)?.ok_or_else(|| bad(format!("`{pkl}` vanished")))?;
    if data.len() as u64 > MAX_PICKLE {
        return Err(bad(format!(
            "`{pkl}` is larger than {} MB: not the pickle of a state dict",
            MAX_PICKLE >> 20
        )));
    }
    let (object, _) = pickle::load(&data).map_err(bad)?;
    let little = match entry(&mut zip, &format!("{prefix}byteorder"), 16)? {
        None => true,
        Some(b) if b == b"little" => true,
        Some(b) if b == b"big" => false,
        Some(_) => return Err(bad("unknown `byteorder` in the archive".into())),
    };
    let mut storages = Storages::default();
    for s in storage_refs(&object) {
        let name = format!("{prefix}data/{}", s.key);
        let declared = s.numel.saturating_mul(s.dtype.size() as u64);
        let bytes = entry(&mut zip, &name, declared)?
            .ok_or_else(|| bad(format!("storage `{name}` is missing from the archive")))?;
        storages
            .insert(&s.key, s.dtype, &bytes, little)
            .map_err(bad)?;
    }
    Ok((object, storages))
}
