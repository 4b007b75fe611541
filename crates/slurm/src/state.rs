//! SLURM job states, as `squeue --format=%T` and `sacct --format=State`
//! print them, and what each one means for the stage.

use std::fmt;

/// A job state. `Other` keeps a state this client does not know by name
/// (a newer SLURM) so that it can be waited on and shown.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum JobState {
    Pending,
    Configuring,
    Running,
    Completing,
    Suspended,
    Completed,
    Failed,
    Timeout,
    OutOfMemory,
    NodeFail,
    BootFail,
    Deadline,
    Cancelled,
    Preempted,
    Requeued,
    RequeueHold,
    Other(String),
}

/// What a state means for the stage whose job it is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Phase {
    /// Queued, or going to be again (preempted and requeued): keep waiting.
    Queued,
    /// On a node.
    Running,
    /// Ended well; the stage's result file says the rest.
    Completed,
    /// Ended badly; the job will not run again.
    Failed,
}

impl JobState {
    /// Parses a state word; sacct appends ` by <uid>` to CANCELLED and `+`
    /// to states of jobs with more to come, both ignored.
    pub fn parse(text: &str) -> JobState {
        let word = text.split_whitespace().next().unwrap_or("");
        let word = word.trim_end_matches('+');
        match word {
            "PENDING" | "PD" => JobState::Pending,
            "CONFIGURING" | "CF" => JobState::Configuring,
            "RUNNING" | "R" => JobState::Running,
            "COMPLETING" | "CG" => JobState::Completing,
            "SUSPENDED" | "S" => JobState::Suspended,
            "COMPLETED" | "CD" => JobState::Completed,
            "FAILED" | "F" => JobState::Failed,
            "TIMEOUT" | "TO" => JobState::Timeout,
            "OUT_OF_MEMORY" | "OOM" => JobState::OutOfMemory,
            "NODE_FAIL" | "NF" => JobState::NodeFail,
            "BOOT_FAIL" | "BF" => JobState::BootFail,
            "DEADLINE" | "DL" => JobState::Deadline,
            "CANCELLED" | "CA" => JobState::Cancelled,
            "PREEMPTED" | "PR" => JobState::Preempted,
            "REQUEUED" | "RQ" => JobState::Requeued,
            "REQUEUE_HOLD" | "RH" | "REQUEUE_FED" | "RF" => JobState::RequeueHold,
            other => JobState::Other(other.to_string()),
        }
    }

    pub fn phase(&self) -> Phase {
        match self {
            JobState::Pending
            | JobState::Configuring
            | JobState::Suspended
            | JobState::Preempted
            | JobState::Requeued
            | JobState::RequeueHold
            | JobState::Other(_) => Phase::Queued,
            JobState::Running | JobState::Completing => Phase::Running,
            JobState::Completed => Phase::Completed,
            JobState::Failed
            | JobState::Timeout
            | JobState::OutOfMemory
            | JobState::NodeFail
            | JobState::BootFail
            | JobState::Deadline
            | JobState::Cancelled => Phase::Failed,
        }
    }

    /// What a failure state means, for the stage's error.
    pub fn explain(&self) -> Option<&'static str> {
        Some(match self {
            JobState::Failed => "the job ended with a non-zero exit code",
            JobState::Timeout => "the job ran past its `time` limit and SLURM killed it",
            JobState::OutOfMemory => {
                "the job used more memory than its `mem` request and was killed"
            }
            JobState::NodeFail => "the node running the job failed",
            JobState::BootFail => "the node could not boot to run the job",
            JobState::Deadline => "the job reached its deadline before it could run",
            JobState::Cancelled => "someone cancelled the job: scancel, or an administrator",
            _ => return None,
        })
    }

    /// A hint for the stage's error.
    pub fn hint(&self) -> Option<&'static str> {
        Some(match self {
            JobState::Timeout => "raise the stage's `resources: {time: ...}`",
            JobState::OutOfMemory => "raise the stage's `resources: {mem: ...}`",
            JobState::NodeFail | JobState::BootFail => {
                "run again; SLURM usually drains a failed node (`sinfo -R` says why)"
            }
            JobState::Failed => "see the job's log for the command's own error",
            _ => return None,
        })
    }
}

impl fmt::Display for JobState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let name = match self {
            JobState::Pending => "PENDING",
            JobState::Configuring => "CONFIGURING",
            JobState::Running => "RUNNING",
            JobState::Completing => "COMPLETING",
            JobState::Suspended => "SUSPENDED",
            JobState::Completed => "COMPLETED",
            JobState::Failed => "FAILED",
            JobState::Timeout => "TIMEOUT",
            JobState::OutOfMemory => "OUT_OF_MEMORY",
            JobState::NodeFail => "NODE_FAIL",
            JobState::BootFail => "BOOT_FAIL",
            JobState::Deadline => "DEADLINE",
            JobState::Cancelled => "CANCELLED",
            JobState::Preempted => "PREEMPTED",
            JobState::Requeued => "REQUEUED",
            JobState::RequeueHold => "REQUEUE_HOLD",
            JobState::Other(s) => s,
        };
        f.write_str(name)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(text: &str, state: JobState, phase: Phase) {
        let s = JobState::parse(text);
        assert_eq!((s.clone(), s.phase()), (state, phase), "{text}");
    }

    #[test]
    fn squeue_and_sacct_words() {
        check("PENDING", JobState::Pending, Phase::Queued);
        check("PD", JobState::Pending, Phase::Queued);
        check("RUNNING", JobState::Running, Phase::Running);
        check("COMPLETING", JobState::Completing, Phase::Running);
        check("COMPLETED", JobState::Completed, Phase::Completed);
        check("FAILED", JobState::Failed, Phase::Failed);
        check("TIMEOUT", JobState::Timeout, Phase::Failed);
        check("OUT_OF_MEMORY", JobState::OutOfMemory, Phase::Failed);
        check("NODE_FAIL", JobState::NodeFail, Phase::Failed);
        check("CANCELLED by 0", JobState::Cancelled, Phase::Failed);
        check("PREEMPTED", JobState::Preempted, Phase::Queued);
        check("REQUEUED", JobState::Requeued, Phase::Queued);
        check("REQUEUE_HOLD", JobState::RequeueHold, Phase::Queued);
        check("RUNNING+", JobState::Running, Phase::Running);
        check(
            "RESV_DEL_HOLD",
            JobState::Other("RESV_DEL_HOLD".into()),
            Phase::Queued,
        );
    }

    #[test]
    fn every_failure_is_explained_and_displays_its_name() {
        for word in [
            "FAILED",
            "TIMEOUT",
            "OUT_OF_MEMORY",
            "NODE_FAIL",
            "BOOT_FAIL",
            "DEADLINE",
            "CANCELLED",
        ] {
            let s = JobState::parse(word);
            assert!(s.explain().is_some(), "{word}");
            assert_eq!(s.to_string(), word);
        }
    }
}
