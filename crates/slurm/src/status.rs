//! What a run's jobs are doing, for `pipe status` (a process other than the
//! one that submitted them): the re-attach record plus one squeue.

use std::path::Path;

use pipe_engine::Result;

use crate::record::{Record, Recorded};
use crate::state::JobState;
use crate::tools::Tools;

/// Every job in the run's record with the state squeue gives it (`None`:
/// squeue no longer knows it), in stage-key order.
pub fn jobs(tools: &Tools, state_dir: &Path) -> Result<Vec<(String, Recorded, Option<JobState>)>> {
    let Some(record) = Record::load(state_dir)? else {
        return Ok(Vec::new());
    };
    if record.jobs.is_empty() {
        return Ok(Vec::new());
    }
    let listing = tools.squeue(&record.name)?;
    Ok(record
        .jobs
        .into_iter()
        .map(|(key, r)| {
            let state = listing
                .iter()
                .find(|l| l.job == r.job)
                .map(|l| l.state.clone());
            (key, r, state)
        })
        .collect())
}
