//! The command line as typed (clap), and its resolution into a [`Config`].

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

/// pipe: a declarative, cached pipeline for deep-learning experiments.
///
/// A YAML file declares stages (download, decode, resize, augment, train,
/// evaluate, plot, report, or any shell command) and how their outputs feed
/// each other. `pipe run` runs what is not already cached: every stage's
/// result is stored under the hash of its kind, parameters and input
/// contents, so after an edit only the stages whose inputs really changed
/// run again, and a stage whose output comes out identical stops the rerun.
///
/// Start with `pipe run pipelines/quick.yaml` (a few minutes on a CPU), then
/// `pipe status pipelines/quick.yaml` after editing it to see what would rerun.
#[derive(Parser, Debug)]
#[command(name = "pipe", version, max_term_width = 100)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,

    /// Where results are cached [default: ./cache].
    #[arg(long, global = true, env = "PIPE_CACHE_DIR", value_name = "DIR")]
    pub cache_dir: Option<PathBuf>,

    /// Print only errors and the final summary.
    #[arg(long, short, global = true)]
    pub quiet: bool,

    /// When to use colours (NO_COLOR is honoured by `auto`).
    #[arg(long, global = true, value_enum, default_value_t = ColorChoice::Auto)]
    pub color: ColorChoice,
}

/// Exits with clap's error, adding the "did you mean" that clap's own
/// similarity measure misses for a transposition (`pipe rnu`).
pub fn parse_error(mut error: clap::Error) -> ! {
    use clap::error::{ContextKind, ContextValue, ErrorKind};
    if error.kind() == ErrorKind::InvalidSubcommand
        && error.get(ContextKind::SuggestedSubcommand).is_none()
    {
        if let Some(ContextValue::String(typed)) = error.get(ContextKind::InvalidSubcommand) {
            let cli = <Cli as clap::CommandFactory>::command();
            let names = cli.get_subcommands().map(clap::Command::get_name);
            if let Some(near) = pipe_engine::diagnostic::suggest(typed, names) {
                let near = ContextValue::String(near.to_string());
                error.insert(ContextKind::SuggestedSubcommand, near);
            }
        }
    }
    error.exit()
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// Run the stages of a pipeline that are not cached.
    #[command(after_help = "Examples:
  pipe run pipelines/quick.yaml
  pipe run pipelines/paper.yaml 'train[resnet50,*]' --gpus 0,1
  pipe run pipelines/paper.yaml --set epochs=5 --dry-run")]
    Run(RunArgs),
    /// Run one stage from a job file of `pipe run --executor slurm`, on a
    /// cluster node, without reading the pipeline file.
    #[command(hide = true)]
    RunJob {
        /// The job file (`job.json` in the stage's work dir).
        file: PathBuf,
    },
    /// Say which stages are up to date and why the others would run.
    ///
    /// Exits 0 when everything is up to date and 1 when something would run,
    /// so CI can ask "is the committed result current?".
    Status(StatusArgs),
    /// Validate pipeline files: report every problem with its location.
    Check(CheckArgs),
    /// Print the stage graph as text, Graphviz dot or Mermaid.
    Dag(DagArgs),
    /// Print the JSON Schema of pipeline files (for editor completion).
    Schema,
    /// List the stage kinds with their parameters, inputs and outputs.
    ///
    /// `--format markdown` prints the reference page docs/stage-kinds.md.
    Kinds(KindsArgs),
    /// Inspect and repair the cache.
    #[command(subcommand)]
    Cache(CacheCommand),
    /// Delete cached results that the named pipelines no longer reference.
    Gc(GcArgs),
    /// Compare every cached result of a pipeline's stages: sweeps made with
    /// `--set`, matrix runs and past versions of the file.
    #[command(subcommand)]
    Exp(ExpCommand),
    /// Print a stage's log; with `-f`, follow it while the stage runs.
    #[command(after_help = "Examples:
  pipe logs pipelines/quick.yaml 'train[resnet18,transfer]'
  pipe logs pipelines/quick.yaml 'train[resnet18,transfer]' -f")]
    Logs(LogsArgs),
    /// Upload cached results to the remote cache (`PIPE_REMOTE`).
    #[command(after_help = "Examples:
  PIPE_REMOTE=s3://lab-cache/pipe pipe push pipelines/quick.yaml
  pipe push pipelines/paper.yaml 'train[vit_b_16,*]' --jobs 16")]
    Push(TransferArgs),
    /// Download the results the remote cache has into the local cache.
    #[command(after_help = "Examples:
  PIPE_REMOTE=s3://lab-cache/pipe pipe pull pipelines/quick.yaml
  pipe run pipelines/quick.yaml --remote   # fetch what the remote has, run the rest")]
    Pull(TransferArgs),
    /// The remote cache: `check` access, `ls` what it holds for a pipeline.
    #[command(subcommand)]
    Remote(RemoteCommand),
    /// Check libtorch, CUDA and cuDNN, and list the GPUs.
    Doctor,
    /// Print a shell completion script.
    #[command(after_help = "Examples:
  pipe completions bash > ~/.local/share/bash-completion/completions/pipe
  pipe completions zsh > ~/.zfunc/_pipe
  pipe completions fish > ~/.config/fish/completions/pipe.fish")]
    Completions {
        /// The shell to complete for.
        shell: clap_complete::Shell,
    },
}

#[derive(Args, Debug, Clone)]
pub struct PipelineArgs {
    /// The pipeline file.
    pub file: PathBuf,
    /// Override a top-level parameter: `--set epochs=5` (repeatable).
    #[arg(long = "set", value_name = "KEY=VALUE")]
    pub set: Vec<String>,
}

#[derive(Args, Debug)]
pub struct RunArgs {
    #[command(flatten)]
    pub pipeline: PipelineArgs,
    /// Run only these stages and what they need (names or globs like `train[vit_b_16,*]`).
    pub targets: Vec<String>,
    /// Show what would run, and why, without running anything.
    #[arg(long, short = 'n')]
    pub dry_run: bool,
    /// Rerun these stages even if cached (names or globs; repeatable).
    #[arg(long, value_name = "STAGE")]
    pub force: Vec<String>,
    /// How many stages may run at once [default: number of CPUs].
    #[arg(long, short, value_name = "N")]
    pub jobs: Option<usize>,
    /// CUDA devices to hand to stages that declare `gpus:`, e.g. `0,1`
    /// [default: all visible devices].
    #[arg(long, value_name = "LIST")]
    pub gpus: Option<String>,
    /// After a stage fails, go on with everything that does not depend on it.
    #[arg(long, short)]
    pub keep_going: bool,
    /// Where to link the outputs of each stage [default: results/<pipeline
    /// name> in the project root; with `--set`, results/<pipeline
    /// name>@<overrides>, so that results/<pipeline name> only ever shows
    /// the file's own configuration].
    #[arg(long, value_name = "DIR")]
    pub results_dir: Option<PathBuf>,
    /// Fetch from the remote cache (`PIPE_REMOTE`) every stage it has
    /// instead of running it; read-only unless `--push`.
    #[arg(long)]
    pub remote: bool,
    /// With `--remote`: also push what ran here to the remote.
    #[arg(long, alias = "remote-write", requires = "remote")]
    pub push: bool,
    #[command(flatten)]
    pub executor: ExecutorArgs,
}

/// Where `pipe run` runs the stages that must run (docs/slurm.md).
#[derive(Args, Debug, Clone)]
pub struct ExecutorArgs {
    /// Where stages run: `local` (this machine) or `slurm` (one batch job
    /// per stage, submitted with sbatch; the cache dir must be shared with
    /// the nodes).
    #[arg(long, value_enum, env = "PIPE_EXECUTOR", default_value_t = ExecutorChoice::Local)]
    pub executor: ExecutorChoice,
    /// SLURM: the partition of stages whose `resources:` name none
    /// [default: the cluster's].
    #[arg(long, value_name = "NAME", env = "PIPE_SLURM_PARTITION")]
    pub slurm_partition: Option<String>,
    /// SLURM: how a stage's `gpus: N` is asked for: `gpus` (--gpus=N) or
    /// `gres` (--gres=gpu:N, for clusters that declare GPUs only as GRES).
    #[arg(long, value_enum, env = "PIPE_SLURM_GPUS_AS", default_value_t = GpusAs::Gpus)]
    pub slurm_gpus_as: GpusAs,
}

#[derive(ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum ExecutorChoice {
    Local,
    Slurm,
}

#[derive(ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum GpusAs {
    Gpus,
    Gres,
}

#[derive(Args, Debug)]
pub struct TransferArgs {
    #[command(flatten)]
    pub pipeline: PipelineArgs,
    /// Only these stages and what they need (names or globs, as `pipe run`).
    pub targets: Vec<String>,
    /// Transfers at once [default: 8].
    #[arg(long, short, value_name = "N", default_value_t = 8)]
    pub jobs: usize,
}

#[derive(Subcommand, Debug)]
pub enum RemoteCommand {
    /// Can we read the remote cache, can we write it?
    Check {
        /// A pipeline file whose `remote:` names the remote (else `PIPE_REMOTE`).
        file: Option<PathBuf>,
    },
    /// What the remote holds for the stages of a pipeline, and where each
    /// result was made.
    Ls(TransferArgs),
}

#[derive(Args, Debug)]
pub struct StatusArgs {
    #[command(flatten)]
    pub pipeline: PipelineArgs,
    /// Only these stages and what they need.
    pub targets: Vec<String>,
    #[arg(long, value_enum, default_value_t = StatusFormat::Text)]
    pub format: StatusFormat,
    /// The results directory to compare with the cache [default: as `pipe run`].
    #[arg(long, value_name = "DIR")]
    pub results_dir: Option<PathBuf>,
}

#[derive(Args, Debug)]
pub struct CheckArgs {
    /// Pipeline files to check.
    #[arg(required = true)]
    pub files: Vec<PathBuf>,
    /// Check as if run with these overrides (`KEY=VALUE`).
    #[arg(long = "set", value_name = "KEY=VALUE")]
    pub set: Vec<String>,
    #[arg(long, value_enum, default_value_t = CheckFormat::Text)]
    pub format: CheckFormat,
}

#[derive(Args, Debug)]
pub struct LogsArgs {
    #[command(flatten)]
    pub pipeline: PipelineArgs,
    /// The stage whose log to print (its full name).
    pub stage: String,
    /// Follow the log while the stage runs; stop when it ends (or Ctrl-C).
    #[arg(long, short)]
    pub follow: bool,
}

#[derive(Args, Debug)]
pub struct DagArgs {
    #[command(flatten)]
    pub pipeline: PipelineArgs,
    #[arg(long, value_enum, default_value_t = DagFormat::Text)]
    pub format: DagFormat,
}

#[derive(Args, Debug)]
pub struct KindsArgs {
    #[arg(long, value_enum, default_value_t = KindsFormat::Text)]
    pub format: KindsFormat,
}

#[derive(ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum KindsFormat {
    Text,
    /// The reference page (docs/stage-kinds.md).
    Markdown,
    Json,
}

#[derive(Subcommand, Debug)]
pub enum CacheCommand {
    /// Rehash every stored object; delete corrupt ones and the results that
    /// used them (they will be recomputed).
    Verify {
        /// Report what would be deleted without deleting (or creating) anything.
        #[arg(long, short = 'n')]
        dry_run: bool,
    },
}

#[derive(Subcommand, Debug)]
pub enum ExpCommand {
    /// One row per cached result of the stages: params, summary metrics,
    /// wall and creation time; `*` marks the result the file as it stands uses.
    ///
    /// Without STAGES: the training runs (results with a `metrics.csv`).
    ///
    /// Examples:
    ///   pipe exp show pipelines/quick.yaml
    ///   pipe exp show pipelines/quick.yaml 'train[resnet18,*]' --only-changed --sort-by best_test_acc
    Show(ExpShowArgs),
    /// Per stage, the current result against the previous one (or two named
    /// by key): changed params old -> new, metrics old -> new and the change.
    Diff(ExpDiffArgs),
    /// One figure of a per-epoch metric over the cached results, one curve
    /// each, labelled by the params that set them apart (`lr=0.01`).
    Plot(ExpPlotArgs),
}

#[derive(Args, Debug)]
pub struct ExpShowArgs {
    #[command(flatten)]
    pub pipeline: PipelineArgs,
    /// Stage names or globs, as in `pipe run`.
    pub stages: Vec<String>,
    /// Show only the params whose values differ between the rows.
    #[arg(long)]
    pub only_changed: bool,
    /// Sort by this column (accuracies best first, others ascending).
    #[arg(long, value_name = "COLUMN")]
    pub sort_by: Option<String>,
    /// Reverse the order.
    #[arg(long)]
    pub reverse: bool,
    /// Print CSV (raw numbers: fractions, seconds, Unix times).
    #[arg(long, group = "format")]
    pub csv: bool,
    /// Print JSON.
    #[arg(long, group = "format")]
    pub json: bool,
    /// Print a Markdown table.
    #[arg(long, group = "format")]
    pub md: bool,
}

#[derive(Args, Debug)]
pub struct ExpDiffArgs {
    #[command(flatten)]
    pub pipeline: PipelineArgs,
    /// Stage names or globs, as in `pipe run` [default: the training runs].
    pub stages: Vec<String>,
    /// The old result: a prefix of its key (the `key` column of `exp show`).
    #[arg(long, value_name = "KEY")]
    pub from: Option<String>,
    /// The new result [default: the current result of the old one's stage].
    #[arg(long, value_name = "KEY", requires = "from")]
    pub to: Option<String>,
    /// Print Markdown (for a pull-request comment).
    #[arg(long)]
    pub md: bool,
}

#[derive(Args, Debug)]
pub struct ExpPlotArgs {
    #[command(flatten)]
    pub pipeline: PipelineArgs,
    /// Stage names or globs, as in `pipe run` [default: the training runs].
    pub stages: Vec<String>,
    /// The `metrics.csv` column to draw.
    #[arg(long, default_value = "test_loss")]
    pub metric: String,
    /// Logarithmic y axis.
    #[arg(long)]
    pub log_y: bool,
    /// The figure's title.
    #[arg(long, default_value = "")]
    pub title: String,
    /// Where to write figure.png, figure.svg and figure.json
    /// [default: results/<pipeline name>/exp-plot].
    #[arg(long, short, value_name = "DIR")]
    pub out: Option<PathBuf>,
}

#[derive(Args, Debug)]
pub struct GcArgs {
    /// Pipelines whose current results are kept.
    #[arg(required = true)]
    pub files: Vec<PathBuf>,
    /// Show what would be deleted without deleting it.
    #[arg(long, short = 'n')]
    pub dry_run: bool,
}

#[derive(ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum ColorChoice {
    Auto,
    Always,
    Never,
}

#[derive(ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum StatusFormat {
    Text,
    Json,
}

#[derive(ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum CheckFormat {
    /// Human-readable, with the source line and a hint.
    Text,
    /// One JSON array of diagnostics.
    Json,
    /// GitHub Actions workflow annotations (`::error file=...`).
    Github,
}

#[derive(ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum DagFormat {
    Text,
    Dot,
    Mermaid,
}
