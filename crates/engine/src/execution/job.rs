//! One stage that must run, as plain data: everything an executor needs to
//! run it here or on another machine without the pipeline file. Built by
//! the scheduler once the planner has the stage's key; serialized as JSON
//! for a cluster node (`pipe run-job`).

use std::collections::BTreeMap;
use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use crate::execution::cache::key::{StageHash, StageKey};
use crate::format::pipeline::{Pipeline, Stage, StageId};
use crate::hash::ContentHash;
use crate::kind::param::Params;
use crate::kind::value::Value;
use crate::kind::Artifact;

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Job {
    /// The stage's index in its pipeline (the scheduler's handle; means
    /// nothing on another machine).
    pub id: usize,
    /// `train[vit_b_16,finetune]`.
    pub stage: String,
    /// The kind's registered name; the runner looks it up.
    pub kind: String,
    pub matrix: BTreeMap<String, Value>,
    /// Every declared parameter, `Path` ones absolute.
    pub params: Params,
    pub key: StageKey,
    pub hash: StageHash,
    /// Input slot -> upstream outputs (their files as object paths).
    pub inputs: BTreeMap<String, Vec<Artifact>>,
    /// GPUs the stage needs at once.
    pub gpus: u32,
    /// Run even if the key is cached (`--force`, or a corrupt upstream).
    pub forced: bool,
    /// The pipeline file and the hash of its bytes (provenance only).
    pub pipeline_file: PathBuf,
    pub pipeline_hash: ContentHash,
}

impl Job {
    pub fn new(
        pipeline: &Pipeline,
        pipeline_file: PathBuf,
        stage: &Stage,
        key: StageKey,
        hash: StageHash,
        inputs: BTreeMap<String, Vec<Artifact>>,
        forced: bool,
    ) -> Job {
        Job {
            id: stage.id.0,
            stage: stage.name.clone(),
            kind: stage.kind.name().to_string(),
            matrix: stage.matrix.clone(),
            params: absolute_params(pipeline, stage),
            hash,
            key,
            inputs,
            gpus: stage.gpus,
            forced,
            pipeline_file,
            pipeline_hash: pipeline.source_hash,
        }
    }

    pub fn stage_id(&self) -> StageId {
        StageId(self.id)
    }
}

/// Params with `Path` values made absolute, as kinds receive them (the
/// joining is [`Stage::path_params`]'s, the same the key hashes).
fn absolute_params(pipeline: &Pipeline, stage: &Stage) -> Params {
    let mut params = stage.params.clone();
    for (name, paths) in stage.path_params(&pipeline.dir) {
        let Some(value) = params.0.get_mut(name) else {
            continue;
        };
        let abs = |p: &PathBuf| Value::Str(p.display().to_string());
        match value {
            Value::List(items) => {
                *items = paths.iter().map(|(_, p)| abs(p)).collect();
            }
            _ => {
                if let Some((_, p)) = paths.first() {
                    *value = abs(p);
                }
            }
        }
    }
    params
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A job sent to another machine must name the same key and carry the
    /// same values, floats and nested lists included.
    #[test]
    fn survives_a_json_round_trip_with_the_same_key() {
        let params = Params(
            [
                ("lr".to_string(), Value::Float(2.0)),
                ("n".to_string(), Value::Int(3)),
                (
                    "paths".to_string(),
                    Value::List(vec![Value::Str("/a b/c".into())]),
                ),
            ]
            .into(),
        );
        let key = StageKey {
            kind: "cmd".into(),
            impl_version: 1,
            params: params.0.clone(),
            paths: BTreeMap::new(),
            inputs: BTreeMap::new(),
            environment: None,
        };
        let artifact = Artifact {
            stage: "up[a]".into(),
            matrix: [("m".to_string(), Value::Str("a".into()))].into(),
            hash: ContentHash::of(b"x"),
            files: [("f.csv".to_string(), PathBuf::from("/cache/objects/ab/cd"))].into(),
        };
        let job = Job {
            id: 4,
            stage: "s[a]".into(),
            kind: "cmd".into(),
            matrix: [("m".to_string(), Value::Str("a".into()))].into(),
            params,
            hash: key.hash(),
            key,
            inputs: [("data".to_string(), vec![artifact])].into(),
            gpus: 1,
            forced: false,
            pipeline_file: "/p/x.yaml".into(),
            pipeline_hash: ContentHash::of(b"p"),
        };
        let back: Job = serde_json::from_str(&serde_json::to_string(&job).unwrap()).unwrap();
        assert_eq!(back.params, job.params);
        assert_eq!(back.key.hash(), job.hash);
        assert_eq!(back.hash, job.hash);
        assert_eq!(back.inputs["data"][0].files, job.inputs["data"][0].files);
        assert_eq!(back.matrix, job.matrix);
    }
}
