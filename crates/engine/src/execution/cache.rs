//! The content-addressed store under the cache directory.
//!
//! Layout (see docs/caching.md): `objects/ab/<blake3>` holds immutable,
//! read-only files by content; `keys/<stage key>.json` maps a stage key to
//! the objects of its output (the manifest, written last, after its objects
//! are durable); `logs/`, `work/`, `tmp/` and `state/` hold logs, resumable
//! scratch space, per-process staging and per-pipeline run state. Nothing
//! here knows what a stage does: it stores files under hashes.

pub mod atomic;
pub mod commit;
pub mod entry;
pub mod gc;
pub mod history;
pub mod input_dirs;
pub mod key;
pub mod manifest;
pub mod objects;
pub mod results;
pub mod staging;
pub mod state;
pub mod verify;

use std::path::{Path, PathBuf};

use crate::error::{Error, Result};
use crate::hash::ContentHash;

pub use entry::{Begun, Entry, Stored, Wait};
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
        let cache = Cache::existing(root)?;
        let root = cache.root;
        for sub in ["objects", "keys", "logs", "work", "tmp", "state", "locks"] {
            let dir = root.join(sub);
            if !dir.is_dir() {
                std::fs::create_dir_all(&dir)
                    .map_err(|e| Error::io(&dir, "create the cache directory", e))?;
            }
        }
        Ok(Cache { root })
    }

    /// The cache at `root` for reading only: creates nothing, and a cache
    /// that does not exist yet is an empty one (`pipe status`, `gc -n`).
    pub fn existing(root: &Path) -> Result<Cache> {
        let root = if root.is_absolute() {
            root.to_path_buf()
        } else {
            std::env::current_dir()
                .map_err(|e| Error::io(root, "resolve", e))?
                .join(root)
        };
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

    /// The manifest of `key` if it and every object it names are intact: a
    /// hit.
    pub fn lookup(&self, key: &StageHash) -> Option<Manifest> {
        match self.find(key) {
            Found::Hit(m) => Some(m),
            Found::Miss | Found::Corrupt(_) => None,
        }
    }

    /// Looks `key` up and checks its objects: a `stat` each (size and seal,
    /// see [`objects`]); an object whose seal is broken is rehashed, and
    /// deleted when its bytes do not match its name.
    pub fn find(&self, key: &StageHash) -> Found {
        let Ok(manifest) = Manifest::read(&self.manifest_path(key)) else {
            return Found::Miss;
        };
        for entry in manifest.files.values() {
            match objects::check(self, entry) {
                objects::Check::Sealed => {}
                objects::Check::Missing => return Found::Miss,
                objects::Check::Unsealed => {
                    if !objects::reverify(self, &entry.hash) {
                        return Found::Corrupt(manifest);
                    }
                }
            }
        }
        Found::Hit(manifest)
    }
}

/// What the cache holds for a key.
pub enum Found {
    Hit(Manifest),
    /// No manifest, or an object of it is missing.
    Miss,
    /// An object of this manifest did not match its hash and was deleted:
    /// whatever was computed from this result may be wrong too.
    Corrupt(Manifest),
}
