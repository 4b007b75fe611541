//! Running one stage that is not cached: take its key's lock, give the kind
//! a fresh staging directory, and on success move the output into the
//! object store and write the manifest (last). Runs on a worker thread.

use std::collections::BTreeMap;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::Path;
use std::sync::atomic::AtomicBool;
use std::sync::mpsc;
use std::time::{Duration, Instant};

use crate::error::{panic_message, Error, Result};
use crate::execution::cache::history::CacheHistory;
use crate::execution::cache::input_dirs::CacheDirs;
use crate::execution::cache::key::{StageHash, StageKey};
use crate::execution::cache::manifest::{output_hash, Manifest, FORMAT};
use crate::execution::cache::{objects, Cache};
use crate::execution::lock;
use crate::execution::scheduler::commit::Pending;
use crate::execution::scheduler::staging::Staging;
use crate::execution::scheduler::ui::Ui;
use crate::format::pipeline::{Pipeline, Stage};
use crate::kind::param::{ParamType, Params};
use crate::kind::value::Value;
use crate::kind::{Artifact, Context};

/// A stage ready to run, with everything computed on the main thread.
pub struct StageRun<'a> {
    pub stage: &'a Stage,
    pub key: StageKey,
    pub hash: StageHash,
    pub inputs: BTreeMap<String, Vec<Artifact>>,
    pub gpus: Vec<usize>,
    pub forced: bool,
    /// Where to hand the result for a durable commit; `None`: write the
    /// manifest at once without fsync.
    pub commit: Option<mpsc::Sender<Pending>>,
}

/// What is shared by all jobs of a run.
pub struct Env<'a> {
    pub pipeline: &'a Pipeline,
    pub pipeline_file: &'a Path,
    pub cache: &'a Cache,
    pub staging: &'a Staging,
    pub ui: &'a Ui,
    pub cancel: &'a AtomicBool,
}

pub enum Outcome {
    Ran(Manifest, Duration),
    /// Another `pipe` computed it while we waited for the key's lock.
    Cached(Manifest),
}

pub fn execute(job: &StageRun, env: &Env) -> Result<Outcome> {
    let name = &job.stage.name;
    let lock_path = env.cache.key_lock_path(&job.hash);
    let held = lock::acquire(&lock_path, true, |holder| {
        let line = if holder == lock::holder_id() {
            format!("waiting for `{name}`: another stage of this run computes the same result")
        } else if holder.is_empty() {
            format!("waiting for `{name}`, running in another pipe (unknown pid)")
        } else {
            format!("waiting for `{name}`, running in another pipe ({holder})")
        };
        env.ui.line(&line);
    })?;
    if !job.forced {
        if let Some(m) = env.cache.lookup(&job.hash) {
            return Ok(Outcome::Cached(m));
        }
    }
    let dir = env.staging.stage_dir()?;
    let out = dir.join("out");
    let work = env.cache.work_path(&job.hash);
    std::fs::create_dir_all(&work).map_err(|e| Error::io(&work, "create", e))?;
    // A command of a killed pipe may still be writing here until its
    // supervisor has stopped it (within seconds).
    lock::await_dir(&work, || {
        env.ui.line(&format!(
            "waiting for `{name}`: a command left by a killed pipe is being stopped"
        ));
    })?;
    let params = absolute_params(env.pipeline, job.stage);
    let log_path = env.cache.log_path(&job.hash);
    // A log from an earlier attempt would pass for this one's.
    let _ = std::fs::remove_file(&log_path);
    let progress = env.ui.start(name, log_path.clone());
    let history = CacheHistory {
        cache: env.cache.clone(),
        key: job.key.clone(),
    };
    let input_dirs = CacheDirs::new(env.cache.clone());
    let ctx = Context {
        stage: name,
        params: &params,
        inputs: &job.inputs,
        out: &out,
        work: &work,
        gpus: &job.gpus,
        progress: &progress,
        history: &history,
        input_dirs: &input_dirs,
        cancel: env.cancel,
        pipeline_file: env.pipeline_file,
        pipeline_hash: env.pipeline.source_hash,
    };
    let started = Instant::now();
    let result =
        catch_unwind(AssertUnwindSafe(|| job.stage.kind.run(&ctx))).unwrap_or_else(|panic| {
            Err(Error::internal(format!(
                "kind `{}` panicked: {}",
                job.stage.kind.name(),
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
    let stored = result.and_then(|()| {
        // Not fsynced here: the committer syncs whole batches.
        let files = objects::store(env.cache, &out, false)?;
        let manifest = Manifest {
            format: FORMAT,
            key: job.key.clone(),
            stage: name.clone(),
            matrix: job
                .stage
                .matrix
                .iter()
                .map(|(k, v)| (k.clone(), v.to_json()))
                .collect(),
            output: output_hash(&files),
            files,
            seconds: elapsed.as_secs_f64(),
            pipe_version: env!("CARGO_PKG_VERSION").to_string(),
            created: std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.as_secs())
                .unwrap_or(0),
        };
        Ok(manifest)
    });
    env.staging.recycle(dir);
    match stored {
        Ok(manifest) => {
            let path = env.cache.manifest_path(&job.hash);
            let pending = Pending {
                stage: name.clone(),
                manifest: manifest.clone(),
                path,
                work,
                lock: held,
            };
            let unsent = match &job.commit {
                // The committer only goes away early by panicking: storing
                // here instead would report success for a run that failed.
                Some(tx) => match tx.send(pending) {
                    Ok(()) => None,
                    Err(_) => {
                        return Err(Error::internal(format!(
                            "the result of `{name}` was not stored: the committer is gone"
                        )))
                    }
                },
                None => Some(pending),
            };
            if let Some(p) = unsent {
                p.manifest
                    .write(&p.path, false)
                    .map_err(|e| blame(e, name, &lines, log_path))?;
                let _ = std::fs::remove_dir_all(&p.work);
            }
            Ok(Outcome::Ran(manifest, elapsed))
        }
        Err(e) => Err(blame(e, name, &lines, log_path)),
    }
}

/// Params with `Path` values made absolute (against the pipeline's
/// directory), as kinds receive them.
fn absolute_params(pipeline: &Pipeline, stage: &Stage) -> Params {
    let mut params = stage.params.clone();
    let abs = |v: &Value| match v {
        Value::Str(s) => Value::Str(pipeline.dir.join(s).display().to_string()),
        other => other.clone(),
    };
    for spec in stage.kind.params() {
        let Some(value) = params.0.get_mut(spec.name) else {
            continue;
        };
        match spec.ty {
            ParamType::Path => *value = abs(value),
            ParamType::List(ParamType::Path) => {
                if let Value::List(items) = value {
                    for item in items.iter_mut() {
                        *item = abs(item);
                    }
                }
            }
            _ => {}
        }
    }
    params
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
