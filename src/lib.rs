//! The `pipe` command-line tool: argument parsing, the registry of stage
//! kinds, and one function per subcommand. The work happens in the crates
//! under `crates/`: `pipe-engine` (pipelines, cache, scheduler; no ML),
//! `pipe-data`, `pipe-torch` and `pipe-report` (stage kinds).

pub mod cli;
pub mod commands;
pub mod registry;
pub mod root;
pub mod signals;
