//! `pipe run-job <job.json>` (hidden): runs exactly one stage on a cluster
//! node, from the job the SLURM executor wrote, without reading or planning
//! the pipeline file. The stage goes through the cache's entry protocol as
//! on a local thread (key lock, staging, the kind, objects, the manifest
//! last), so its result lands in the shared cache exactly as a local run's.
//! Its lines go to stderr, which the job script sends to the job's log,
//! and its progress to the job's progress file, which `pipe run` follows
//! ([`pipe_slurm::relay`]).

use std::path::Path;

use pipe_engine::cache::staging::Staging;
use pipe_engine::cache::Cache;
use pipe_engine::execution::executor::attempt::{self, Env};
use pipe_engine::execution::scheduler::ui::Ui;
use pipe_engine::{Error, Result};
use pipe_slurm::executor::NodeJob;
use pipe_slurm::relay::{Relay, RELAY_EVERY};

use super::Config;

pub fn run_job(config: &Config, file: &Path) -> Result<u8> {
    let text = std::fs::read_to_string(file).map_err(|e| Error::io(file, "read", e))?;
    let NodeJob {
        cache_dir,
        durable,
        job,
        progress,
    } = serde_json::from_str(&text).map_err(|e| {
        Error::bad_data(file, format!("not a job written by `pipe run --executor slurm`: {e}"))
            .with_hint("`pipe run-job` runs the job files that `pipe run --executor slurm` writes; this one may come from another version of pipe")
    })?;
    let registry = crate::registry::registry();
    let kind = registry.get(&job.kind).ok_or_else(|| {
        Error::environment(format!(
            "this `pipe` has no stage kind `{}` (stage `{}`)",
            job.kind, job.stage
        ))
        .with_hint("the nodes must run the same `pipe` as the machine that submitted the job")
    })?;
    let cancel = crate::signals::install();
    let cache = Cache::open(&cache_dir)?;
    let staging = Staging::create(&cache)?;
    // Dropped after the stage (declared first): writes what is pending
    // before the job script writes the result.
    let relay = progress.map(|path| Relay::start(path, RELAY_EVERY));
    let mut ui = Ui::new(config.quiet, false);
    if let Some(relay) = &relay {
        ui = ui.relaying(relay.sender());
    }
    let env = Env {
        cache: &cache,
        staging: &staging,
        ui: &ui,
        cancel: &cancel,
        commit: None,
        durable,
    };
    // SLURM shows the job only the GPUs it gave it (`CUDA_VISIBLE_DEVICES`),
    // as ordinals 0..n.
    let devices: Vec<usize> = (0..job.gpus as usize).collect();
    match attempt::run(&job, kind.as_ref(), &devices, &env) {
        Ok(_) => Ok(0),
        Err(Error::Cancelled) => {
            super::report(config, &Error::Cancelled);
            Ok(crate::signals::exit_code())
        }
        Err(e) => Err(e),
    }
}
