//! The libtorch stage kinds (`weights`, `train`, `evaluate`) as data: their
//! parameters, inputs, outputs and checks, and the typed settings they
//! resolve to, without libtorch.
//!
//! `pipe` registers these declarations to run in the `pipe-torch` worker
//! program (see `pipe_engine::worker`), so that `pipe` itself never loads
//! libtorch; the worker registers them with pipe-torch's code that runs
//! them.

pub mod evaluate;
pub mod models;
pub mod optim;
pub mod train;
pub mod weights;

use pipe_engine::Declaration;

/// The worker program that runs these kinds, beside the `pipe` executable.
pub const WORKER: &str = "pipe-torch";

/// Every kind this crate declares.
pub static DECLARATIONS: &[&Declaration] = &[&train::TRAIN, &evaluate::EVALUATE, &weights::WEIGHTS];
