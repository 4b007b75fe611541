//! Models, checkpoints and training through libtorch (tch): `weights`,
//! `train` and `evaluate` stage kinds, and `pipe doctor`.

pub mod checkpoint;
pub mod device;
pub mod doctor;
pub mod evaluate;
pub mod metrics;
pub mod models;
pub mod optim;
pub mod train;
pub mod weights;

use pipe_engine::Registry;

/// Adds this crate's stage kinds to `registry`.
pub fn register(registry: &mut Registry) {
    registry.add(train::Train);
    registry.add(evaluate::Evaluate);
    registry.add(weights::Weights);
}
