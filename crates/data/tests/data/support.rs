//! Running a kind outside the engine: params with defaults filled in, a
//! context over temp directories, and the outputs as an artifact.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::AtomicBool;

use pipe_engine::kind::{NoHistory, WorkDirs};
use pipe_engine::{Artifact, ContentHash, Context, Kind, Params, Progress, Result, Value};

/// The kind's params: its defaults, overridden by `given`.
pub fn params(kind: &Kind, given: &[(&str, Value)]) -> Params {
    let mut map = BTreeMap::new();
    for spec in kind.params() {
        if let Some(d) = spec.default {
            map.insert(spec.name.to_string(), d.to_value());
        }
    }
    for (k, v) in given {
        assert!(
            kind.params().iter().any(|p| p.name == *k),
            "`{}` has no param `{k}`",
            kind.name()
        );
        map.insert(k.to_string(), v.clone());
    }
    Params(map)
}

pub fn s(v: &str) -> Value {
    Value::Str(v.to_string())
}

/// Every file in `dir` as an artifact of stage `stage`.
pub fn artifact(stage: &str, dir: &Path) -> Artifact {
    let mut files = BTreeMap::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let entry = entry.unwrap();
        files.insert(
            entry.file_name().to_string_lossy().to_string(),
            entry.path(),
        );
    }
    Artifact {
        stage: stage.to_string(),
        matrix: BTreeMap::new(),
        hash: ContentHash::of(stage.as_bytes()),
        files,
    }
}

/// Checks, then runs `kind` with outputs in `dir/out` (work in `dir/work`).
pub fn run(
    kind: &Kind,
    given: &[(&str, Value)],
    inputs: &[(&str, &Artifact)],
    dir: &Path,
) -> Result<Artifact> {
    let params = params(kind, given);
    let problems = kind.check(&params);
    assert!(problems.is_empty(), "check failed: {problems:?}");
    run_params(kind, &params, inputs, dir)
}

pub fn run_params(
    kind: &Kind,
    params: &Params,
    inputs: &[(&str, &Artifact)],
    dir: &Path,
) -> Result<Artifact> {
    let out = dir.join("out");
    let work = dir.join("work");
    std::fs::create_dir_all(&out).unwrap();
    std::fs::create_dir_all(&work).unwrap();
    let inputs: BTreeMap<String, Vec<Artifact>> = inputs
        .iter()
        .map(|(k, a)| (k.to_string(), vec![(*a).clone()]))
        .collect();
    let cancel = AtomicBool::new(false);
    let progress = Progress::hidden();
    let pipeline_file = PathBuf::from("test.yaml");
    let ctx = Context {
        stage: kind.name(),
        params,
        inputs: &inputs,
        out: &out,
        work: &work,
        gpus: &[],
        progress: &progress,
        history: &NoHistory,
        input_dirs: &WorkDirs,
        cancel: &cancel,
        pipeline_file: &pipeline_file,
        pipeline_hash: ContentHash::of(b""),
    };
    kind.run(&ctx)?;
    Ok(artifact(kind.name(), &out))
}
