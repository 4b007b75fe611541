use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
    let cli = pipe::cli::Cli::parse();
    pipe::commands::main(cli)
}
