//! One function per subcommand, and the one place errors are printed.

mod cache;
mod check;
mod dag;
mod doctor;
mod kinds;
mod output;
mod run;
mod schema;
mod status;

use std::process::ExitCode;

use pipe_engine::Error;

use crate::cli::{Cli, ColorChoice, Command};

/// Settings every subcommand shares, resolved from the command line and
/// the environment.
pub struct Config {
    pub cache_dir: std::path::PathBuf,
    pub quiet: bool,
    pub color: bool,
}

impl Config {
    fn resolve(cli: &Cli) -> Config {
        let color = match cli.color {
            ColorChoice::Always => true,
            ColorChoice::Never => false,
            ColorChoice::Auto => {
                std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty())
                    && std::io::IsTerminal::is_terminal(&std::io::stderr())
            }
        };
        Config {
            cache_dir: cli.cache_dir.clone().unwrap_or_else(|| "cache".into()),
            quiet: cli.quiet,
            color,
        }
    }
}

/// Runs the command and turns its outcome into an exit code.
pub fn main(cli: Cli) -> ExitCode {
    let config = Config::resolve(&cli);
    let outcome = match cli.command {
        Command::Run(args) => run::run(&config, args),
        Command::Status(args) => status::status(&config, args),
        Command::Check(args) => check::check(&config, args),
        Command::Dag(args) => dag::dag(&config, args),
        Command::Schema => schema::schema(),
        Command::Kinds(args) => kinds::kinds(&config, &args),
        Command::Cache(cmd) => cache::cache(&config, cmd),
        Command::Gc(args) => cache::gc(&config, args),
        Command::Doctor => doctor::doctor(&config),
    };
    match outcome {
        Ok(code) => ExitCode::from(code),
        Err(error) => {
            report(&config, &error);
            ExitCode::from(u8::try_from(error.exit_code()).unwrap_or(1))
        }
    }
}

/// Prints an error to stderr: diagnostics with their source lines, other
/// errors as one line plus a hint.
pub fn report(config: &Config, error: &Error) {
    output::err(&pipe_engine::render::error(error, config.color));
}
