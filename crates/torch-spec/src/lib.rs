//! The libtorch stage kinds (`weights`, `train`, `evaluate`) as data: their
//! parameters, inputs, outputs and checks, and the typed settings they
//! resolve to, without libtorch.
//!
//! `pipe` registers these declarations to run in the `pipe-torch` worker
//! program (see `pipe_engine::worker`), so that `pipe` itself never loads
//! libtorch; the worker registers them with pipe-torch's code that runs
//! them.

pub mod kinds;
pub mod models;
pub mod optim;

pub use kinds::{evaluate, train, weights, DECLARATIONS};

/// The worker program that runs these kinds, beside the `pipe` executable.
pub const WORKER: &str = "pipe-torch";
