//! A kind's declaration as data: everything the engine asks of a kind
//! except how it runs (see [`Kind`](crate::kind::Kind), which pairs the
//! two).
//!
//! A kind whose running needs a heavy library (libtorch) is declared in a
//! crate without it; `pipe` pairs that declaration with a worker program
//! ([`OutOfProcess`](crate::kind::worker::OutOfProcess)) and the worker
//! with the function that really runs it. Both read the same value, so they
//! cannot disagree about parameters, checks or the cache version.

use crate::diagnostic::Diagnostic;
use crate::format::pipeline::{Pipeline, Stage};
use crate::kind::param::{ParamSpec, Params};

use super::{InputSpec, OutputSpec};

/// What a kind is, as data: its name, cache version, parameters, inputs,
/// outputs and checks. Write only what differs from [`Declaration::BASE`]:
/// `Declaration { name: "x", summary: "...", params: PARAMS, ..Declaration::BASE }`.
#[derive(Clone, Copy)]
pub struct Declaration {
    /// The name used in pipeline files (`kind: train`).
    pub name: &'static str,
    /// Bump when the kind's behaviour changes so that cached results made by
    /// the old implementation are not reused. Part of every cache key.
    pub version: u32,
    /// One sentence for `pipe kinds`, `pipe schema` and docs.
    pub summary: &'static str,
    pub params: &'static [ParamSpec],
    pub inputs: &'static [InputSpec],
    /// Whether input slots of any name are accepted (each may name several
    /// stages), as `cmd` does; `inputs` then only documents common ones.
    pub any_inputs: bool,
    pub outputs: &'static [OutputSpec],
    /// Checks beyond the declared types (ranges, combinations). Each entry
    /// is (parameter name, message); the engine attaches the location. A
    /// message may end with `"\nhint: ..."`, which becomes the diagnostic's
    /// hint.
    pub check: fn(&Params) -> Vec<(String, String)>,
    /// Checks that need the stage's place in the validated pipeline (its
    /// inputs' kinds, params and matrix values), so that `pipe check`
    /// rejects what is knowable before anything runs. Each diagnostic is
    /// placed (`Diagnostic::at`); [`Stage::span_of`] gives a parameter's place.
    pub check_stage: fn(&Pipeline, &Stage) -> Vec<Diagnostic>,
    /// The parameters whose other cached values `run` asks
    /// [`Context::history`](crate::kind::Context::history) about (a worker
    /// gets their answers up front).
    pub history: &'static [&'static str],
}

impl Declaration {
    /// The declaration of a kind that says nothing beyond its name and
    /// summary (which a kind must set): version 1, no parameters, inputs or
    /// outputs, no checks, no history.
    pub const BASE: Declaration = Declaration {
        name: "",
        version: 1,
        summary: "",
        params: &[],
        inputs: &[],
        any_inputs: false,
        outputs: &[],
        check: no_checks,
        check_stage: no_stage_checks,
        history: &[],
    };
}

/// For a [`Declaration`] without checks beyond the declared types.
pub fn no_checks(_params: &Params) -> Vec<(String, String)> {
    Vec::new()
}

/// For a [`Declaration`] without pipeline-level checks.
pub fn no_stage_checks(_pipeline: &Pipeline, _stage: &Stage) -> Vec<Diagnostic> {
    Vec::new()
}
