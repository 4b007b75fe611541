//! The engine of `pipe`: pipeline files in, cached results out.
//!
//! Three layers, as folders, imports pointing down only (see
//! docs/ARCHITECTURE.md; `tests/cli/architecture.rs` checks it):
//! - [`kind`]: the kind API, how stage kinds plug in ([`Kind`]: a
//!   [`Declaration`] and how it runs; params, values, progress, the worker
//!   protocol);
//! - [`format`]: the pipeline file format, text -> [`Pipeline`];
//! - [`execution`]: the cache, the scheduler, status and explanations.
//!
//! Beside them: the error type and diagnostics (with their collector) and
//! their rendering, and [`kinds`], the kinds the engine ships. It knows no
//! machine learning: stage kinds plug in as [`Kind`] values and a
//! [`Registry`] built by the `pipe` binary. This crate must never depend on
//! `tch`, image or plotting crates (a test in the `pipe` crate checks its
//! dependency list).

pub mod diagnostic;
pub mod error;
pub mod execution;
pub mod format;
pub mod hash;
pub mod kind;
pub mod kinds;
pub mod render;

pub use diagnostic::{Diagnostic, Severity, Span};
pub use error::{Error, Result};
pub use format::pipeline::{Pipeline, Stage, StageId};
pub use hash::ContentHash;
pub use kind::param::{Lit, ParamSpec, ParamType, Params};
pub use kind::progress::Progress;
pub use kind::value::Value;
pub use kind::{
    no_checks, no_stage_checks, Artifact, Context, Declaration, InputSpec, Kind, OutputSpec,
    Registry, Runs,
};
pub use kinds::register;

// The modules' former flat paths, so that the other crates compile unchanged.
pub use execution::scheduler as run;
pub use execution::{cache, explain, gpu, lock, status};
pub use format::drawing as dag;
pub use format::load::{check, load};
pub use format::{interp, load, matrix, schema, spec, validate, yaml};
pub use kind::{param, progress, value, worker};
pub use kinds::cmd;
