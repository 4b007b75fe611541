//! Models, checkpoints and training through libtorch (tch): `weights`,
//! `train` and `evaluate` stage kinds, and `pipe doctor`.

pub mod models;

use pipe_engine::Registry;

/// Adds this crate's stage kinds to `registry`.
pub fn register(_registry: &mut Registry) {}
