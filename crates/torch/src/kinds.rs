//! The libtorch stage kinds, run in this process (the `pipe-torch`
//! worker's registry), one file each: each pairs its declaration from
//! pipe-torch-spec with the function that runs it.

pub mod evaluate;
pub mod train;
pub mod weights;

use pipe_engine::Kind;

/// Every kind of this crate.
pub const KINDS: &[Kind] = &[train::KIND, evaluate::KIND, weights::KIND];
