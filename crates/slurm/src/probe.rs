//! The check at the start of a run that the nodes see the cache dir: a tiny
//! job reads a token the login node just wrote there and writes it back.
//!
//! Stages' outputs, logs and result files all go through the cache dir, so
//! a node that cannot see it would fail every stage, late and obscurely
//! (a result file that never appears); this fails once, at the start, and
//! says why.

use std::path::Path;
use std::sync::atomic::AtomicBool;
use std::time::{SystemTime, UNIX_EPOCH};

use pipe_engine::{Error, Result};

use crate::job::JobSpec;
use crate::run::{Config, Event, Run};
use crate::tools::Tools;
use pipe_engine::format::resources::Resources;

/// Runs the probe job against `dir` (which must exist) and waits for it.
pub fn check_shared(tools: Tools, config: Config, dir: &Path, cancel: &AtomicBool) -> Result<()> {
    let stamp = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos());
    let token = format!("{}-{stamp}", std::process::id());
    let probe = dir.join(".slurm-probe").join(&token);
    std::fs::create_dir_all(&probe).map_err(|e| Error::io(&probe, "create", e))?;
    let (sent, seen) = (probe.join("token"), probe.join("seen"));
    std::fs::write(&sent, &token).map_err(|e| Error::io(&sent, "write", e))?;
    let result = (|| {
        let mut run = Run::open(tools, config, &probe, &format!("pipe-probe-{token}"))?;
        run.submit(&JobSpec {
            key: "probe".into(),
            stage: "shared filesystem check".into(),
            work: probe.join("job"),
            cwd: probe.clone(),
            command: vec![
                "bash".into(),
                "-c".into(),
                r#"cat "$1" > "$2""#.into(),
                "probe".into(),
                sent.to_string_lossy().into_owned(),
                seen.to_string_lossy().into_owned(),
            ],
            env: vec![],
            resources: Resources {
                mem: crate::Memory::from_megabytes(16),
                ..Resources::default()
            },
            gpus: 0,
        })?;
        let mut outcome = Ok(());
        run.wait(cancel, |e| {
            if let Event::Finished { outcome: o, .. } = e {
                outcome = o;
            }
        })?;
        outcome?;
        match std::fs::read_to_string(&seen) {
            Ok(text) if text == token => Ok(()),
            _ => Err(Error::failed(format!(
                "the job did not write back `{}`",
                seen.display()
            ))),
        }
    })();
    let _ = std::fs::remove_dir_all(&probe);
    result.map_err(|e| match e {
        Error::Cancelled => e,
        e => Error::Environment {
            message: format!(
                "the SLURM nodes cannot use the cache dir `{}`: a test job failed: {e}",
                dir.display()
            ),
            hint: Some(
                "the cache dir must be on a filesystem that this machine and every node mount at \
                 the same path (see docs/slurm.md, \"What must be shared\")"
                    .into(),
            ),
        },
    })
}
