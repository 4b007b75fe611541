//! Bringing a result made elsewhere (a remote cache) into this cache.
//!
//! The same promises as a local run: an object enters the store only after
//! its bytes were hashed here and match its name ([`adopt`]), and a
//! manifest is written last, only when its key is its name, its output
//! hash matches its files, and every object it names is in the store and
//! sealed ([`manifest`]). A download cut short leaves a `.tmp.` file beside
//! the objects (removed by `pipe cache verify`), never an object or a
//! manifest.

use std::fs::File;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use crate::error::{Error, Result};
use crate::execution::cache::key::StageHash;
use crate::execution::cache::manifest::{is_plain_name, output_hash, Manifest};
use crate::execution::cache::objects::{self, Check};
use crate::execution::cache::state::hash_file;
use crate::execution::cache::{atomic, Cache};
use crate::hash::ContentHash;

/// A fresh temp path to download `hash` into: beside its object (so that
/// [`adopt`] is a rename, and `pipe cache verify` removes a leftover).
pub fn temp_path(cache: &Cache, hash: &ContentHash) -> Result<PathBuf> {
    let obj = cache.object_path(hash);
    if let Some(dir) = obj.parent().filter(|d| !d.is_dir()) {
        std::fs::create_dir_all(dir).map_err(|e| Error::io(dir, "create", e))?;
    }
    Ok(atomic::temp_beside(&obj))
}

/// Whether the store holds `hash` intact (of `size` bytes, sealed), so a
/// download can be skipped.
pub fn has_object(cache: &Cache, hash: &ContentHash, size: u64) -> bool {
    let entry = crate::execution::cache::manifest::FileEntry { hash: *hash, size };
    objects::check(cache, &entry) == Check::Sealed
}

/// Moves the downloaded file `tmp` into the store as `hash`: rehashes it
/// first and deletes it instead when its bytes do not match (a corrupt or
/// truncated remote object never enters the store). Sealed and read-only
/// as every object.
pub fn adopt(cache: &Cache, tmp: &Path, hash: &ContentHash, durable: bool) -> Result<()> {
    let got = hash_file(tmp);
    if got.as_ref().ok() != Some(hash) {
        let _ = std::fs::remove_file(tmp);
        let got = got?;
        return Err(Error::bad_data(
            tmp,
            format!("downloaded bytes hash to {} instead of {hash}", got.short()),
        ));
    }
    let file = File::open(tmp).map_err(|e| Error::io(tmp, "read", e))?;
    let result = (|| {
        if durable {
            file.sync_all().map_err(|e| Error::io(tmp, "sync", e))?;
        }
        objects::seal(&file, hash).map_err(|e| Error::io(tmp, "seal", e))?;
        file.set_permissions(std::fs::Permissions::from_mode(0o444))
            .map_err(|e| Error::io(tmp, "make read-only", e))?;
        let dir = objects::put(cache, tmp, &cache.object_path(hash))?;
        if durable {
            atomic::sync_dir(&dir)?;
        }
        Ok(())
    })();
    if result.is_err() {
        let _ = std::fs::remove_file(tmp);
    }
    result
}

/// Writes `manifest` as the result of `key`, after checking that it is one:
/// its key hashes to `key`, its names are plain, its output hash matches
/// its files, and every object is in the store. What fails is bad data
/// from elsewhere, never written.
pub fn manifest(cache: &Cache, key: &StageHash, manifest: &Manifest, durable: bool) -> Result<()> {
    let path = cache.manifest_path(key);
    let bad = |what: String| Err(Error::bad_data(&path, what));
    if manifest.key.hash() != *key {
        return bad(format!(
            "the record's key hashes to {}, not to its name",
            manifest.key.hash()
        ));
    }
    if let Some(name) = manifest.files.keys().find(|n| !is_plain_name(n)) {
        return bad(format!("the record names the output file `{name}`, which is not a relative path of plain names"));
    }
    if output_hash(&manifest.files) != manifest.output {
        return bad("the record's output hash does not match its files".into());
    }
    if let Some((name, _)) = manifest
        .files
        .iter()
        .find(|(_, e)| objects::check(cache, e) != Check::Sealed)
    {
        return Err(Error::internal(format!(
            "importing {key}: the object of `{name}` is not in the store"
        )));
    }
    manifest.write(&path, durable)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_download_that_does_not_match_its_name_is_deleted_not_stored() {
        let dir = tempfile::tempdir().unwrap();
        let cache = Cache::open(&dir.path().join("cache")).unwrap();
        let good = ContentHash::of(b"right");
        let tmp = temp_path(&cache, &good).unwrap();
        std::fs::write(&tmp, b"wrong").unwrap();
        assert!(adopt(&cache, &tmp, &good, false).is_err());
        assert!(!tmp.exists());
        assert!(!cache.object_path(&good).exists());
        let tmp = temp_path(&cache, &good).unwrap();
        std::fs::write(&tmp, b"right").unwrap();
        adopt(&cache, &tmp, &good, false).unwrap();
        assert!(has_object(&cache, &good, 5));
    }
}
