//! `pipe run`: the scheduler. Walks the stages in dependency order, asks
//! the [`Planner`] about each stage whose inputs are done (cached: linked
//! at once; must run: queued as a [`Job`]) and hands queued jobs to an
//! [`Executor`] (this machine's threads by default, a cluster with
//! `--executor slurm`), then links every result into the results directory.
//!
//! Planning happens on the main thread as soon as a stage's inputs are
//! known, so a no-op run is a sequence of hash computations and `stat`s;
//! only stages that must run reach the executor.

pub mod results;
pub mod select;
pub mod ui;

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{mpsc, Arc};
use std::time::{Duration, Instant};

use crate::error::{panic_message, Error, Result};
use crate::execution::cache::manifest::Manifest;
use crate::execution::cache::staging::Staging;
use crate::execution::cache::state::State;
use crate::execution::cache::{commit, Cache, Stored};
use crate::execution::executor::attempt::Env;
use crate::execution::executor::local::Local;
use crate::execution::executor::{Executor, Outcome, Start};
use crate::execution::job::Job;
use crate::execution::lock;
use crate::execution::planner::{Decision, Planner};
use crate::execution::status::pipeline_path;
use crate::format::pipeline::{Pipeline, StageId};
use crate::kind::Artifact;

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

/// Runs the selected stages of `pipeline` on this machine. Errors only
/// for problems found before anything ran (bad targets, a stage needing
/// more GPUs than exist, an unusable cache); stage failures are in the
/// summary.
pub fn run(pipeline: &Pipeline, opts: &RunOptions) -> Result<RunSummary> {
    let started = Instant::now();
    let ui = Ui::new(opts.quiet, opts.color);
    let mut run = Run::prepare(pipeline, opts, &ui)?;
    check_gpus(pipeline, &run.cache, opts, &run.selected)?;
    let staging = Staging::create(&run.cache)?;
    // The committer makes finished stages durable in batches; it ends once
    // the last sender (the env's) is gone.
    let (commit_tx, commit_rx) = mpsc::channel::<Stored>();
    let committer = {
        let cache = run.cache.clone();
        std::thread::spawn(move || commit::committer(&cache, &commit_rx))
    };
    let cache = run.cache.clone();
    let env = Env {
        cache: &cache,
        staging: &staging,
        ui: &ui,
        cancel: &opts.cancel,
        commit: opts.durable.then_some(commit_tx),
        durable: false,
    };
    std::thread::scope(|scope| {
        let mut local = Local::new(scope, &env, pipeline, opts.jobs, &opts.gpus);
        run.drive(&mut local);
    });
    drop(env);
    match committer.join() {
        Ok(failed) => {
            for (stage, e) in failed {
                ui.always(&format!("failed {stage}"));
                ui.error(&e);
                run.summary.ran.retain(|s| *s != stage);
                run.summary.failed.push((stage, e));
            }
        }
        // A bug: the stages it was storing have no manifest, so the run
        // must not report them as ran (or itself as a success).
        Err(panic) => {
            return Err(Error::internal(format!(
                "storing finished stages failed (the committer panicked: {}); \
                 they were not cached and will run again",
                panic_message(&*panic)
            )))
        }
    }
    Ok(run.end(started))
}

/// Runs the selected stages of `pipeline` through `executor` (a cluster),
/// which stores each result itself and shows its stages' progress on `ui`
/// (the caller's, shared with the executor: one display on stderr); as
/// [`run`] otherwise.
pub fn run_on(
    pipeline: &Pipeline,
    opts: &RunOptions,
    ui: &Ui,
    executor: &mut dyn Executor,
) -> Result<RunSummary> {
    let started = Instant::now();
    let mut run = Run::prepare(pipeline, opts, ui)?;
    run.drive(executor);
    Ok(run.end(started))
}

/// One `pipe run` in progress: the plan, the bookkeeping and the summary.
struct Run<'a> {
    pipeline: &'a Pipeline,
    opts: &'a RunOptions,
    ui: &'a Ui,
    cache: Cache,
    /// Held against `pipe gc` and `pipe cache verify` for the whole run.
    _shared: lock::Lock,
    selected: Vec<bool>,
    file: PathBuf,
    state: State,
    planner: Planner<'a>,
    sched: Scheduler,
    summary: RunSummary,
    /// No new stage starts (a failure without `--keep-going`, or Ctrl-C).
    stop: bool,
}

impl<'a> Run<'a> {
    fn prepare(pipeline: &'a Pipeline, opts: &'a RunOptions, ui: &'a Ui) -> Result<Run<'a>> {
        let cache = Cache::open(&opts.cache_dir)?;
        let shared = lock::acquire(&cache.dir("lock"), false, |_| {
            ui.always("waiting for `pipe gc` or `pipe cache verify` to finish with the cache");
        })?;
        let selected = select::targets(pipeline, &opts.targets)?;
        let forced = select::matching(pipeline, &opts.force, "`--force` pattern")?;
        let file = pipeline_path(pipeline);
        let state = State::load(&cache, &file);
        let planner = Planner::new(pipeline, cache.clone(), &state, forced);
        Ok(Run {
            pipeline,
            opts,
            ui,
            sched: Scheduler::new(pipeline, &selected),
            cache,
            _shared: shared,
            selected,
            file,
            state,
            planner,
            summary: RunSummary::default(),
            stop: false,
        })
    }

    /// Plans, starts and collects stages until nothing is left to do.
    fn drive(&mut self, executor: &mut dyn Executor) {
        // Stages that must run and wait for room, in topological order.
        let mut queue: BTreeMap<StageId, Job> = BTreeMap::new();
        loop {
            if self.opts.cancel.load(Ordering::Relaxed) && !self.summary.cancelled {
                self.summary.cancelled = true;
                self.stop = true;
                executor.cancel();
            }
            while let Some(id) = self.sched.ready.pop_first() {
                if self.stop {
                    self.sched.phase[id.0] = Phase::Skipped;
                    continue;
                }
                if let Some(job) = self.plan(id) {
                    self.sched.phase[id.0] = Phase::Queued;
                    queue.insert(id, job);
                }
            }
            if self.stop {
                for id in std::mem::take(&mut queue).into_keys() {
                    self.sched.phase[id.0] = Phase::Skipped;
                }
            }
            // GPU stages whenever their GPUs are free, then CPU stages while
            // there is room.
            let (gpu, cpu): (Vec<StageId>, Vec<StageId>) = queue
                .keys()
                .partition(|id| self.pipeline.stage(**id).gpus > 0);
            for id in gpu.into_iter().chain(cpu) {
                let Some(job) = queue.remove(&id) else {
                    continue;
                };
                match executor.start(job) {
                    Start::Started => self.sched.phase[id.0] = Phase::Running,
                    Start::Later(job) => {
                        queue.insert(id, job);
                    }
                    Start::Never(_, e) => self.fail(id, e),
                }
            }
            if executor.in_flight() == 0 && self.sched.ready.is_empty() {
                if queue.is_empty() {
                    break;
                }
                // Nothing runs, yet the executor has no room: a bug in it.
                for id in std::mem::take(&mut queue).into_keys() {
                    let e = Error::internal(format!(
                        "the executor has no room for `{}` with nothing running",
                        self.pipeline.stage(id).name
                    ));
                    self.fail(id, e);
                }
                continue;
            }
            if executor.in_flight() == 0 {
                continue;
            }
            let Some(done) = executor.wait(Duration::from_millis(100)) else {
                continue;
            };
            let id = done.id;
            let name = self.pipeline.stage(id).name.clone();
            match done.result {
                Ok(Outcome::Ran(m, t)) => {
                    self.summary.ran.push(name.clone());
                    self.ui.line(&format!("ran {name} {}", ui::duration(t)));
                    self.finish(id, m);
                }
                Ok(Outcome::Cached(m)) => {
                    self.summary.cached.push(name.clone());
                    self.ui.line(&format!("cached {name}"));
                    self.finish(id, m);
                }
                Err(Error::Cancelled) => {
                    self.sched.phase[id.0] = Phase::Skipped;
                    self.summary.cancelled = true;
                    self.stop = true;
                }
                Err(e) => self.fail(id, e),
            }
        }
    }

    /// Asks the planner about a stage whose inputs are done: a cached one is
    /// finished at once; one that must run comes back as its job.
    fn plan(&mut self, id: StageId) -> Option<Job> {
        let stage = self.pipeline.stage(id);
        match self.planner.decide(id) {
            Err(e) => self.fail(id, e),
            Ok(Decision::Waiting { .. }) => {
                let e = Error::internal(format!(
                    "stage `{}` became ready before its inputs",
                    stage.name
                ));
                self.fail(id, e);
            }
            Ok(Decision::Cached(m, _)) => {
                self.ui.cached(&stage.name);
                self.summary.cached.push(stage.name.clone());
                self.finish(id, m);
            }
            Ok(Decision::Run {
                key,
                hash,
                forced,
                corrupt,
            }) => {
                if corrupt {
                    // What was computed from the bad bytes may be bad too.
                    self.ui.always(&format!(
                        "the cached result of `{}` was corrupt and is deleted: it and the stages after it rerun",
                        stage.name
                    ));
                }
                let inputs = self.sched.artifacts(self.pipeline, &self.cache, id);
                return Some(Job::new(
                    self.pipeline,
                    self.file.clone(),
                    stage,
                    key,
                    hash,
                    inputs,
                    forced,
                ));
            }
        }
        None
    }

    /// Records a finished stage: state, results directory, and its dependents.
    fn finish(&mut self, id: StageId, manifest: Manifest) {
        let name = &self.sched.names[id.0];
        if let Some(root) = &self.opts.results_dir {
            if let Err(e) = results::link(&self.cache, root, name, &manifest) {
                let name = name.clone();
                self.summary.cached.retain(|s| *s != name);
                self.summary.ran.retain(|s| *s != name);
                return self.fail(id, e);
            }
        }
        let hash = manifest.key.hash();
        if self.state.stages.get(name) != Some(&hash) {
            self.state.stages.insert(name.clone(), hash);
        }
        self.planner.record(id, manifest.output);
        self.sched.outputs[id.0] = Some(Arc::new(manifest));
        self.sched.complete(id);
    }

    fn fail(&mut self, id: StageId, error: Error) {
        let name = self.sched.names[id.0].clone();
        self.ui.always(&format!("failed {name}"));
        self.ui.error(&error);
        self.sched.phase[id.0] = Phase::Failed;
        self.summary.failed.push((name, error));
        if !self.opts.keep_going {
            self.stop = true;
        }
        // Everything downstream cannot run.
        let mut stack = self.sched.dependents[id.0].clone();
        while let Some(d) = stack.pop() {
            if self.sched.phase[d.0] == Phase::Waiting {
                self.sched.phase[d.0] = Phase::Skipped;
                stack.extend(self.sched.dependents[d.0].iter().copied());
            }
        }
    }

    /// Saves the run's state and says how it went.
    fn end(mut self, started: Instant) -> RunSummary {
        for (i, phase) in self.sched.phase.iter().enumerate() {
            if self.selected[i] && matches!(phase, Phase::Waiting | Phase::Skipped | Phase::Queued)
            {
                self.summary
                    .skipped
                    .push(self.pipeline.stages[i].name.clone());
            }
        }
        // State only feeds explanations and the stat cache: a cache that
        // cannot take it (mounted read-only) still served its hits.
        if let Err(e) = self
            .state
            .save(&self.cache, &self.file, self.planner.hasher())
        {
            self.ui
                .always(&format!("warning: the run state was not saved: {e}"));
        }
        let mut summary = std::mem::take(&mut self.summary);
        summary.elapsed = started.elapsed();
        self.ui
            .end_cached(summary.ran.is_empty() && summary.failed.is_empty());
        if summary.cancelled {
            self.ui
                .always("interrupted: running stages were stopped; nothing partial was kept");
        }
        self.ui.always(&summary.line());
        summary
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
