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
    /// Stage directories handed back empty, for the next stage: making and
    /// removing two directories per stage was a good part of a first run
    /// of many short stages (ext4 looks past recently freed inodes when it
    /// allocates one).
    free: Recycler,
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
            free: Recycler::default(),
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

    /// A fresh, empty directory for one stage attempt, holding an empty
    /// `out/`.
    pub fn stage_dir(&self) -> Result<PathBuf> {
        if let Some(dir) = self.free.0.lock().ok().and_then(|mut free| free.pop()) {
            return Ok(dir);
        }
        let n = self.next.fetch_add(1, Ordering::Relaxed);
        let dir = self.dir()?.join(n.to_string());
        std::fs::create_dir_all(dir.join("out")).map_err(|e| Error::io(&dir, "create", e))?;
        Ok(dir)
    }

    /// What takes back the directories [`Staging::stage_dir`] hands out.
    pub fn recycler(&self) -> Recycler {
        self.free.clone()
    }
}

/// Takes back stage directories once their stage is done (shared with the
/// cache entries that hold them).
#[derive(Clone, Default)]
pub struct Recycler(std::sync::Arc<std::sync::Mutex<Vec<PathBuf>>>);

impl Recycler {
    /// Keeps `dir` for the next stage if it is as it was handed out (only
    /// an empty, writable `out/`), removes it otherwise.
    pub fn recycle(&self, dir: PathBuf) {
        if as_handed_out(&dir) {
            if let Ok(mut free) = self.0.lock() {
                free.push(dir);
                return;
            }
        }
        let _ = std::fs::remove_dir_all(&dir);
    }
}

/// Whether `dir` holds exactly an empty, writable directory `out`.
fn as_handed_out(dir: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    let out = dir.join("out");
    let only_out = std::fs::read_dir(dir).is_ok_and(|entries| {
        let names: Vec<_> = entries.map(|e| e.map(|e| e.file_name())).collect();
        matches!(names.as_slice(), [Ok(name)] if name == "out")
    });
    only_out
        && std::fs::symlink_metadata(&out)
            .is_ok_and(|m| m.is_dir() && m.permissions().mode() & 0o700 == 0o700)
        && std::fs::read_dir(&out).is_ok_and(|mut e| e.next().is_none())
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
