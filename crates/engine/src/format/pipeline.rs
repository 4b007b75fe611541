//! The resolved pipeline: the only form the runner sees.
//!
//! Produced by validation from the YAML (see `spec` and `validate`): matrix
//! entries expanded into stages with readable names, `${...}` interpolated,
//! params typed and defaulted, input references resolved to stage ids, and
//! the stages in topological order.

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use crate::diagnostic::Span;
use crate::hash::ContentHash;
use crate::kind::param::{ParamType, Params};
use crate::kind::value::Value;
use crate::kind::Kind;

/// Index of a stage in [`Pipeline::stages`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct StageId(pub usize);

/// A validated pipeline.
pub struct Pipeline {
    /// The pipeline file as given on the command line.
    pub file: PathBuf,
    /// The absolute directory relative paths in the file resolve against.
    pub dir: PathBuf,
    /// blake3 of the file's bytes (provenance; not part of any stage key).
    pub source_hash: ContentHash,
    /// Stages in a topological order: every input comes before its user.
    pub stages: Vec<Stage>,
    pub by_name: HashMap<String, StageId>,
}

/// One stage, after matrix expansion.
pub struct Stage {
    pub id: StageId,
    /// Unique, readable: `resize`, `train[resnet50,transfer]`.
    pub name: String,
    /// The name of the YAML entry it came from (`train`).
    pub template: String,
    /// This entry's matrix values (empty if the stage has no matrix).
    pub matrix: BTreeMap<String, Value>,
    pub kind: Arc<dyn Kind>,
    /// Every declared parameter, typed and defaulted. Path parameters hold
    /// the path as written (relative to `Pipeline::dir`), so that moving the
    /// project does not change keys; the runner makes them absolute for the kind.
    pub params: Params,
    /// Input name -> upstream stages, in the order written (globs sorted by name).
    pub inputs: BTreeMap<String, Vec<StageId>>,
    /// GPUs the stage needs at once (`gpus:`); 0 for CPU-only stages.
    pub gpus: u32,
    /// Where the stage is defined (its name in the YAML).
    pub span: Span,
    /// Where each parameter's value was written (absent for defaults).
    pub param_spans: BTreeMap<String, Span>,
}

impl Stage {
    /// Where parameter `name` was written; the stage's name for a default.
    pub fn span_of(&self, name: &str) -> Span {
        self.param_spans
            .get(name)
            .cloned()
            .unwrap_or_else(|| self.span.clone())
    }

    /// Each `Path` parameter with its paths as written and joined to the
    /// pipeline's directory `dir`: the one place they are joined (the key
    /// hashes the files, the kind receives the absolute paths).
    pub fn path_params(&self, dir: &Path) -> Vec<(&'static str, Vec<(&str, PathBuf)>)> {
        let mut out = Vec::new();
        for spec in self.kind.params() {
            let Some(value) = self.params.0.get(spec.name) else {
                continue;
            };
            let written: Vec<&str> = match (spec.ty, value) {
                (ParamType::Path, Value::Str(s)) => vec![s.as_str()],
                (ParamType::List(ParamType::Path), Value::List(items)) => {
                    items.iter().filter_map(Value::as_str).collect()
                }
                _ => continue,
            };
            out.push((
                spec.name,
                written.into_iter().map(|w| (w, dir.join(w))).collect(),
            ));
        }
        out
    }

    /// The stages input slot `slot` names (none when absent).
    pub fn input<'a>(&self, pipeline: &'a Pipeline, slot: &str) -> Vec<&'a Stage> {
        self.inputs
            .get(slot)
            .map(|ids| ids.iter().map(|id| pipeline.stage(*id)).collect())
            .unwrap_or_default()
    }
}

impl Pipeline {
    pub fn stage(&self, id: StageId) -> &Stage {
        &self.stages[id.0]
    }

    pub fn find(&self, name: &str) -> Option<&Stage> {
        self.by_name.get(name).map(|id| self.stage(*id))
    }
}

/// The name of a stage's directory under `results/`: its name with `/`
/// (which would nest) replaced by `_`. Validation rejects two stages that
/// would share one.
pub fn results_dir_name(stage: &str) -> std::borrow::Cow<'_, str> {
    if stage.contains('/') {
        stage.replace('/', "_").into()
    } else {
        stage.into()
    }
}
