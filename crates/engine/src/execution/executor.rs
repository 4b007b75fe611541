//! Where stages that must run are run. The scheduler decides *what* runs
//! (the planner) and *when* (inputs done); an [`Executor`] decides *where*
//! and how many at once: [`local::Local`] on this machine's threads with
//! `--jobs` CPU slots and GPU tokens; a cluster executor as jobs (the
//! `pipe-slurm` crate). An executor gets a [`Job`] (plain data) and gives
//! back, per job, the stage's manifest or its error; whatever runs the job
//! stores the result through the cache's entry protocol
//! ([`attempt::run`], here or on a node via `pipe run-job`).

pub mod attempt;
pub mod local;

use std::time::Duration;

use crate::error::{Error, Result};
use crate::execution::cache::manifest::Manifest;
use crate::execution::job::Job;
use crate::format::pipeline::StageId;

/// What became of one job.
pub enum Outcome {
    /// Ran and stored; how long it ran.
    Ran(Manifest, Duration),
    /// Another `pipe` computed it while this one waited for the key's lock.
    Cached(Manifest),
}

/// A job that ended.
pub struct Finished {
    pub id: StageId,
    /// `Err(Error::Cancelled)` when the run was interrupted.
    pub result: Result<Outcome>,
}

/// The answer to [`Executor::start`].
pub enum Start {
    Started,
    /// No room now (CPU slots, GPUs); offer it again after a job ends.
    Later(Job),
    /// It can never run here (more GPUs than exist).
    Never(Job, Error),
}

pub trait Executor {
    /// Starts `job` if there is room for it now.
    fn start(&mut self, job: Job) -> Start;
    /// Waits at most `timeout` for a started job to end.
    fn wait(&mut self, timeout: Duration) -> Option<Finished>;
    /// Jobs started and not yet returned by [`Executor::wait`].
    fn in_flight(&self) -> usize;
    /// The run is interrupted: stop what runs. Each started job still comes
    /// back through [`Executor::wait`] (as cancelled, or done if it ended).
    fn cancel(&mut self);
}
