//! Data stage kinds for `pipe`: `download`, `synthetic`, `stl10`, `resize`,
//! `augment`, and the training data loader. Pure Rust (no libtorch): images
//! are uint8 CHW buffers; safetensors files are the interchange format.

pub mod alloc;
pub mod archive;
pub mod augment;
pub mod checksum;
pub mod dataset;
pub mod download;
pub mod kinds;
pub mod loader;
pub mod resize;
pub mod rng;
pub mod stl10;
pub mod synthetic;
pub mod tensors;

pub use augment::Policy;
pub use checksum::Checksum;
pub use dataset::Dataset;

use pipe_engine::Registry;

/// Adds this crate's stage kinds to `registry`.
pub fn register(registry: &mut Registry) {
    registry.add_all(kinds::KINDS);
}
