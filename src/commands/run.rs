//! `pipe run`: load the pipeline, resolve the command line into
//! [`RunOptions`], run, and turn the summary into an exit code.

use std::path::{Path, PathBuf};

use pipe_engine::run::RunOptions;
use pipe_engine::{gpu, Error, Result};

use super::output::err;
use super::Config;
use crate::cli::{ExecutorChoice, PipelineArgs, RunArgs, StatusFormat};

pub fn run(config: &Config, args: RunArgs) -> Result<u8> {
    let registry = crate::registry::registry();
    let file = &args.pipeline.file;
    let pipeline = pipe_engine::load(file, &registry, &args.pipeline.set)?;
    let results_dir = args
        .results_dir
        .clone()
        .unwrap_or_else(|| results_dir(config, &args.pipeline));
    let slurm = match args.executor.executor {
        ExecutorChoice::Local => None,
        ExecutorChoice::Slurm => Some(super::slurm::Settings::resolve(&args.executor)?),
    };
    // Ctrl-C, SIGTERM and SIGHUP: the first stops cleanly, a second exits.
    let cancel = crate::signals::install();
    let opts = RunOptions {
        cache_dir: config.cache_dir(Some(file)),
        results_dir: Some(results_dir.clone()),
        targets: args.targets,
        force: args.force,
        jobs: args
            .jobs
            .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, usize::from)),
        // Probing (`nvidia-smi`) costs milliseconds; only GPU stages need
        // it, and only locally (SLURM hands GPUs out on the nodes).
        gpus: if slurm.is_none() && pipeline.stages.iter().any(|s| s.gpus > 0) {
            gpu::detect(args.gpus.as_deref())?
        } else {
            Vec::new()
        },
        keep_going: args.keep_going,
        quiet: config.quiet,
        color: config.color,
        durable: std::env::var_os("PIPE_NO_FSYNC").is_none(),
        cancel,
    };
    if args.dry_run {
        // Reads only: a dry run creates no cache and no results.
        let cache = pipe_engine::cache::Cache::existing(&opts.cache_dir)?;
        let mut statuses =
            pipe_engine::status::status(&pipeline, &cache, &opts.targets, &opts.force)?;
        pipe_engine::status::compare_results(&results_dir, &mut statuses);
        let jobs = std::collections::BTreeMap::new();
        super::status::print(config, &statuses, &jobs, StatusFormat::Text)?;
        // What would not start in the run is an error here too.
        let selected = pipe_engine::run::select::targets(&pipeline, &opts.targets)?;
        if slurm.is_none() {
            pipe_engine::run::check_gpus(&pipeline, &cache, &opts, &selected)?;
        }
        return Ok(0);
    }
    // `--remote`: what the remote has is fetched, not run (read-only
    // unless `--push`).
    let remote = match args.remote {
        true => Some(super::remote::open(Some(&pipeline), opts.jobs)?),
        false => None,
    };
    if let Some(remote) = &remote {
        super::remote::read_through(config, remote, &pipeline, &opts)?;
    }
    let summary = match &slurm {
        None => pipe_engine::run::run(&pipeline, &opts)?,
        Some(settings) => {
            super::slurm::run(config, &pipeline, &opts, settings, &args.pipeline.set)?
        }
    };
    match summary.into_result() {
        Ok(_) => {}
        Err(Error::Cancelled) => {
            super::report(config, &Error::Cancelled);
            return Ok(crate::signals::exit_code());
        }
        Err(e) => return Err(e),
    }
    if let Some(remote) = remote.as_ref().filter(|_| args.push) {
        super::remote::push_run(config, remote, &pipeline, &opts)
            .map_err(super::remote::after_run)?;
    }
    remove_orphans(config, &pipeline, &results_dir, args.results_dir.is_none());
    if !args.pipeline.set.is_empty() && args.results_dir.is_none() && !config.quiet {
        err(&format!(
            "results of this `--set` run: {} ({} keeps the file's configuration)\n",
            shown(&results_dir).display(),
            shown(&config.results_dir(file)).display()
        ));
    }
    Ok(0)
}

/// Results of stages no longer in the file: removed from pipe's own
/// results directory (they are links to cached objects, which stay until
/// `pipe gc`), only reported in one named with `--results-dir`.
fn remove_orphans(config: &Config, pipeline: &pipe_engine::Pipeline, dir: &Path, own: bool) {
    let names = pipeline.stages.iter().map(|s| s.name.as_str());
    for orphan in pipe_engine::run::results::orphans(dir, names) {
        if own && std::fs::remove_dir_all(&orphan).is_ok() {
            if !config.quiet {
                err(&format!(
                    "removed {}: no stage of the file has that name any more\n",
                    shown(&orphan).display()
                ));
            }
        } else {
            err(&format!(
                "{} is not a stage of the file any more; delete it if it is stale\n",
                shown(&orphan).display()
            ));
        }
    }
}

/// The default results directory of a run: `results/<stem>` for the
/// file's own configuration, `results/<stem>@<k>=<v>,...` for a run with
/// `--set`, so that results/<stem> never mixes configurations.
pub fn results_dir(config: &Config, pipeline: &PipelineArgs) -> PathBuf {
    let base = config.results_dir(&pipeline.file);
    if pipeline.set.is_empty() {
        return base;
    }
    let sets: String = pipeline
        .set
        .join(",")
        .chars()
        .map(|c| if c == '/' || c.is_control() { '_' } else { c })
        .collect();
    let sets = if sets.len() > 80 {
        let hash = pipe_engine::ContentHash::of(sets.as_bytes()).to_hex();
        format!("set-{}", &hash[..16])
    } else {
        sets
    };
    let mut name = base.file_name().unwrap_or_default().to_os_string();
    name.push(format!("@{sets}"));
    base.with_file_name(name)
}

/// `path` relative to the current directory when it is below it.
fn shown(path: &Path) -> &Path {
    std::env::current_dir()
        .ok()
        .and_then(|cwd| path.strip_prefix(cwd).ok())
        .unwrap_or(path)
}
