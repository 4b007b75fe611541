//! Earlier cached results of a stage that differ in one parameter, for
//! kinds that continue from them (more epochs continue from fewer).
//!
//! Found by scanning `keys/`: called only by the few kinds that ask, once
//! per run of such a stage, so an index is not worth its consistency cost.

use crate::cache::key::StageKey;
use crate::cache::manifest::Manifest;
use crate::cache::Cache;
use crate::kind::{Artifact, History};
use crate::value::Value;

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
            let Ok(m) = Manifest::read(&path) else { continue };
            if m.key.kind != want.kind || m.key.without(param) != want {
                continue;
            }
            let Some(value) = m.key.params.get(param).cloned() else { continue };
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
                matrix: m.matrix.iter().map(|(k, v)| (k.clone(), Value::from_json(v))).collect(),
                hash: m.output,
                files,
            };
            found.push((value, artifact));
        }
        found.sort_by(|a, b| a.0.to_string().cmp(&b.0.to_string()));
        found
    }
}
