//! The stage kinds the engine itself ships (`cmd`), one file per kind.

pub mod cmd;

use crate::kind::{Kind, Registry};

/// Every kind of this crate.
pub const KINDS: &[Kind] = &[cmd::KIND];

/// Adds the engine's own kinds to `registry`.
pub fn register(registry: &mut Registry) {
    registry.add_all(KINDS);
}
