//! Data stage kinds for `pipe`: `download`, `stl10`, `resize`, `augment`,
//! and the training data loader. Pure Rust (no libtorch): images are uint8
//! CHW buffers; safetensors files are the interchange format.

use pipe_engine::Registry;

/// Adds this crate's stage kinds to `registry`.
pub fn register(_registry: &mut Registry) {}
