//! The libtorch stage kinds' declarations, one file each, and
//! [`DECLARATIONS`], the list `pipe` registers to run in the worker
//! (pipe-torch's `kinds/` pairs the same values with the code that runs
//! them).

pub mod evaluate;
pub mod train;
pub mod weights;

use pipe_engine::Declaration;

/// Every kind this crate declares.
pub const DECLARATIONS: &[Declaration] = &[
    train::DECLARATION,
    evaluate::DECLARATION,
    weights::DECLARATION,
];
