//! `pipe status` and `pipe run --dry-run`: for every selected stage, up to
//! date or would run, and why. Reads the cache and state; writes nothing.

use std::path::{Path, PathBuf};

use crate::error::Result;
use crate::execution::cache::key::{StageHash, StageKey};
use crate::execution::cache::manifest::Manifest;
use crate::execution::cache::state::{PathHasher, State};
use crate::execution::cache::Cache;
use crate::execution::explain::{diff, Reason};
use crate::execution::scheduler::select;
use crate::format::pipeline::Pipeline;
use crate::hash::ContentHash;

/// The verdict on one stage.
#[derive(Debug)]
pub struct StageStatus {
    pub name: String,
    /// The stage's key now; `None` while an upstream stage must run first.
    pub key: Option<StageHash>,
    /// Empty when up to date.
    pub reasons: Vec<Reason>,
    /// The cached result, when up to date (checked: its objects are there).
    pub cached: Option<Manifest>,
}

impl StageStatus {
    pub fn up_to_date(&self) -> bool {
        self.reasons.is_empty()
    }

    pub fn to_json(&self) -> serde_json::Value {
        serde_json::json!({
            "stage": self.name,
            "status": if self.up_to_date() { "up to date" } else { "would run" },
            "key": self.key.map(|k| k.to_string()),
            "reasons": self.reasons.iter().map(ToString::to_string).collect::<Vec<_>>(),
        })
    }
}

/// The absolute path of the pipeline file (names its state).
pub fn pipeline_path(pipeline: &Pipeline) -> PathBuf {
    match pipeline.file.file_name() {
        Some(name) => pipeline.dir.join(name),
        None => pipeline.file.clone(),
    }
}

/// The status of the stages `targets` select (all when empty), in
/// topological order; `force` names stages treated as forced.
pub fn status(
    pipeline: &Pipeline,
    cache: &Cache,
    targets: &[String],
    force: &[String],
) -> Result<Vec<StageStatus>> {
    let selected = select::targets(pipeline, targets)?;
    let forced = select::matching(pipeline, force, "`--force` pattern")?;
    let state = State::load(cache, &pipeline_path(pipeline));
    let mut hasher = PathHasher::new(&state);
    // Output hash of each stage that is up to date.
    let mut outputs: Vec<Option<ContentHash>> = vec![None; pipeline.stages.len()];
    let mut result = Vec::new();
    for stage in &pipeline.stages {
        let i = stage.id.0;
        if !selected[i] {
            continue;
        }
        let base = StageKey::base(pipeline, stage, &mut hasher)?;
        // Read only for stages that are not up to date.
        let previous = || {
            state
                .stages
                .get(&stage.name)
                .map(|h| (*h, Manifest::read(&cache.manifest_path(h)).ok()))
        };
        let mut waiting: Vec<String> = Vec::new();
        for ids in stage.inputs.values() {
            for id in ids {
                let up = &pipeline.stage(*id).name;
                if outputs[id.0].is_none() && !waiting.contains(up) {
                    waiting.push(up.clone());
                }
            }
        }
        let (key, reasons, cached) = if waiting.is_empty() {
            let key = base.with_inputs(pipeline, stage, |id| outputs[id.0]);
            let hash = key.as_ref().map(StageKey::hash);
            let hit = if forced[i] {
                None
            } else {
                hash.and_then(|h| cache.lookup(&h))
            };
            if let Some(m) = hit {
                outputs[i] = Some(m.output);
                (hash, Vec::new(), Some(m))
            } else if forced[i] {
                (hash, vec![Reason::Forced], None)
            } else {
                (hash, explain(key.as_ref(), hash, previous(), true), None)
            }
        } else {
            let mut reasons = if forced[i] {
                vec![Reason::Forced]
            } else {
                explain(Some(&base), None, previous(), false)
            };
            // Without inputs the key cannot match; drop the vague reasons.
            reasons.retain(|r| !matches!(r, Reason::PreviousUnknown | Reason::OutputsMissing));
            reasons.push(Reason::UpstreamWillRerun { stages: waiting });
            (None, reasons, None)
        };
        result.push(StageStatus {
            name: stage.name.clone(),
            key,
            reasons,
            cached,
        });
    }
    Ok(result)
}

/// Adds [`Reason::ResultsDiffer`] to every up-to-date stage whose
/// directory under `results` (`results/<pipeline>`) does not show its
/// cached result: status compares results/ with the file's configuration,
/// not only the cache. A stage directory that does not exist is not
/// compared. Reads only: one `stat` per file, against the manifest the
/// status pass already read (a second lookup doubled `pipe status`).
pub fn compare_results(results: &Path, statuses: &mut [StageStatus]) {
    for s in statuses.iter_mut().filter(|s| s.up_to_date()) {
        let Some(manifest) = &s.cached else {
            continue;
        };
        // A stage never linked there mixes nothing; `pipe run` links it.
        if crate::execution::scheduler::results::shows(results, &s.name, manifest) == Some(false) {
            let dir = crate::execution::scheduler::results::stage_dir(results, &s.name);
            let cwd = std::env::current_dir().unwrap_or_default();
            let shown = dir.strip_prefix(&cwd).unwrap_or(&dir);
            s.reasons.push(Reason::ResultsDiffer {
                dir: shown.display().to_string(),
            });
        }
    }
}

/// Why a stage with key `key` (hash `hash`) is not cached, given the key it
/// had when it last ran.
fn explain(
    key: Option<&StageKey>,
    hash: Option<StageHash>,
    previous: Option<(StageHash, Option<Manifest>)>,
    compare_inputs: bool,
) -> Vec<Reason> {
    let Some((prev_hash, prev)) = previous else {
        return vec![Reason::NeverRun];
    };
    if Some(prev_hash) == hash {
        return vec![Reason::OutputsMissing];
    }
    let (Some(prev), Some(key)) = (prev, key) else {
        return vec![Reason::PreviousUnknown];
    };
    let reasons = diff(&prev.key, key, compare_inputs);
    if reasons.is_empty() && compare_inputs {
        // Equal parts but another hash: only a format change can do that.
        return vec![Reason::PreviousUnknown];
    }
    reasons
}
