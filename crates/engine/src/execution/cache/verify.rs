//! `pipe cache verify`: rehash every object, drop corrupt objects, the
//! manifests that name missing or corrupt objects or are unreadable (those
//! stages rerun), and every manifest derived from a dropped one: a result
//! whose key names a dropped output may have been computed from the corrupt
//! bytes, and since keys name outputs by hash, a rerun of the producer would
//! otherwise find it cached again under the same, clean key.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use crate::error::{Error, Result};
use crate::execution::cache::manifest::Manifest;
use crate::execution::cache::state::hash_file;
use crate::execution::cache::{input_dirs, Cache};

#[derive(Debug, Default, PartialEq)]
pub struct VerifyReport {
    pub objects: usize,
    pub bytes: u64,
    pub corrupt_objects: usize,
    pub manifests: usize,
    pub dropped_manifests: usize,
    /// Of those, dropped because an input they were computed from was.
    pub derived_manifests: usize,
    pub temp_files: usize,
}

/// Verifies the cache. The caller holds the cache lock exclusively.
pub fn verify(cache: &Cache) -> Result<VerifyReport> {
    verify_with(cache, false)
}

/// [`verify`], or with `dry_run` only the report of what it would delete
/// (`pipe cache verify -n`): then nothing is written, and no lock is needed.
pub fn verify_with(cache: &Cache, dry_run: bool) -> Result<VerifyReport> {
    let remove = |path: &Path| if dry_run { Ok(()) } else { remove(path) };
    let mut corrupt = std::collections::HashSet::new();
    let mut report = VerifyReport::default();
    for path in list(&cache.dir("objects"), 2)? {
        let name = file_name(&path);
        if name.starts_with(".tmp.") {
            remove(&path)?;
            report.temp_files += 1;
            continue;
        }
        report.objects += 1;
        report.bytes += std::fs::metadata(&path).map(|m| m.len()).unwrap_or(0);
        let ok = hash_file(&path).is_ok_and(|h| h.to_hex() == name);
        if !ok {
            remove(&path)?;
            if !dry_run {
                input_dirs::distrust(cache);
            }
            corrupt.insert(path.clone());
            report.corrupt_objects += 1;
        }
    }
    // Output hashes of dropped manifests, and the manifests still kept.
    let mut dropped = BTreeSet::new();
    let mut kept: Vec<(PathBuf, Manifest)> = Vec::new();
    for path in list(&cache.dir("keys"), 1)? {
        if file_name(&path).starts_with(".tmp.") {
            remove(&path)?;
            report.temp_files += 1;
            continue;
        }
        report.manifests += 1;
        match Manifest::read(&path) {
            Ok(m)
                if m.files.values().all(|f| {
                    let object = cache.object_path(&f.hash);
                    object.is_file() && !corrupt.contains(&object)
                }) =>
            {
                kept.push((path, m));
            }
            Ok(m) => {
                dropped.insert(m.output);
                remove(&path)?;
                report.dropped_manifests += 1;
            }
            Err(_) => {
                remove(&path)?;
                report.dropped_manifests += 1;
            }
        }
    }
    // Downstream of a dropped output, transitively.
    loop {
        let (derived, rest): (Vec<_>, Vec<_>) = kept.into_iter().partition(|(_, m)| {
            m.key
                .inputs
                .values()
                .flatten()
                .any(|(_, output)| dropped.contains(output))
        });
        kept = rest;
        if derived.is_empty() {
            break;
        }
        for (path, m) in derived {
            dropped.insert(m.output);
            remove(&path)?;
            report.dropped_manifests += 1;
            report.derived_manifests += 1;
        }
    }
    Ok(report)
}

fn file_name(path: &Path) -> String {
    path.file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default()
}

fn remove(path: &Path) -> Result<()> {
    match std::fs::remove_file(path) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(Error::io(path, "remove", e)),
    }
}

/// Files exactly `depth` levels below `dir`.
pub fn list(dir: &Path, depth: usize) -> Result<Vec<std::path::PathBuf>> {
    let mut out = Vec::new();
    let entries = match std::fs::read_dir(dir) {
        Ok(e) => e,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(out),
        Err(e) => return Err(Error::io(dir, "read", e)),
    };
    for entry in entries {
        let path = entry.map_err(|e| Error::io(dir, "read", e))?.path();
        if depth > 1 {
            if path.is_dir() {
                out.extend(list(&path, depth - 1)?);
            }
        } else if path.is_file() {
            out.push(path);
        }
    }
    out.sort();
    Ok(out)
}
