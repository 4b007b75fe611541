//! The stage kinds of this crate, one file each, and [`KINDS`], the list
//! `register` in `lib.rs` adds to the registry.

pub mod plot;
pub mod report;

use pipe_engine::Kind;

/// Every kind of this crate.
pub const KINDS: &[Kind] = &[plot::KIND, report::KIND];
