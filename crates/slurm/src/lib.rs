//! pipe's SLURM client: runs stages as batch jobs through the SLURM
//! command-line tools (`sbatch --parsable`, `squeue`, `scancel`, `sacct`
//! where accounting exists), never libslurm, whose ABI is tied to one SLURM
//! release.
//!
//! A [`Run`] submits each stage as a generated job script ([`job`]) under
//! one job name per run, follows all of its jobs with one `squeue` per
//! poll on a backing-off schedule ([`backoff`]), trusts the stage's own
//! result file on the shared filesystem over the controller, turns every
//! failure state into a clear error with the job's log tail ([`state`]),
//! cancels them all with one `scancel`, and re-attaches to its jobs after
//! its client died ([`record`]). [`resources`] turns a stage's typed request
//! (the engine's [`Resources`]) into sbatch flags; [`probe`] checks with a tiny job that the nodes see
//! the cache dir; [`relay`] writes a stage's progress on the node for
//! [`progress`] to read on the client; [`status`] lists a run's jobs for `pipe status`. Knows no
//! machine learning and no pipeline format.

pub mod backoff;
pub mod executor;
pub mod job;
pub mod probe;
pub mod progress;
pub mod record;
pub mod relay;
pub mod resources;
pub mod run;
pub mod state;
pub mod status;
pub mod testing;
pub mod tools;

pub use job::{JobFiles, JobSpec};
pub use pipe_engine::format::resources::{Memory, Resources, TimeLimit};
pub use resources::{sbatch_flags, GpuFlag};
pub use run::{Config, Event, Run, Submitted};
pub use state::{JobState, Phase};
pub use tools::{Calls, JobId, Listed, Tools};
