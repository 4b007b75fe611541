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
use crate::resources::{shown_flags, GpuFlag, SINFO_HINT};
use crate::run::{Config, Event, Run};
use crate::tools::Tools;
use pipe_engine::format::resources::Resources;

/// Runs the probe job against `dir` (which must exist) and waits for it.
/// It goes where `place` says (its partition, account and `extra` flags:
/// those of the stage about to be submitted, since a cluster may refuse a
/// job without an account or partition), with a few megabytes and minutes
/// of its own. Where `program` is given (`pipe`, which every job runs), the
/// job also runs `program --version`.
///
/// A job sbatch refuses is an [`Error::Failed`] (the stage's failure);
/// a node that cannot see `dir` or cannot run `program` is an
/// [`Error::Environment`] that says which.
pub fn check_shared(
    tools: Tools,
    config: Config,
    dir: &Path,
    place: &Resources,
    program: Option<&Path>,
    cancel: &AtomicBool,
) -> Result<()> {
    let stamp = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos());
    let token = format!("{}-{stamp}", std::process::id());
    let probe = dir.join(".slurm-probe").join(&token);
    std::fs::create_dir_all(&probe).map_err(|e| Error::io(&probe, "create", e))?;
    let (sent, seen, ran) = (probe.join("token"), probe.join("seen"), probe.join("ran"));
    std::fs::write(&sent, &token).map_err(|e| Error::io(&sent, "write", e))?;
    let program_arg = program.map_or_else(String::new, |p| p.to_string_lossy().into_owned());
    let verdict = (|| {
        let mut run = Run::open(tools, config, &probe, &format!("pipe-probe-{token}"))
            .map_err(Verdict::Unshared)?;
        run.submit(&JobSpec {
            key: "probe".into(),
            stage: "shared filesystem check".into(),
            work: probe.join("job"),
            cwd: probe.clone(),
            command: vec![
                "bash".into(),
                "-c".into(),
                PROBE_SCRIPT.into(),
                "probe".into(),
                sent.to_string_lossy().into_owned(),
                seen.to_string_lossy().into_owned(),
                program_arg.clone(),
                ran.to_string_lossy().into_owned(),
            ],
            env: vec![],
            resources: Resources {
                mem: crate::Memory::from_megabytes(16),
                time: crate::TimeLimit::from_minutes(5),
                cpus: None,
                ..place.clone()
            },
            gpus: 0,
        })
        .map_err(|e| match e {
            Error::Failed { .. } => Verdict::Refused(e),
            e => Verdict::NotSubmitted(e),
        })?;
        let mut outcome = Ok(());
        run.wait(cancel, |e| {
            if let Event::Finished { outcome: o, .. } = e {
                outcome = o;
            }
        })
        .map_err(Verdict::Unshared)?;
        outcome.map_err(Verdict::Unshared)?;
        match std::fs::read_to_string(&seen) {
            Ok(text) if text == token => {}
            _ => {
                return Err(Verdict::Unshared(Error::failed(format!(
                    "the job did not write back `{}`",
                    seen.display()
                ))))
            }
        }
        if program.is_none() {
            return Ok(());
        }
        match std::fs::read_to_string(&ran) {
            Ok(said) if said == "ok\n" => Ok(()),
            Ok(said) => Err(Verdict::CannotRun(said.trim().to_string())),
            Err(e) => Err(Verdict::CannotRun(format!("no word from it ({e})"))),
        }
    })();
    let _ = std::fs::remove_dir_all(&probe);
    match verdict {
        Ok(()) => Ok(()),
        Err(Verdict::Unshared(Error::Cancelled)) => Err(Error::Cancelled),
        // Refused where the stage would go: the stage's failure, not the
        // run's (the next stage's check may go elsewhere).
        Err(Verdict::Refused(e)) => Err(Error::Failed {
            message: format!(
                "the check that the SLURM nodes see the cache dir (a tiny job, placed as this \
                 stage's) failed: {e}"
            ),
            hint: Some(placed(place)),
        }),
        Err(Verdict::NotSubmitted(e)) => Err(Error::Environment {
            message: format!(
                "the check that the SLURM nodes see the cache dir `{}` failed: {e}",
                dir.display()
            ),
            hint: e.hint().map(str::to_string),
        }),
        Err(Verdict::CannotRun(said)) => Err(Error::Environment {
            message: format!("the SLURM nodes cannot run `{program_arg} --version`: {said}"),
            hint: Some(
                "the stages' jobs run this program: it must be at a path the nodes share (the \
                 project directory, not a login node's own disk), built for their system, with \
                 its libraries (libtorch) where they find them"
                    .into(),
            ),
        }),
        Err(Verdict::Unshared(e)) => Err(Error::Environment {
            message: format!(
                "the SLURM nodes cannot use the cache dir `{}`: a test job failed: {e}",
                dir.display()
            ),
            hint: Some(
                "the cache dir must be on a filesystem that this machine and every node mount at \
                 the same path (see docs/slurm.md, \"What must be shared\")"
                    .into(),
            ),
        }),
    }
}

/// What the probe job found; `Unshared` covers any failure before the
/// token came back.
enum Verdict {
    /// sbatch said no.
    Refused(Error),
    /// Not submitted for a reason of pipe's own (a path sbatch cannot take).
    NotSubmitted(Error),
    Unshared(Error),
    /// What running the program said.
    CannotRun(String),
}

/// The probe job: copy the token back (`$1` to `$2`), then run `$3
/// --version` (if given) and say in `$4` how it went.
const PROBE_SCRIPT: &str = r#"cat "$1" > "$2" || exit 1
[ -z "$3" ] && exit 0
if said=$("$3" --version 2>&1); then echo ok > "$4"; else echo "exit status $?: $said" | tail -c 2000 > "$4"; fi"#;

/// What the check asked for beyond its own memory and time, for the hint
/// of a check sbatch refused.
fn placed(place: &Resources) -> String {
    let placement = Resources {
        partition: place.partition.clone(),
        account: place.account.clone(),
        extra: place.extra.clone(),
        ..Resources::default()
    };
    let asked = shown_flags(&placement, 0, GpuFlag::Gpus)
        .unwrap_or_else(|| "no partition or account (the cluster's defaults)".to_string());
    format!(
        "it asked for {asked}, as the stage's `resources:` (filled in from the file's) do; \
         {SINFO_HINT}"
    )
}
