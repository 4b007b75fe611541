//! Atomic, durable file writes: temp file, fsync, rename, fsync directory.
//!
//! A reader (or a process started after a kill -9) sees either the old file
//! or the complete new one, never a prefix.

use std::fs::File;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use crate::error::{Error, Result};

static COUNTER: AtomicU64 = AtomicU64::new(0);

/// A temp name beside `path`, unique to this process and call. Starts with
/// `.tmp.` so that `pipe cache verify` can recognise and remove leftovers.
pub fn temp_beside(path: &Path) -> PathBuf {
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    let name = format!(".tmp.{}.{n}", std::process::id());
    path.with_file_name(name)
}

/// Writes `bytes` to `path` atomically. `durable` adds the fsyncs that make
/// the write survive a power cut, not only a killed process.
pub fn write(path: &Path, bytes: &[u8], durable: bool) -> Result<()> {
    let tmp = temp_beside(path);
    let result = (|| {
        let mut file = File::create(&tmp).map_err(|e| Error::io(&tmp, "create", e))?;
        file.write_all(bytes)
            .map_err(|e| Error::io(&tmp, "write", e))?;
        if durable {
            file.sync_all().map_err(|e| Error::io(&tmp, "sync", e))?;
        }
        std::fs::rename(&tmp, path).map_err(|e| Error::io(path, "write", e))?;
        if durable {
            if let Some(dir) = path.parent() {
                sync_dir(dir)?;
            }
        }
        Ok(())
    })();
    if result.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    result
}

/// Makes renames into `dir` durable.
pub fn sync_dir(dir: &Path) -> Result<()> {
    File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(|e| Error::io(dir, "sync", e))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn replaces_whole_file_and_leaves_no_temp() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("a.json");
        write(&path, b"first", true).unwrap();
        write(&path, b"second", false).unwrap();
        assert_eq!(std::fs::read(&path).unwrap(), b"second");
        let names: Vec<_> = std::fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(names, vec![std::ffi::OsString::from("a.json")]);
    }
}
