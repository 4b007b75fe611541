//! One attempt at a job, on this machine: take the key through the cache's
//! entry protocol, run the kind with a fresh output directory, store the
//! output and commit (or hand the result to the run's committer). Runs on
//! a local executor's thread, or in `pipe run-job` on a cluster node.

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::Path;
use std::sync::atomic::AtomicBool;
use std::sync::mpsc;
use std::time::Instant;

use crate::error::{panic_message, Error, Result};
use crate::execution::cache::history::CacheHistory;
use crate::execution::cache::input_dirs::CacheDirs;
use crate::execution::cache::staging::Staging;
use crate::execution::cache::{Begun, Cache, Stored, Wait};
use crate::execution::executor::Outcome;
use crate::execution::job::Job;
use crate::execution::lock;
use crate::execution::scheduler::ui::Ui;
use crate::kind::{Context, Kind};

/// What all attempts of a run share.
pub struct Env<'a> {
    pub cache: &'a Cache,
    pub staging: &'a Staging,
    pub ui: &'a Ui,
    pub cancel: &'a AtomicBool,
    /// Where results go for a batched durable commit; `None`: each is
    /// committed at once, fsynced when `durable`.
    pub commit: Option<mpsc::Sender<Stored>>,
    pub durable: bool,
}

/// Runs `job` with `kind` on the GPUs `devices`.
pub fn run(job: &Job, kind: &Kind, devices: &[usize], env: &Env) -> Result<Outcome> {
    let name = &job.stage;
    let begun = env
        .cache
        .begin(job.key.clone(), job.hash, job.forced, env.staging, |wait| {
            let line = match wait {
                Wait::Key(holder) if holder == lock::holder_id() => format!(
                    "waiting for `{name}`: another stage of this run computes the same result"
                ),
                Wait::Key("") => {
                    format!("waiting for `{name}`, running in another pipe (unknown pid)")
                }
                Wait::Key(holder) => {
                    format!("waiting for `{name}`, running in another pipe ({holder})")
                }
                Wait::WorkDir => format!(
                    "waiting for `{name}`: a command left by a killed pipe is being stopped"
                ),
            };
            env.ui.line(&line);
        })?;
    let entry = match begun {
        Begun::Cached(m) => return Ok(Outcome::Cached(m)),
        Begun::Entry(entry) => entry,
    };
    let log_path = entry.log().to_path_buf();
    let progress = env.ui.start(name, log_path.clone());
    let history = CacheHistory {
        cache: env.cache.clone(),
        key: job.key.clone(),
    };
    let input_dirs = CacheDirs::new(env.cache.clone());
    let ctx = Context {
        stage: name,
        params: &job.params,
        inputs: &job.inputs,
        out: entry.out(),
        work: entry.work(),
        gpus: devices,
        progress: &progress,
        history: &history,
        input_dirs: &input_dirs,
        cancel: env.cancel,
        pipeline_file: &job.pipeline_file,
        pipeline_hash: job.pipeline_hash,
    };
    let started = Instant::now();
    let result = catch_unwind(AssertUnwindSafe(|| kind.run(&ctx))).unwrap_or_else(|panic| {
        Err(Error::internal(format!(
            "kind `{}` panicked: {}",
            kind.name(),
            panic_message(&*panic)
        )))
    });
    let elapsed = started.elapsed();
    env.ui.finish(&progress);
    let lines = progress.lines();
    // The lines were appended as they came; a failure leaves a log even
    // when it printed nothing, for the hint to point at. One that could not
    // be written whole (a full disk) is deleted and not pointed to.
    let mut log_path = progress.log_intact().then_some(log_path);
    if lines.is_empty() && result.is_err() {
        if let Some(path) = &log_path {
            if std::fs::write(path, "\n").is_err() {
                let _ = std::fs::remove_file(path);
                log_path = None;
            }
        }
    }
    let log_path = log_path.as_deref();
    let located = |e| blame(e, name, &lines, log_path);
    result.map_err(located)?;
    let matrix = job
        .matrix
        .iter()
        .map(|(k, v)| (k.clone(), v.to_json()))
        .collect();
    let stored = entry
        .finish(name, matrix, elapsed.as_secs_f64(), progress.measurements())
        .map_err(located)?;
    let manifest = stored.manifest().clone();
    match &env.commit {
        // The committer only goes away early by panicking: committing here
        // instead would report success for a run that failed.
        Some(tx) => tx.send(stored).map_err(|_| {
            Error::internal(format!(
                "the result of `{name}` was not stored: the committer is gone"
            ))
        })?,
        None => {
            stored.commit(env.durable).map_err(located)?;
        }
    }
    Ok(Outcome::Ran(manifest, elapsed))
}

/// Turns a kind's error into a stage failure naming the stage, with the
/// last lines of its log and where the whole log is (if it could be kept).
fn blame(error: Error, stage: &str, lines: &[String], log: Option<&Path>) -> Error {
    if matches!(error, Error::Cancelled) {
        return error;
    }
    let hint = error.hint().map(str::to_string);
    let mut message = match &error {
        Error::Failed { message, .. } | Error::Stage { message, .. } => message.clone(),
        other => other.to_string(),
    };
    let tail: Vec<&String> = lines.iter().rev().take(10).collect();
    if !tail.is_empty() {
        message.push_str("\n  last lines of its log:");
        for line in tail.into_iter().rev() {
            message.push_str("\n  | ");
            message.push_str(line);
        }
    }
    let log_hint = match log {
        Some(log) => format!("the full log is `{}`", log.display()),
        None => "its log could not be written (is the disk full?)".to_string(),
    };
    Error::Stage {
        stage: stage.to_string(),
        message,
        hint: Some(match hint {
            Some(h) => format!("{h}\n  hint: {log_hint}"),
            None => log_hint,
        }),
    }
}
