//! One `pipe run` on the cluster: its jobs, all under one job name, from
//! submission to outcome.
//!
//! Each [`Run::poll`] first looks at the jobs' result files on the shared
//! filesystem, which cost the controller nothing and are the final word on
//! how a stage ended. At most one `squeue --name=<run>` per poll covers all
//! of the run's jobs, on the [`Backoff`] schedule; it tells what the result
//! files cannot: queued or running, and jobs SLURM itself ended (TIMEOUT,
//! OUT_OF_MEMORY, NODE_FAIL, CANCELLED), whose scripts never wrote a
//! result. PREEMPTED and REQUEUED jobs are waited out. A job that completed
//! or left the queue without a visible result file gets a grace period for
//! NFS attribute caching before it counts as failed; where an accounting
//! database exists (`sacct`, detected once per run), jobs that left the
//! queue are asked about there instead.

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use pipe_engine::worker::Event as Progress;
use pipe_engine::{Error, Result};

use crate::backoff::Backoff;
use crate::job::{script, JobFiles, JobSpec};
use crate::progress::ProgressTail;
use crate::record::{Record, Recorded};
use crate::resources::{shown_flags, GpuFlag, SINFO_HINT};
use crate::state::{JobState, Phase};
use crate::tools::{JobId, Tools};

/// How the client talks to the cluster; [`Config::default`] holds the
/// documented numbers.
#[derive(Clone, Debug)]
pub struct Config {
    pub gpu_flag: GpuFlag,
    /// The first squeue after a submission or a change.
    pub first_poll: Duration,
    /// The longest wait between two squeue calls.
    pub max_poll: Duration,
    /// How often result and progress files are read.
    pub file_poll: Duration,
    /// How long a job that ended may take to show its result file.
    pub nfs_grace: Duration,
    /// How long squeue may keep failing (a busy controller) before the run
    /// gives up.
    pub controller_patience: Duration,
    /// Lines of a failed job's log quoted in its error.
    pub log_tail: usize,
}

impl Default for Config {
    fn default() -> Config {
        Config {
            gpu_flag: GpuFlag::Gpus,
            first_poll: Duration::from_secs(1),
            max_poll: Duration::from_secs(60),
            file_poll: Duration::from_millis(250),
            nfs_grace: Duration::from_secs(90),
            controller_patience: Duration::from_secs(300),
            log_tail: 20,
        }
    }
}

/// How long a job whose script reported a non-zero exit may take to show
/// its final state in squeue before it is reported as plain FAILED.
const VERDICT_WAIT: Duration = Duration::from_secs(10);

/// How [`Run::submit`] got the stage a job.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Submitted {
    New(JobId),
    /// A job of an earlier client of this run, still queued, running, or
    /// finished well: followed instead of submitted again.
    Reattached(JobId),
}

impl Submitted {
    pub fn job(&self) -> &JobId {
        match self {
            Submitted::New(j) | Submitted::Reattached(j) => j,
        }
    }
}

/// What a poll learned.
#[derive(Debug)]
pub enum Event {
    /// The controller reports a new state for a stage's job.
    State {
        key: String,
        job: JobId,
        state: JobState,
    },
    /// The stage reported progress from its node.
    Progress { key: String, event: Progress },
    /// The stage's job ended; failures carry the job id, state, exit code
    /// and the tail of its log.
    Finished {
        key: String,
        job: JobId,
        outcome: Result<()>,
    },
}

struct Tracked {
    job: JobId,
    stage: String,
    files: JobFiles,
    /// The last state squeue (or sacct) gave.
    state: Option<JobState>,
    /// When the job was first seen ended, or missing from squeue, without
    /// a result file.
    ended_since: Option<Instant>,
    /// When a result file with a non-zero exit code was first seen: SLURM
    /// kills the command before the script (TIMEOUT, CANCELLED,
    /// OUT_OF_MEMORY), so the script may still report its exit, and the
    /// controller's verdict is waited for before the failure is reported.
    failed_since: Option<Instant>,
    progress: ProgressTail,
}

pub struct Run {
    tools: Tools,
    config: Config,
    state_dir: PathBuf,
    record: Record,
    /// Jobs of an earlier client, by stage key, for re-attaching.
    previous: BTreeMap<String, JobId>,
    /// The last squeue listing.
    listed: HashMap<JobId, JobState>,
    jobs: BTreeMap<String, Tracked>,
    backoff: Backoff,
    next_squeue: Instant,
    squeue_failing_since: Option<Instant>,
    accounting: Option<bool>,
}

impl Run {
    /// Opens the run whose state lives in `state_dir`, named `name` unless
    /// an earlier client of it chose a name already. Asks squeue once, which
    /// also checks that the cluster answers.
    pub fn open(tools: Tools, config: Config, state_dir: &Path, name: &str) -> Result<Run> {
        let mut record = Record::load(state_dir)?.unwrap_or_default();
        if record.name.is_empty() {
            record.name = name.to_string();
        }
        let listing = tools.squeue(&record.name).map_err(|e| {
            e.with_hint("is SLURM reachable from here? `sinfo` should list its partitions")
        })?;
        let mut previous: BTreeMap<String, JobId> = record
            .jobs
            .iter()
            .map(|(key, r)| (key.clone(), r.job.clone()))
            .collect();
        for l in &listing {
            let live = matches!(l.state.phase(), Phase::Queued | Phase::Running);
            if live && !l.comment.is_empty() {
                previous.insert(l.comment.clone(), l.job.clone());
            }
        }
        let listed = listing.into_iter().map(|l| (l.job, l.state)).collect();
        let backoff = Backoff::new(config.first_poll, config.max_poll);
        Ok(Run {
            tools,
            state_dir: state_dir.to_path_buf(),
            record,
            previous,
            listed,
            jobs: BTreeMap::new(),
            next_squeue: Instant::now() + config.first_poll,
            backoff,
            squeue_failing_since: None,
            accounting: None,
            config,
        })
    }

    /// The job name every job of this run carries.
    pub fn name(&self) -> &str {
        &self.record.name
    }

    pub fn tools(&self) -> &Tools {
        &self.tools
    }

    /// Jobs not finished yet: (stage key, stage, job, last known state).
    pub fn pending(&self) -> impl Iterator<Item = (&str, &str, &JobId, Option<&JobState>)> {
        self.jobs
            .iter()
            .map(|(k, t)| (k.as_str(), t.stage.as_str(), &t.job, t.state.as_ref()))
    }

    /// Gets `spec` a job: the earlier client's, if it is still queued or
    /// running or ended well, or a new one.
    pub fn submit(&mut self, spec: &JobSpec) -> Result<Submitted> {
        let files = JobFiles::in_dir(&spec.work);
        if let Some(job) = self.previous.remove(&spec.key) {
            let alive = self
                .listed
                .get(&job)
                .is_some_and(|s| s.phase() != Phase::Failed);
            if alive || read_result(&files.result, &job) == Some(0) {
                // Found by its `--comment` only: record it for the next restart.
                if self.record.jobs.get(&spec.key).map(|r| &r.job) != Some(&job) {
                    self.record(spec, &job)?;
                }
                let progress = ProgressTail::after_restart(files.progress.clone());
                self.track(spec, job.clone(), files, progress);
                return Ok(Submitted::Reattached(job));
            }
        }
        std::fs::create_dir_all(&spec.work).map_err(|e| Error::io(&spec.work, "create", e))?;
        files.clear()?;
        let text = script(spec, &self.record.name, self.config.gpu_flag)?;
        std::fs::write(&files.script, text).map_err(|e| Error::io(&files.script, "write", e))?;
        let job = self
            .sbatch(&spec.key, &files.script)
            .map_err(|e| not_submitted(e, spec, &files.script, self.config.gpu_flag))?;
        self.record(spec, &job)?;
        let progress = ProgressTail::new(files.progress.clone());
        self.track(spec, job.clone(), files, progress);
        // A new job: look at the queue soon.
        self.backoff.reset();
        self.next_squeue = self
            .next_squeue
            .min(Instant::now() + self.config.first_poll);
        Ok(Submitted::New(job))
    }

    /// sbatch, retried (after 1, 2 and 4 s) when the controller is too busy
    /// to answer. A submission that timed out may still have created the
    /// job, so before each retry the queue is searched for a job carrying
    /// the stage's key, which is then taken instead of submitting twice.
    fn sbatch(&self, key: &str, script: &Path) -> Result<JobId> {
        let mut wait = Duration::from_secs(1);
        let mut attempt = 0;
        loop {
            match self.tools.sbatch(script) {
                Ok(job) => return Ok(job),
                Err(e) if attempt < 3 && is_transient(&e) => {
                    attempt += 1;
                    std::thread::sleep(wait);
                    wait *= 2;
                    let listing = self.tools.squeue(&self.record.name).unwrap_or_default();
                    if let Some(l) = listing
                        .iter()
                        .find(|l| l.comment == key && l.state.phase() != Phase::Failed)
                    {
                        return Ok(l.job.clone());
                    }
                }
                Err(e) => return Err(e),
            }
        }
    }

    fn record(&mut self, spec: &JobSpec, job: &JobId) -> Result<()> {
        let entry = Recorded {
            job: job.clone(),
            stage: spec.stage.clone(),
            work: spec.work.clone(),
        };
        self.record.jobs.insert(spec.key.clone(), entry);
        self.record.save(&self.state_dir)
    }

    fn track(&mut self, spec: &JobSpec, job: JobId, files: JobFiles, progress: ProgressTail) {
        let state = self.listed.get(&job).cloned();
        self.jobs.insert(
            spec.key.clone(),
            Tracked {
                job,
                stage: spec.stage.clone(),
                files,
                state,
                ended_since: None,
                failed_since: None,
                progress,
            },
        );
    }

    /// Drops finished stages from the re-attach record, once their outputs
    /// are safe in the cache (until then a restarted run re-attaches to
    /// their finished jobs rather than running them again).
    pub fn forget<'a>(&mut self, keys: impl IntoIterator<Item = &'a str>) -> Result<()> {
        let before = self.record.jobs.len();
        for key in keys {
            self.record.jobs.remove(key);
        }
        if self.record.jobs.len() != before {
            self.record.save(&self.state_dir)?;
        }
        Ok(())
    }

    /// Follows every job to its end, calling `on` with what happens; on
    /// `cancel`, cancels every job of the run and returns
    /// [`Error::Cancelled`].
    pub fn wait(&mut self, cancel: &AtomicBool, mut on: impl FnMut(Event)) -> Result<()> {
        loop {
            if cancel.load(Ordering::Relaxed) {
                self.cancel_all()?;
                return Err(Error::Cancelled);
            }
            self.poll(&mut on)?;
            if self.jobs.is_empty() {
                return Ok(());
            }
            std::thread::sleep(self.config.file_poll);
        }
    }

    /// One look at the result files, and at the queue when it is due.
    pub fn poll(&mut self, on: &mut impl FnMut(Event)) -> Result<()> {
        let now = Instant::now();
        if now >= self.next_squeue && !self.jobs.is_empty() {
            self.ask_controller(now, on)?;
        }
        let mut finished = Vec::new();
        let mut confirming = false;
        for (key, t) in &mut self.jobs {
            for event in t.progress.read() {
                on(Event::Progress {
                    key: key.clone(),
                    event,
                });
            }
            let outcome = match (read_result(&t.files.result, &t.job), &t.state) {
                (Some(0), _) => Some(Ok(())),
                (Some(code), Some(state)) if state.phase() == Phase::Failed => {
                    Some(Err(failure(t, state, Some(code), self.config.log_tail)))
                }
                (Some(code), _) => {
                    let since = *t.failed_since.get_or_insert(now);
                    if now - since >= VERDICT_WAIT {
                        let state = JobState::Failed;
                        Some(Err(failure(t, &state, Some(code), self.config.log_tail)))
                    } else {
                        confirming = true;
                        None
                    }
                }
                (None, Some(state)) if state.phase() == Phase::Failed => {
                    Some(Err(failure(t, state, None, self.config.log_tail)))
                }
                (None, _) => match t.ended_since {
                    Some(since) if now - since >= self.config.nfs_grace => {
                        Some(Err(vanished(t, self.config.nfs_grace)))
                    }
                    _ => None,
                },
            };
            if let Some(outcome) = outcome {
                finished.push((key.clone(), outcome));
            }
        }
        if confirming {
            // Ask for the verdict every `first_poll` until it comes.
            self.next_squeue = self.next_squeue.min(now + self.config.first_poll);
        }
        let mut failed = Vec::new();
        for (key, outcome) in finished {
            let t = self.jobs.remove(&key).expect("a tracked job");
            if outcome.is_err() {
                failed.push(key.clone());
            }
            on(Event::Finished {
                key,
                job: t.job,
                outcome,
            });
        }
        // A failure is never re-attached to: a restarted run submits again.
        self.forget(failed.iter().map(String::as_str))
    }

    /// One squeue for all jobs (and one sacct for those that left it, where
    /// accounting exists).
    fn ask_controller(&mut self, now: Instant, on: &mut impl FnMut(Event)) -> Result<()> {
        let listing = match self.tools.squeue(&self.record.name) {
            Ok(listing) => listing,
            Err(e) => {
                let since = *self.squeue_failing_since.get_or_insert(now);
                if now - since >= self.config.controller_patience {
                    return Err(e.with_hint(
                        "the SLURM controller has not answered for minutes; your jobs are still \
                         queued: run `pipe run` again later to re-attach to them",
                    ));
                }
                self.next_squeue = now + self.backoff.wait();
                return Ok(());
            }
        };
        self.squeue_failing_since = None;
        self.listed = listing.into_iter().map(|l| (l.job, l.state)).collect();
        let mut changed = false;
        let mut gone = Vec::new();
        for (key, t) in &mut self.jobs {
            match self.listed.get(&t.job) {
                Some(state) => {
                    if t.state.as_ref() != Some(state) {
                        changed |= matches!(state.phase(), Phase::Failed | Phase::Completed);
                        t.state = Some(state.clone());
                        on(Event::State {
                            key: key.clone(),
                            job: t.job.clone(),
                            state: state.clone(),
                        });
                    }
                    if state.phase() == Phase::Completed {
                        t.ended_since.get_or_insert(now);
                    }
                }
                None => {
                    if t.ended_since.is_none() {
                        changed = true;
                        t.ended_since = Some(now);
                    }
                    gone.push(t.job.clone());
                }
            }
        }
        if !gone.is_empty()
            && *self
                .accounting
                .get_or_insert_with(|| self.tools.has_accounting())
        {
            if let Ok(states) = self.tools.sacct(&gone) {
                let states: HashMap<JobId, JobState> = states.into_iter().collect();
                for t in self.jobs.values_mut() {
                    if let Some(s) = states.get(&t.job) {
                        t.state = Some(s.clone());
                    }
                }
            }
        }
        if changed {
            self.backoff.reset();
        }
        self.next_squeue = now + self.backoff.wait();
        Ok(())
    }

    /// Cancels every job of the run with one scancel, and waits (up to 30 s)
    /// until squeue shows none of them queued or running.
    pub fn cancel_all(&mut self) -> Result<()> {
        let jobs: Vec<JobId> = self.jobs.values().map(|t| t.job.clone()).collect();
        if jobs.is_empty() {
            return Ok(());
        }
        self.tools.scancel(&jobs)?;
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let listing = self.tools.squeue(&self.record.name)?;
            let live = listing.iter().any(|l| {
                jobs.contains(&l.job) && matches!(l.state.phase(), Phase::Queued | Phase::Running)
            });
            if !live {
                break;
            }
            if Instant::now() >= deadline {
                return Err(Error::environment(format!(
                    "jobs of run `{}` are still in squeue 30 s after scancel",
                    self.record.name
                )));
            }
            std::thread::sleep(Duration::from_millis(500));
        }
        let keys: Vec<String> = std::mem::take(&mut self.jobs).into_keys().collect();
        self.forget(keys.iter().map(String::as_str))
    }
}

/// Why `spec`'s job is not in the queue: what sbatch said, and what the
/// job asked for.
fn not_submitted(e: Error, spec: &JobSpec, script: &Path, gpu_flag: GpuFlag) -> Error {
    let hint = match (e.hint(), shown_flags(&spec.resources, spec.gpus, gpu_flag)) {
        (Some(h), _) => h.to_string(),
        (None, None) => format!(
            "the job asked for nothing beyond the cluster's defaults; its script is `{}`",
            script.display()
        ),
        (None, Some(asked)) => format!(
            "the job asked for {asked} (the stage's `resources:` and `gpus:`, filled in from the \
             file's); {SINFO_HINT}; the script is `{}`",
            script.display()
        ),
    };
    Error::Failed {
        message: format!("its SLURM job was not submitted: {e}"),
        hint: Some(hint),
    }
}

/// Whether a tool's failure says the controller is busy or unreachable for
/// now, rather than that the request is wrong.
fn is_transient(e: &Error) -> bool {
    let text = e.to_string();
    [
        "Socket timed out",
        "temporarily unable",
        "Resource temporarily unavailable",
        "Unable to contact slurm controller",
        "Connection refused",
    ]
    .iter()
    .any(|m| text.contains(m))
}

/// The exit code in a result file, if the file is this job's.
fn read_result(path: &Path, job: &JobId) -> Option<i32> {
    let text = std::fs::read_to_string(path).ok()?;
    let v: serde_json::Value = serde_json::from_str(&text).ok()?;
    if v.get("job")?.as_str()? != job.0 {
        return None;
    }
    i32::try_from(v.get("exit")?.as_i64()?).ok()
}

fn failure(t: &Tracked, state: &JobState, exit: Option<i32>, lines: usize) -> Error {
    let code = exit.map(|c| format!(", exit code {c}")).unwrap_or_default();
    let why = state
        .explain()
        .map(|w| format!(" ({w})"))
        .unwrap_or_default();
    let mut e = Error::failed(format!(
        "SLURM job {} {state}{code}{why}{}",
        t.job,
        log_tail(&t.files.log, lines)
    ));
    if let Some(hint) = state.hint() {
        e = e.with_hint(hint);
    }
    e
}

fn vanished(t: &Tracked, grace: Duration) -> Error {
    let last = t
        .state
        .as_ref()
        .map_or_else(|| "left the queue".to_string(), |s| format!("was {s}"));
    Error::failed(format!(
        "SLURM job {} {last} but its result file `{}` did not appear within {} s{}",
        t.job,
        t.files.result.display(),
        grace.as_secs(),
        log_tail(&t.files.log, 20)
    ))
    .with_hint(
        "the stage's work dir must be on a filesystem shared by this machine and the nodes \
         (see docs/slurm.md)",
    )
}

/// `; the last lines of its log `path`:` and the lines, indented.
fn log_tail(path: &Path, lines: usize) -> String {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    let all: Vec<&str> = text.lines().collect();
    let tail = &all[all.len().saturating_sub(lines)..];
    if tail.is_empty() {
        return format!("; its log `{}` is empty", path.display());
    }
    format!(
        "; the last lines of its log `{}`:\n  {}",
        path.display(),
        tail.join("\n  ")
    )
}
