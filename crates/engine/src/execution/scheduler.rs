//! `pipe run`: the scheduler. Walks the stages in dependency order, skips
//! those whose key is cached, runs the rest on worker threads (at most
//! `jobs` CPU stages at once; a stage with `gpus: n` waits for n free GPUs
//! and does not take a CPU slot) and links every result into the results
//! directory.
//!
//! Cache checks happen on the main thread as soon as a stage's inputs are
//! known, so a no-op run is a sequence of hash computations and `stat`s;
//! only stages that must run cost a thread.

pub mod commit;
pub mod execute;
pub mod results;
pub mod select;
pub mod staging;
pub mod ui;

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{mpsc, Arc};
use std::time::{Duration, Instant};

use crate::error::{panic_message, Error, Result};
use crate::execution::cache::key::{StageHash, StageKey};
use crate::execution::cache::manifest::Manifest;
use crate::execution::cache::state::{PathHasher, State};
use crate::execution::cache::{Cache, Found};
use crate::execution::gpu::GpuPool;
use crate::execution::lock;
use crate::execution::status::pipeline_path;
use crate::format::pipeline::{Pipeline, StageId};
use crate::kind::Artifact;

use execute::{Env, Outcome, StageRun};
use staging::Staging;
use ui::Ui;

/// How to run, resolved from the command line.
pub struct RunOptions {
    pub cache_dir: PathBuf,
    /// Where results are linked; `None`: nowhere.
    pub results_dir: Option<PathBuf>,
    pub targets: Vec<String>,
    pub force: Vec<String>,
    /// CPU stages at once (at least 1).
    pub jobs: usize,
    /// Device ordinals GPU stages may be handed.
    pub gpus: Vec<usize>,
    pub keep_going: bool,
    pub quiet: bool,
    pub color: bool,
    /// fsync objects and manifests (off only for benchmarks of the engine itself).
    pub durable: bool,
    /// Set by the Ctrl-C handler.
    pub cancel: Arc<AtomicBool>,
}

/// What happened, stage by stage.
#[derive(Debug, Default)]
pub struct RunSummary {
    pub ran: Vec<String>,
    pub cached: Vec<String>,
    pub failed: Vec<(String, Error)>,
    /// Not run because an input failed, or the run stopped early.
    pub skipped: Vec<String>,
    pub cancelled: bool,
    pub elapsed: Duration,
}

impl RunSummary {
    /// `ran 3, cached 34, failed 0 in 1.2s`.
    pub fn line(&self) -> String {
        let mut s = format!(
            "ran {}, cached {}, failed {}",
            self.ran.len(),
            self.cached.len(),
            self.failed.len()
        );
        if !self.skipped.is_empty() {
            s.push_str(&format!(", not run {}", self.skipped.len()));
        }
        s.push_str(&format!(" in {}", ui::duration(self.elapsed)));
        s
    }

    /// The run's outcome as an error, if it was not a success.
    pub fn into_result(self) -> Result<RunSummary> {
        if self.cancelled {
            return Err(Error::Cancelled);
        }
        if !self.failed.is_empty() {
            return Err(Error::StagesFailed(
                self.failed.into_iter().map(|(_, e)| e).collect(),
            ));
        }
        Ok(self)
    }
}

#[derive(Clone, Copy, PartialEq)]
enum Phase {
    Waiting,
    Queued,
    Running,
    Done,
    Failed,
    Skipped,
}

struct Done {
    id: StageId,
    gpus: Vec<usize>,
    result: Result<Outcome>,
}

/// Runs the selected stages of `pipeline`. Errors only for problems found
/// before anything ran (bad targets, a stage needing more GPUs than exist,
/// an unusable cache); stage failures are in the summary.
pub fn run(pipeline: &Pipeline, opts: &RunOptions) -> Result<RunSummary> {
    let started = Instant::now();
    let ui = Ui::new(opts.quiet, opts.color);
    let cache = Cache::open(&opts.cache_dir)?;
    let _shared = lock::acquire(&cache.dir("lock"), false, |_| {
        ui.always("waiting for `pipe gc` or `pipe cache verify` to finish with the cache");
    })?;
    let selected = select::targets(pipeline, &opts.targets)?;
    let mut forced = select::matching(pipeline, &opts.force, "`--force` pattern")?;
    check_gpus(pipeline, &cache, opts, &selected)?;
    let file = pipeline_path(pipeline);
    let mut state = State::load(&cache, &file);
    let mut hasher = PathHasher::new(&state);
    let staging = Staging::create(&cache)?;
    let env = Env {
        pipeline,
        pipeline_file: &file,
        cache: &cache,
        staging: &staging,
        ui: &ui,
        cancel: &opts.cancel,
    };
    let mut summary = RunSummary::default();
    let mut sched = Scheduler::new(pipeline, &selected);
    let jobs = opts.jobs.max(1);
    let mut pool = GpuPool::new(&opts.gpus);
    let (tx, rx) = mpsc::channel::<Done>();
    let mut stop = false;
    let mut committer_panic = None;
    let (commit_tx, commit_rx) = mpsc::channel::<commit::Pending>();
    let commit_tx = opts.durable.then_some(commit_tx);

    std::thread::scope(|scope| {
        let cache_ref = &cache;
        let committer = scope.spawn(move || commit::committer(cache_ref, &commit_rx));
        let mut cpu_running = 0usize;
        let mut running = 0usize;
        // Stages whose inputs are done but that must run, in topological order.
        let mut queue: BTreeMap<StageId, (StageKey, StageHash)> = BTreeMap::new();
        loop {
            if opts.cancel.load(Ordering::Relaxed) && !summary.cancelled {
                summary.cancelled = true;
                stop = true;
            }
            // Decide every ready stage: cached, or queued to run.
            while let Some(id) = sched.ready.pop_first() {
                let stage = pipeline.stage(id);
                if stop {
                    sched.phase[id.0] = Phase::Skipped;
                    continue;
                }
                let key = match StageKey::base(pipeline, stage, &mut hasher) {
                    Ok(base) => base.with_inputs(pipeline, stage, |up| {
                        sched.outputs[up.0].as_ref().map(|m| m.output)
                    }),
                    Err(e) => {
                        fail(
                            &mut sched,
                            &mut summary,
                            &ui,
                            id,
                            e,
                            opts.keep_going,
                            &mut stop,
                        );
                        continue;
                    }
                };
                let Some(key) = key else {
                    let e = Error::internal(format!(
                        "stage `{}` became ready before its inputs",
                        stage.name
                    ));
                    fail(
                        &mut sched,
                        &mut summary,
                        &ui,
                        id,
                        e,
                        opts.keep_going,
                        &mut stop,
                    );
                    continue;
                };
                let hash = key.hash();
                if !forced[id.0] {
                    let found = cache.find(&hash);
                    if let Found::Corrupt(_) = found {
                        // What was computed from the bad bytes may be bad too.
                        ui.always(&format!(
                            "the cached result of `{}` was corrupt and is deleted: it and the stages after it rerun",
                            stage.name
                        ));
                        sched.taint(id, &mut forced);
                    }
                    if let Found::Hit(m) = found {
                        ui.cached(&stage.name);
                        if let Err(e) = finish(&mut sched, &mut state, &cache, opts, id, hash, m) {
                            fail(
                                &mut sched,
                                &mut summary,
                                &ui,
                                id,
                                e,
                                opts.keep_going,
                                &mut stop,
                            );
                        } else {
                            summary.cached.push(stage.name.clone());
                        }
                        continue;
                    }
                }
                sched.phase[id.0] = Phase::Queued;
                queue.insert(id, (key, hash));
            }
            // Launch: GPU stages whenever their GPUs are free, CPU stages
            // while CPU slots are free.
            if !stop {
                let launchable: Vec<StageId> = queue
                    .keys()
                    .copied()
                    .filter(|id| pipeline.stage(*id).gpus > 0)
                    .chain(
                        queue
                            .keys()
                            .copied()
                            .filter(|id| pipeline.stage(*id).gpus == 0),
                    )
                    .collect();
                for id in launchable {
                    let stage = pipeline.stage(id);
                    let need = stage.gpus as usize;
                    let gpus = if need > 0 {
                        match pool.take(need) {
                            Some(g) => g,
                            None => continue,
                        }
                    } else {
                        if cpu_running >= jobs {
                            continue;
                        }
                        cpu_running += 1;
                        Vec::new()
                    };
                    let Some((key, hash)) = queue.remove(&id) else {
                        continue;
                    };
                    sched.phase[id.0] = Phase::Running;
                    running += 1;
                    let job = StageRun {
                        stage,
                        key,
                        hash,
                        inputs: sched.artifacts(pipeline, &cache, id),
                        gpus,
                        forced: forced[id.0],
                        commit: commit_tx.clone(),
                    };
                    let tx = tx.clone();
                    let env = &env;
                    scope.spawn(move || {
                        let result = execute::execute(&job, env);
                        let _ = tx.send(Done {
                            id,
                            gpus: job.gpus,
                            result,
                        });
                    });
                }
            } else {
                for id in std::mem::take(&mut queue).into_keys() {
                    sched.phase[id.0] = Phase::Skipped;
                }
            }
            if running == 0 && sched.ready.is_empty() {
                if queue.is_empty() {
                    break;
                }
                // Nothing runs and nothing can start: a stage needs more
                // GPUs than exist (checked up front unless it looked cached
                // then and an upstream output came out different).
                for (id, _) in std::mem::take(&mut queue) {
                    let stage = pipeline.stage(id);
                    let e = Error::environment(format!(
                        "stage `{}` needs {} GPUs but {} are available",
                        stage.name,
                        stage.gpus,
                        pool.total()
                    ))
                    .with_hint("pass the devices with `--gpus 0,1`");
                    fail(
                        &mut sched,
                        &mut summary,
                        &ui,
                        id,
                        e,
                        opts.keep_going,
                        &mut stop,
                    );
                }
                continue;
            }
            if running == 0 {
                continue;
            }
            let done = match rx.recv_timeout(Duration::from_millis(100)) {
                Ok(done) => done,
                Err(_) => continue,
            };
            running -= 1;
            if done.gpus.is_empty() {
                cpu_running -= 1;
            } else {
                pool.give_back(&done.gpus);
            }
            let id = done.id;
            let name = pipeline.stage(id).name.clone();
            match done.result {
                Ok(outcome) => {
                    let (m, line) = match outcome {
                        Outcome::Ran(m, t) => {
                            summary.ran.push(name.clone());
                            (m, format!("ran {name} {}", ui::duration(t)))
                        }
                        Outcome::Cached(m) => {
                            summary.cached.push(name.clone());
                            (m, format!("cached {name}"))
                        }
                    };
                    ui.line(&line);
                    let hash = m.key.hash();
                    if let Err(e) = finish(&mut sched, &mut state, &cache, opts, id, hash, m) {
                        fail(
                            &mut sched,
                            &mut summary,
                            &ui,
                            id,
                            e,
                            opts.keep_going,
                            &mut stop,
                        );
                    }
                }
                Err(Error::Cancelled) => {
                    sched.phase[id.0] = Phase::Skipped;
                    summary.cancelled = true;
                    stop = true;
                }
                Err(e) => fail(
                    &mut sched,
                    &mut summary,
                    &ui,
                    id,
                    e,
                    opts.keep_going,
                    &mut stop,
                ),
            }
        }
        // Every job is done; the committer ends once the last sender goes.
        drop(commit_tx);
        match committer.join() {
            Ok(failed) => {
                for (stage, e) in failed {
                    ui.always(&format!("failed {stage}"));
                    ui.error(&e);
                    summary.ran.retain(|s| *s != stage);
                    summary.failed.push((stage, e));
                }
            }
            // A bug: the stages it was storing have no manifest, so the run
            // must not report them as ran (or itself as a success).
            Err(panic) => committer_panic = Some(panic_message(&*panic)),
        }
    });
    if let Some(what) = committer_panic {
        return Err(Error::internal(format!(
            "storing finished stages failed (the committer panicked: {what}); \
             they were not cached and will run again"
        )));
    }
    for (i, phase) in sched.phase.iter().enumerate() {
        if selected[i] && matches!(phase, Phase::Waiting | Phase::Skipped | Phase::Queued) {
            summary.skipped.push(pipeline.stages[i].name.clone());
        }
    }
    // State only feeds explanations and the stat cache: a cache that
    // cannot take it (mounted read-only) still served its hits.
    if let Err(e) = state.save(&cache, &file, &hasher) {
        ui.always(&format!("warning: the run state was not saved: {e}"));
    }
    summary.elapsed = started.elapsed();
    ui.end_cached(summary.ran.is_empty() && summary.failed.is_empty());
    if summary.cancelled {
        ui.always("interrupted: running stages were stopped; nothing partial was kept");
    }
    ui.always(&summary.line());
    Ok(summary)
}

/// Records a finished stage: state, results directory, and its dependents.
fn finish(
    sched: &mut Scheduler,
    state: &mut State,
    cache: &Cache,
    opts: &RunOptions,
    id: StageId,
    hash: StageHash,
    manifest: Manifest,
) -> Result<()> {
    let name = &sched.names[id.0];
    if let Some(root) = &opts.results_dir {
        results::link(cache, root, name, &manifest)?;
    }
    if state.stages.get(name) != Some(&hash) {
        state.stages.insert(name.clone(), hash);
    }
    sched.outputs[id.0] = Some(Arc::new(manifest));
    sched.complete(id);
    Ok(())
}

fn fail(
    sched: &mut Scheduler,
    summary: &mut RunSummary,
    ui: &Ui,
    id: StageId,
    error: Error,
    keep_going: bool,
    stop: &mut bool,
) {
    let name = sched.names[id.0].clone();
    ui.always(&format!("failed {name}"));
    ui.error(&error);
    sched.phase[id.0] = Phase::Failed;
    summary.failed.push((name, error));
    if !keep_going {
        *stop = true;
    }
    // Everything downstream cannot run.
    let mut stack = sched.dependents[id.0].clone();
    while let Some(d) = stack.pop() {
        if sched.phase[d.0] == Phase::Waiting {
            sched.phase[d.0] = Phase::Skipped;
            stack.extend(sched.dependents[d.0].iter().copied());
        }
    }
}

/// Dependency bookkeeping over the selected stages.
struct Scheduler {
    names: Vec<String>,
    phase: Vec<Phase>,
    /// Unfinished distinct inputs per stage.
    pending: Vec<usize>,
    dependents: Vec<Vec<StageId>>,
    outputs: Vec<Option<Arc<Manifest>>>,
    ready: BTreeSet<StageId>,
}

impl Scheduler {
    fn new(pipeline: &Pipeline, selected: &[bool]) -> Scheduler {
        let n = pipeline.stages.len();
        let mut s = Scheduler {
            names: pipeline.stages.iter().map(|st| st.name.clone()).collect(),
            phase: vec![Phase::Waiting; n],
            pending: vec![0; n],
            dependents: vec![Vec::new(); n],
            outputs: vec![None; n],
            ready: BTreeSet::new(),
        };
        for stage in &pipeline.stages {
            let i = stage.id.0;
            if !selected[i] {
                s.phase[i] = Phase::Skipped;
                continue;
            }
            let ups: BTreeSet<StageId> = stage.inputs.values().flatten().copied().collect();
            s.pending[i] = ups.len();
            for up in ups {
                s.dependents[up.0].push(stage.id);
            }
            if s.pending[i] == 0 {
                s.ready.insert(stage.id);
            }
        }
        s
    }

    fn complete(&mut self, id: StageId) {
        self.phase[id.0] = Phase::Done;
        for i in 0..self.dependents[id.0].len() {
            let d = self.dependents[id.0][i];
            self.pending[d.0] -= 1;
            if self.pending[d.0] == 0 && self.phase[d.0] == Phase::Waiting {
                self.ready.insert(d);
            }
        }
    }

    /// Forces every stage downstream of `id` to run.
    fn taint(&self, id: StageId, forced: &mut [bool]) {
        let mut stack = vec![id];
        while let Some(s) = stack.pop() {
            for &d in &self.dependents[s.0] {
                if !forced[d.0] {
                    forced[d.0] = true;
                    stack.push(d);
                }
            }
        }
    }

    /// The inputs of a stage as its kind sees them.
    fn artifacts(
        &self,
        pipeline: &Pipeline,
        cache: &Cache,
        id: StageId,
    ) -> BTreeMap<String, Vec<Artifact>> {
        let stage = pipeline.stage(id);
        stage
            .inputs
            .iter()
            .map(|(slot, ups)| {
                let list = ups
                    .iter()
                    .filter_map(|up| {
                        let m = self.outputs[up.0].as_ref()?;
                        let st = pipeline.stage(*up);
                        Some(Artifact {
                            stage: st.name.clone(),
                            matrix: st.matrix.clone(),
                            hash: m.output,
                            files: m
                                .files
                                .iter()
                                .map(|(n, f)| (n.clone(), cache.object_path(&f.hash)))
                                .collect(),
                        })
                    })
                    .collect();
                (slot.clone(), list)
            })
            .collect()
    }
}

/// A stage needing more GPUs than the run has can never start: say so
/// before anything runs. Cached ones are fine (looking at results on a
/// laptop), so only then is the cache consulted.
pub fn check_gpus(
    pipeline: &Pipeline,
    cache: &Cache,
    opts: &RunOptions,
    selected: &[bool],
) -> Result<()> {
    let have = opts.gpus.len();
    let mut too_big: Vec<&str> = pipeline
        .stages
        .iter()
        .filter(|s| selected[s.id.0] && s.gpus as usize > have)
        .map(|s| s.name.as_str())
        .collect();
    if too_big.is_empty() {
        return Ok(());
    }
    let statuses = crate::execution::status::status(pipeline, cache, &opts.targets, &opts.force)?;
    too_big.retain(|name| statuses.iter().any(|s| s.name == *name && !s.up_to_date()));
    if too_big.is_empty() {
        return Ok(());
    }
    let needs: Vec<String> = too_big
        .iter()
        .filter_map(|name| pipeline.find(name))
        .map(|s| format!("`{}` needs {}", s.name, s.gpus))
        .collect();
    Err(Error::environment(format!(
        "{} GPU{} available, but stage {}",
        have,
        if have == 1 { " is" } else { "s are" },
        needs.join(", ")
    ))
    .with_hint("pass the devices with `--gpus 0,1`, or run on a machine with more GPUs (`pipe doctor` lists them)"))
}
