//! The one type through which stage kinds plug into the engine.
//!
//! A [`Kind`] is a [`Declaration`] (its parameters, inputs and outputs as
//! data, used for validation, `pipe schema` and docs) and how it runs given
//! a [`Context`]: a function in this process or a worker program. The
//! engine hashes what the kind declares; the kind never touches the cache.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use crate::diagnostic::Diagnostic;
use crate::error::{Error, Result};
use crate::format::pipeline::{Pipeline, Stage};
use crate::hash::ContentHash;
use crate::kind::param::{ParamSpec, Params};
use crate::kind::progress::Progress;
use crate::kind::value::Value;
use crate::kind::worker::OutOfProcess;

mod declaration;
pub mod input_dir;
pub mod param;
pub mod progress;
pub mod value;
pub mod worker;

pub use declaration::{no_checks, no_stage_checks, Declaration};
pub use input_dir::{InputDirs, WorkDirs};

/// A named input slot of a kind. Its value in a pipeline file names one or
/// more upstream stages (`data: resize`, `runs: "train[resnet50,*]"`).
#[derive(Clone, Copy, Debug)]
pub struct InputSpec {
    pub name: &'static str,
    pub doc: &'static str,
    pub required: bool,
    /// May name several stages (a list or a glob); otherwise exactly one.
    pub many: bool,
}

impl InputSpec {
    pub const fn one(name: &'static str, doc: &'static str) -> InputSpec {
        InputSpec {
            name,
            doc,
            required: true,
            many: false,
        }
    }
    pub const fn optional(name: &'static str, doc: &'static str) -> InputSpec {
        InputSpec {
            name,
            doc,
            required: false,
            many: false,
        }
    }
    pub const fn many(name: &'static str, doc: &'static str) -> InputSpec {
        InputSpec {
            name,
            doc,
            required: true,
            many: true,
        }
    }
}

/// A file a kind writes into its output directory.
#[derive(Clone, Copy, Debug)]
pub struct OutputSpec {
    pub name: &'static str,
    pub doc: &'static str,
}

/// A stage kind (`download`, `train`, `plot`, `cmd`, ...): its
/// [`Declaration`] and how it runs. The one way to declare a kind: a
/// `kinds/<kind>.rs` file holds `pub const KIND: Kind = Kind::in_process(..)`
/// (docs/stage-kinds.md, "Adding a kind").
#[derive(Clone, Copy)]
pub struct Kind {
    pub declaration: Declaration,
    pub runs: Runs,
}

/// How a kind runs.
#[derive(Clone, Copy)]
pub enum Runs {
    /// A function in this process. It reads inputs and writes files into
    /// `ctx.out` (and nowhere else but `ctx.work`); it is called only when
    /// the result is not cached, and a failure is never cached.
    InProcess(fn(&Context) -> Result<()>),
    /// A worker program, which runs the same declaration in its process.
    InWorker(OutOfProcess),
}

impl Kind {
    /// A kind run by `run` in this process.
    pub const fn in_process(declaration: Declaration, run: fn(&Context) -> Result<()>) -> Kind {
        Kind {
            declaration,
            runs: Runs::InProcess(run),
        }
    }

    /// A kind run by the worker program `worker`.
    pub const fn in_worker(declaration: Declaration, worker: OutOfProcess) -> Kind {
        Kind {
            declaration,
            runs: Runs::InWorker(worker),
        }
    }

    /// The call surface the engine uses (format, execution, commands):
    /// the declaration's fields, and `run`.
    pub fn name(&self) -> &'static str {
        self.declaration.name
    }
    pub fn version(&self) -> u32 {
        self.declaration.version
    }
    pub fn summary(&self) -> &'static str {
        self.declaration.summary
    }
    pub fn params(&self) -> &'static [ParamSpec] {
        self.declaration.params
    }
    pub fn inputs(&self) -> &'static [InputSpec] {
        self.declaration.inputs
    }
    pub fn any_inputs(&self) -> bool {
        self.declaration.any_inputs
    }
    pub fn outputs(&self) -> &'static [OutputSpec] {
        self.declaration.outputs
    }
    /// [`Declaration::check`].
    pub fn check(&self, params: &Params) -> Vec<(String, String)> {
        (self.declaration.check)(params)
    }
    /// [`Declaration::check_stage`].
    pub fn check_stage(&self, pipeline: &Pipeline, stage: &Stage) -> Vec<Diagnostic> {
        (self.declaration.check_stage)(pipeline, stage)
    }

    /// Does the work: in this process, or in the worker program.
    pub fn run(&self, ctx: &Context) -> Result<()> {
        match &self.runs {
            Runs::InProcess(run) => run(ctx),
            Runs::InWorker(worker) => worker.run(&self.declaration, ctx),
        }
    }
}

/// The output of an upstream stage, as a kind sees it.
#[derive(Clone, Debug, serde::Serialize, serde::Deserialize)]
pub struct Artifact {
    /// The producing stage's name, e.g. `train[resnet50,transfer]`.
    pub stage: String,
    /// The matrix values of the producing stage (empty if not a matrix).
    pub matrix: BTreeMap<String, Value>,
    /// Hash of the whole output (names and contents of all its files).
    pub hash: ContentHash,
    /// Output file name -> where to read it (read-only).
    pub files: BTreeMap<String, PathBuf>,
}

impl Artifact {
    /// The path of one output file, or a clear error naming what exists.
    pub fn file(&self, name: &str) -> Result<&Path> {
        self.files.get(name).map(PathBuf::as_path).ok_or_else(|| {
            let have: Vec<&str> = self.files.keys().map(String::as_str).collect();
            Error::failed(format!(
                "stage `{}` has no output `{name}` (it has: {})",
                self.stage,
                have.join(", ")
            ))
        })
    }
}

/// Earlier cached results of the same stage, for kinds that can continue
/// from them (training with more epochs continues from fewer).
pub trait History: Send + Sync {
    /// Cached results whose key equals this stage's key except for the value
    /// of `param`; each with that value.
    fn variants(&self, param: &str) -> Vec<(Value, Artifact)>;
}

/// A history with nothing in it.
pub struct NoHistory;

impl History for NoHistory {
    fn variants(&self, _param: &str) -> Vec<(Value, Artifact)> {
        Vec::new()
    }
}

/// Everything a kind's `run` gets.
pub struct Context<'a> {
    /// The stage's name, e.g. `train[vit_b_16,finetune]`.
    pub stage: &'a str,
    pub params: &'a Params,
    /// Input name -> the upstream outputs (one for a single input).
    pub inputs: &'a BTreeMap<String, Vec<Artifact>>,
    /// Write outputs here; the engine stores them only if `run` succeeds.
    pub out: &'a Path,
    /// Scratch space that survives a failed or killed attempt of the same
    /// stage key (for resumable checkpoints); removed once the stage succeeds.
    pub work: &'a Path,
    /// CUDA device indices handed to this stage (empty: none asked for).
    pub gpus: &'a [usize],
    pub progress: &'a Progress,
    pub history: &'a dyn History,
    /// Upstream outputs as directories, for kinds that need them
    /// ([`Context::input_dir`]).
    pub input_dirs: &'a dyn InputDirs,
    pub cancel: &'a AtomicBool,
    /// The pipeline file this stage comes from and the hash of its bytes
    /// when the stage ran (provenance for reports; not part of the key).
    pub pipeline_file: &'a Path,
    pub pipeline_hash: ContentHash,
}

impl Context<'_> {
    /// The single artifact of a one-stage input.
    pub fn input(&self, name: &str) -> Result<&Artifact> {
        match self.inputs.get(name).map(Vec::as_slice) {
            Some([a]) => Ok(a),
            Some(_) => Err(Error::internal(format!(
                "input `{name}` is not a single stage"
            ))),
            None => Err(Error::internal(format!("input `{name}` was not resolved"))),
        }
    }

    /// The artifact of an optional input, if given.
    pub fn opt_input(&self, name: &str) -> Option<&Artifact> {
        self.inputs.get(name).and_then(|v| v.first())
    }

    /// All artifacts of an input (several for a `many` input).
    pub fn inputs_of(&self, name: &str) -> &[Artifact] {
        self.inputs.get(name).map(Vec::as_slice).unwrap_or(&[])
    }

    /// A directory holding `artifact`'s files under their output names, for
    /// programs that read inputs as directories. Read-only; made on first
    /// use and shared with other stages reading the same output, so ask
    /// only when a directory is needed (`Artifact::files` costs nothing).
    pub fn input_dir(&self, artifact: &Artifact) -> Result<PathBuf> {
        self.input_dirs.dir(artifact, self.work)
    }

    /// `Err(Error::Cancelled)` once the user pressed Ctrl-C. Long loops call
    /// this between steps.
    pub fn check_cancelled(&self) -> Result<()> {
        if self.cancel.load(Ordering::Relaxed) {
            Err(Error::Cancelled)
        } else {
            Ok(())
        }
    }
}

/// All stage kinds the binary knows, by name.
#[derive(Clone, Default)]
pub struct Registry {
    kinds: BTreeMap<&'static str, Arc<Kind>>,
    /// Where this binary's kinds run (`pipe 0.1.0, linux-x86_64, libtorch
    /// 2.11.0, CPU`): part of every stage key of a pipeline that says
    /// `remote: {key_includes_environment: true}`.
    environment: Option<String>,
}

impl Registry {
    pub fn new() -> Registry {
        Registry::default()
    }

    pub fn set_environment(&mut self, environment: String) -> &mut Registry {
        self.environment = Some(environment);
        self
    }

    pub fn environment(&self) -> Option<&str> {
        self.environment.as_deref()
    }

    /// Adds a kind. Two kinds with one name, or a kind without a name or
    /// summary, is a programming error.
    pub fn add(&mut self, kind: Kind) -> &mut Registry {
        let name = kind.name();
        assert!(
            !name.is_empty() && !kind.summary().is_empty(),
            "a stage kind needs a name and a summary (`{name}`)"
        );
        let previous = self.kinds.insert(name, Arc::new(kind));
        assert!(previous.is_none(), "stage kind `{name}` registered twice");
        self
    }

    /// Adds every kind of a crate's `kinds::KINDS` list.
    pub fn add_all(&mut self, kinds: &[Kind]) -> &mut Registry {
        for kind in kinds {
            self.add(*kind);
        }
        self
    }

    pub fn get(&self, name: &str) -> Option<&Arc<Kind>> {
        self.kinds.get(name)
    }

    pub fn names(&self) -> impl Iterator<Item = &'static str> + '_ {
        self.kinds.keys().copied()
    }

    pub fn iter(&self) -> impl Iterator<Item = &Arc<Kind>> {
        self.kinds.values()
    }
}
