//! The cache key of a stage: a plain data struct hashed with blake3.
//!
//! `StageKey { kind, impl_version, params, paths, inputs }`: parameters by
//! their canonical encoding (so YAML spelling never matters), `Path`
//! parameters also by the content hash of the file or directory they name,
//! and inputs by the *output* hash of each upstream stage, which gives early
//! cutoff: an upstream rerun that yields the same bytes changes no key.

use std::collections::BTreeMap;
use std::fmt;

use serde::{Deserialize, Serialize};

use crate::error::Result;
use crate::execution::cache::state::PathHasher;
use crate::format::pipeline::{Pipeline, Stage, StageId};
use crate::hash::ContentHash;
use crate::kind::value::Value;

/// The hash of a [`StageKey`]: names a manifest in `keys/`.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct StageHash(pub ContentHash);

impl fmt::Display for StageHash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}

impl fmt::Debug for StageHash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "StageHash({})", self.0.short())
    }
}

/// Everything that decides a stage's result. Kept in each manifest so that
/// `pipe status` can name what changed.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct StageKey {
    pub kind: String,
    pub impl_version: u32,
    #[serde(with = "value_map")]
    pub params: BTreeMap<String, Value>,
    /// `Path` parameter -> (path as written, content hash) per path.
    pub paths: BTreeMap<String, Vec<(String, ContentHash)>>,
    /// Input slot -> (upstream stage name, upstream output hash) per stage.
    pub inputs: BTreeMap<String, Vec<(String, ContentHash)>>,
}

impl StageKey {
    /// The key without its inputs: what can be known before upstream
    /// stages have run. Fails only when a `Path` parameter cannot be read.
    pub fn base(pipeline: &Pipeline, stage: &Stage, hasher: &mut PathHasher) -> Result<StageKey> {
        let mut path_hashes = BTreeMap::new();
        for (name, paths) in stage.path_params(&pipeline.dir) {
            let mut hashes = Vec::with_capacity(paths.len());
            for (written, abs) in paths {
                hashes.push((written.to_string(), hasher.hash(&abs, &stage.name, name)?));
            }
            path_hashes.insert(name.to_string(), hashes);
        }
        Ok(StageKey {
            kind: stage.kind.name().to_string(),
            impl_version: stage.kind.version(),
            params: stage.params.0.clone(),
            paths: path_hashes,
            inputs: BTreeMap::new(),
        })
    }

    /// Fills in the inputs from upstream output hashes; `None` when some
    /// upstream output is not known yet.
    pub fn with_inputs(
        mut self,
        pipeline: &Pipeline,
        stage: &Stage,
        output: impl Fn(StageId) -> Option<ContentHash>,
    ) -> Option<StageKey> {
        for (slot, ids) in &stage.inputs {
            let mut list = Vec::with_capacity(ids.len());
            for id in ids {
                list.push((pipeline.stage(*id).name.clone(), output(*id)?));
            }
            self.inputs.insert(slot.clone(), list);
        }
        Some(self)
    }

    /// The key's hash: an unambiguous, length-prefixed encoding fed to blake3.
    pub fn hash(&self) -> StageHash {
        let mut buf = Vec::with_capacity(256);
        put(&mut buf, b"pipe-stage-key-1");
        put(&mut buf, self.kind.as_bytes());
        buf.extend_from_slice(&self.impl_version.to_le_bytes());
        buf.extend_from_slice(&(self.params.len() as u64).to_le_bytes());
        for (name, value) in &self.params {
            put(&mut buf, name.as_bytes());
            value.canonical(&mut buf);
        }
        for map in [&self.paths, &self.inputs] {
            buf.extend_from_slice(&(map.len() as u64).to_le_bytes());
            for (name, list) in map {
                put(&mut buf, name.as_bytes());
                buf.extend_from_slice(&(list.len() as u64).to_le_bytes());
                for (written, hash) in list {
                    put(&mut buf, written.as_bytes());
                    buf.extend_from_slice(&hash.0);
                }
            }
        }
        StageHash(ContentHash::of(&buf))
    }

    /// This key with one parameter removed: two keys that differ only in
    /// that parameter give equal results (used by [`crate::History`]).
    pub fn without(&self, param: &str) -> StageKey {
        let mut k = self.clone();
        k.params.remove(param);
        k
    }
}

fn put(buf: &mut Vec<u8>, bytes: &[u8]) {
    buf.extend_from_slice(&(bytes.len() as u64).to_le_bytes());
    buf.extend_from_slice(bytes);
}

/// Params as a JSON object in manifests (read back for explanations).
mod value_map {
    use std::collections::BTreeMap;

    use serde::{Deserialize, Deserializer, Serialize, Serializer};

    use crate::kind::value::Value;

    pub fn serialize<S: Serializer>(
        map: &BTreeMap<String, Value>,
        s: S,
    ) -> Result<S::Ok, S::Error> {
        let json: serde_json::Map<String, serde_json::Value> =
            map.iter().map(|(k, v)| (k.clone(), v.to_json())).collect();
        json.serialize(s)
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(
        d: D,
    ) -> Result<BTreeMap<String, Value>, D::Error> {
        let json = serde_json::Map::<String, serde_json::Value>::deserialize(d)?;
        Ok(json
            .iter()
            .map(|(k, v)| (k.clone(), Value::from_json(v)))
            .collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key() -> StageKey {
        StageKey {
            kind: "cmd".into(),
            impl_version: 1,
            params: [
                ("lr".to_string(), Value::Float(0.001)),
                ("n".to_string(), Value::Int(3)),
            ]
            .into(),
            paths: BTreeMap::new(),
            inputs: [(
                "data".to_string(),
                vec![("resize".to_string(), ContentHash::of(b"x"))],
            )]
            .into(),
        }
    }

    #[test]
    fn hash_changes_with_every_part() {
        let base = key().hash();
        let mut k = key();
        k.params.insert("lr".into(), Value::Float(0.01));
        assert_ne!(k.hash(), base);
        let mut k = key();
        k.impl_version = 2;
        assert_ne!(k.hash(), base);
        let mut k = key();
        k.inputs.get_mut("data").unwrap()[0].1 = ContentHash::of(b"y");
        assert_ne!(k.hash(), base);
        assert_eq!(key().hash(), base);
    }

    #[test]
    fn survives_a_json_round_trip() {
        let k = key();
        let json = serde_json::to_string(&k).unwrap();
        let back: StageKey = serde_json::from_str(&json).unwrap();
        assert_eq!(back, k);
        assert_eq!(back.hash(), k.hash());
    }
}
