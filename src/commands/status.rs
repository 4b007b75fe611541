//! `pipe status`: every stage up to date or would run, and why, and the
//! stages queued or running on SLURM for the pipeline's `--executor slurm`
//! run. Exit 0 when all are up to date, 1 when something would run.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use pipe_engine::status::StageStatus;
use pipe_engine::Result;

use super::slurm::OnCluster;
use super::Config;
use crate::cli::{StatusArgs, StatusFormat};

pub fn status(config: &Config, args: StatusArgs) -> Result<u8> {
    let registry = crate::registry::registry();
    let file = &args.pipeline.file;
    let pipeline = pipe_engine::load(file, &registry, &args.pipeline.set)?;
    let cache = pipe_engine::cache::Cache::existing(&config.cache_dir(Some(file)))?;
    let mut statuses = pipe_engine::status::status(&pipeline, &cache, &args.targets, &[])?;
    let results = args
        .results_dir
        .clone()
        .unwrap_or_else(|| super::run::results_dir(config, &args.pipeline));
    pipe_engine::status::compare_results(&results, &mut statuses);
    let run = super::slurm::run_name(&pipeline, &args.pipeline.set);
    let jobs = super::slurm::live_jobs(&config.cache_dir(Some(file)), &run);
    print(config, &statuses, &jobs, args.format)?;
    Ok(u8::from(statuses.iter().any(|s| !s.up_to_date())))
}

/// Prints statuses to stdout: one line per stage (`up to date  NAME`,
/// `would run   NAME: reason; reason`, or `running     NAME: on SLURM, job
/// 123` for a stage whose job is queued or running) and a count, or one
/// JSON document.
pub fn print(
    config: &Config,
    statuses: &[StageStatus],
    jobs: &BTreeMap<String, OnCluster>,
    format: StatusFormat,
) -> Result<()> {
    let mut out = String::new();
    let stale = statuses.iter().filter(|s| !s.up_to_date()).count();
    match format {
        StatusFormat::Json => {
            let json = serde_json::json!({
                "up_to_date": stale == 0,
                "would_run": stale,
                "on_slurm": jobs.len(),
                "stages": statuses.iter().map(|s| {
                    let mut json = s.to_json();
                    if let Some(on) = jobs.get(&s.name) {
                        json["status"] = queued_or_running(&on.state).into();
                        json["slurm_job"] = on.job.0.clone().into();
                        json["slurm_state"] = on.state.to_string().into();
                    }
                    json
                }).collect::<Vec<_>>(),
            });
            let _ = writeln!(out, "{json:#}");
        }
        StatusFormat::Text => {
            let (green, yellow, reset) = if config.color_stdout {
                ("\x1b[32m", "\x1b[33m", "\x1b[0m")
            } else {
                ("", "", "")
            };
            for s in statuses {
                if let Some(on) = jobs.get(&s.name) {
                    let _ = writeln!(
                        out,
                        "{yellow}{:<11}{reset} {}: on SLURM, job {} ({})",
                        queued_or_running(&on.state),
                        s.name,
                        on.job,
                        on.state
                    );
                } else if s.up_to_date() {
                    let _ = writeln!(out, "{green}up to date{reset}  {}", s.name);
                } else {
                    let why: Vec<String> = s.reasons.iter().map(ToString::to_string).collect();
                    let _ = writeln!(
                        out,
                        "{yellow}would run{reset}   {}: {}",
                        s.name,
                        why.join("; ")
                    );
                }
            }
            let n = statuses.len();
            if stale == 0 {
                let _ = writeln!(
                    out,
                    "all {n} stage{} up to date",
                    if n == 1 { "" } else { "s" }
                );
            } else {
                let on = if jobs.is_empty() {
                    String::new()
                } else {
                    format!(" ({} queued or running on SLURM)", jobs.len())
                };
                let _ = writeln!(
                    out,
                    "{stale} of {n} stage{} would run{on}",
                    if n == 1 { "" } else { "s" }
                );
            }
        }
    }
    super::output::out(&out)
}

fn queued_or_running(state: &pipe_slurm::JobState) -> &'static str {
    match state.phase() {
        pipe_slurm::Phase::Running => "running",
        _ => "queued",
    }
}
