//! States a real SLURM cannot be made to show on demand (NODE_FAIL,
//! PREEMPTED then requeued, a job the controller forgot, accounting, a busy
//! controller refusing squeue or sbatch), through shims of
//! sbatch, squeue and scancel: scripts in a temp dir that the client runs
//! instead of the real tools. The queue squeue prints is a file the test
//! rewrites between polls.

use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::time::Duration;

use pipe_slurm::{Config, Event, JobId, JobSpec, Resources, Run, Submitted, Tools};

struct Shims {
    dir: tempfile::TempDir,
}

impl Shims {
    fn new() -> Shims {
        let shims = Shims {
            dir: tempfile::tempdir().unwrap(),
        };
        let d = shims.dir.path().display().to_string();
        shims.tool("sbatch", "echo 4242");
        // squeue fails while a file `down` exists (a controller not answering).
        shims.tool(
            "squeue",
            &format!("[ -e '{d}/down' ] && {{ echo 'slurm_load_jobs error: Socket timed out' >&2; exit 1; }}\ncat '{d}/queue' 2>/dev/null; true"),
        );
        shims.tool("scancel", "true");
        shims.tool(
            "sacct",
            "echo 'Slurm accounting storage is disabled' >&2; exit 1",
        );
        shims
    }

    /// Replaces a tool with a script that logs its call and runs `body`.
    fn tool(&self, name: &str, body: &str) {
        let d = self.dir.path().display();
        let path = self.dir.path().join(name);
        std::fs::write(
            &path,
            format!("#!/bin/sh\necho \"$0 $*\" >> '{d}/calls'\n{body}\n"),
        )
        .unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
    }

    fn queue(&self, text: &str) {
        std::fs::write(self.dir.path().join("queue"), text).unwrap();
    }

    fn calls(&self, tool: &str) -> usize {
        let calls = std::fs::read_to_string(self.dir.path().join("calls")).unwrap_or_default();
        calls
            .lines()
            .filter(|l| l.contains(&format!("/{tool} ")))
            .count()
    }

    /// A run with one job submitted, polling squeue at every poll.
    fn run(&self, work: &Path, grace: Duration) -> Run {
        self.run_with(
            work,
            Config {
                nfs_grace: grace,
                ..Config::default()
            },
        )
    }

    fn run_with(&self, work: &Path, config: Config) -> Run {
        let config = Config {
            first_poll: Duration::ZERO,
            max_poll: Duration::ZERO,
            ..config
        };
        let mut run = Run::open(
            Tools::in_dir(Some(self.dir.path())),
            config,
            &work.join("state"),
            "pipe-shim",
        )
        .unwrap();
        let spec = JobSpec {
            key: "k".into(),
            stage: "s".into(),
            work: work.join("k"),
            cwd: work.to_path_buf(),
            command: vec!["true".into()],
            env: vec![],
            resources: Resources::default(),
            gpus: 0,
        };
        run.submit(&spec).unwrap();
        std::fs::write(work.join("k/slurm.log"), "loading\nlost contact\n").unwrap();
        run
    }
}

/// Shims, a work dir, and a run with one job submitted through them.
fn started(grace: Duration) -> (Shims, tempfile::TempDir, Run) {
    let shims = Shims::new();
    let work = tempfile::tempdir().unwrap();
    let run = shims.run(work.path(), grace);
    (shims, work, run)
}

/// The result file a job's script writes last.
fn write_result(work: &Path, job: &str, exit: i32) {
    let text = format!(r#"{{"job": "{job}", "exit": {exit}}}"#);
    std::fs::write(work.join("k/result.json"), text).unwrap();
}

/// One poll; the outcome if the job finished.
fn poll(run: &mut Run) -> Option<Result<(), pipe_engine::Error>> {
    let mut outcome = None;
    run.poll(&mut |e| {
        if let Event::Finished { outcome: o, .. } = e {
            outcome = Some(o);
        }
    })
    .unwrap();
    outcome
}

#[test]
fn node_fail_is_a_stage_error_with_job_state_and_log_tail() {
    let (shims, _work, mut run) = started(Duration::from_secs(60));
    shims.queue("4242|RUNNING|k\n");
    assert!(poll(&mut run).is_none());
    shims.queue("4242|NODE_FAIL|k\n");
    let e = poll(&mut run).expect("finished").unwrap_err();
    let text = e.to_string();
    assert!(text.contains("SLURM job 4242 NODE_FAIL"), "{text}");
    assert!(text.contains("  loading\n  lost contact"), "{text}");
    assert!(e.hint().unwrap().contains("sinfo -R"));
}

#[test]
fn a_preempted_job_is_waited_out_until_its_requeued_run_ends() {
    let (shims, work, mut run) = started(Duration::from_secs(60));
    for state in ["RUNNING", "PREEMPTED", "REQUEUED", "PENDING", "RUNNING"] {
        shims.queue(&format!("4242|{state}|k\n"));
        assert!(poll(&mut run).is_none(), "finished at {state}");
    }
    // A result file of another job (an earlier attempt of the stage) is not this one's.
    write_result(work.path(), "17", 0);
    assert!(poll(&mut run).is_none());
    write_result(work.path(), "4242", 0);
    poll(&mut run).expect("finished").unwrap();
    assert_eq!(shims.calls("squeue"), 8, "one squeue at open, one per poll");
}

#[test]
fn a_job_gone_from_the_queue_without_a_result_fails_after_the_grace_period() {
    let (shims, _work, mut run) = started(Duration::from_millis(300));
    shims.queue("");
    assert!(poll(&mut run).is_none(), "within the grace period");
    assert_eq!(shims.calls("sacct"), 1, "accounting is asked about once");
    std::thread::sleep(Duration::from_millis(400));
    let e = poll(&mut run).expect("finished").unwrap_err();
    assert!(
        e.to_string()
            .contains("SLURM job 4242 left the queue but its result file"),
        "{e}"
    );
    assert!(e.hint().unwrap().contains("shared"));
    assert_eq!(shims.calls("sacct"), 1, "accounting is asked about once");
}

#[test]
fn a_completed_job_whose_result_shows_up_late_succeeds() {
    let (shims, work, mut run) = started(Duration::from_secs(60));
    shims.queue("4242|COMPLETED|k\n");
    assert!(poll(&mut run).is_none(), "waits for the result file");
    write_result(work.path(), "4242", 0);
    poll(&mut run).expect("finished").unwrap();
}

#[test]
fn where_accounting_exists_sacct_gives_the_state_of_a_job_gone_from_the_queue() {
    let shims = Shims::new();
    shims.tool(
        "sacct",
        "case \"$*\" in *--jobs=4242*) echo '4242|TIMEOUT';; esac",
    );
    let work = tempfile::tempdir().unwrap();
    let mut run = shims.run(work.path(), Duration::from_secs(60));
    shims.queue("");
    let e = poll(&mut run).expect("finished").unwrap_err();
    assert!(e.to_string().contains("SLURM job 4242 TIMEOUT"), "{e}");
    // One call to find out that accounting answers, one for the job.
    assert_eq!(shims.calls("sacct"), 2);
}

#[test]
fn a_controller_that_stops_answering_is_waited_for_then_given_up_on() {
    let shims = Shims::new();
    let work = tempfile::tempdir().unwrap();
    let mut run = shims.run_with(
        work.path(),
        Config {
            controller_patience: Duration::from_millis(300),
            ..Config::default()
        },
    );
    shims.queue("4242|RUNNING|k\n");
    std::fs::write(shims.dir.path().join("down"), "").unwrap();
    assert!(poll(&mut run).is_none(), "a failed squeue is retried");
    std::fs::remove_file(shims.dir.path().join("down")).unwrap();
    assert!(poll(&mut run).is_none(), "and the controller is back");
    std::fs::write(shims.dir.path().join("down"), "").unwrap();
    assert!(poll(&mut run).is_none());
    std::thread::sleep(Duration::from_millis(400));
    let mut events = 0;
    let e = run.poll(&mut |_| events += 1).unwrap_err();
    assert!(e.to_string().contains("Socket timed out"), "{e}");
    assert!(e.hint().unwrap().contains("re-attach"), "{:?}", e.hint());
}

/// sbatch failing once with `message`, having created the job or not.
fn flaky_sbatch(
    shims: &Shims,
    message: &str,
    created: bool,
) -> Result<Submitted, pipe_engine::Error> {
    let d = shims.dir.path().display();
    let create = if created {
        format!("echo '4242|PENDING|k' > '{d}/queue'")
    } else {
        String::new()
    };
    shims.tool(
        "sbatch",
        &format!("[ -e '{d}/failed' ] && {{ echo 4243; exit 0; }}\ntouch '{d}/failed'; {create}\necho 'sbatch: error: {message}' >&2; exit 1"),
    );
    let work = tempfile::tempdir().unwrap();
    let mut run = Run::open(
        Tools::in_dir(Some(shims.dir.path())),
        Config::default(),
        &work.path().join("state"),
        "pipe-shim",
    )
    .unwrap();
    run.submit(&JobSpec {
        key: "k".into(),
        stage: "s".into(),
        work: work.path().join("k"),
        cwd: work.path().to_path_buf(),
        command: vec!["true".into()],
        env: vec![],
        resources: Resources::default(),
        gpus: 0,
    })
}

#[test]
fn a_submission_that_timed_out_but_created_the_job_is_not_repeated() {
    let shims = Shims::new();
    let got = flaky_sbatch(
        &shims,
        "Batch job submission failed: Socket timed out on send/recv operation",
        true,
    );
    assert_eq!(got.unwrap(), Submitted::New(JobId("4242".into())));
    assert_eq!(shims.calls("sbatch"), 1);
}

#[test]
fn a_submission_refused_by_a_busy_controller_is_retried() {
    let shims = Shims::new();
    let got = flaky_sbatch(&shims, "Batch job submission failed: Slurm temporarily unable to accept job, sleeping and retrying", false);
    assert_eq!(got.unwrap(), Submitted::New(JobId("4243".into())));
    assert_eq!(shims.calls("sbatch"), 2);
}

#[test]
fn a_submission_refused_for_a_bad_request_fails_at_once() {
    let shims = Shims::new();
    let e = flaky_sbatch(
        &shims,
        "Batch job submission failed: Invalid partition name specified",
        false,
    )
    .unwrap_err();
    assert!(
        e.to_string().contains("Invalid partition name specified"),
        "{e}"
    );
    assert_eq!(shims.calls("sbatch"), 1);
}

#[test]
fn a_script_killed_by_slurm_is_reported_with_slurms_verdict_not_as_failed() {
    let (shims, work, mut run) = started(Duration::from_secs(60));
    shims.queue("4242|RUNNING|k\n");
    assert!(poll(&mut run).is_none());
    // SIGTERM at the time limit ended the command first; the script wrote
    // its exit (128 + 15) before SLURM marked the job.
    write_result(work.path(), "4242", 143);
    assert!(
        poll(&mut run).is_none(),
        "waits for the controller's verdict"
    );
    shims.queue("4242|TIMEOUT|k\n");
    let e = poll(&mut run).expect("finished").unwrap_err();
    assert!(
        e.to_string()
            .contains("SLURM job 4242 TIMEOUT, exit code 143"),
        "{e}"
    );
}

#[test]
fn a_job_submitted_just_before_the_client_died_is_found_by_its_key() {
    let shims = Shims::new();
    // In squeue with the stage's key as its comment, but in no record.
    shims.queue("4242|RUNNING|k\n");
    let work = tempfile::tempdir().unwrap();
    std::fs::create_dir(work.path().join("k")).unwrap(); // by the dead client
    let run = shims.run(work.path(), Duration::from_secs(60));
    assert_eq!(shims.calls("sbatch"), 0, "not submitted again");
    let jobs: Vec<_> = run
        .pending()
        .map(|(k, _, j, _)| (k, j.0.as_str()))
        .collect();
    assert_eq!(jobs, [("k", "4242")]);
    let record = std::fs::read_to_string(work.path().join("state/slurm-jobs.json")).unwrap();
    assert!(
        record.contains("\"4242\""),
        "recorded for the next restart: {record}"
    );
}
