//! `pipe dag`: print the stage graph of a pipeline.

use pipe_engine::dag::{self, DagFormat as Format};
use pipe_engine::Result;

use super::Config;
use crate::cli::{DagArgs, DagFormat};

pub fn dag(_config: &Config, args: DagArgs) -> Result<u8> {
    let registry = crate::registry::registry();
    let pipeline = pipe_engine::load(&args.pipeline.file, &registry, &args.pipeline.set)?;
    let format = match args.format {
        DagFormat::Text => Format::Text,
        DagFormat::Dot => Format::Dot,
        DagFormat::Mermaid => Format::Mermaid,
    };
    super::output::out(&dag::render(&pipeline, format))?;
    Ok(0)
}
