//! `pipe remote check|ls`, and what `push`, `pull` and `run --remote`
//! share: opening the remote, the results to push, the summary lines.

use pipe_engine::cache::{Cache, StageHash};
use pipe_engine::{Error, Pipeline, Result};
use pipe_remote::fetch::Fetched;
use pipe_remote::progress::{bytes_text, Progress};
use pipe_remote::push::Pushed;
use pipe_remote::{Remote, RemoteConfig};

use super::output::{err, out};
use super::Config;
use crate::cli::{RemoteCommand, TransferArgs};

pub fn remote(config: &Config, cmd: RemoteCommand) -> Result<u8> {
    match cmd {
        RemoteCommand::Check { file } => check(config, file.as_deref()),
        RemoteCommand::Ls(args) => ls(config, &args),
    }
}

/// The remote named by `PIPE_REMOTE` or else the pipeline file's `remote:`.
pub fn open(pipeline: Option<&Pipeline>, jobs: usize) -> Result<Remote> {
    let from_file = pipeline.and_then(|p| p.remote.as_deref());
    Remote::open(RemoteConfig::required(from_file)?, jobs)
}

fn check(config: &Config, file: Option<&std::path::Path>) -> Result<u8> {
    let pipeline = match file {
        Some(f) => Some(pipe_engine::load(f, &crate::registry::registry(), &[])?),
        None => None,
    };
    let remote = open(pipeline.as_ref(), 1)?;
    let report = pipe_remote::check::check(&remote);
    let url = &remote.config.url;
    let line = |what: &str, r: &Result<()>| match r {
        Ok(()) => out(&format!("{what}: yes\n")),
        Err(e) => {
            out(&format!("{what}: no\n"))?;
            super::report(config, e);
            Ok(())
        }
    };
    out(&format!("remote {url}\n"))?;
    line("read", &report.read)?;
    line("write", &report.write)?;
    // Reading is what every use needs; a read-only remote is a fine
    // `run --remote`, so only an unreadable one fails the check.
    match report.read {
        Ok(()) => Ok(0),
        Err(e) => Ok(u8::try_from(e.exit_code()).unwrap_or(1)),
    }
}

fn ls(config: &Config, args: &TransferArgs) -> Result<u8> {
    let file = &args.pipeline.file;
    let pipeline = pipe_engine::load(file, &crate::registry::registry(), &args.pipeline.set)?;
    let remote = open(Some(&pipeline), args.jobs)?;
    let cache = Cache::existing(&config.cache_dir(Some(file)))?;
    let statuses = pipe_engine::status::status(&pipeline, &cache, &args.targets, &[])?;
    let keys: Vec<(String, StageHash)> = statuses
        .iter()
        .filter_map(|s| Some((s.name.clone(), s.key?)))
        .collect();
    let records = pipe_remote::fetch::records(&remote, &keys)?;
    let mut text = String::new();
    for s in &statuses {
        let line = match (s.key, records.get(&s.name)) {
            (Some(_), Some(r)) => {
                format!("on remote  {}  ({})\n", s.name, r.environment.describe())
            }
            (Some(_), None) => format!("not there  {}\n", s.name),
            (None, _) => format!("unknown    {}  (its inputs are not cached here)\n", s.name),
        };
        text.push_str(&line);
    }
    out(&text)?;
    Ok(0)
}

/// The selected stages' results in the local cache, and the names of
/// those not cached (they are not pushed).
pub fn cached_results(
    pipeline: &Pipeline,
    cache: &Cache,
    targets: &[String],
) -> Result<(pipe_remote::push::Results, Vec<String>)> {
    let mut results = Vec::new();
    let mut not_cached = Vec::new();
    for s in pipe_engine::status::status(pipeline, cache, targets, &[])? {
        match s
            .key
            .filter(|_| s.up_to_date())
            .and_then(|k| Some((k, cache.lookup(&k)?)))
        {
            Some((key, manifest)) => results.push((s.name, key, manifest)),
            None => not_cached.push(s.name),
        }
    }
    Ok((results, not_cached))
}

/// `push: 3 stages (12 objects, 4.0 MiB) in 0.3 s; 40 already there`.
pub fn print_pushed(
    config: &Config,
    pushed: &Pushed,
    not_cached: &[String],
    progress: &Progress,
) -> Result<()> {
    for name in &pushed.differing {
        err(&format!(
            "note: the remote already has another result for the key of `{name}` (from a \
             non-deterministic run elsewhere); it was kept\n"
        ));
    }
    if !not_cached.is_empty() && !config.quiet {
        err(&format!(
            "not pushed: {} stage{} not cached here (run them first): {}\n",
            not_cached.len(),
            plural(not_cached.len()),
            not_cached.join(", ")
        ));
    }
    err(&format!(
        "push: {} stage{} ({} object{}, {}) in {:.2} s; already there: {} stage{}, {} object{}\n",
        pushed.records,
        plural(pushed.records),
        pushed.objects,
        plural(pushed.objects),
        bytes_text(pushed.bytes),
        progress.seconds(),
        pushed.records_present,
        plural(pushed.records_present),
        pushed.objects_present,
        plural(pushed.objects_present),
    ));
    Ok(())
}

/// `pull: 3 stages (12 objects, 4.0 MiB) in 0.3 s; 2 not on the remote`.
pub fn print_fetched(config: &Config, verb: &str, got: &Fetched, progress: &Progress) {
    if !config.quiet {
        for (name, env) in &got.stages {
            err(&format!("{verb}: {name} (made with {env})\n"));
        }
    }
    let mut line = format!(
        "{verb}: {} stage{} ({} object{}, {}) in {:.2} s; {} object{} already here",
        got.stages.len(),
        plural(got.stages.len()),
        got.objects,
        plural(got.objects),
        bytes_text(got.bytes),
        progress.seconds(),
        got.objects_present,
        plural(got.objects_present),
    );
    if got.missing > 0 {
        line.push_str(&format!("; {} not on the remote", got.missing));
    }
    if !got.unusable.is_empty() {
        line.push_str(&format!(
            "; {} unusable (corrupt on the remote)",
            got.unusable.len()
        ));
    }
    err(&format!("{line}\n"));
}

fn plural(n: usize) -> &'static str {
    if n == 1 {
        ""
    } else {
        "s"
    }
}

/// A remote error raised after a local run succeeded: the run's results
/// are cached here; say so with the error.
pub fn after_run(e: Error) -> Error {
    let hint = e.hint().map(str::to_string).unwrap_or_default();
    e.with_hint(format!(
        "{hint}{}the run itself succeeded and its results are cached locally",
        if hint.is_empty() { "" } else { "; " }
    ))
}

/// `pipe run --remote`, before the run: fetch what the remote has of the
/// selected stages.
pub fn read_through(
    config: &Config,
    remote: &Remote,
    pipeline: &Pipeline,
    opts: &pipe_engine::run::RunOptions,
) -> Result<()> {
    let cache = Cache::open(&opts.cache_dir)?;
    let progress = Progress::new("fetch", config.quiet);
    let got = pipe_remote::read_through::read_through(
        remote,
        pipeline,
        &cache,
        &opts.targets,
        &opts.force,
        opts.durable,
        &progress,
    );
    progress.finish();
    print_fetched(config, "fetch", &got?, &progress);
    Ok(())
}

/// `pipe run --remote --push`, after a successful run: push the selected
/// stages' results.
pub fn push_run(
    config: &Config,
    remote: &Remote,
    pipeline: &Pipeline,
    opts: &pipe_engine::run::RunOptions,
) -> Result<()> {
    let cache = Cache::existing(&opts.cache_dir)?;
    let (results, not_cached) = cached_results(pipeline, &cache, &opts.targets)?;
    let progress = Progress::new("push", config.quiet);
    let pushed = pipe_remote::push::push(remote, &cache, &results, &progress);
    progress.finish();
    print_pushed(config, &pushed?, &not_cached, &progress)
}
