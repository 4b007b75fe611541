//! The SLURM side of `pipe run` and `pipe status`: the executor options
//! resolved from the command line, where a run keeps its re-attach record,
//! and which of a pipeline's stages are queued or running on the cluster.
//!
//! A run is named after its pipeline file (absolute path) and `--set`
//! overrides, so that a `pipe run` restarted after its client died finds
//! the record of the one before (`<cache>/slurm/<run>/slurm-jobs.json`),
//! and `pipe status` finds it too.

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};

use pipe_engine::format::resources::Resources;
use pipe_engine::run::ui::Ui;
use pipe_engine::run::{RunOptions, RunSummary};
use pipe_engine::{Diagnostic, Error, Pipeline, Result, Runs, Value};
use pipe_slurm::executor::{Setup, SlurmExecutor};
use pipe_slurm::{GpuFlag, JobId, JobState, Phase, Tools};

use super::Config;
use crate::cli::{ExecutorArgs, GpusAs};

/// The SLURM executor's settings, resolved from `--slurm-*` (or their
/// environment variables).
#[derive(Clone, Debug)]
pub struct Settings {
    /// Filled into every stage's `resources:` that names no partition.
    pub defaults: Resources,
    pub gpu_flag: GpuFlag,
}

impl Settings {
    pub fn resolve(args: &ExecutorArgs) -> Result<Settings> {
        let mut defaults = Resources::default();
        if let Some(p) = &args.slurm_partition {
            let v = Value::Map(BTreeMap::from([(
                "partition".into(),
                Value::Str(p.clone()),
            )]));
            defaults = Resources::from_value(&v).map_err(|problems| {
                Error::Invalid(
                    problems
                        .into_iter()
                        .map(|p| {
                            Diagnostic::error(format!("`--slurm-partition`: {}", p.message))
                                .hint(p.hint)
                        })
                        .collect(),
                )
            })?;
        }
        let gpu_flag = match args.slurm_gpus_as {
            GpusAs::Gpus => GpuFlag::Gpus,
            GpusAs::Gres => GpuFlag::Gres,
        };
        Ok(Settings { defaults, gpu_flag })
    }
}

/// The run's name: the pipeline file's stem and a hash of its absolute path
/// and the overrides (`quick-3f9a0c12`).
pub fn run_name(pipeline: &Pipeline, overrides: &[String]) -> String {
    let path = pipe_engine::status::pipeline_path(pipeline);
    let mut id = path.to_string_lossy().into_owned();
    for set in overrides {
        id.push('\0');
        id.push_str(set);
    }
    let stem: String = path
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_default()
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' {
                c
            } else {
                '_'
            }
        })
        .take(40)
        .collect();
    let hash = pipe_engine::ContentHash::of(id.as_bytes()).to_hex();
    format!("{stem}-{}", &hash[..8])
}

/// Where the run keeps its re-attach record and its jobs' files.
pub fn state_dir(cache_dir: &Path, run: &str) -> PathBuf {
    cache_dir.join("slurm").join(run)
}

/// A stage's job on the cluster, as `pipe status` shows it.
pub struct OnCluster {
    pub job: JobId,
    pub state: JobState,
}

/// The stages of the run with a job queued or running, by stage name:
/// nothing (and no call to SLURM) when the run has no record. A cluster
/// that does not answer is a warning, not a failed status.
pub fn live_jobs(cache_dir: &Path, run: &str) -> BTreeMap<String, OnCluster> {
    let dir = state_dir(cache_dir, run);
    if !dir.join(pipe_slurm::record::FILE).exists() {
        return BTreeMap::new();
    }
    match pipe_slurm::status::jobs(&Tools::default(), &dir) {
        Ok(jobs) => jobs
            .into_iter()
            .filter_map(|(_, recorded, state)| {
                let state = state?;
                matches!(state.phase(), Phase::Queued | Phase::Running).then(|| {
                    let job = recorded.job;
                    (recorded.stage, OnCluster { job, state })
                })
            })
            .collect(),
        Err(e) => {
            super::output::err(&format!("warning: the run's SLURM jobs are unknown: {e}\n"));
            BTreeMap::new()
        }
    }
}

/// `pipe run --executor slurm`: the engine's scheduler with every stage that
/// must run handed to SLURM as one job.
pub fn run(
    config: &Config,
    pipeline: &Pipeline,
    opts: &RunOptions,
    settings: &Settings,
    overrides: &[String],
) -> Result<RunSummary> {
    let cache_dir = std::path::absolute(&opts.cache_dir)
        .map_err(|e| Error::io(&opts.cache_dir, "resolve", e))?;
    let pipe = std::env::current_exe().map_err(|e| Error::io("pipe", "find", e))?;
    let run = run_name(pipeline, overrides);
    let ui = std::sync::Arc::new(Ui::new(config.quiet, opts.color));
    let mut executor = SlurmExecutor::new(Setup {
        pipe,
        cwd: pipeline.dir.clone(),
        state_dir: state_dir(&cache_dir, &run),
        cache_dir,
        durable: opts.durable,
        resources: pipeline
            .stages
            .iter()
            .map(|s| (s.name.clone(), s.resources.over(&settings.defaults)))
            .collect(),
        workers: workers(pipeline)?,
        name: format!("pipe-{run}"),
        config: pipe_slurm::Config {
            gpu_flag: settings.gpu_flag,
            ..pipe_slurm::Config::default()
        },
        cancel: opts.cancel.clone(),
        ui: ui.clone(),
    })?;
    pipe_engine::run::run_on(pipeline, opts, &ui, &mut executor)
}

/// The worker program of each kind of the pipeline that runs in one.
fn workers(pipeline: &Pipeline) -> Result<HashMap<String, PathBuf>> {
    let mut workers = HashMap::new();
    for stage in &pipeline.stages {
        if let Runs::InWorker(worker) = &stage.kind.runs {
            workers.insert(stage.kind.name().to_string(), worker.path()?);
        }
    }
    Ok(workers)
}
