//! Execution: a resolved [`Pipeline`](crate::Pipeline) in, cached results out.
//!
//! `cache` (the content-addressed store), `scheduler` (`pipe run`),
//! `status` and `explain` (why a stage would run), `gpu` (the GPU token
//! pool) and `lock`. Must not know: YAML or any other part of the format
//! beyond the resolved `Pipeline`.

pub mod cache;
pub mod executor;
pub mod explain;
pub mod gpu;
pub mod job;
pub mod lock;
pub mod planner;
pub mod scheduler;
pub mod status;
