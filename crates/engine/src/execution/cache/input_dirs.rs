//! `inputs/<output hash>/`: a cached output as a directory of hard links to
//! its objects, for kinds that read inputs as directories (`cmd`). Made the
//! first time a stage asks for it and kept across runs, so rerunning a stage
//! with 1,000 inputs checks 1,000 directories instead of making them.
//! Derived data: `pipe gc` removes them all, and one that no longer holds
//! exactly its output's objects is made anew.
//!
//! A directory checked whole is *sealed* (its mtime's nanoseconds derived
//! from the output hash, as objects are), and a sealed one is then trusted
//! on one `stat`: adding, removing or renaming an entry moves its mtime.
//! What the seal cannot see is an object replaced under it (a corrupt one
//! deleted and stored again): whoever deletes or replaces a corrupt object
//! calls [`distrust`], and only directories sealed after that are trusted.

use std::fs::{File, FileTimes};
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;
use std::time::SystemTime;

use crate::error::Result;
use crate::execution::cache::Cache;
use crate::kind::input_dir::linked_dir;
use crate::kind::{Artifact, InputDirs};

pub struct CacheDirs {
    cache: Cache,
    /// Sealed directories are trusted when sealed after this (seconds).
    trust_after: OnceLock<Option<i64>>,
}

impl CacheDirs {
    pub fn new(cache: Cache) -> CacheDirs {
        CacheDirs {
            cache,
            trust_after: OnceLock::new(),
        }
    }
}

impl InputDirs for CacheDirs {
    fn dir(&self, artifact: &Artifact, _work: &Path) -> Result<PathBuf> {
        // One `stat` per stage, not per input.
        let trust_after = *self.trust_after.get_or_init(|| trust_after(&self.cache));
        linked_dir(&self.cache.dir("inputs"), artifact, trust_after)
    }
}

/// The file whose mtime says when a corrupt object was last dropped.
fn epoch_path(cache: &Cache) -> PathBuf {
    cache.dir("inputs.epoch")
}

/// Seconds after which a sealed directory is trusted: the last
/// [`distrust`], or always when there was none. `None` (never trust,
/// check every directory whole) when that cannot be read.
fn trust_after(cache: &Cache) -> Option<i64> {
    match std::fs::metadata(epoch_path(cache)) {
        Ok(m) => Some(m.mtime()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Some(i64::MIN),
        Err(_) => None,
    }
}

/// Called when a corrupt object is deleted or replaced: every input
/// directory sealed until now is checked whole (by inode) before its next
/// use. Best effort: where the mark cannot be written, the cache cannot be
/// written either, and nothing was replaced.
pub fn distrust(cache: &Cache) {
    let path = epoch_path(cache);
    let now = SystemTime::now();
    let marked = File::create(&path).and_then(|f| f.set_times(FileTimes::new().set_modified(now)));
    if marked.is_err() {
        // Without the mark, no directory may be trusted on its seal.
        let _ = std::fs::remove_dir_all(cache.dir("inputs"));
    }
}
