//! The SLURM command-line tools, the client's only way to the cluster.
//!
//! Never libslurm: its ABI changes with every SLURM release, while the
//! tools' `--parsable`/`--format` output has been stable for a decade. Each
//! call is counted ([`Tools::calls`]), since calls on the controller are
//! what a cluster's administrators watch.

use std::ffi::OsStr;
use std::fmt;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicU64, Ordering};

use pipe_engine::{Error, Result};

use crate::state::JobState;

/// A SLURM job id as sbatch printed it.
#[derive(
    Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize, serde::Deserialize,
)]
#[serde(transparent)]
pub struct JobId(pub String);

impl fmt::Display for JobId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// One job as squeue lists it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Listed {
    pub job: JobId,
    pub state: JobState,
    /// The job's `--comment`: the key of the stage it runs.
    pub comment: String,
}

/// Where the tools are (by default, found on `PATH`) and how often each
/// was called.
#[derive(Debug)]
pub struct Tools {
    pub sbatch: PathBuf,
    pub squeue: PathBuf,
    pub scancel: PathBuf,
    pub sacct: PathBuf,
    counts: [AtomicU64; 4],
}

/// How many times each tool was called.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Calls {
    pub sbatch: u64,
    pub squeue: u64,
    pub scancel: u64,
    pub sacct: u64,
}

const SQUEUE_FORMAT: &str = "%i|%T|%k";

impl Default for Tools {
    fn default() -> Tools {
        Tools::in_dir(None)
    }
}

impl Tools {
    /// The tools in `dir`, or on `PATH` when `None`.
    pub fn in_dir(dir: Option<&Path>) -> Tools {
        let at = |name: &str| dir.map_or_else(|| PathBuf::from(name), |d| d.join(name));
        Tools {
            sbatch: at("sbatch"),
            squeue: at("squeue"),
            scancel: at("scancel"),
            sacct: at("sacct"),
            counts: Default::default(),
        }
    }

    pub fn calls(&self) -> Calls {
        let n = |i: usize| self.counts[i].load(Ordering::Relaxed);
        Calls {
            sbatch: n(0),
            squeue: n(1),
            scancel: n(2),
            sacct: n(3),
        }
    }

    /// Runs a tool, returning its stdout, or its stderr in an error.
    fn run<S: AsRef<OsStr>>(&self, which: usize, args: &[S]) -> Result<String> {
        let program = [&self.sbatch, &self.squeue, &self.scancel, &self.sacct][which];
        self.counts[which].fetch_add(1, Ordering::Relaxed);
        let output = Command::new(program).args(args).output().map_err(|e| {
            Error::environment(format!("cannot run `{}`: {e}", program.display())).with_hint(
                "pipe submits to SLURM through its command-line tools; run `pipe` on a login node, \
                 or put sbatch, squeue and scancel on PATH",
            )
        })?;
        if !output.status.success() {
            let said = String::from_utf8_lossy(&output.stderr);
            let mut message = format!("`{}` failed ({})", program.display(), output.status);
            for line in said.trim().lines() {
                message.push_str("\n  | ");
                message.push_str(line);
            }
            return Err(Error::environment(message));
        }
        Ok(String::from_utf8_lossy(&output.stdout).into_owned())
    }

    /// Submits a job script; `--parsable` prints `id` or `id;cluster`.
    pub fn sbatch(&self, script: &Path) -> Result<JobId> {
        let out = self.run(0, &[OsStr::new("--parsable"), script.as_os_str()])?;
        let id = out
            .lines()
            .last()
            .unwrap_or("")
            .split(';')
            .next()
            .unwrap_or("")
            .trim();
        if id.is_empty() || !id.bytes().all(|b| b.is_ascii_digit()) {
            return Err(Error::environment(format!(
                "`sbatch --parsable` printed `{}`, not a job id",
                out.trim()
            )));
        }
        Ok(JobId(id.to_string()))
    }

    /// Every job named `name` that the controller still knows, finished
    /// ones included (they stay listed for its `MinJobAge`, 300 s by
    /// default): one call, however many jobs the run has.
    pub fn squeue(&self, name: &str) -> Result<Vec<Listed>> {
        let out = self.run(
            1,
            &[
                "--noheader",
                "--states=all",
                &format!("--name={name}"),
                &format!("--format={SQUEUE_FORMAT}"),
            ],
        )?;
        Ok(out
            .lines()
            .filter_map(|line| {
                let mut f = line.splitn(3, '|');
                let job = f.next()?.trim();
                let state = f.next()?.trim();
                let comment = f.next().unwrap_or("").trim();
                (!job.is_empty()).then(|| Listed {
                    job: JobId(job.to_string()),
                    state: JobState::parse(state),
                    comment: if comment == "(null)" {
                        String::new()
                    } else {
                        comment.to_string()
                    },
                })
            })
            .collect())
    }

    /// Whether `sacct` answers (a cluster with an accounting database).
    /// Asked once per run: without slurmdbd it fails at once with
    /// "Slurm accounting storage is disabled".
    pub fn has_accounting(&self) -> bool {
        self.run(
            3,
            &["--noheader", "--allocations", "--jobs=1", "--format=JobID"],
        )
        .is_ok()
    }

    /// The final states of jobs that left squeue, from accounting: one call.
    pub fn sacct(&self, jobs: &[JobId]) -> Result<Vec<(JobId, JobState)>> {
        let ids: Vec<&str> = jobs.iter().map(|j| j.0.as_str()).collect();
        let out = self.run(
            3,
            &[
                "--noheader",
                "--parsable2",
                "--allocations",
                &format!("--jobs={}", ids.join(",")),
                "--format=JobID,State",
            ],
        )?;
        Ok(out
            .lines()
            .filter_map(|line| {
                let (job, state) = line.split_once('|')?;
                Some((JobId(job.trim().to_string()), JobState::parse(state)))
            })
            .collect())
    }

    /// Cancels jobs, a thousand ids per call.
    pub fn scancel(&self, jobs: &[JobId]) -> Result<()> {
        for chunk in jobs.chunks(1000) {
            let ids: Vec<&str> = chunk.iter().map(|j| j.0.as_str()).collect();
            self.run(2, &ids)?;
        }
        Ok(())
    }
}
