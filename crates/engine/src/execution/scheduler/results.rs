//! Making results visible: each stage's output files are hard-linked (or
//! copied, across file systems) to `<results>/<stage name>/<file>`, where
//! users and Python scripts read them.
//!
//! A stage's directory is replaced as a whole: the new one is built beside
//! it under a temp name and swapped in with one `renameat2(RENAME_EXCHANGE)`,
//! so a reader, or two runs of different configurations at once, never see
//! a mix of two results. A directory already showing the result costs two
//! `stat`s per file, so a no-op run stays cheap.

use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

use crate::error::{Error, Result};
use crate::execution::cache::atomic::temp_beside;
use crate::execution::cache::manifest::Manifest;
use crate::execution::cache::{objects, Cache};

/// The directory of one stage's results. `/` in a name would nest, so it
/// is replaced.
pub fn stage_dir(root: &Path, stage: &str) -> PathBuf {
    root.join(&*crate::format::pipeline::results_dir_name(stage))
}

/// Whether `<root>/<stage>/` shows exactly `manifest`'s files: what
/// `pipe status` checks so that it never calls up to date a results
/// directory holding another configuration's result; `None` when there is
/// no such directory. One `stat` per file, as a cache hit costs: a file of
/// the object's size carrying its seal ([`objects::sealed`]) is the object
/// or a faithful copy of it. Reads only.
pub fn shows(root: &Path, stage: &str, manifest: &Manifest) -> Option<bool> {
    let dir = stage_dir(root, stage);
    let mut files = manifest.files.iter();
    let Some((name, entry)) = files.next() else {
        return std::fs::read_dir(&dir).ok().map(|mut e| e.next().is_none());
    };
    match std::fs::symlink_metadata(dir.join(name)) {
        Ok(m) if objects::sealed(&m, entry) => {}
        // Only a missing directory is not compared.
        Err(_) if !dir.is_dir() => return None,
        _ => return Some(false),
    }
    Some(files.all(|(name, entry)| {
        std::fs::symlink_metadata(dir.join(name)).is_ok_and(|m| objects::sealed(&m, entry))
    }))
}

/// Links a result into `<root>/<stage>/`; `true` when anything there changed.
pub fn link(cache: &Cache, root: &Path, stage: &str, manifest: &Manifest) -> Result<bool> {
    let dir = stage_dir(root, stage);
    if current(cache, &dir, manifest) {
        return Ok(false);
    }
    if !root.is_dir() {
        std::fs::create_dir_all(root)
            .map_err(|e| Error::io(root, "create the results directory", e))?;
    }
    remove_dead_temps(root);
    let tmp = temp_beside(&dir);
    let built = build(cache, &tmp, manifest).and_then(|()| swap(&tmp, &dir));
    // After the swap `tmp` holds the previous result (or nothing).
    let _ = std::fs::remove_dir_all(&tmp);
    built.map(|()| true)
}

/// Removes `.tmp.<pid>.<n>` directories that a killed pipe left in `root`
/// while building a result (a live pipe's are left alone).
fn remove_dead_temps(root: &Path) {
    let Ok(entries) = std::fs::read_dir(root) else {
        return;
    };
    for entry in entries.flatten() {
        let name = entry.file_name();
        let Some(pid) = name
            .to_str()
            .and_then(|n| n.strip_prefix(".tmp."))
            .and_then(|rest| rest.split('.').next())
            .and_then(|pid| pid.parse::<libc::pid_t>().ok())
        else {
            continue;
        };
        // SAFETY: signal 0 only asks whether the process exists.
        let dead = unsafe { libc::kill(pid, 0) } != 0
            && std::io::Error::last_os_error().raw_os_error() == Some(libc::ESRCH);
        if dead {
            let _ = std::fs::remove_dir_all(entry.path());
        }
    }
}

/// Whether `dir` already shows exactly the files of `manifest` (files it
/// has beyond them are only looked for when something changed).
fn current(cache: &Cache, dir: &Path, manifest: &Manifest) -> bool {
    if manifest.files.is_empty() {
        return std::fs::read_dir(dir).is_ok_and(|mut e| e.next().is_none());
    }
    manifest.files.iter().all(|(name, entry)| {
        let object = cache.object_path(&entry.hash);
        let (Ok(o), Ok(t)) = (
            std::fs::metadata(&object),
            std::fs::symlink_metadata(dir.join(name)),
        ) else {
            return false;
        };
        (t.ino() == o.ino() && t.dev() == o.dev())
            // A copy (only on another file system) is current if its size
            // and mtime are the object's, nanoseconds included: they carry
            // the object's seal, so a stale file of the same size is not taken.
            || (t.dev() != o.dev()
                && t.is_file()
                && t.len() == o.len()
                && t.mtime() == o.mtime()
                && t.mtime_nsec() == o.mtime_nsec()
                && t.nlink() == 1)
    })
}

/// A fresh directory at `tmp` holding the result's files.
fn build(cache: &Cache, tmp: &Path, manifest: &Manifest) -> Result<()> {
    std::fs::create_dir(tmp).map_err(|e| Error::io(tmp, "create the results directory", e))?;
    for (name, entry) in &manifest.files {
        let target = tmp.join(name);
        if let Some(parent) = target.parent() {
            std::fs::create_dir_all(parent)
                .map_err(|e| Error::io(parent, "create the results directory", e))?;
        }
        let object = cache.object_path(&entry.hash);
        if std::fs::hard_link(&object, &target).is_err() {
            let obj_meta = std::fs::metadata(&object).map_err(|e| Error::io(&object, "read", e))?;
            std::fs::copy(&object, &target)
                .map_err(|e| Error::io(&target, "copy a result to", e))?;
            if let Ok(f) = std::fs::File::options().write(true).open(&target) {
                let _ = f.set_modified(
                    obj_meta
                        .modified()
                        .unwrap_or(std::time::SystemTime::UNIX_EPOCH),
                );
            }
        }
    }
    Ok(())
}

/// Puts `tmp` at `dir` in one step; the previous `dir`, if any, ends at `tmp`.
fn swap(tmp: &Path, dir: &Path) -> Result<()> {
    use std::ffi::CString;
    use std::os::unix::ffi::OsStrExt;
    let c = |p: &Path| {
        CString::new(p.as_os_str().as_bytes()).map_err(|_| Error::internal("NUL in a path"))
    };
    let (from, to) = (c(tmp)?, c(dir)?);
    // SAFETY: renameat2 on two valid NUL-terminated paths.
    let rc = unsafe {
        libc::syscall(
            libc::SYS_renameat2,
            libc::c_long::from(libc::AT_FDCWD),
            from.as_ptr(),
            libc::c_long::from(libc::AT_FDCWD),
            to.as_ptr(),
            libc::c_long::from(libc::RENAME_EXCHANGE),
        )
    };
    if rc == 0 {
        return Ok(());
    }
    let e = std::io::Error::last_os_error();
    match e.raw_os_error() {
        // Nothing to exchange with: a plain rename.
        Some(libc::ENOENT) => std::fs::rename(tmp, dir).map_err(|e| Error::io(dir, "replace", e)),
        // A file system without exchange: move the old one aside first (a
        // reader may briefly see no directory, never a mix).
        Some(libc::EINVAL | libc::ENOSYS) => {
            let aside = temp_beside(dir);
            std::fs::rename(dir, &aside).map_err(|e| Error::io(dir, "replace", e))?;
            let moved = std::fs::rename(tmp, dir).map_err(|e| Error::io(dir, "replace", e));
            let _ = std::fs::remove_dir_all(&aside);
            moved
        }
        _ => Err(Error::io(dir, "replace", e)),
    }
}

/// The directories under `root` that belong to no stage of `names`: the
/// results of stages removed from the pipeline file.
pub fn orphans<'a>(root: &Path, names: impl IntoIterator<Item = &'a str>) -> Vec<PathBuf> {
    let wanted: std::collections::HashSet<PathBuf> =
        names.into_iter().map(|n| stage_dir(root, n)).collect();
    let Ok(entries) = std::fs::read_dir(root) else {
        return Vec::new();
    };
    let mut out: Vec<PathBuf> = entries
        .flatten()
        .filter(|e| e.file_type().is_ok_and(|t| t.is_dir()))
        .filter(|e| !e.file_name().to_string_lossy().starts_with(".tmp."))
        .map(|e| e.path())
        .filter(|p| !wanted.contains(p))
        .collect();
    out.sort();
    out
}
