//! The engine's [`Executor`] on a SLURM cluster: every job the scheduler
//! hands over becomes one batch job running `pipe run-job <job.json>` on a
//! node, which runs the stage through the cache's entry protocol exactly as
//! a local thread would (torch kinds start `pipe-torch` there themselves)
//! and stores its result in the shared cache. This side follows the jobs
//! ([`Run`]), shows the progress each job relays from its node on the run's
//! display as a local stage's ([`crate::progress`]), and answers with the
//! manifest the node wrote.
//!
//! The cluster is first asked at the first job (a run with nothing to run
//! makes no SLURM call at all); before the first submission a tiny job
//! checks that the nodes see the cache dir ([`probe`](crate::probe)). A job whose stage key an earlier client of the same run
//! submitted is re-attached to, not submitted again.

use std::collections::{HashMap, VecDeque};
use std::path::{Path, PathBuf};
use std::sync::atomic::AtomicBool;
use std::sync::Arc;
use std::time::{Duration, Instant};

use pipe_engine::cache::key::StageHash;
use pipe_engine::cache::Cache;
use pipe_engine::execution::executor::{Executor, Finished, Outcome, Start};
use pipe_engine::execution::job::Job;
use pipe_engine::execution::scheduler::ui::Ui;
use pipe_engine::format::resources::Resources;
use pipe_engine::kind::progress::Progress;
use pipe_engine::{Error, Result, StageId};
use serde::{Deserialize, Serialize};

use crate::job::{JobFiles, JobSpec};
use crate::run::{Config, Event, Run, Submitted};
use crate::state::Phase;
use crate::tools::Tools;

/// What `pipe run-job` reads on the node: the job, the cache to store
/// its result in and the file to relay its progress to.
#[derive(Debug, Serialize, Deserialize)]
pub struct NodeJob {
    pub cache_dir: PathBuf,
    pub durable: bool,
    pub job: Job,
    /// The job's `progress.jsonl` ([`crate::relay`]); none in the job
    /// files of an older `pipe`.
    #[serde(default)]
    pub progress: Option<PathBuf>,
}

/// The file of a stage's work dir holding its [`NodeJob`].
pub const JOB_FILE: &str = "job.json";

/// How the executor runs `pipe` on the nodes and where.
pub struct Setup {
    /// The `pipe` binary, at a path the nodes see.
    pub pipe: PathBuf,
    /// Where stage commands start (the project directory).
    pub cwd: PathBuf,
    pub cache_dir: PathBuf,
    pub durable: bool,
    /// Each stage's resources, by stage name (defaults applied).
    pub resources: HashMap<String, Resources>,
    /// The worker program of each kind that runs in one (`train` in
    /// `pipe-torch`): a node must be able to run it, checked before the
    /// kind's first job.
    pub workers: HashMap<String, PathBuf>,
    /// The run's state dir (re-attach record, work dirs).
    pub state_dir: PathBuf,
    /// The run's job name.
    pub name: String,
    pub config: Config,
    pub cancel: Arc<AtomicBool>,
    /// The run's display: one line about each job (submitted, re-attached,
    /// state) and each running job's progress, as a local stage's.
    pub ui: Arc<Ui>,
}

struct InFlight {
    id: StageId,
    hash: StageHash,
    stage: String,
    started: Instant,
    /// Stages of this run with the same key (the same command twice): they
    /// share the job, and get its result as cached.
    same: Vec<(StageId, String)>,
    /// The stage's progress on the run's display, from when its job runs
    /// (or relays its first event) until the job ends.
    shown: Option<Shown>,
}

/// A stage's progress on the run's display, ended when dropped.
struct Shown {
    ui: Arc<Ui>,
    progress: Progress,
}

impl Drop for Shown {
    fn drop(&mut self) {
        self.ui.finish(&self.progress);
    }
}

impl InFlight {
    /// The stage's display, started at the first call.
    fn shown(&mut self, ui: &Arc<Ui>) -> &Progress {
        let shown = self.shown.get_or_insert_with(|| Shown {
            ui: ui.clone(),
            progress: ui.show(&self.stage),
        });
        &shown.progress
    }
}

pub struct SlurmExecutor {
    setup: Setup,
    cache: Cache,
    /// Opened at the first job.
    run: Option<Run>,
    /// The checks run so far, by the program each ran on a node (`pipe`
    /// first, with the shared cache dir; then each worker program before
    /// its kind's first job): its error (message and hint), if it failed.
    probed: HashMap<PathBuf, Result<(), (String, Option<String>)>>,
    jobs: HashMap<String, InFlight>,
    finished: VecDeque<Finished>,
}

impl SlurmExecutor {
    pub fn new(setup: Setup) -> Result<SlurmExecutor> {
        let cache = Cache::open(&setup.cache_dir)?;
        Ok(SlurmExecutor {
            setup,
            cache,
            run: None,
            probed: HashMap::new(),
            jobs: HashMap::new(),
            finished: VecDeque::new(),
        })
    }

    /// The run, opened (one squeue, which also checks that SLURM answers)
    /// at the first job.
    fn run(&mut self) -> Result<&mut Run> {
        if self.run.is_none() {
            let run = Run::open(
                Tools::default(),
                self.setup.config.clone(),
                &self.setup.state_dir,
                &self.setup.name,
            )?;
            self.run = Some(run);
        }
        self.run
            .as_mut()
            .ok_or_else(|| Error::internal("the SLURM run is not open"))
    }

    /// What `stage` asks of the cluster.
    fn resources(&self, stage: &str) -> Resources {
        self.setup.resources.get(stage).cloned().unwrap_or_default()
    }

    /// The shared cache dir check before the run's first job, which also
    /// runs `pipe` on a node, and the same check running a kind's worker
    /// program before that kind's first job; each placed as `job`'s (its
    /// partition, account and flags). A failed check fails every job that
    /// needs it; one that sbatch refuses fails only `job`, and the next job
    /// checks again.
    fn probe(&mut self, job: &Job) -> Result<()> {
        let worker = self.setup.workers.get(&job.kind).cloned();
        for program in std::iter::once(self.setup.pipe.clone()).chain(worker) {
            if !self.probed.contains_key(&program) {
                let outcome = crate::probe::check_shared(
                    Tools::default(),
                    self.setup.config.clone(),
                    &self.setup.cache_dir,
                    &self.resources(&job.stage),
                    Some(&program),
                    &self.setup.cancel,
                );
                let verdict = match outcome {
                    Ok(()) => Ok(()),
                    Err(e @ (Error::Cancelled | Error::Failed { .. })) => return Err(e),
                    Err(e) => Err((e.to_string(), e.hint().map(str::to_string))),
                };
                self.probed.insert(program.clone(), verdict);
            }
            if let Some(Err((message, hint))) = self.probed.get(&program) {
                return Err(Error::Environment {
                    message: message.clone(),
                    hint: hint.clone(),
                });
            }
        }
        Ok(())
    }

    fn submit(&mut self, job: &Job) -> Result<Submitted> {
        self.run()?;
        self.probe(job)?;
        let key = job.hash.to_string();
        let work = work_dir(&self.setup.state_dir, &key);
        std::fs::create_dir_all(&work).map_err(|e| Error::io(&work, "create", e))?;
        let file = work.join(JOB_FILE);
        let node_job = NodeJob {
            cache_dir: self.setup.cache_dir.clone(),
            durable: self.setup.durable,
            job: job.clone(),
            progress: Some(JobFiles::in_dir(&work).progress),
        };
        let bytes =
            serde_json::to_vec_pretty(&node_job).map_err(|e| Error::internal(e.to_string()))?;
        pipe_engine::cache::atomic::write(&file, &bytes, false)?;
        let spec = JobSpec {
            key,
            stage: job.stage.clone(),
            work,
            cwd: self.setup.cwd.clone(),
            command: vec![
                self.setup.pipe.to_string_lossy().into_owned(),
                "run-job".into(),
                file.to_string_lossy().into_owned(),
            ],
            env: vec![],
            resources: self.resources(&job.stage),
            gpus: job.gpus,
        };
        self.run()?.submit(&spec)
    }

    /// One look at the jobs; what ended goes to `finished`.
    fn poll(&mut self) -> Result<()> {
        let mut ended = Vec::new();
        let ui = &self.setup.ui;
        let jobs = &mut self.jobs;
        let Some(run) = self.run.as_mut() else {
            return Ok(());
        };
        run.poll(&mut |event| match event {
            Event::State { key, job, state } => {
                if let Some(f) = jobs.get_mut(&key) {
                    ui.line(&format!("{} job {job} {state}", f.stage));
                    if state.phase() == Phase::Running {
                        f.shown(ui);
                    }
                }
            }
            Event::Progress { key, event } => {
                if let Some(f) = jobs.get_mut(&key) {
                    // A worker's outcome is not relayed: the job's result
                    // file tells the client.
                    let _ = event.apply(f.shown(ui));
                }
            }
            Event::Finished { key, outcome, .. } => ended.push((key, outcome)),
        })?;
        for (key, outcome) in ended {
            let Some(f) = self.jobs.remove(&key) else {
                continue;
            };
            let result = match outcome {
                Ok(()) => self.stored(&f),
                Err(e) => Err(in_stage(&f.stage, e)),
            };
            if result.is_ok() {
                self.run()?.forget([key.as_str()])?;
            }
            for (id, stage) in &f.same {
                let result = match &result {
                    Ok(Outcome::Ran(m, _) | Outcome::Cached(m)) => Ok(Outcome::Cached(m.clone())),
                    Err(_) => Err(Error::Stage {
                        stage: stage.clone(),
                        message: format!("it has the key of `{}`, which failed", f.stage),
                        hint: None,
                    }),
                };
                self.finished.push_back(Finished { id: *id, result });
            }
            self.finished.push_back(Finished { id: f.id, result });
        }
        Ok(())
    }

    /// The manifest a node stored for a job that ended well.
    fn stored(&self, f: &InFlight) -> Result<Outcome> {
        match self.cache.lookup(&f.hash) {
            Some(m) => Ok(Outcome::Ran(m, f.started.elapsed())),
            None => Err(Error::Stage {
                stage: f.stage.clone(),
                message: format!(
                    "its SLURM job ended well but its result is not in the cache `{}`",
                    self.setup.cache_dir.display()
                ),
                hint: Some(
                    "the cache dir must be the same shared directory on this machine and the nodes (docs/slurm.md)"
                        .into(),
                ),
            }),
        }
    }
}

impl Executor for SlurmExecutor {
    fn start(&mut self, job: Job) -> Start {
        // One job per key: a second stage with the same key waits for it,
        // as it would for the key's lock locally.
        if let Some(f) = self.jobs.get_mut(&job.hash.to_string()) {
            f.same.push((job.stage_id(), job.stage.clone()));
            return Start::Started;
        }
        match self.submit(&job) {
            Ok(submitted) => {
                let verb = match &submitted {
                    Submitted::New(_) => "submitted",
                    Submitted::Reattached(_) => "re-attached to",
                };
                let line = format!("{} {verb} job {}", job.stage, submitted.job());
                self.setup.ui.line(&line);
                self.jobs.insert(
                    job.hash.to_string(),
                    InFlight {
                        id: job.stage_id(),
                        hash: job.hash,
                        stage: job.stage.clone(),
                        started: Instant::now(),
                        same: Vec::new(),
                        shown: None,
                    },
                );
                Start::Started
            }
            Err(e @ Error::Failed { .. }) => {
                let e = in_stage(&job.stage, e);
                Start::Never(job, e)
            }
            Err(e) => Start::Never(job, e),
        }
    }

    fn wait(&mut self, timeout: Duration) -> Option<Finished> {
        let deadline = Instant::now() + timeout;
        loop {
            if let Some(f) = self.finished.pop_front() {
                return Some(f);
            }
            if let Err(e) = self.poll() {
                // The controller is gone for good: every job fails with why
                // (they stay queued; a later run re-attaches).
                let text = e.to_string();
                for (_, f) in self.jobs.drain() {
                    for id in f.same.into_iter().map(|(id, _)| id).chain([f.id]) {
                        let e = Error::environment(text.clone()).with_hint(
                            "run `pipe run` again later: it re-attaches to the jobs still queued",
                        );
                        self.finished.push_back(Finished { id, result: Err(e) });
                    }
                }
                continue;
            }
            if !self.finished.is_empty() {
                continue;
            }
            let now = Instant::now();
            if now >= deadline {
                return None;
            }
            std::thread::sleep((deadline - now).min(self.setup.config.file_poll));
        }
    }

    fn in_flight(&self) -> usize {
        self.jobs.values().map(|f| 1 + f.same.len()).sum::<usize>() + self.finished.len()
    }

    fn cancel(&mut self) {
        if let Some(Err(e)) = self.run.as_mut().map(Run::cancel_all) {
            let line = format!("cancelling the run's SLURM jobs: {e}");
            self.setup.ui.line(&line);
        }
        for (_, f) in self.jobs.drain() {
            for id in f.same.into_iter().map(|(id, _)| id).chain([f.id]) {
                self.finished.push_back(Finished {
                    id,
                    result: Err(Error::Cancelled),
                });
            }
        }
    }
}

/// `e` as the error of `stage`.
fn in_stage(stage: &str, e: Error) -> Error {
    Error::Stage {
        stage: stage.to_string(),
        message: match &e {
            Error::Failed { message, .. } => message.clone(),
            other => other.to_string(),
        },
        hint: e.hint().map(str::to_string),
    }
}

/// The work dir of a stage's job in a run's state dir.
pub fn work_dir(state_dir: &Path, key: &str) -> PathBuf {
    state_dir.join("jobs").join(key)
}
