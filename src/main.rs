use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
    // A `cmd` stage's supervisor is this binary re-executed: before anything.
    pipe_engine::kinds::cmd::supervise::main_if_asked();
    let cli = pipe::cli::Cli::try_parse().unwrap_or_else(|e| pipe::cli::parse_error(e));
    pipe::commands::main(cli)
}
