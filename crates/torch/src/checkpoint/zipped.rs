//! `torch.save`'s zip format (PyTorch >= 1.6): `<archive>/data.pkl` holds the
//! pickle, `<archive>/data/<key>` each storage's raw bytes, and
//! `<archive>/byteorder` their byte order (absent in old files: little).

use std::fs::File;
use std::io::Read;
use std::path::Path;

use pipe_engine::{Error, Result};

use super::pickle::{self, Object};
use super::storage::Storages;
use super::storage_refs;

/// Reads the pickle and every storage it names.
pub fn read(path: &Path) -> Result<(Object, Storages)> {
    let bad = |m: String| Error::bad_data(path, m);
    let file = File::open(path).map_err(|e| Error::io(path, "open", e))?;
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
    let entry = |zip: &mut zip::ZipArchive<File>, name: &str| -> Result<Option<Vec<u8>>> {
        let mut f = match zip.by_name(name) {
            Ok(f) => f,
            Err(zip::result::ZipError::FileNotFound) => return Ok(None),
            Err(e) => return Err(bad(format!("cannot read `{name}` in the archive: {e}"))),
        };
        let mut buf = Vec::with_capacity(usize::try_from(f.size()).unwrap_or(0));
        f.read_to_end(&mut buf)
            .map_err(|e| bad(format!("cannot read `{name}` in the archive: {e}")))?;
        Ok(Some(buf))
    };
    let data = entry(&mut zip, &pkl)?.ok_or_else(|| bad(format!("`{pkl}` vanished")))?;
    let (object, _) = pickle::load(&data).map_err(bad)?;
    let little = match entry(&mut zip, &format!("{prefix}byteorder"))? {
        None => true,
        Some(b) if b == b"little" => true,
        Some(b) if b == b"big" => false,
        Some(_) => return Err(bad("unknown `byteorder` in the archive".into())),
    };
    let mut storages = Storages::default();
    for s in storage_refs(&object) {
        let name = format!("{prefix}data/{}", s.key);
        let bytes = entry(&mut zip, &name)?
            .ok_or_else(|| bad(format!("storage `{name}` is missing from the archive")))?;
        storages
            .insert(&s.key, s.dtype, &bytes, little)
            .map_err(bad)?;
    }
    Ok((object, storages))
}
