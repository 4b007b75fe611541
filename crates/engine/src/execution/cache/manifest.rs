//! A manifest: what a stage key produced. Written last, after its objects,
//! so that its presence means the result is complete.

use std::collections::BTreeMap;
use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::execution::cache::atomic;
use crate::execution::cache::key::StageKey;
use crate::hash::ContentHash;

/// Bumped if the manifest layout changes incompatibly.
pub const FORMAT: u32 = 1;

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Manifest {
    pub format: u32,
    /// The key's parts, for explanations and `History`.
    pub key: StageKey,
    /// The stage that produced it (names may differ between pipelines that
    /// share the result; this is the first).
    pub stage: String,
    #[serde(default)]
    pub matrix: BTreeMap<String, serde_json::Value>,
    /// Hash over the names and content hashes of all output files.
    pub output: ContentHash,
    /// Output file (relative path) -> its object.
    pub files: BTreeMap<String, FileEntry>,
    /// Seconds the stage took to run.
    pub seconds: f64,
    /// What the stage measured about its run (throughput, seconds per
    /// epoch): how it went, not what it made, so in no key and no output
    /// hash ([`crate::kind::progress::Progress::measure`]).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub measured: BTreeMap<String, f64>,
    pub pipe_version: String,
    /// Unix time of creation.
    pub created: u64,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct FileEntry {
    pub hash: ContentHash,
    pub size: u64,
}

impl Manifest {
    pub fn read(path: &Path) -> Result<Manifest> {
        let bytes = std::fs::read(path).map_err(|e| Error::io(path, "read", e))?;
        let m: Manifest = serde_json::from_slice(&bytes)
            .map_err(|e| Error::bad_data(path, format!("not a pipe manifest: {e}")))?;
        if m.format != FORMAT {
            return Err(Error::bad_data(
                path,
                format!("manifest format {} is not {FORMAT}", m.format),
            ));
        }
        // Names become paths under results/ and the inputs of commands: a
        // manifest from an edited or shared cache must not reach outside.
        if let Some(bad) = m.files.keys().find(|name| !is_plain_name(name)) {
            return Err(Error::bad_data(
                path,
                format!("manifest names the output file `{bad}`, which is not a relative path of plain names"),
            )
            .with_hint("the cache was edited or damaged; `pipe cache verify` drops this result and the stage reruns"));
        }
        Ok(m)
    }

    pub fn write(&self, path: &Path, durable: bool) -> Result<()> {
        let bytes = serde_json::to_vec_pretty(self)
            .map_err(|e| Error::internal(format!("cannot encode manifest: {e}")))?;
        atomic::write(path, &bytes, durable)
    }
}

/// `a/b.txt`: non-empty `/`-separated parts, none of them `.`, `..` or
/// empty, no NUL: what [`crate::execution::cache::objects::store`] produces.
pub fn is_plain_name(name: &str) -> bool {
    !name.is_empty()
        && !name.contains('\0')
        && name
            .split('/')
            .all(|part| !part.is_empty() && part != "." && part != "..")
}

/// The hash of a whole output: its file names and their content hashes.
pub fn output_hash(files: &BTreeMap<String, FileEntry>) -> ContentHash {
    let mut h = blake3::Hasher::new();
    h.update(b"pipe-output-1");
    for (name, entry) in files {
        h.update(&(name.len() as u64).to_le_bytes());
        h.update(name.as_bytes());
        h.update(&entry.hash.0);
    }
    ContentHash::from_hasher(&h)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_names_stay_inside() {
        for ok in ["a", "a/b.txt", ".hidden", "..a", "a..b/c"] {
            assert!(is_plain_name(ok), "{ok}");
        }
        for bad in [
            "",
            "/etc/passwd",
            "../x",
            "a/../../x",
            "a//b",
            "./a",
            "a/",
            "a/.",
            "a\0b",
        ] {
            assert!(!is_plain_name(bad), "{bad}");
        }
    }
}
