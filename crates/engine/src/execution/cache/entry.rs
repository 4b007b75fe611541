//! How a result enters the cache, the only way: [`Cache::begin`] takes the
//! key's lock and hands out an [`Entry`] (a fresh output directory, the
//! key's work and log paths); [`Entry::finish`] moves the output into the
//! object store and yields a [`Stored`] result, which becomes visible
//! only when it is committed (the manifest, written last). Nothing outside
//! `cache/` knows where these directories are.
//!
//! Dropping an `Entry` (the stage failed or was cancelled) removes its
//! output directory and keeps the work dir (resumable checkpoints); the key
//! lock is released with it, so a failure caches nothing.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use crate::error::{Error, Result};
use crate::execution::cache::key::{StageHash, StageKey};
use crate::execution::cache::manifest::{output_hash, Manifest, FORMAT};
use crate::execution::cache::staging::{Recycler, Staging};
use crate::execution::cache::{objects, Cache};
use crate::execution::lock::{self, Lock};

/// What [`Cache::begin`] found once it held the key's lock.
pub enum Begun {
    /// Another `pipe` stored this key while we waited for its lock.
    Cached(Manifest),
    /// The key is ours to compute.
    Entry(Entry),
}

/// Why [`Cache::begin`] waits, for the caller to say so.
pub enum Wait<'a> {
    /// Another process (its holder id, empty if unknown) or this one
    /// (`lock::holder_id()`) computes the same key.
    Key(&'a str),
    /// A command of a killed `pipe` still holds the work dir.
    WorkDir,
}

/// One attempt at computing a key, holding its lock.
pub struct Entry {
    cache: Cache,
    key: StageKey,
    hash: StageHash,
    /// `None` only once `finish` has handed it on.
    lock: Option<Lock>,
    attempt: PathBuf,
    /// Takes the attempt dir back for the next stage.
    recycler: Recycler,
    out: PathBuf,
    work: PathBuf,
    log: PathBuf,
}

/// A stored result whose manifest is not written yet: [`Stored::commit`]
/// it, or hand it to the run's committer (`cache::commit`), which makes
/// whole batches durable at once.
pub struct Stored {
    pub(crate) manifest: Manifest,
    pub(crate) path: PathBuf,
    pub(crate) work: PathBuf,
    /// The key's lock, released once the manifest is in place.
    pub(crate) lock: Lock,
}

impl Cache {
    /// Takes `key`'s lock (waiting while another stage or `pipe` holds it)
    /// and, unless `forced`, returns the result another one stored
    /// meanwhile; otherwise an [`Entry`] to compute it in.
    pub fn begin(
        &self,
        key: StageKey,
        hash: StageHash,
        forced: bool,
        staging: &Staging,
        mut on_wait: impl FnMut(Wait),
    ) -> Result<Begun> {
        let lock = lock::acquire(&self.key_lock_path(&hash), true, |holder| {
            on_wait(Wait::Key(holder))
        })?;
        if !forced {
            if let Some(m) = self.lookup(&hash) {
                return Ok(Begun::Cached(m));
            }
        }
        let attempt = staging.stage_dir()?;
        let work = self.work_path(&hash);
        std::fs::create_dir_all(&work).map_err(|e| Error::io(&work, "create", e))?;
        // A command of a killed pipe may still be writing here until its
        // supervisor has stopped it (within seconds).
        lock::await_dir(&work, || on_wait(Wait::WorkDir))?;
        let log = self.log_path(&hash);
        // A log from an earlier attempt would pass for this one's.
        let _ = std::fs::remove_file(&log);
        Ok(Begun::Entry(Entry {
            cache: self.clone(),
            key,
            hash,
            lock: Some(lock),
            out: attempt.join("out"),
            attempt,
            recycler: staging.recycler(),
            work,
            log,
        }))
    }
}

impl Entry {
    /// Where the stage writes its outputs (empty at first).
    pub fn out(&self) -> &Path {
        &self.out
    }

    /// Scratch space that survives a failed attempt of the same key.
    pub fn work(&self) -> &Path {
        &self.work
    }

    /// Where the stage's log goes.
    pub fn log(&self) -> &Path {
        &self.log
    }

    pub fn key(&self) -> &StageKey {
        &self.key
    }

    pub fn hash(&self) -> StageHash {
        self.hash
    }

    /// Moves every file of [`Entry::out`] into the object store (not
    /// fsynced: committing does that) and makes the manifest.
    pub fn finish(
        mut self,
        stage: &str,
        matrix: BTreeMap<String, serde_json::Value>,
        seconds: f64,
        measured: BTreeMap<String, f64>,
    ) -> Result<Stored> {
        let files = objects::store(&self.cache, &self.out, false)?;
        let manifest = Manifest {
            format: FORMAT,
            key: self.key.clone(),
            stage: stage.to_string(),
            matrix,
            output: output_hash(&files),
            files,
            seconds,
            measured,
            pipe_version: env!("CARGO_PKG_VERSION").to_string(),
            created: std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.as_secs())
                .unwrap_or(0),
        };
        let lock = self
            .lock
            .take()
            .ok_or_else(|| Error::internal("a cache entry lost its key lock"))?;
        // `self` drops here: the attempt dir goes back to the staging area.
        Ok(Stored {
            manifest,
            path: self.cache.manifest_path(&self.hash),
            work: self.work.clone(),
            lock,
        })
    }
}

impl Drop for Entry {
    fn drop(&mut self) {
        self.recycler.recycle(std::mem::take(&mut self.attempt));
    }
}

impl Stored {
    pub fn manifest(&self) -> &Manifest {
        &self.manifest
    }

    /// Writes the manifest now (fsynced when `durable`): the result is
    /// visible from here on. Then the work dir goes and the lock is freed.
    pub fn commit(self, durable: bool) -> Result<Manifest> {
        self.manifest.write(&self.path, durable)?;
        let _ = std::fs::remove_dir_all(&self.work);
        drop(self.lock);
        Ok(self.manifest)
    }
}
