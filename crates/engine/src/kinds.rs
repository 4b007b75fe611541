//! The stage kinds the engine itself ships (`cmd`), one file per kind.

pub mod cmd;
