use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
    let cli = pipe::cli::Cli::try_parse().unwrap_or_else(|e| pipe::cli::parse_error(e));
    pipe::commands::main(cli)
}
