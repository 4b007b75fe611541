//! `pipe push`: the selected stages' cached results to the remote cache.

use pipe_engine::cache::Cache;
use pipe_engine::Result;
use pipe_remote::progress::Progress;

use super::Config;
use crate::cli::TransferArgs;

pub fn push(config: &Config, args: &TransferArgs) -> Result<u8> {
    let file = &args.pipeline.file;
    let pipeline = pipe_engine::load(file, &crate::registry::registry(), &args.pipeline.set)?;
    let remote = super::remote::open(Some(&pipeline), args.jobs)?;
    let cache = Cache::existing(&config.cache_dir(Some(file)))?;
    let (results, not_cached) = super::remote::cached_results(&pipeline, &cache, &args.targets)?;
    let progress = Progress::new("push", config.quiet);
    let pushed = pipe_remote::push::push(&remote, &cache, &results, &progress);
    progress.finish();
    super::remote::print_pushed(config, &pushed?, &not_cached, &progress)?;
    Ok(0)
}
