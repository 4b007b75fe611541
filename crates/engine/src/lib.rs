//! The engine of `pipe`: pipeline files in, cached results out.
//!
//! It owns the pipeline file format (parse -> validate -> [`Pipeline`]), the
//! content-addressed cache, the scheduler and the explanations of `pipe
//! status`. It knows no machine learning: stage kinds plug in through the
//! [`Kind`] trait and a [`Registry`] built by the `pipe` binary. This crate
//! must never depend on `tch`, image or plotting crates (a test in the `pipe`
//! crate checks its dependency list).

pub mod diagnostic;
pub mod error;
pub mod hash;
pub mod kind;
pub mod param;
pub mod pipeline;
pub mod progress;
pub mod value;

pub use diagnostic::{Diagnostic, Severity, Span};
pub use error::{Error, Result};
pub use hash::ContentHash;
pub use kind::{
    no_stage_checks, Artifact, Context, Declaration, Defined, InputSpec, Kind, OutputSpec, Registry,
};
pub use param::{Lit, ParamSpec, ParamType, Params};
pub use pipeline::{Pipeline, Stage, StageId};
pub use progress::Progress;
pub use value::Value;
pub mod cmd;
pub mod render;

pub use cmd::register;
pub mod cache;
pub mod dag;
pub mod explain;
pub mod gpu;
pub mod interp;
pub mod load;
pub mod lock;
pub mod matrix;
pub mod run;
pub mod schema;
pub mod spec;
pub mod status;
pub mod validate;
pub mod worker;
pub mod yaml;

pub use load::{check, load};
