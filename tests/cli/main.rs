//! The `pipe` binary's integration tests, in one target (one link, one
//! process) sharing one [`common::project::Project`] helper: each test
//! drives the real `pipe` (and `pipe-torch`) in its own temporary project.

mod common;

mod architecture;
mod broken_pipe;
mod cache;
mod check;
mod docs;
mod e2e_quick;
mod experiments;
mod inputs;
mod integrity;
mod linking;
mod progress;
mod remote;
mod run;
mod run_processes;
mod slurm;
mod slurm_quick;
mod stage_limits;
mod status;
mod worker;
