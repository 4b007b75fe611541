//! The client against the real local SLURM (`scripts/slurm-up.sh`): every
//! job here is scheduled by slurmctld and run by slurmd. Without a
//! reachable SLURM these tests skip with a note, except under `CI=true`,
//! where they fail.

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::Duration;

use pipe_engine::worker::Event as Progress;
use pipe_slurm::{Config, Event, JobSpec, Resources, Run, Submitted, Tools};
use serde_json::json;

use pipe_slurm::testing::slurm_or_skip as slurm;

static N: AtomicUsize = AtomicUsize::new(0);

/// A job name unique to this test process and call.
fn unique_name() -> String {
    format!(
        "pipe-test-{}-{}",
        std::process::id(),
        N.fetch_add(1, Ordering::Relaxed)
    )
}

fn config() -> Config {
    Config {
        first_poll: Duration::from_millis(200),
        max_poll: Duration::from_secs(3),
        nfs_grace: Duration::from_secs(5),
        ..Config::default()
    }
}

/// A stage running `shell` with a small memory request, so that jobs of
/// tests running at once share the node.
fn spec(dir: &Path, key: &str, shell: &str, resources: serde_json::Value) -> JobSpec {
    let mut r = json!({"mem": "64M"});
    let mut resources = resources.as_object().unwrap().clone();
    let gpus = resources
        .remove("gpus")
        .and_then(|g| g.as_u64())
        .map_or(0, |g| u32::try_from(g).unwrap());
    r.as_object_mut().unwrap().extend(resources);
    JobSpec {
        key: key.into(),
        stage: format!("stage {key}"),
        work: dir.join(key),
        cwd: dir.to_path_buf(),
        command: vec!["bash".into(), "-c".into(), shell.into()],
        env: vec![("GREETING".into(), "it's here".into())],
        resources: Resources::from_value(&pipe_engine::Value::from_json(&r)).unwrap(),
        gpus,
    }
}

/// Submits one stage and follows it to its end: its outcome and events.
fn run_one(
    shell: &str,
    resources: serde_json::Value,
) -> (
    Result<(), pipe_engine::Error>,
    Vec<Event>,
    tempfile::TempDir,
) {
    let dir = tempfile::tempdir().unwrap();
    let mut run = Run::open(
        Tools::default(),
        config(),
        &dir.path().join("state"),
        &unique_name(),
    )
    .unwrap();
    let spec = spec(dir.path(), "k1", shell, resources);
    assert!(matches!(run.submit(&spec).unwrap(), Submitted::New(_)));
    let mut events = Vec::new();
    run.wait(&AtomicBool::new(false), |e| events.push(e))
        .unwrap();
    let outcome = events
        .iter_mut()
        .find_map(|e| match e {
            Event::Finished { outcome, .. } => Some(std::mem::replace(outcome, Ok(()))),
            _ => None,
        })
        .expect("a finished event");
    (outcome, events, dir)
}

#[test]
fn a_job_completes_with_its_environment_and_relays_progress() {
    if !slurm() {
        return;
    }
    let (outcome, events, dir) = run_one(
        r#"echo "greeting: $GREETING"; echo '{"event":"message","text":"epoch 1"}' >> "$PIPE_PROGRESS""#,
        json!({"time": "2:00"}),
    );
    outcome.unwrap();
    let log = std::fs::read_to_string(dir.path().join("k1/slurm.log")).unwrap();
    assert!(log.contains("greeting: it's here"), "{log}");
    assert!(
        events.iter().any(|e| matches!(e, Event::Progress { event: Progress::Message { text }, .. } if text == "epoch 1")),
        "{events:?}"
    );
}

#[test]
fn a_failing_job_reports_its_exit_code_state_and_log_tail() {
    if !slurm() {
        return;
    }
    let (outcome, _, _dir) = run_one("echo first; echo 'the last words'; exit 3", json!({}));
    let e = outcome.unwrap_err().to_string();
    assert!(e.contains("FAILED, exit code 3"), "{e}");
    assert!(e.contains("  first\n  the last words"), "{e}");
    assert!(e.contains("SLURM job "), "{e}");
}

#[test]
fn a_gpu_job_sees_the_one_gpu_slurm_gave_it() {
    if !slurm() {
        return;
    }
    let (outcome, _, dir) = run_one(
        r#"echo "visible=[$CUDA_VISIBLE_DEVICES]""#,
        json!({"gpus": 1}),
    );
    outcome.unwrap();
    let log = std::fs::read_to_string(dir.path().join("k1/slurm.log")).unwrap();
    let visible = log
        .split("visible=[")
        .nth(1)
        .and_then(|s| s.split(']').next())
        .unwrap();
    assert!(
        !visible.is_empty() && visible.split(',').count() == 1 && visible.parse::<u32>().is_ok(),
        "expected one GPU index, got `{visible}`"
    );
}

/// Slow (about 90 s): SLURM checks time limits about every 30 s.
#[test]
fn a_job_over_its_time_limit_is_reported_as_timeout() {
    if !slurm() {
        return;
    }
    let (outcome, _, _dir) = run_one("echo started; sleep 600", json!({"time": 1}));
    let e = outcome.unwrap_err();
    let text = e.to_string();
    assert!(text.contains("TIMEOUT"), "{text}");
    assert!(text.contains("started"), "{text}");
    assert!(e.hint().unwrap().contains("time"), "{:?}", e.hint());
}

/// The names of jobs squeue lists as queued or running under `name`.
fn queued(name: &str) -> Vec<String> {
    let out = Command::new("squeue")
        .args(["--noheader", &format!("--name={name}"), "--format=%i"])
        .output()
        .unwrap();
    String::from_utf8(out.stdout)
        .unwrap()
        .split_whitespace()
        .map(String::from)
        .collect()
}

/// Every job squeue still knows under `name`, finished ones included.
fn all_jobs(name: &str) -> Vec<String> {
    let out = Command::new("squeue")
        .args([
            "--noheader",
            "--states=all",
            &format!("--name={name}"),
            "--format=%i",
        ])
        .output()
        .unwrap();
    let mut ids: Vec<String> = String::from_utf8(out.stdout)
        .unwrap()
        .split_whitespace()
        .map(String::from)
        .collect();
    ids.sort();
    ids
}

/// Starts `slurm-drive` and reads its stdout until `n` jobs are submitted
/// or re-attached: the child, the job ids, and whether each was new.
fn drive(
    dir: &Path,
    name: &str,
    n: usize,
    shell: &str,
) -> (
    std::process::Child,
    BufReader<std::process::ChildStdout>,
    Vec<(String, bool)>,
) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_slurm-drive"))
        .args([
            "--state",
            &dir.join("state").to_string_lossy(),
            "--work",
            &dir.join("work").to_string_lossy(),
        ])
        .args(["--jobs", &n.to_string(), "--name", name, "--command", shell])
        .args([
            "--first-poll-ms",
            "200",
            "--max-poll-ms",
            "2000",
            "--grace-ms",
            "5000",
        ])
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut out = BufReader::new(child.stdout.take().unwrap());
    let mut jobs = Vec::new();
    let mut line = String::new();
    while jobs.len() < n {
        line.clear();
        assert!(
            out.read_line(&mut line).unwrap() > 0,
            "slurm-drive ended early"
        );
        let words: Vec<&str> = line.split_whitespace().collect();
        match words.as_slice() {
            ["submitted", _, job] => jobs.push((job.to_string(), true)),
            ["reattached", _, job] => jobs.push((job.to_string(), false)),
            _ => {}
        }
    }
    (child, out, jobs)
}

#[test]
fn sigint_cancels_every_job_of_the_run_and_exits_130() {
    if !slurm() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let name = unique_name();
    let (mut child, _out, jobs) = drive(dir.path(), &name, 4, "sleep 300");
    assert_eq!(queued(&name).len(), 4);
    // SAFETY: a plain kill(2) of our own child.
    unsafe { libc::kill(child.id() as i32, libc::SIGINT) };
    let status = child.wait().unwrap();
    assert_eq!(status.code(), Some(130));
    assert_eq!(
        queued(&name),
        Vec::<String>::new(),
        "jobs {jobs:?} left in squeue"
    );
}

#[test]
fn a_restarted_client_reattaches_instead_of_submitting_again() {
    if !slurm() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let name = unique_name();
    let (mut first, _out, jobs) = drive(dir.path(), &name, 3, "sleep 6");
    assert!(jobs.iter().all(|(_, new)| *new));
    first.kill().unwrap(); // SIGKILL: no chance to cancel or clean up
    first.wait().unwrap();
    assert_eq!(queued(&name).len(), 3, "the jobs outlive their client");
    let status = Command::new(env!("CARGO_BIN_EXE_slurm-drive"))
        .args([
            "--status",
            "--state",
            &dir.path().join("state").to_string_lossy(),
        ])
        .output()
        .unwrap();
    let status = String::from_utf8(status.stdout).unwrap();
    let listed: Vec<&str> = status.lines().collect();
    assert_eq!(listed.len(), 3, "{status}");
    for ((key, (job, _)), line) in ["s0", "s1", "s2"].iter().zip(&jobs).zip(&listed) {
        let words: Vec<&str> = line.split_whitespace().collect();
        assert_eq!(&words[..2], [*key, job.as_str()], "{status}");
        assert!(["PENDING", "RUNNING"].contains(&words[2]), "{status}");
    }

    let (mut second, out, again) = drive(dir.path(), &name, 3, "sleep 6");
    let ids = |v: &[(String, bool)]| v.iter().map(|(j, _)| j.clone()).collect::<Vec<_>>();
    assert_eq!(ids(&again), ids(&jobs));
    assert!(again.iter().all(|(_, new)| !*new), "{again:?}");
    assert!(second.wait().unwrap().success());
    let rest: Vec<String> = out.lines().map(Result::unwrap).collect();
    assert_eq!(
        rest.iter().filter(|l| l.starts_with("done ")).count(),
        3,
        "{rest:?}"
    );
    let mut expected = ids(&jobs);
    expected.sort();
    assert_eq!(all_jobs(&name), expected, "a job was submitted twice");
}

/// The shared dir check of `dir`, placed in `partition`, running `program`.
fn check(dir: &Path, partition: &str, program: Option<&Path>) -> pipe_engine::Result<()> {
    let place = Resources {
        partition: Some(partition.into()),
        ..Resources::default()
    };
    let stop = AtomicBool::new(false);
    pipe_slurm::probe::check_shared(Tools::default(), config(), dir, &place, program, &stop)
}

/// The node runs the program it is given; one it cannot run (not there, or
/// failing) is named with what it said.
#[test]
fn the_shared_dir_check_runs_the_program_every_job_will() {
    if !slurm() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let ok = dir.path().join("ok.sh");
    std::fs::write(&ok, "#!/bin/sh\necho tool 1.0\n").unwrap();
    let broken = dir.path().join("broken.sh");
    std::fs::write(
        &broken,
        "#!/bin/sh\necho 'GLIBC_2.39 not found' >&2; exit 1\n",
    )
    .unwrap();
    for script in [&ok, &broken] {
        let mode = std::os::unix::fs::PermissionsExt::from_mode(0o755);
        std::fs::set_permissions(script, mode).unwrap();
    }
    check(dir.path(), "debug", Some(&ok)).unwrap();
    let e = check(dir.path(), "debug", Some(&broken)).unwrap_err();
    let text = e.to_string();
    assert!(text.contains("the SLURM nodes cannot run"), "{text}");
    assert!(
        text.contains("exit status 1: GLIBC_2.39 not found"),
        "{text}"
    );
    let missing = dir.path().join("not-there");
    let e = check(dir.path(), "debug", Some(&missing)).unwrap_err();
    assert!(e.to_string().contains("exit status 127"), "{e}");
    assert!(
        e.hint().unwrap().contains("a path the nodes share"),
        "{e:?}"
    );
}

#[test]
fn the_shared_dir_check_passes_where_the_node_sees_the_dir() {
    if !slurm() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    // In the partition the run's first job names (here the only one).
    check(dir.path(), "debug", None).unwrap();
    let left: Vec<_> = std::fs::read_dir(dir.path().join(".slurm-probe"))
        .unwrap()
        .collect();
    assert!(
        left.is_empty(),
        "the probe cleans up after itself: {left:?}"
    );
}

/// A cluster that refuses the check's job (here: a partition it does not
/// have) gets what sbatch said, not a verdict on the filesystem.
#[test]
fn a_shared_dir_check_that_sbatch_refuses_says_so() {
    if !slurm() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let e = check(dir.path(), "no-such-partition", None).unwrap_err();
    let text = format!("{e}\nhint: {}", e.hint().unwrap_or(""));
    for part in [
        "its SLURM job was not submitted",
        "| sbatch: error:",
        "`--partition=no-such-partition`",
    ] {
        assert!(text.contains(part), "{part:?} missing: {text}");
    }
    assert!(!text.contains("mount"), "{text}");
}

/// The client runs in its own mount namespace with a tmpfs over the dir:
/// it sees a different filesystem there than slurmd does, as a login node
/// whose cache dir is not the nodes' would.
#[test]
fn the_shared_dir_check_fails_clearly_where_the_node_sees_another_filesystem() {
    if !slurm() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path().display();
    let out = Command::new("unshare")
        .args(["--mount", "--propagation", "private", "sh", "-c"])
        .arg(format!(
            "mount -t tmpfs none '{d}' && exec '{}' --probe '{d}' --first-poll-ms 200 --max-poll-ms 1000 --grace-ms 3000",
            env!("CARGO_BIN_EXE_slurm-drive")
        ))
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(3), "{stderr}");
    assert!(
        stderr.contains(&format!("the SLURM nodes cannot use the cache dir `{d}`")),
        "{stderr}"
    );
    assert!(
        stderr.contains("hint: the cache dir must be on a filesystem"),
        "{stderr}"
    );
}
