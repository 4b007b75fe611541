//! One function per subcommand, and the one place errors are printed.

mod cache;
mod check;
mod dag;
mod doctor;
mod exp_diff;
mod exp_plot;
mod exp_show;
mod kinds;
mod logs;
mod output;
mod pull;
mod push;
mod remote;
mod run;
mod run_job;
mod schema;
mod slurm;
mod status;

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use pipe_engine::Error;

use crate::cli::{Cli, ColorChoice, Command, ExpCommand};

/// Settings every subcommand shares, resolved from the command line and
/// the environment.
pub struct Config {
    /// `--cache-dir` (or `PIPE_CACHE_DIR`); otherwise found from the project root.
    pub explicit_cache_dir: Option<PathBuf>,
    pub quiet: bool,
    /// Colour on stderr (errors, run progress).
    pub color: bool,
    /// Colour on stdout (status): decided for each stream, so that
    /// `pipe status > file` on a terminal writes no ANSI codes.
    pub color_stdout: bool,
}

impl Config {
    fn resolve(cli: &Cli) -> Config {
        // anstream resolves `auto` per stream: NO_COLOR, CLICOLOR(_FORCE),
        // TERM and whether that stream is a terminal.
        match cli.color {
            ColorChoice::Always => anstream::ColorChoice::Always,
            ColorChoice::Never => anstream::ColorChoice::Never,
            ColorChoice::Auto => anstream::ColorChoice::Auto,
        }
        .write_global();
        let on = |choice: anstream::ColorChoice| choice != anstream::ColorChoice::Never;
        Config {
            explicit_cache_dir: cli.cache_dir.clone(),
            quiet: cli.quiet,
            color: on(anstream::AutoStream::choice(&std::io::stderr())),
            color_stdout: on(anstream::AutoStream::choice(&std::io::stdout())),
        }
    }

    /// The cache a command on `file` uses (see [`crate::root`]).
    pub fn cache_dir(&self, file: Option<&Path>) -> PathBuf {
        self.explicit_cache_dir
            .clone()
            .unwrap_or_else(|| crate::root::find(file).join("cache"))
    }

    /// Where `pipe run` links a pipeline's results by default:
    /// `<root>/results/<file stem>`.
    pub fn results_dir(&self, file: &Path) -> PathBuf {
        let stem = file
            .file_stem()
            .map_or_else(|| "pipeline".into(), |s| s.to_string_lossy().into_owned());
        crate::root::find(Some(file)).join("results").join(stem)
    }
}

/// Runs the command and turns its outcome into an exit code.
pub fn main(cli: Cli) -> ExitCode {
    let config = Config::resolve(&cli);
    let outcome = match cli.command {
        Command::Run(args) => run::run(&config, args),
        Command::RunJob { file } => run_job::run_job(&config, &file),
        Command::Status(args) => status::status(&config, args),
        Command::Check(args) => check::check(&config, args),
        Command::Dag(args) => dag::dag(&config, args),
        Command::Schema => schema::schema(),
        Command::Kinds(args) => kinds::kinds(&config, &args),
        Command::Cache(cmd) => cache::cache(&config, cmd),
        Command::Gc(args) => cache::gc(&config, args),
        Command::Logs(args) => logs::logs(&config, args),
        Command::Push(args) => push::push(&config, &args),
        Command::Pull(args) => pull::pull(&config, &args),
        Command::Remote(cmd) => remote::remote(&config, cmd),
        Command::Doctor => doctor::doctor(&config),
        Command::Completions { shell } => {
            let mut cmd = <Cli as clap::CommandFactory>::command();
            clap_complete::generate(shell, &mut cmd, "pipe", &mut std::io::stdout());
            Ok(0)
        }
        Command::Exp(ExpCommand::Show(args)) => exp_show::exp_show(&config, &args),
        Command::Exp(ExpCommand::Diff(args)) => exp_diff::exp_diff(&config, &args),
        Command::Exp(ExpCommand::Plot(args)) => exp_plot::exp_plot(&config, &args),
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
