//! Advisory file locks (std `File::lock`, i.e. flock) between `pipe`
//! processes sharing one cache.
//!
//! Runs hold `cache/lock` shared and gc holds it exclusive, so gc never
//! deletes what a run is about to use. A stage holds `locks/<key>.lock`
//! exclusive while it runs, so two runs never compute one key at once: the
//! second waits, then finds the result cached. The kernel drops a dead
//! process's locks, so a kill -9 leaves nothing to clean up by hand.

use std::fs::{File, OpenOptions, TryLockError};
use std::io::{Read, Seek, Write};
use std::path::Path;
use std::time::{Duration, Instant};

use crate::error::{Error, Result};

/// A held lock; released on drop.
pub struct Lock {
    _file: Option<File>,
}

fn open(path: &Path) -> Result<File> {
    OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .open(path)
        .map_err(|e| Error::io(path, "open the lock", e))
}

/// How long a waiter looks for the holder's id in the lock file.
const HOLDER_PATIENCE: Duration = Duration::from_millis(500);

/// Takes `path` shared (`exclusive == false`) or exclusive. If another
/// process holds it, calls `on_wait(holder)` once and then blocks;
/// `holder` is what the holder wrote into the file ("pid 123"), if anything.
pub fn acquire(path: &Path, exclusive: bool, on_wait: impl FnOnce(&str)) -> Result<Lock> {
    let mut file = match open(path) {
        Ok(file) => file,
        // A read-only cache (a team's shared cache mounted read-only) still
        // serves hits: a shared lock needs no write access to its file, and
        // where the file cannot even be created nobody can gc that cache
        // from here either.
        Err(Error::Io { source, .. }) if !exclusive && is_read_only(&source) => {
            return match File::open(path) {
                Ok(file) => match file.lock_shared() {
                    Ok(()) => Ok(Lock { _file: Some(file) }),
                    Err(e) => Err(Error::io(path, "lock", e)),
                },
                Err(_) => Ok(Lock { _file: None }),
            };
        }
        Err(e) => return Err(e),
    };
    let try_lock = |file: &File| {
        if exclusive {
            file.try_lock()
        } else {
            file.try_lock_shared()
        }
    };
    // A holder writes its id just after taking the lock: a waiter that
    // reads an empty file looks again for a moment before saying it does
    // not know who holds it.
    let patience = Instant::now();
    loop {
        match try_lock(&file) {
            Ok(()) => break,
            Err(TryLockError::WouldBlock) => {
                let mut holder = String::new();
                let _ = file.rewind();
                let _ = file.read_to_string(&mut holder);
                if holder.trim().is_empty() && patience.elapsed() < HOLDER_PATIENCE {
                    std::thread::sleep(Duration::from_millis(5));
                    continue;
                }
                on_wait(holder.trim());
                let locked = if exclusive {
                    file.lock()
                } else {
                    file.lock_shared()
                };
                locked.map_err(|e| Error::io(path, "lock", e))?;
                break;
            }
            Err(TryLockError::Error(e)) => return Err(Error::io(path, "lock", e)),
        }
    }
    if exclusive {
        // Tell waiters who we are.
        let _ = file.set_len(0);
        let _ = file.rewind();
        let _ = write!(file, "{}", holder_id());
    }
    Ok(Lock { _file: Some(file) })
}

fn is_read_only(e: &std::io::Error) -> bool {
    matches!(
        e.kind(),
        std::io::ErrorKind::PermissionDenied | std::io::ErrorKind::ReadOnlyFilesystem
    )
}

/// What a holder writes into an exclusive lock: `pid 123`.
pub fn holder_id() -> String {
    format!("pid {}", std::process::id())
}

/// Waits until no process holds a lock on the directory `dir` (the
/// supervisor of a running command holds its work dir shared), calling
/// `on_wait` first if it must wait. Takes nothing: returns once free.
pub fn await_dir(dir: &Path, on_wait: impl FnOnce()) -> Result<()> {
    let file = File::open(dir).map_err(|e| Error::io(dir, "open", e))?;
    match file.try_lock() {
        Ok(()) => Ok(()),
        Err(TryLockError::WouldBlock) => {
            on_wait();
            file.lock().map_err(|e| Error::io(dir, "lock", e))
        }
        Err(TryLockError::Error(e)) => Err(Error::io(dir, "lock", e)),
    }
}

/// Takes `path` exclusive if free right now; `None` if another process holds it.
pub fn try_exclusive(path: &Path) -> Result<Option<Lock>> {
    let file = open(path)?;
    match file.try_lock() {
        Ok(()) => Ok(Some(Lock { _file: Some(file) })),
        Err(TryLockError::WouldBlock) => Ok(None),
        Err(TryLockError::Error(e)) => Err(Error::io(path, "lock", e)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exclusive_excludes_and_names_its_holder() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("k.lock");
        let held = acquire(&path, true, |_| panic!("free lock reported busy")).unwrap();
        assert!(try_exclusive(&path).unwrap().is_none());
        assert_eq!(
            std::fs::read_to_string(&path).unwrap(),
            format!("pid {}", std::process::id())
        );
        drop(held);
        assert!(try_exclusive(&path).unwrap().is_some());
    }

    #[test]
    fn a_waiter_names_a_holder_that_writes_its_id_late() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("k.lock");
        // Locked, the id not written yet (as just after `try_lock`).
        let held = open(&path).unwrap();
        held.try_lock().unwrap();
        let writer = {
            let path = path.clone();
            std::thread::spawn(move || {
                std::thread::sleep(Duration::from_millis(50));
                std::fs::write(&path, "pid 42").unwrap();
                std::thread::sleep(Duration::from_millis(50));
                drop(held);
            })
        };
        let mut named = String::new();
        let _lock = acquire(&path, true, |holder| named = holder.to_string()).unwrap();
        writer.join().unwrap();
        assert_eq!(named, "pid 42");
    }
}
