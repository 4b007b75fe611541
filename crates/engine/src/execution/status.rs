//! `pipe status` and `pipe run --dry-run`: for every selected stage, up to
//! date or would run, and why. Reads the cache and state; writes nothing.

use std::path::{Path, PathBuf};

use crate::error::Result;
use crate::execution::cache::key::StageHash;
use crate::execution::cache::manifest::Manifest;
use crate::execution::cache::state::State;
use crate::execution::cache::Cache;
use crate::execution::explain::Reason;
use crate::execution::planner::{Decision, Planner};
use crate::execution::scheduler::select;
use crate::format::pipeline::Pipeline;

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
            // The cached result's output hash: equal on two machines when
            // they computed the same bytes.
            "output": self.cached.as_ref().map(|m| m.output.to_string()),
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
    let mut planner = Planner::new(pipeline, cache.clone(), &state, forced);
    let mut result = Vec::new();
    for stage in &pipeline.stages {
        if !selected[stage.id.0] {
            continue;
        }
        let decision = planner.decide(stage.id)?;
        let key = match &decision {
            Decision::Cached(m, hash) => {
                planner.record(stage.id, m.output);
                Some(*hash)
            }
            Decision::Run { hash, .. } => Some(*hash),
            Decision::Waiting { .. } => None,
        };
        let reasons = planner.reasons(stage.id, &decision, &state);
        let cached = match decision {
            Decision::Cached(m, _) => Some(m),
            _ => None,
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
