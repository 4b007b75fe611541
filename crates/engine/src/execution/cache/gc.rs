//! `pipe gc`: keep the manifests of the given keys and the objects they
//! name; delete every other manifest, object, log and work directory, and
//! the directories of links to objects (`inputs/`).

use std::collections::HashSet;

use crate::error::{Error, Result};
use crate::execution::cache::key::StageHash;
use crate::execution::cache::manifest::Manifest;
use crate::execution::cache::verify::list;
use crate::execution::cache::Cache;
use crate::hash::ContentHash;

#[derive(Debug, Default, PartialEq)]
pub struct GcReport {
    pub kept_manifests: usize,
    pub deleted_manifests: usize,
    pub kept_objects: usize,
    pub deleted_objects: usize,
    pub bytes_freed: u64,
    /// What could not be deleted (and why); gc goes on without it.
    pub left: Vec<String>,
}

/// Deletes what `keep` does not reach (or only counts it, with `dry_run`).
/// The caller holds the cache lock exclusively.
pub fn gc(cache: &Cache, keep: &HashSet<StageHash>, dry_run: bool) -> Result<GcReport> {
    let mut report = GcReport::default();
    let mut live: HashSet<ContentHash> = HashSet::new();
    let mut kept_hex: HashSet<String> = HashSet::new();
    for path in list(&cache.dir("keys"), 1)? {
        let stem = path
            .file_stem()
            .map(|s| s.to_string_lossy().into_owned())
            .unwrap_or_default();
        let key = stem.parse::<ContentHash>().ok().map(StageHash);
        let manifest = Manifest::read(&path).ok();
        match (key, manifest) {
            (Some(key), Some(m)) if keep.contains(&key) => {
                live.extend(m.files.values().map(|f| f.hash));
                kept_hex.insert(stem);
                report.kept_manifests += 1;
            }
            _ => {
                report.bytes_freed += size(&path);
                report.deleted_manifests += 1;
                if !dry_run {
                    remove(&path)?;
                }
            }
        }
    }
    for path in list(&cache.dir("objects"), 2)? {
        let name = path
            .file_name()
            .map(|s| s.to_string_lossy().into_owned())
            .unwrap_or_default();
        if name.parse::<ContentHash>().is_ok_and(|h| live.contains(&h)) {
            report.kept_objects += 1;
            continue;
        }
        report.bytes_freed += size(&path);
        report.deleted_objects += 1;
        if !dry_run {
            remove(&path)?;
        }
    }
    // Logs and locks of deleted keys; work dirs of keys not kept.
    for (sub, ext) in [("logs", ".log"), ("locks", ".lock")] {
        for path in list(&cache.dir(sub), 1)? {
            let name = path
                .file_name()
                .map(|s| s.to_string_lossy().into_owned())
                .unwrap_or_default();
            if !kept_hex.contains(name.trim_end_matches(ext)) {
                report.bytes_freed += size(&path);
                if !dry_run {
                    remove(&path)?;
                }
            }
        }
    }
    // Whatever else lies in work/ (a stray file, a read-only tree a command
    // left) is removed too, and what cannot be is reported, never fatal.
    if let Ok(entries) = std::fs::read_dir(cache.dir("work")) {
        for entry in entries.flatten() {
            let name = entry.file_name().to_string_lossy().into_owned();
            if !kept_hex.contains(&name) {
                report.bytes_freed += dir_size(&entry.path());
                if !dry_run {
                    if let Err(e) = remove_any(&entry.path()) {
                        report
                            .left
                            .push(Error::io(entry.path(), "remove", e).to_string());
                    }
                }
            }
        }
    }
    // Directories of links to objects (`input_dirs`): made again on use.
    let inputs = cache.dir("inputs");
    if !dry_run && inputs.exists() {
        std::fs::remove_dir_all(&inputs).map_err(|e| Error::io(&inputs, "remove", e))?;
    }
    Ok(report)
}

/// Removes a file, a symlink (not its target) or a directory tree, making
/// directories writable where a first attempt is refused.
fn remove_any(path: &std::path::Path) -> std::io::Result<()> {
    let meta = match std::fs::symlink_metadata(path) {
        Ok(m) => m,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(e),
    };
    if !meta.is_dir() {
        return std::fs::remove_file(path);
    }
    if std::fs::remove_dir_all(path).is_ok() {
        return Ok(());
    }
    make_writable(path);
    std::fs::remove_dir_all(path)
}

fn make_writable(dir: &std::path::Path) {
    use std::os::unix::fs::PermissionsExt;
    let _ = std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700));
    if let Ok(entries) = std::fs::read_dir(dir) {
        for entry in entries.flatten() {
            if entry.file_type().is_ok_and(|t| t.is_dir()) {
                make_writable(&entry.path());
            }
        }
    }
}

fn size(path: &std::path::Path) -> u64 {
    std::fs::metadata(path).map(|m| m.len()).unwrap_or(0)
}

fn dir_size(path: &std::path::Path) -> u64 {
    if !std::fs::symlink_metadata(path).is_ok_and(|m| m.is_dir()) {
        return std::fs::symlink_metadata(path).map_or(0, |m| m.len());
    }
    let Ok(entries) = std::fs::read_dir(path) else {
        return 0;
    };
    entries.flatten().map(|e| dir_size(&e.path())).sum()
}

fn remove(path: &std::path::Path) -> Result<()> {
    match std::fs::remove_file(path) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(Error::io(path, "remove", e)),
    }
}
