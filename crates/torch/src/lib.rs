//! Models, checkpoints and training through libtorch (tch): `weights`,
//! `train` and `evaluate` stage kinds, and `pipe doctor`.

pub mod checkpoint;
pub mod device;
pub mod doctor;
pub mod evaluate;
pub mod kinds;
pub mod metrics;
pub mod models;
pub mod optim;
pub mod train;

use pipe_engine::Registry;

/// Adds this crate's stage kinds to `registry`, run in this process (the
/// `pipe-torch` worker's registry; `pipe` registers their declarations
/// from pipe-torch-spec to run there).
pub fn register(registry: &mut Registry) {
    registry.add_all(kinds::KINDS);
}
