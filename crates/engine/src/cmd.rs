//! The generic `cmd` kind: a shell command with declared `deps` and `outs`.

use crate::kind::Registry;

/// Adds the engine's own kinds (`cmd`) to `registry`.
pub fn register(_registry: &mut Registry) {}
