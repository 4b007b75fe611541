//! The one trait through which stage kinds plug into the engine.
//!
//! A kind declares its parameters, inputs and outputs (data, used for
//! validation, `pipe schema` and docs) and runs given a [`Context`]. The
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

mod declaration;
pub mod input_dir;
pub mod param;
pub mod progress;
pub mod value;
pub mod worker;

pub(crate) use declaration::declared_by_field;
pub use declaration::{no_stage_checks, Declaration, Defined};
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

/// A stage kind: `download`, `train`, `plot`, `cmd`, ...
pub trait Kind: Send + Sync + 'static {
    /// The name used in pipeline files (`kind: train`).
    fn name(&self) -> &'static str;
    /// Bump when the kind's behaviour changes so that cached results made by
    /// the old implementation are not reused. Part of every cache key.
    fn version(&self) -> u32;
    /// One sentence for `pipe kinds`, `pipe schema` and docs.
    fn summary(&self) -> &'static str;
    fn params(&self) -> &'static [ParamSpec];
    fn inputs(&self) -> &'static [InputSpec] {
        &[]
    }
    /// Whether input slots of any name are accepted (each may name several
    /// stages), as `cmd` does; `inputs()` then only documents common ones.
    fn any_inputs(&self) -> bool {
        false
    }
    fn outputs(&self) -> &'static [OutputSpec] {
        &[]
    }
    /// Checks beyond the declared types (ranges, combinations). Each entry is
    /// (parameter name, message); the engine attaches the location. A
    /// message may end with `"\nhint: ..."`, which becomes the diagnostic's
    /// hint.
    fn check(&self, _params: &Params) -> Vec<(String, String)> {
        Vec::new()
    }
    /// Checks that need the stage's place in the validated pipeline (its
    /// inputs' kinds, params and matrix values), so that `pipe check`
    /// rejects what is knowable before anything runs. Each diagnostic is
    /// placed (`Diagnostic::at`); [`Stage::span_of`] gives a parameter's place.
    fn check_stage(&self, _pipeline: &Pipeline, _stage: &Stage) -> Vec<Diagnostic> {
        Vec::new()
    }
    /// Does the work: read inputs, write files into `ctx.out`. Must not write
    /// anywhere else except `ctx.work`. Called only when the result is not
    /// cached; a failure is never cached.
    fn run(&self, ctx: &Context) -> Result<()>;
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
    kinds: BTreeMap<&'static str, Arc<dyn Kind>>,
}

impl Registry {
    pub fn new() -> Registry {
        Registry::default()
    }

    /// Adds a kind. Two kinds with one name is a programming error.
    pub fn add(&mut self, kind: impl Kind) -> &mut Registry {
        let name = kind.name();
        let previous = self.kinds.insert(name, Arc::new(kind));
        assert!(previous.is_none(), "stage kind `{name}` registered twice");
        self
    }

    pub fn get(&self, name: &str) -> Option<&Arc<dyn Kind>> {
        self.kinds.get(name)
    }

    pub fn names(&self) -> impl Iterator<Item = &'static str> + '_ {
        self.kinds.keys().copied()
    }

    pub fn iter(&self) -> impl Iterator<Item = &Arc<dyn Kind>> {
        self.kinds.values()
    }
}
