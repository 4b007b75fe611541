//! This process's staging area under `tmp/`, and removal of the staging
//! areas of processes that died (kill -9, power loss).
//!
//! Each process locks `tmp/<id>.lock` before creating `tmp/<id>/`; a
//! directory whose lock can be taken belongs to a dead process.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};

use crate::error::{Error, Result};
use crate::execution::cache::Cache;
use crate::execution::lock::{self, Lock};

/// Created on first use, so a run where everything is cached writes
/// nothing here (and works on a read-only cache).
pub struct Staging {
    tmp: PathBuf,
    area: std::sync::Mutex<Option<Area>>,
    next: AtomicUsize,
}

struct Area {
    dir: PathBuf,
    lock_path: PathBuf,
    _lock: Lock,
}

impl Staging {
    pub fn create(cache: &Cache) -> Result<Staging> {
        Ok(Staging {
            tmp: cache.dir("tmp"),
            area: std::sync::Mutex::new(None),
            next: AtomicUsize::new(0),
        })
    }

    /// This process's directory under `tmp/`, made on first call.
    fn dir(&self) -> Result<PathBuf> {
        let mut area = self
            .area
            .lock()
            .map_err(|_| Error::internal("the staging lock is poisoned"))?;
        if let Some(a) = area.as_ref() {
            return Ok(a.dir.clone());
        }
        let made = Area::create(&self.tmp)?;
        let dir = made.dir.clone();
        *area = Some(made);
        Ok(dir)
    }

    /// A fresh, empty directory for one stage attempt.
    pub fn stage_dir(&self) -> Result<PathBuf> {
        let n = self.next.fetch_add(1, Ordering::Relaxed);
        let dir = self.dir()?.join(n.to_string());
        std::fs::create_dir_all(dir.join("out")).map_err(|e| Error::io(&dir, "create", e))?;
        Ok(dir)
    }
}

impl Area {
    fn create(tmp: &Path) -> Result<Area> {
        clean_stale(tmp);
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.subsec_nanos())
            .unwrap_or(0);
        let id = format!("{}-{nanos:09}", std::process::id());
        let lock_path = tmp.join(format!("{id}.lock"));
        let held = lock::acquire(&lock_path, true, |_| {})?;
        let dir = tmp.join(&id);
        std::fs::create_dir_all(&dir).map_err(|e| Error::io(&dir, "create", e))?;
        Ok(Area {
            dir,
            lock_path,
            _lock: held,
        })
    }
}

impl Drop for Area {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
        let _ = std::fs::remove_file(&self.lock_path);
    }
}

fn clean_stale(tmp: &Path) {
    let Ok(entries) = std::fs::read_dir(tmp) else {
        return;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        if !path.is_dir() {
            continue;
        }
        let lock_path = path.with_extension("lock");
        // Held by a live process: leave it alone.
        if let Ok(Some(_held)) = lock::try_exclusive(&lock_path) {
            let _ = make_writable(&path);
            let _ = std::fs::remove_dir_all(&path);
            let _ = std::fs::remove_file(&lock_path);
        }
    }
}

/// Stage outputs may be read-only; removal needs their directories writable.
fn make_writable(dir: &Path) -> std::io::Result<()> {
    use std::os::unix::fs::PermissionsExt;
    for entry in std::fs::read_dir(dir)?.flatten() {
        let path = entry.path();
        if entry.file_type()?.is_dir() {
            std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755))?;
            make_writable(&path)?;
        }
    }
    Ok(())
}
