//! Group commit: makes finished stages durable in batches, off the
//! critical path.
//!
//! A stage's objects are renamed into the store without fsync and its
//! dependents start at once (the scheduler knows its output from memory).
//! This thread then takes every finished stage that is waiting, calls
//! `syncfs` once (objects and temp manifests reach the disk), renames the
//! manifests into `keys/`, fsyncs `keys/` once, deletes their work dirs and
//! only then releases their key locks, so another `pipe` waiting on a key
//! finds its manifest. One or two syncs per batch instead of four fsyncs per
//! stage: with thousands of short stages the batch grows as fsync slows.
//! A crash before a commit loses those results (they rerun) but leaves no
//! manifest naming bytes that are not on disk.

use std::sync::mpsc::Receiver;

use crate::error::{Error, Result};
use crate::execution::cache::atomic;
use crate::execution::cache::entry::Stored;
use crate::execution::cache::Cache;

/// Runs until every sender is dropped; returns the stages whose commit failed.
pub fn committer(cache: &Cache, rx: &Receiver<Stored>) -> Vec<(String, Error)> {
    let mut failed = Vec::new();
    while let Ok(first) = rx.recv() {
        let mut batch = vec![first];
        batch.extend(rx.try_iter());
        commit(cache, batch, &mut failed);
    }
    failed
}

fn commit(cache: &Cache, batch: Vec<Stored>, failed: &mut Vec<(String, Error)>) {
    // Test-only (absent from release builds): a bug here must fail the run
    // with exit 101 and cache nothing (tests/cli/run.rs).
    #[cfg(debug_assertions)]
    if std::env::var_os("PIPE_TEST_PANIC").is_some_and(|v| v == "commit") {
        panic!("PIPE_TEST_PANIC=commit");
    }
    let fail = |stage: &str, e: Error| {
        let message = format!("its result could not be stored: {e}");
        (
            stage.to_string(),
            Error::Stage {
                stage: stage.to_string(),
                message,
                hint: e.hint().map(str::to_string),
            },
        )
    };
    let mut written = Vec::with_capacity(batch.len());
    for p in batch {
        let tmp = atomic::temp_beside(&p.path);
        let result = serde_json::to_vec_pretty(&p.manifest)
            .map_err(|e| Error::internal(format!("cannot encode manifest: {e}")))
            .and_then(|bytes| std::fs::write(&tmp, bytes).map_err(|e| Error::io(&tmp, "write", e)));
        match result {
            Ok(()) => written.push((p, tmp)),
            Err(e) => {
                // A full disk leaves the temp file created but empty.
                let _ = std::fs::remove_file(&tmp);
                failed.push(fail(&p.manifest.stage, e));
            }
        }
    }
    if let Err(e) = sync_fs(cache) {
        for (p, tmp) in written {
            let _ = std::fs::remove_file(&tmp);
            failed.push(fail(&p.manifest.stage, e.clone_message()));
        }
        return;
    }
    // Locks are released only after `keys/` is synced.
    let mut locks = Vec::with_capacity(written.len());
    for (p, tmp) in written {
        if let Err(e) = std::fs::rename(&tmp, &p.path) {
            let _ = std::fs::remove_file(&tmp);
            failed.push(fail(&p.manifest.stage, Error::io(&p.path, "write", e)));
            continue;
        }
        let _ = std::fs::remove_dir_all(&p.work);
        locks.push(p.lock);
    }
    if let Err(e) = atomic::sync_dir(&cache.dir("keys")) {
        failed.push(("(cache)".to_string(), e));
    }
    drop(locks);
}

trait CloneMessage {
    fn clone_message(&self) -> Error;
}

impl CloneMessage for Error {
    /// The same failure for another stage (errors are not `Clone`).
    fn clone_message(&self) -> Error {
        Error::failed(self.to_string())
    }
}

/// Flushes the cache's file system (all objects and temp manifests written
/// so far) in one call.
fn sync_fs(cache: &Cache) -> Result<()> {
    use std::os::fd::AsRawFd;
    let root = cache.root();
    let dir = std::fs::File::open(root).map_err(|e| Error::io(root, "open", e))?;
    // SAFETY: syncfs on a valid, open descriptor.
    let rc = unsafe { libc::syncfs(dir.as_raw_fd()) };
    if rc == 0 {
        Ok(())
    } else {
        Err(Error::io(root, "sync", std::io::Error::last_os_error()))
    }
}
