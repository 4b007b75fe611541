//! `pipe pull`: the remote's results of the selected stages into the local
//! cache (`pipe run` then finds them cached and links them into results/).

use pipe_engine::cache::Cache;
use pipe_engine::Result;
use pipe_remote::progress::Progress;

use super::Config;
use crate::cli::TransferArgs;

pub fn pull(config: &Config, args: &TransferArgs) -> Result<u8> {
    let file = &args.pipeline.file;
    let pipeline = pipe_engine::load(file, &crate::registry::registry(), &args.pipeline.set)?;
    let remote = super::remote::open(Some(&pipeline), args.jobs)?;
    let cache = Cache::open(&config.cache_dir(Some(file)))?;
    let progress = Progress::new("pull", config.quiet);
    let durable = std::env::var_os("PIPE_NO_FSYNC").is_none();
    let got = pipe_remote::read_through::read_through(
        &remote,
        &pipeline,
        &cache,
        &args.targets,
        &[],
        durable,
        &progress,
    );
    progress.finish();
    super::remote::print_fetched(config, "pull", &got?, &progress);
    Ok(0)
}
