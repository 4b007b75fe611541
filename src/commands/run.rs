//! `pipe run`: load the pipeline, resolve the command line into
//! [`RunOptions`], run, and turn the summary into an exit code.

use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use pipe_engine::run::RunOptions;
use pipe_engine::{gpu, Result};

use super::Config;
use crate::cli::{RunArgs, StatusFormat};

pub fn run(config: &Config, args: RunArgs) -> Result<u8> {
    let registry = crate::registry::registry();
    let pipeline = pipe_engine::load(&args.pipeline.file, &registry, &args.pipeline.set)?;
    if args.dry_run {
        let cache = pipe_engine::cache::Cache::open(&config.cache_dir)?;
        let statuses = pipe_engine::status::status(&pipeline, &cache, &args.targets, &args.force)?;
        super::status::print(config, &statuses, StatusFormat::Text)?;
        return Ok(0);
    }
    let cancel = Arc::new(AtomicBool::new(false));
    let flag = Arc::clone(&cancel);
    // The first Ctrl-C stops cleanly; a second one gives up waiting.
    let _ = ctrlc::set_handler(move || {
        if flag.swap(true, Ordering::SeqCst) {
            std::process::exit(130);
        }
    });
    let stem = args
        .pipeline
        .file
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_else(|| "pipeline".into());
    let opts = RunOptions {
        cache_dir: config.cache_dir.clone(),
        results_dir: Some(
            args.results_dir
                .unwrap_or_else(|| PathBuf::from("results").join(stem)),
        ),
        targets: args.targets,
        force: args.force,
        jobs: args
            .jobs
            .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, usize::from)),
        // Probing (`nvidia-smi`) costs milliseconds; only GPU stages need it.
        gpus: if pipeline.stages.iter().any(|s| s.gpus > 0) {
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
    pipe_engine::run::run(&pipeline, &opts)?.into_result()?;
    Ok(0)
}
