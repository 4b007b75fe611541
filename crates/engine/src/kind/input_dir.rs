//! Upstream outputs as directories, for kinds whose programs read their
//! inputs that way (`cmd`'s `$PIPE_INPUT_<SLOT>`). Other kinds read the
//! cached files where they are, through [`Artifact::files`].
//!
//! A directory holds hard links to an output's read-only cached files and is
//! named after the output's hash, so one directory serves every stage that
//! reads that output; the engine keeps them in the cache across runs, and a
//! stage's staging cost then does not grow with its number of inputs. One is
//! reused only while it holds exactly the output's files (the same inodes,
//! nothing else); otherwise it is made anew.

use std::collections::BTreeMap;
use std::os::unix::fs::DirEntryExt;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};

use crate::error::{Error, Result};
use crate::kind::Artifact;

/// Where a kind gets an upstream output as a directory.
pub trait InputDirs: Send + Sync {
    /// A directory with `artifact`'s files under their output names. The
    /// kind must not write into it. `work` is the stage's scratch space.
    fn dir(&self, artifact: &Artifact, work: &Path) -> Result<PathBuf>;
}

/// Directories under the stage's own `work/.inputs` (outside the engine:
/// tests, the worker).
pub struct WorkDirs;

impl InputDirs for WorkDirs {
    fn dir(&self, artifact: &Artifact, work: &Path) -> Result<PathBuf> {
        linked_dir(&work.join(".inputs"), artifact, None)
    }
}

/// `root/<output hash>`, reused if intact, else (re)made: built aside and
/// renamed into place, so a reader never sees a half-made one. With
/// `trust_after` (seconds), a directory sealed after that time is reused on
/// one `stat` (see [`sealed`]); without it every directory is checked whole.
pub fn linked_dir(root: &Path, artifact: &Artifact, trust_after: Option<i64>) -> Result<PathBuf> {
    let dir = root.join(artifact.hash.to_hex());
    // Only a flat directory's mtime covers all its entries.
    let flat = artifact.files.keys().all(|name| !name.contains('/'));
    let seals = flat && trust_after.is_some();
    if seals && sealed(&dir, artifact, trust_after.unwrap_or(i64::MAX)) {
        return Ok(dir);
    }
    if holds_exactly(&dir, artifact) {
        if seals {
            seal(&dir, artifact);
        }
        return Ok(dir);
    }
    static NEXT: AtomicUsize = AtomicUsize::new(0);
    let aside = root.join(format!(
        ".{}.{}.{}",
        artifact.hash.to_hex(),
        std::process::id(),
        NEXT.fetch_add(1, Ordering::Relaxed)
    ));
    let made = fill(&aside, artifact).and_then(|()| {
        if dir.exists() {
            // Not intact (a command wrote into it, an object was replaced).
            std::fs::remove_dir_all(&dir).map_err(|e| Error::io(&dir, "remove", e))?;
        }
        match std::fs::rename(&aside, &dir) {
            Ok(()) => Ok(()),
            // Another stage or pipe put an intact one there first.
            Err(_) if holds_exactly(&dir, artifact) => Ok(()),
            Err(e) => Err(Error::io(&dir, "create", e)),
        }
    });
    if aside.exists() {
        let _ = std::fs::remove_dir_all(&aside);
    }
    if made.is_ok() && seals {
        seal(&dir, artifact);
    }
    made.map(|()| dir)
}

/// Whether `dir` carries the seal of `artifact`'s output, set after
/// `trust_after`: then its entries are those it had when it was checked
/// whole or made (adding, removing or renaming one moves its mtime).
fn sealed(dir: &Path, artifact: &Artifact, trust_after: i64) -> bool {
    std::fs::symlink_metadata(dir).is_ok_and(|m| {
        m.is_dir()
            && m.mtime() > trust_after
            && u32::try_from(m.mtime_nsec()).is_ok_and(|n| n == artifact.hash.seal_nanos())
    })
}

/// Seals `dir` for `artifact` (mtime: now, whole seconds, plus the hash's
/// nanoseconds). Best effort: an unsealed directory is checked whole.
fn seal(dir: &Path, artifact: &Artifact) {
    let secs = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    let at = std::time::UNIX_EPOCH + std::time::Duration::new(secs, artifact.hash.seal_nanos());
    if let Ok(f) = std::fs::File::open(dir) {
        let _ = f.set_times(std::fs::FileTimes::new().set_modified(at));
    }
}

fn fill(dir: &Path, artifact: &Artifact) -> Result<()> {
    std::fs::create_dir_all(dir).map_err(|e| Error::io(dir, "create", e))?;
    for (name, source) in &artifact.files {
        let target = dir.join(name);
        if let Some(parent) = target.parent() {
            std::fs::create_dir_all(parent).map_err(|e| Error::io(parent, "create", e))?;
        }
        if std::fs::hard_link(source, &target).is_err() {
            std::fs::copy(source, &target)
                .map_err(|e| Error::io(&target, "copy an input to", e))?;
        }
    }
    Ok(())
}

/// Whether `dir` holds the artifact's files (hard links to them, by inode)
/// and no other file. One `readdir` per directory and one `stat` per file.
fn holds_exactly(dir: &Path, artifact: &Artifact) -> bool {
    let mut found = BTreeMap::new();
    if !inodes(dir, "", &mut found) || found.len() != artifact.files.len() {
        return false;
    }
    artifact.files.iter().all(|(name, source)| {
        let ino = std::fs::symlink_metadata(source).map(|m| m.ino());
        matches!((found.get(name.as_str()), ino), (Some(a), Ok(b)) if *a == b)
    })
}

/// Files under `dir` (names relative to the top, `/`-separated) -> inode.
fn inodes(dir: &Path, prefix: &str, found: &mut BTreeMap<String, u64>) -> bool {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return false;
    };
    for entry in entries {
        let Ok(entry) = entry else { return false };
        let Ok(kind) = entry.file_type() else {
            return false;
        };
        let Some(name) = entry.file_name().to_str().map(|n| format!("{prefix}{n}")) else {
            return false;
        };
        if kind.is_dir() {
            if !inodes(&entry.path(), &format!("{name}/"), found) {
                return false;
            }
        } else if kind.is_file() {
            found.insert(name, entry.ino());
        } else {
            return false;
        }
    }
    true
}
