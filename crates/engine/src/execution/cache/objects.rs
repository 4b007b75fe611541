//! Moving a stage's staging directory into the object store.

use std::collections::{BTreeMap, BTreeSet};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use crate::error::{Error, Result};
use crate::execution::cache::atomic;
use crate::execution::cache::manifest::FileEntry;
use crate::execution::cache::state::hash_file;
use crate::execution::cache::Cache;

/// Hashes every file under `staging` and moves it into `objects/` (or drops
/// it when an identical object exists). Returns relative name -> entry.
/// With `durable`, objects and their directories are fsynced before return,
/// so a manifest written afterwards never names a missing object.
pub fn store(cache: &Cache, staging: &Path, durable: bool) -> Result<BTreeMap<String, FileEntry>> {
    let mut rel = Vec::new();
    walk(staging, Path::new(""), &mut rel)?;
    let mut files = BTreeMap::new();
    let mut dirs = BTreeSet::new();
    for name in rel {
        let src = staging.join(&name);
        let meta = std::fs::symlink_metadata(&src).map_err(|e| Error::io(&src, "read", e))?;
        let hash = hash_file(&src)?;
        let obj = cache.object_path(&hash);
        if !obj.is_file() {
            let dir = obj.parent().map(Path::to_path_buf).unwrap_or_default();
            if !dir.is_dir() {
                std::fs::create_dir_all(&dir).map_err(|e| Error::io(&dir, "create", e))?;
            }
            let file = std::fs::File::open(&src).map_err(|e| Error::io(&src, "read", e))?;
            if durable {
                file.sync_all().map_err(|e| Error::io(&src, "sync", e))?;
            }
            file.set_permissions(std::fs::Permissions::from_mode(0o444))
                .map_err(|e| Error::io(&src, "make read-only", e))?;
            std::fs::rename(&src, &obj).map_err(|e| Error::io(&obj, "store", e))?;
            dirs.insert(dir);
        }
        let name = name.to_string_lossy().into_owned();
        files.insert(
            name,
            FileEntry {
                hash,
                size: meta.len(),
            },
        );
    }
    if durable {
        for dir in dirs {
            atomic::sync_dir(&dir)?;
        }
    }
    Ok(files)
}

/// Regular files under `root` (following no symlinks out of it: a symlink
/// is stored as the file it points to).
fn walk(root: &Path, rel: &Path, out: &mut Vec<PathBuf>) -> Result<()> {
    let dir = root.join(rel);
    let entries = std::fs::read_dir(&dir).map_err(|e| Error::io(&dir, "read", e))?;
    for entry in entries {
        let entry = entry.map_err(|e| Error::io(&dir, "read", e))?;
        let rel = rel.join(entry.file_name());
        let path = root.join(&rel);
        let meta = std::fs::metadata(&path).map_err(|e| Error::io(&path, "read", e))?;
        if meta.is_dir() {
            walk(root, &rel, out)?;
        } else if meta.is_file() {
            if std::fs::symlink_metadata(&path).is_ok_and(|m| m.file_type().is_symlink()) {
                // Store the target's bytes, not a link that may dangle later.
                let bytes = std::fs::read(&path).map_err(|e| Error::io(&path, "read", e))?;
                std::fs::remove_file(&path).map_err(|e| Error::io(&path, "replace", e))?;
                std::fs::write(&path, bytes).map_err(|e| Error::io(&path, "write", e))?;
            }
            out.push(rel);
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stores_nested_files_read_only_and_dedups() {
        let dir = tempfile::tempdir().unwrap();
        let cache = Cache::open(&dir.path().join("cache")).unwrap();
        let staging = dir.path().join("out");
        std::fs::create_dir_all(staging.join("sub")).unwrap();
        std::fs::write(staging.join("a"), b"same").unwrap();
        std::fs::write(staging.join("sub/b"), b"same").unwrap();
        let files = store(&cache, &staging, true).unwrap();
        assert_eq!(files.keys().collect::<Vec<_>>(), ["a", "sub/b"]);
        assert_eq!(files["a"].hash, files["sub/b"].hash);
        let obj = cache.object_path(&files["a"].hash);
        assert_eq!(std::fs::read(&obj).unwrap(), b"same");
        assert_eq!(
            std::fs::metadata(&obj).unwrap().permissions().mode() & 0o777,
            0o444
        );
    }
}
