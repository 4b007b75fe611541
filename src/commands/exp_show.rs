//! `pipe exp show`: every cached result of the selected stages as a table.

use pipe_engine::cache::Cache;
use pipe_engine::Result;
use pipe_report::experiments::{self, Format, Row, Table};

use super::Config;
use crate::cli::{ExpShowArgs, PipelineArgs};

pub fn exp_show(config: &Config, args: &ExpShowArgs) -> Result<u8> {
    let rows = rows(config, &args.pipeline, &args.stages)?;
    let format = if args.csv {
        Format::Csv
    } else if args.json {
        Format::Json
    } else if args.md {
        Format::Markdown
    } else {
        Format::Text
    };
    let table = Table::new(
        &rows,
        args.only_changed,
        args.sort_by.as_deref(),
        args.reverse,
    )?;
    super::output::out(&table.render(format)?)?;
    Ok(0)
}

/// The rows of the stages a command line selects (shared by `exp diff`
/// and `exp plot`).
pub fn rows(config: &Config, pipeline: &PipelineArgs, stages: &[String]) -> Result<Vec<Row>> {
    let registry = crate::registry::registry();
    let cache = Cache::existing(&config.cache_dir(Some(&pipeline.file)))?;
    let pipeline = pipe_engine::load(&pipeline.file, &registry, &pipeline.set)?;
    experiments::load(&pipeline, &cache, stages)
}
