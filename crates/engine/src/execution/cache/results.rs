//! Every result the cache holds, read-only: what `pipe exp show` and `pipe
//! exp diff` compare. A result is a manifest whose objects all exist; its
//! key holds the params it was made with, its manifest the producing stage,
//! the time it took and when it was made.
//!
//! Found by one scan of `keys/` (manifests are small JSON files; objects
//! are only checked for existence, never read).

use std::collections::BTreeMap;
use std::path::PathBuf;

use crate::execution::cache::key::StageHash;
use crate::execution::cache::manifest::Manifest;
use crate::execution::cache::Cache;

/// One complete cached result.
#[derive(Clone, Debug)]
pub struct CachedResult {
    pub key: StageHash,
    pub manifest: Manifest,
    /// When the manifest was written, in nanoseconds since the Unix epoch
    /// (its file's mtime): orders results made within the same second,
    /// which `Manifest::created` cannot.
    pub written_ns: u128,
}

impl CachedResult {
    /// Where one output file's object lies, if the result has that file.
    pub fn file(&self, cache: &Cache, name: &str) -> Option<PathBuf> {
        self.manifest
            .files
            .get(name)
            .map(|f| cache.object_path(&f.hash))
    }

    /// Output file name -> object path, for every file of the result.
    pub fn files(&self, cache: &Cache) -> BTreeMap<String, PathBuf> {
        self.manifest
            .files
            .iter()
            .map(|(name, f)| (name.clone(), cache.object_path(&f.hash)))
            .collect()
    }
}

/// Every complete result in the cache whose manifest `keep` accepts, in no
/// particular order. Unreadable manifests and results with a missing object
/// are skipped: they are not results (`pipe cache verify` reports them).
pub fn results(cache: &Cache, keep: impl Fn(&Manifest) -> bool) -> Vec<CachedResult> {
    let Ok(entries) = std::fs::read_dir(cache.dir("keys")) else {
        return Vec::new();
    };
    let mut found = Vec::new();
    for entry in entries.flatten() {
        let path = entry.path();
        let Some(hex) = path
            .file_name()
            .and_then(|n| n.to_str())
            .and_then(|n| n.strip_suffix(".json"))
        else {
            continue;
        };
        let Ok(manifest) = Manifest::read(&path) else {
            continue;
        };
        if !keep(&manifest) {
            continue;
        }
        let key = manifest.key.hash();
        // A manifest under another name than its key's hash is not ours.
        if key.0.to_hex() != hex {
            continue;
        }
        let complete = manifest
            .files
            .values()
            .all(|f| cache.object_path(&f.hash).is_file());
        if complete {
            let written_ns = entry
                .metadata()
                .and_then(|m| m.modified())
                .ok()
                .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
                .map_or(u128::from(manifest.created) * 1_000_000_000, |d| {
                    d.as_nanos()
                });
            found.push(CachedResult {
                key,
                manifest,
                written_ns,
            });
        }
    }
    found
}
