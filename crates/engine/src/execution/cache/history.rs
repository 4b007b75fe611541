//! Earlier cached results of a stage that differ in one parameter, for
//! kinds that continue from them (more epochs continue from fewer).
//!
//! Found by scanning `keys/`: called only by the few kinds that ask, once
//! per run of such a stage, so an index is not worth its consistency cost.

use crate::execution::cache::key::StageKey;
use crate::execution::cache::manifest::Manifest;
use crate::execution::cache::Cache;
use crate::kind::value::Value;
use crate::kind::{Artifact, History};

pub struct CacheHistory {
    pub cache: Cache,
    pub key: StageKey,
}

impl History for CacheHistory {
    fn variants(&self, param: &str) -> Vec<(Value, Artifact)> {
        let want = self.key.without(param);
        let current = self.key.params.get(param);
        let Ok(entries) = std::fs::read_dir(self.cache.dir("keys")) else {
            return Vec::new();
        };
        let mut found = Vec::new();
        for entry in entries.flatten() {
            let path = entry.path();
            if path.extension().is_none_or(|e| e != "json") {
                continue;
            }
            let Ok(m) = Manifest::read(&path) else {
                continue;
            };
            if m.key.kind != want.kind || m.key.without(param) != want {
                continue;
            }
            let Some(value) = m.key.params.get(param).cloned() else {
                continue;
            };
            if Some(&value) == current {
                continue;
            }
            let files: Option<_> = m
                .files
                .iter()
                .map(|(name, f)| {
                    let obj = self.cache.object_path(&f.hash);
                    obj.is_file().then(|| (name.clone(), obj))
                })
                .collect();
            let Some(files) = files else { continue };
            let artifact = Artifact {
                stage: m.stage.clone(),
                matrix: m
                    .matrix
                    .iter()
                    .map(|(k, v)| (k.clone(), Value::from_json(v)))
                    .collect(),
                hash: m.output,
                files,
            };
            found.push((value, artifact));
        }
        // Numbers in numeric order (epochs 5 before 10), others by text.
        found.sort_by(|a, b| match (a.0.as_f64(), b.0.as_f64()) {
            (Some(x), Some(y)) => x.total_cmp(&y),
            _ => a.0.to_string().cmp(&b.0.to_string()),
        });
        found
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;
    use crate::execution::cache::manifest::{output_hash, FileEntry, FORMAT};
    use crate::hash::ContentHash;

    fn key(epochs: i64, lr: f64) -> StageKey {
        StageKey {
            kind: "train".into(),
            impl_version: 1,
            params: [
                ("epochs".to_string(), Value::Int(epochs)),
                ("lr".to_string(), Value::Float(lr)),
            ]
            .into(),
            paths: BTreeMap::new(),
            inputs: BTreeMap::new(),
            environment: None,
        }
    }

    fn store(cache: &Cache, key: StageKey, content: &[u8]) {
        let hash = ContentHash::of(content);
        let obj = cache.object_path(&hash);
        std::fs::create_dir_all(obj.parent().unwrap()).unwrap();
        std::fs::write(&obj, content).unwrap();
        let files: BTreeMap<String, FileEntry> = [(
            "model.safetensors".to_string(),
            FileEntry {
                hash,
                size: content.len() as u64,
            },
        )]
        .into();
        let m = Manifest {
            format: FORMAT,
            stage: "train[a]".into(),
            matrix: BTreeMap::new(),
            output: output_hash(&files),
            files,
            seconds: 1.0,
            measured: Default::default(),
            pipe_version: "test".into(),
            created: 0,
            key: key.clone(),
        };
        m.write(&cache.manifest_path(&key.hash()), false).unwrap();
    }

    #[test]
    fn finds_results_that_differ_only_in_the_asked_param() {
        let dir = tempfile::tempdir().unwrap();
        let cache = Cache::open(dir.path()).unwrap();
        store(&cache, key(5, 0.1), b"five");
        store(&cache, key(10, 0.1), b"ten");
        store(&cache, key(5, 0.2), b"other lr");
        store(&cache, key(20, 0.1), b"twenty");
        // Its object is gone: not offered.
        let gone = ContentHash::of(b"twenty");
        std::fs::remove_file(cache.object_path(&gone)).unwrap();
        let history = CacheHistory {
            cache: cache.clone(),
            key: key(10, 0.1),
        };
        let found = history.variants("epochs");
        assert_eq!(found.len(), 1, "{found:?}");
        assert_eq!(found[0].0, Value::Int(5));
        let file = found[0].1.file("model.safetensors").unwrap();
        assert_eq!(std::fs::read(file).unwrap(), b"five");
        assert!(history.variants("lr").is_empty());
    }
}
