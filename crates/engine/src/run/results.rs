//! Making results visible: each stage's output files are hard-linked (or
//! copied, across file systems) to `<results>/<stage name>/<file>`, where
//! users and Python scripts read them.
//!
//! Links are replaced atomically (link to a temp name, rename), files the
//! current result does not have are removed, and an up-to-date link costs
//! two `stat`s, so a no-op run stays cheap.

use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

use crate::cache::atomic::temp_beside;
use crate::cache::manifest::Manifest;
use crate::cache::Cache;
use crate::error::{Error, Result};

/// The directory of one stage's results. `/` in a name would nest, so it
/// is replaced.
pub fn stage_dir(root: &Path, stage: &str) -> PathBuf {
    root.join(&*crate::pipeline::results_dir_name(stage))
}

pub fn link(cache: &Cache, root: &Path, stage: &str, manifest: &Manifest) -> Result<()> {
    let dir = stage_dir(root, stage);
    let mut changed = false;
    for (name, entry) in &manifest.files {
        let target = dir.join(name);
        let object = cache.object_path(&entry.hash);
        let obj_meta = std::fs::metadata(&object).map_err(|e| Error::io(&object, "read", e))?;
        if let Ok(t) = std::fs::metadata(&target) {
            let same = (t.ino() == obj_meta.ino() && t.dev() == obj_meta.dev())
                // A copy (other file system) is current if its size and
                // mtime are the object's.
                || (t.len() == obj_meta.len()
                    && t.mtime() == obj_meta.mtime()
                    && t.nlink() == 1
                    && !t.is_dir());
            if same {
                continue;
            }
        }
        changed = true;
        if let Some(parent) = target.parent() {
            if !parent.is_dir() {
                std::fs::create_dir_all(parent)
                    .map_err(|e| Error::io(parent, "create the results directory", e))?;
            }
        }
        let tmp = temp_beside(&target);
        if std::fs::hard_link(&object, &tmp).is_err() {
            std::fs::copy(&object, &tmp).map_err(|e| Error::io(&tmp, "copy a result to", e))?;
            if let Ok(f) = std::fs::File::options().write(true).open(&tmp) {
                let _ = f.set_modified(
                    obj_meta
                        .modified()
                        .unwrap_or(std::time::SystemTime::UNIX_EPOCH),
                );
            }
        }
        if let Err(e) = std::fs::rename(&tmp, &target) {
            let _ = std::fs::remove_file(&tmp);
            return Err(Error::io(&target, "replace", e));
        }
    }
    // Files of an earlier result are removed when this one was linked in;
    // a directory already showing this result needs no listing (keeps a
    // no-op run at two `stat`s per file). An empty result has nothing to
    // compare, so its directory is always checked.
    if changed || manifest.files.is_empty() {
        if manifest.files.is_empty() && !dir.is_dir() {
            std::fs::create_dir_all(&dir)
                .map_err(|e| Error::io(&dir, "create the results directory", e))?;
        }
        remove_stale(&dir, Path::new(""), manifest);
    }
    Ok(())
}

/// Removes files in the results directory that the result does not have
/// (left from an earlier result of the stage).
fn remove_stale(root: &Path, rel: &Path, manifest: &Manifest) {
    let Ok(entries) = std::fs::read_dir(root.join(rel)) else {
        return;
    };
    for entry in entries.flatten() {
        if entry.file_name().to_string_lossy().starts_with(".tmp.") {
            // Another pipe is linking this very result right now.
            continue;
        }
        let rel = rel.join(entry.file_name());
        let is_dir = entry.file_type().is_ok_and(|t| t.is_dir());
        if is_dir {
            remove_stale(root, &rel, manifest);
            let _ = std::fs::remove_dir(root.join(&rel));
        } else if !manifest.files.contains_key(rel.to_string_lossy().as_ref()) {
            let _ = std::fs::remove_file(root.join(&rel));
        }
    }
}
