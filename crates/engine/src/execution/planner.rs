//! The one place that decides, per stage: cached (with its manifest), must
//! run (with its key; [`Planner::reasons`] says why), or waiting (an
//! input's output is not known yet). `pipe status`, `pipe run --dry-run`
//! and the scheduler all ask it; the scheduler then hands what must run to
//! an [`Executor`](crate::execution::executor::Executor).
//!
//! Deciding costs the stage's key (hashes of its parameters and of the
//! files its `Path` parameters name, through the stat cache) and one
//! lookup in the cache (a `stat` per object). A result whose object turns
//! out corrupt is deleted, and every stage after it must run too: what was
//! computed from bad bytes may be bad.

use crate::error::{Error, Result};
use crate::execution::cache::key::{StageHash, StageKey};
use crate::execution::cache::manifest::Manifest;
use crate::execution::cache::state::{PathHasher, State};
use crate::execution::cache::{Cache, Found};
use crate::execution::explain::{diff, Reason};
use crate::format::pipeline::{Pipeline, StageId};
use crate::hash::ContentHash;

/// The verdict on one stage.
pub enum Decision {
    Cached(Manifest, StageHash),
    Run {
        key: StageKey,
        hash: StageHash,
        /// Run even though the cache may hold the key (`--force`, or an
        /// upstream result was corrupt).
        forced: bool,
        /// Its cached result was corrupt and has been deleted.
        corrupt: bool,
    },
    /// These inputs' outputs are not known yet.
    Waiting {
        on: Vec<StageId>,
        /// The key without its inputs (for [`Planner::reasons`]).
        base: StageKey,
    },
}

pub struct Planner<'a> {
    pipeline: &'a Pipeline,
    cache: Cache,
    hasher: PathHasher,
    forced: Vec<bool>,
    outputs: Vec<Option<ContentHash>>,
}

impl<'a> Planner<'a> {
    /// `forced[i]`: stage i runs even if cached. `state` is the pipeline's
    /// last run (its stat cache makes hashing `Path` parameters cheap).
    pub fn new(
        pipeline: &'a Pipeline,
        cache: Cache,
        state: &State,
        forced: Vec<bool>,
    ) -> Planner<'a> {
        Planner {
            pipeline,
            cache,
            hasher: PathHasher::new(state),
            outputs: vec![None; pipeline.stages.len()],
            forced,
        }
    }

    /// Decides stage `id`. Fails only when a `Path` parameter of it cannot
    /// be read (that stage fails).
    pub fn decide(&mut self, id: StageId) -> Result<Decision> {
        let stage = self.pipeline.stage(id);
        let waiting: Vec<StageId> = stage
            .inputs
            .values()
            .flatten()
            .copied()
            .filter(|up| self.outputs[up.0].is_none())
            .collect();
        let base = StageKey::base(self.pipeline, stage, &mut self.hasher)?;
        if !waiting.is_empty() {
            return Ok(Decision::Waiting { on: waiting, base });
        }
        let outputs = &self.outputs;
        let Some(key) = base.with_inputs(self.pipeline, stage, |up| outputs[up.0]) else {
            return Err(Error::internal(format!(
                "the inputs of `{}` are known but its key is not",
                stage.name
            )));
        };
        let hash = key.hash();
        let forced = self.forced[id.0];
        let mut corrupt = false;
        if !forced {
            match self.cache.find(&hash) {
                Found::Hit(m) => return Ok(Decision::Cached(m, hash)),
                Found::Corrupt(_) => {
                    corrupt = true;
                    self.taint(id);
                }
                Found::Miss => {}
            }
        }
        Ok(Decision::Run {
            key,
            hash,
            forced,
            corrupt,
        })
    }

    /// The output of stage `id` is known (cached, or it ran): its
    /// dependents can be decided.
    pub fn record(&mut self, id: StageId, output: ContentHash) {
        self.outputs[id.0] = Some(output);
    }

    /// Why stage `id` must run, given its decision and the key it had when
    /// it last ran (from `state`). Reads that manifest: for `pipe status`
    /// and `--dry-run`, not for every run.
    pub fn reasons(&self, id: StageId, decision: &Decision, state: &State) -> Vec<Reason> {
        let stage = self.pipeline.stage(id);
        if let Decision::Cached(..) = decision {
            // Reading the previous manifest for nothing doubled `pipe status`.
            return Vec::new();
        }
        let previous = state
            .stages
            .get(&stage.name)
            .map(|h| (*h, Manifest::read(&self.cache.manifest_path(h)).ok()));
        match decision {
            Decision::Cached(..) => Vec::new(),
            Decision::Run { forced: true, .. } => vec![Reason::Forced],
            Decision::Run { key, hash, .. } => explain(Some(key), Some(*hash), previous, true),
            Decision::Waiting { on: ups, base } => {
                let mut reasons = if self.forced[id.0] {
                    vec![Reason::Forced]
                } else {
                    explain(Some(base), None, previous, false)
                };
                // Without inputs the key cannot match; drop the vague reasons.
                reasons.retain(|r| !matches!(r, Reason::PreviousUnknown | Reason::OutputsMissing));
                let mut stages: Vec<String> = Vec::new();
                for up in ups {
                    let name = &self.pipeline.stage(*up).name;
                    if !stages.contains(name) {
                        stages.push(name.clone());
                    }
                }
                reasons.push(Reason::UpstreamWillRerun { stages });
                reasons
            }
        }
    }

    /// The stat cache, to be saved with the run's state.
    pub fn hasher(&self) -> &PathHasher {
        &self.hasher
    }

    /// Forces every stage downstream of `id` (stages are in topological
    /// order, so one pass after `id` finds them all).
    fn taint(&mut self, id: StageId) {
        let mut tainted = vec![false; self.pipeline.stages.len()];
        tainted[id.0] = true;
        for stage in &self.pipeline.stages[id.0 + 1..] {
            if stage.inputs.values().flatten().any(|up| tainted[up.0]) {
                tainted[stage.id.0] = true;
                self.forced[stage.id.0] = true;
            }
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
