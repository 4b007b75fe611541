//! The content-addressed store under the cache directory.
//!
//! Layout (see docs/caching.md): `objects/ab/<blake3>` holds immutable,
//! read-only files by content; `keys/<stage key>.json` maps a stage key to
//! the objects of its output (the manifest, written last, after its objects
//! are durable); `logs/`, `work/`, `tmp/` and `state/` hold logs, resumable
//! scratch space, per-process staging and per-pipeline run state. Nothing
//! here knows what a stage does: it stores files under hashes.

pub mod atomic;
pub mod gc;
pub mod history;
pub mod key;
pub mod manifest;
pub mod objects;
pub mod state;
pub mod verify;

use std::path::{Path, PathBuf};

use crate::error::{Error, Result};
use crate::hash::ContentHash;

pub use key::{StageHash, StageKey};
pub use manifest::{FileEntry, Manifest};

/// A cache directory. Cheap to clone; holds no open files.
#[derive(Clone, Debug)]
pub struct Cache {
    root: PathBuf,
}

impl Cache {
    /// Opens (creating if needed) the cache at `root`, made absolute so that
    /// paths handed to commands stay valid in their working directory.
    pub fn open(root: &Path) -> Result<Cache> {
        let root = if root.is_absolute() {
            root.to_path_buf()
        } else {
            std::env::current_dir()
                .map_err(|e| Error::io(root, "resolve", e))?
                .join(root)
        };
        for sub in ["objects", "keys", "logs", "work", "tmp", "state", "locks"] {
            let dir = root.join(sub);
            if !dir.is_dir() {
                std::fs::create_dir_all(&dir)
                    .map_err(|e| Error::io(&dir, "create the cache directory", e))?;
            }
        }
        Ok(Cache { root })
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    pub fn object_path(&self, hash: &ContentHash) -> PathBuf {
        let hex = hash.to_hex();
        self.root.join("objects").join(&hex[..2]).join(&hex)
    }

    pub fn manifest_path(&self, key: &StageHash) -> PathBuf {
        self.root
            .join("keys")
            .join(format!("{}.json", key.0.to_hex()))
    }

    pub fn log_path(&self, key: &StageHash) -> PathBuf {
        self.root
            .join("logs")
            .join(format!("{}.log", key.0.to_hex()))
    }

    pub fn work_path(&self, key: &StageHash) -> PathBuf {
        self.root.join("work").join(key.0.to_hex())
    }

    pub fn key_lock_path(&self, key: &StageHash) -> PathBuf {
        self.root
            .join("locks")
            .join(format!("{}.lock", key.0.to_hex()))
    }

    pub fn dir(&self, sub: &str) -> PathBuf {
        self.root.join(sub)
    }

    /// The manifest of `key` if it and every object it names exist: a hit.
    pub fn lookup(&self, key: &StageHash) -> Option<Manifest> {
        let manifest = Manifest::read(&self.manifest_path(key)).ok()?;
        let complete = manifest
            .files
            .values()
            .all(|f| self.object_path(&f.hash).is_file());
        complete.then_some(manifest)
    }
}
