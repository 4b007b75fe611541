//! Training a classifier the way the report's PyTorch code did (transfer,
//! finetune or scratch; SGD or Adam; constant learning rate; test loss
//! after every epoch), checkpointing every epoch so that a killed run
//! resumes and a longer run continues a shorter one: what the `train`
//! stage kind (`kinds/train.rs`) runs.
//!
//! Sub-modules: [`spec`] (parameters, from pipe-torch-spec), [`data`]
//! (datasets on the device), [`init`] (starting weights), [`session`] (the
//! loop), [`state`] (checkpoints), [`summary`] (`run.json`).

pub mod data;
pub mod init;
pub mod session;
pub mod state;
/// The parameters and the resolved settings, declared without libtorch.
pub mod spec {
    pub use pipe_torch_spec::train::*;
}
pub mod summary;
pub mod timing;

pub use session::{train, Builder, Hooks, Inputs};
pub use spec::{Mode, TrainSpec};
pub use state::Saved;
pub use summary::Summary;
