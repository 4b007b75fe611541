//! Per-pipeline run state: the key each stage had when it last ran or was
//! found cached (what `pipe status` explains against), and a stat cache so
//! that unchanged `deps` files are not rehashed on every run.
//!
//! Stored as `state/<blake3 of the pipeline's absolute path>.json`, read
//! once and written once per run. Losing it costs only explanations
//! ("never run") and one rehash; no result depends on it.

use std::collections::{BTreeMap, HashMap};
use std::io::Read;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::time::{SystemTime, UNIX_EPOCH};

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::execution::cache::atomic;
use crate::execution::cache::key::StageHash;
use crate::execution::cache::Cache;
use crate::hash::ContentHash;

#[derive(Default, Serialize, Deserialize)]
pub struct State {
    /// The pipeline file this state belongs to (for humans).
    #[serde(default)]
    pub pipeline: PathBuf,
    /// Stage name -> key of its last run or cache hit.
    #[serde(default)]
    pub stages: BTreeMap<String, StageHash>,
    #[serde(default)]
    pub stat: Vec<StatEntry>,
}

/// What a file looked like when it was hashed.
#[derive(Clone, Serialize, Deserialize)]
pub struct StatEntry {
    pub path: PathBuf,
    pub size: u64,
    pub mtime_ns: i128,
    pub ino: u64,
    pub hash: ContentHash,
}

impl State {
    pub fn path(cache: &Cache, pipeline_file: &Path) -> PathBuf {
        let id = ContentHash::of(pipeline_file.as_os_str().as_encoded_bytes());
        cache.dir("state").join(format!("{}.json", id.to_hex()))
    }

    /// The state of a pipeline; empty when never run or unreadable.
    pub fn load(cache: &Cache, pipeline_file: &Path) -> State {
        std::fs::read(State::path(cache, pipeline_file))
            .ok()
            .and_then(|bytes| serde_json::from_slice(&bytes).ok())
            .unwrap_or_default()
    }

    /// Writes the state; the stat cache is taken from `hasher`.
    pub fn save(&mut self, cache: &Cache, pipeline_file: &Path, hasher: &PathHasher) -> Result<()> {
        self.pipeline = pipeline_file.to_path_buf();
        self.stat = hasher.known.values().cloned().collect();
        self.stat.sort_by(|a, b| a.path.cmp(&b.path));
        let bytes = serde_json::to_vec(self)
            .map_err(|e| Error::internal(format!("cannot encode state: {e}")))?;
        // Not fsynced: state only speeds things up and feeds explanations.
        atomic::write(&State::path(cache, pipeline_file), &bytes, false)
    }
}

/// Content hashes of project files and directories, skipping files whose
/// size, mtime and inode are as recorded.
#[derive(Default)]
pub struct PathHasher {
    known: HashMap<PathBuf, StatEntry>,
}

impl PathHasher {
    pub fn new(state: &State) -> PathHasher {
        PathHasher {
            known: state
                .stat
                .iter()
                .map(|e| (e.path.clone(), e.clone()))
                .collect(),
        }
    }

    /// The hash of a file's bytes, or of a directory's file names and
    /// contents. `stage` and `param` name the reader in errors.
    pub fn hash(&mut self, path: &Path, stage: &str, param: &str) -> Result<ContentHash> {
        let meta = std::fs::metadata(path).map_err(|e| {
            if e.kind() == std::io::ErrorKind::NotFound {
                Error::bad_data(
                    path,
                    format!("stage `{stage}` reads this (param `{param}`), but it does not exist"),
                )
                .with_hint("create it, or fix the path (paths are relative to the pipeline file)")
            } else {
                Error::io(path, "read", e)
            }
        })?;
        if meta.is_dir() {
            self.hash_dir(path)
        } else {
            self.hash_file(path, &meta)
        }
    }

    fn hash_file(&mut self, path: &Path, meta: &std::fs::Metadata) -> Result<ContentHash> {
        let mtime_ns = i128::from(meta.mtime()) * 1_000_000_000 + i128::from(meta.mtime_nsec());
        if let Some(e) = self.known.get(path) {
            if e.size == meta.len() && e.mtime_ns == mtime_ns && e.ino == meta.ino() {
                return Ok(e.hash);
            }
        }
        let hash = hash_file(path)?;
        // A file changed within the last seconds could change again within
        // the same mtime tick; do not trust its stat next time.
        let now_ns = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_nanos() as i128)
            .unwrap_or(0);
        if now_ns - mtime_ns > 2_000_000_000 {
            self.known.insert(
                path.to_path_buf(),
                StatEntry {
                    path: path.to_path_buf(),
                    size: meta.len(),
                    mtime_ns,
                    ino: meta.ino(),
                    hash,
                },
            );
        }
        Ok(hash)
    }

    fn hash_dir(&mut self, root: &Path) -> Result<ContentHash> {
        let mut files = Vec::new();
        collect_files(root, Path::new(""), &mut files)?;
        files.sort();
        let mut h = blake3::Hasher::new();
        h.update(b"pipe-dir-1");
        for rel in files {
            let path = root.join(&rel);
            let meta = std::fs::metadata(&path).map_err(|e| Error::io(&path, "read", e))?;
            let hash = self.hash_file(&path, &meta)?;
            let name = rel.to_string_lossy();
            h.update(&(name.len() as u64).to_le_bytes());
            h.update(name.as_bytes());
            h.update(&hash.0);
        }
        Ok(ContentHash::from_hasher(&h))
    }
}

fn collect_files(root: &Path, rel: &Path, out: &mut Vec<PathBuf>) -> Result<()> {
    let dir = root.join(rel);
    let entries = std::fs::read_dir(&dir).map_err(|e| Error::io(&dir, "read", e))?;
    for entry in entries {
        let entry = entry.map_err(|e| Error::io(&dir, "read", e))?;
        let rel = rel.join(entry.file_name());
        let meta = std::fs::metadata(root.join(&rel))
            .map_err(|e| Error::io(root.join(&rel), "read", e))?;
        if meta.is_dir() {
            collect_files(root, &rel, out)?;
        } else {
            out.push(rel);
        }
    }
    Ok(())
}

/// The blake3 hash of a file's bytes, streamed.
pub fn hash_file(path: &Path) -> Result<ContentHash> {
    let mut file = std::fs::File::open(path).map_err(|e| Error::io(path, "read", e))?;
    let mut h = blake3::Hasher::new();
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        let n = file
            .read(&mut buf)
            .map_err(|e| Error::io(path, "read", e))?;
        if n == 0 {
            break;
        }
        h.update(&buf[..n]);
    }
    Ok(ContentHash::from_hasher(&h))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dir_hash_follows_names_and_contents() {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        std::fs::create_dir(d.join("sub")).unwrap();
        std::fs::write(d.join("a"), b"1").unwrap();
        std::fs::write(d.join("sub/b"), b"2").unwrap();
        let mut h = PathHasher::default();
        let first = h.hash(d, "s", "deps").unwrap();
        assert_eq!(h.hash(d, "s", "deps").unwrap(), first);
        std::fs::write(d.join("sub/b"), b"3").unwrap();
        assert_ne!(h.hash(d, "s", "deps").unwrap(), first);
        let err = h.hash(&d.join("missing"), "s", "deps").unwrap_err();
        assert!(err.to_string().contains("does not exist"), "{err}");
    }
}
