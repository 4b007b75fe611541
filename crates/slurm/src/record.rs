//! The re-attach record: which job runs which stage key, in the run's state
//! dir (`slurm-jobs.json`), replaced atomically after every submission.
//!
//! A `pipe run` restarted after its client died (kill -9, a dropped ssh
//! session) reads it, and finds its jobs again instead of submitting them a
//! second time. Jobs are also tagged with their key (`--comment`), so a job
//! submitted in the instant before the record was written is found too.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use pipe_engine::{Error, Result};
use serde::{Deserialize, Serialize};

use crate::tools::JobId;

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Record {
    /// The run's job name.
    pub name: String,
    /// Stage key -> its job.
    pub jobs: BTreeMap<String, Recorded>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Recorded {
    pub job: JobId,
    pub stage: String,
    pub work: PathBuf,
}

pub const FILE: &str = "slurm-jobs.json";

impl Record {
    /// The record in `state_dir`, if a run left one.
    pub fn load(state_dir: &Path) -> Result<Option<Record>> {
        let path = state_dir.join(FILE);
        let text = match std::fs::read_to_string(&path) {
            Ok(text) => text,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(Error::io(&path, "read", e)),
        };
        serde_json::from_str(&text).map(Some).map_err(|e| {
            Error::bad_data(&path, format!("not a SLURM job record: {e}")).with_hint(
                "delete it; jobs of the interrupted run that are still queued can be seen with `squeue --me`",
            )
        })
    }

    pub fn save(&self, state_dir: &Path) -> Result<()> {
        std::fs::create_dir_all(state_dir).map_err(|e| Error::io(state_dir, "create", e))?;
        let bytes = serde_json::to_vec_pretty(self).map_err(|e| Error::internal(e.to_string()))?;
        pipe_engine::cache::atomic::write(&state_dir.join(FILE), &bytes, true)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_and_rejects_garbage() {
        let dir = tempfile::tempdir().unwrap();
        assert_eq!(Record::load(dir.path()).unwrap(), None);
        let mut r = Record {
            name: "pipe-x".into(),
            ..Record::default()
        };
        r.jobs.insert(
            "k".into(),
            Recorded {
                job: JobId("12".into()),
                stage: "s".into(),
                work: "/w".into(),
            },
        );
        r.save(dir.path()).unwrap();
        assert_eq!(Record::load(dir.path()).unwrap(), Some(r));
        std::fs::write(dir.path().join(FILE), "{").unwrap();
        let e = Record::load(dir.path()).unwrap_err();
        assert!(e.to_string().contains("not a SLURM job record"), "{e}");
    }
}
