//! `pipe run --executor slurm` and `pipe status` on the real local SLURM
//! (`scripts/slurm-up.sh`): every stage is a batch job scheduled by
//! slurmctld and run by slurmd through `pipe run-job`. Without a reachable
//! SLURM these tests skip with a note, except under `CI=true`, where they
//! fail. sbatch calls are counted by a wrapper on `PATH` that logs and
//! execs the real one.

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::common::project::{names, Out, Project};

use pipe_slurm::testing::slurm_or_skip as slurm;

/// Small jobs, so that two share the one-node cluster (it gives a job
/// without `mem` the whole node).
const HEADER: &str = "version: 1\nresources: {mem: 300M, time: 10}\nstages:\n";

/// `same` has `a`'s key: one job computes both.
const CHAIN: &str = r#"  a:
    kind: cmd
    params:
      run: seq 1 5 > $PIPE_OUT/o
  same:
    kind: cmd
    params:
      run: seq 1 5 > $PIPE_OUT/o
  b:
    kind: cmd
    inputs: {x: a}
    params:
      run: cat $PIPE_INPUT_X/o $PIPE_INPUT_X/o > $PIPE_OUT/o
  c:
    kind: cmd
    inputs: {x: b}
    params:
      run: wc -l < $PIPE_INPUT_X/o > $PIPE_OUT/o
"#;

/// A project whose `bin/sbatch` logs each call to `sbatch.log` and runs
/// the real sbatch.
fn project(stages: &str) -> Project {
    let p = Project::new();
    p.write("p.yaml", &format!("{HEADER}{stages}"));
    let real = which("sbatch");
    let log = p.join("sbatch.log");
    p.write(
        "bin/sbatch",
        &format!(
            "#!/bin/sh\necho \"$@\" >> '{}'\nexec '{}' \"$@\"\n",
            log.display(),
            real.display()
        ),
    );
    let script = p.join("bin/sbatch");
    Command::new("chmod")
        .arg("+x")
        .arg(&script)
        .status()
        .unwrap();
    p
}

fn which(tool: &str) -> std::path::PathBuf {
    let out = Command::new("sh")
        .args(["-c", &format!("command -v {tool}")])
        .output()
        .unwrap();
    String::from_utf8(out.stdout).unwrap().trim().into()
}

fn path_with_wrapper(p: &Project) -> String {
    format!(
        "{}:{}",
        p.join("bin").display(),
        std::env::var("PATH").unwrap_or_default()
    )
}

fn sbatch_calls(p: &Project) -> usize {
    std::fs::read_to_string(p.join("sbatch.log")).map_or(0, |t| t.lines().count())
}

fn slurm_run(p: &Project, extra: &[&str]) -> Out {
    let mut args = vec!["run", "p.yaml", "--executor", "slurm"];
    args.extend_from_slice(extra);
    p.pipe_env(&args, &[("PATH", &path_with_wrapper(p))])
}

/// `pipe run --executor slurm` in the background, its stderr read line by
/// line.
fn spawn_run(p: &Project) -> (Child, BufReader<std::process::ChildStderr>) {
    let mut child = p
        .command(&["run", "p.yaml", "--executor", "slurm"])
        .env("PATH", path_with_wrapper(p))
        .stderr(Stdio::piped())
        .stdout(Stdio::null())
        .spawn()
        .unwrap();
    let err = BufReader::new(child.stderr.take().unwrap());
    (child, err)
}

/// Reads lines until `n` of them say `STAGE VERB job ID`: (stage, id).
fn jobs_said(err: &mut impl BufRead, verb: &str, n: usize) -> Vec<(String, String)> {
    let mut found = Vec::new();
    let mut line = String::new();
    let mut seen = String::new();
    while found.len() < n {
        line.clear();
        assert!(
            err.read_line(&mut line).unwrap() > 0,
            "pipe ended before {n} jobs were {verb}:\n{seen}"
        );
        seen.push_str(&line);
        if let Some((stage, rest)) = line.trim().split_once(&format!(" {verb} job ")) {
            found.push((stage.to_string(), rest.to_string()));
        }
    }
    found.sort();
    found
}

/// The ids squeue lists as queued or running among `ids`.
fn live(ids: &[&str]) -> Vec<String> {
    let out = Command::new("squeue")
        .args([
            "--noheader",
            "--format=%i",
            &format!("--jobs={}", ids.join(",")),
        ])
        .output()
        .unwrap();
    String::from_utf8(out.stdout)
        .unwrap()
        .split_whitespace()
        .map(String::from)
        .collect()
}

fn wait_exit(child: &mut Child, limit: Duration) -> i32 {
    let start = Instant::now();
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            return status.code().unwrap_or(-1);
        }
        assert!(start.elapsed() < limit, "pipe did not end within {limit:?}");
        std::thread::sleep(Duration::from_millis(100));
    }
}

fn status_json(p: &Project) -> serde_json::Value {
    p.pipe(&["status", "p.yaml", "--format", "json"]).json()
}

/// Stage name -> key, from `pipe status --format json`.
fn keys(p: &Project) -> Vec<(String, String)> {
    status_json(p)["stages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| {
            (
                s["stage"].as_str().unwrap().to_string(),
                s["key"].as_str().unwrap_or_default().to_string(),
            )
        })
        .collect()
}

#[test]
fn resources_are_not_part_of_the_key() {
    let p = Project::new();
    p.write("p.yaml", &format!("{HEADER}{CHAIN}"));
    p.pipe(&["run", "p.yaml"]).ok();
    let text = format!(
        "version: 1\nresources: {{mem: 2G, time: \"2:00:00\", partition: other}}\nstages:\n{CHAIN}"
    )
    .replace(
        "  b:\n    kind: cmd\n",
        "  b:\n    kind: cmd\n    resources: {cpus: 2, extra: [\"--qos=x\"]}\n",
    );
    p.write("p.yaml", &text);
    p.pipe(&["status", "p.yaml"]).ok();
    assert_eq!(p.pipe(&["run", "p.yaml"]).ok().ran(), Vec::<String>::new());
}

#[test]
fn a_pipeline_through_slurm_matches_a_local_run_and_a_rerun_submits_nothing() {
    if !slurm() {
        return;
    }
    let local = project(CHAIN);
    local.pipe(&["run", "p.yaml"]).ok();
    let p = project(CHAIN);
    let out = slurm_run(&p, &[]);
    out.ok();
    assert_eq!(out.ran(), names(&["a", "b", "c"]), "{}", out.stderr);
    assert_eq!(out.cached(), names(&["same"]), "{}", out.stderr);
    // The probe job and one per key.
    assert_eq!(sbatch_calls(&p), 4, "{}", out.stderr);
    // Same keys: every upstream output hashed the same.
    assert_eq!(keys(&p), keys(&local));
    for stage in ["a", "same", "b", "c"] {
        let rel = format!("results/p/{stage}/o");
        assert_eq!(p.read(&rel), local.read(&rel), "{stage}");
    }
    let again = slurm_run(&p, &[]);
    again.ok();
    assert_eq!(again.ran(), Vec::<String>::new(), "{}", again.stderr);
    assert_eq!(
        sbatch_calls(&p),
        4,
        "a no-op rerun submitted: {}",
        again.stderr
    );
}

#[test]
fn a_failing_stage_reports_its_exit_code_and_log_tail_and_caches_nothing() {
    if !slurm() {
        return;
    }
    let p = project("  bad:\n    kind: cmd\n    params:\n      run: echo about-to-fail; exit 3\n");
    let out = slurm_run(&p, &[]);
    out.expect_code(1);
    assert!(out.stderr.contains("SLURM job"), "{}", out.stderr);
    assert!(out.stderr.contains("FAILED"), "{}", out.stderr);
    assert!(out.stderr.contains("exit code"), "{}", out.stderr);
    assert!(out.stderr.contains("about-to-fail"), "{}", out.stderr);
    // The command's own exit status, from the node's log.
    assert!(out.stderr.contains("status 3"), "{}", out.stderr);
    assert_eq!(status_json(&p)["would_run"], 1);
}

/// Runs the shell command `run` in the project with `private/` a tmpfs of
/// its own mount namespace holding copies of `programs`: a directory the
/// node does not see, as a login node's own disk.
fn run_with_private(p: &Project, programs: &[&Path], run: &str) -> Out {
    std::fs::create_dir(p.join("private")).unwrap();
    let mut shell = String::from("mount -t tmpfs none private");
    for program in programs {
        shell.push_str(&format!(" && cp '{}' private/", program.display()));
    }
    shell.push_str(&format!(" && {run}"));
    Out::from(
        Command::new("unshare")
            .args(["--mount", "--propagation", "private", "sh", "-c", &shell])
            .current_dir(p.path())
            .env("PATH", path_with_wrapper(p))
            .env("NO_COLOR", "1")
            .env_remove("PIPE_CACHE_DIR")
            .env_remove("PIPE_WORKER")
            .output()
            .unwrap(),
    )
}

fn expect_parts(out: &Out, parts: &[&str]) {
    for part in parts {
        assert!(
            out.stderr.contains(part),
            "{part:?} missing:\n{}",
            out.stderr
        );
    }
}

/// The client runs a copy of `pipe` the node does not see: the shared dir
/// check says so before any stage's job.
#[test]
fn a_pipe_the_nodes_cannot_run_is_named_before_any_stage_is_submitted() {
    if !slurm() {
        return;
    }
    let p = project(CHAIN);
    let pipe = Path::new(env!("CARGO_BIN_EXE_pipe"));
    let run = "exec private/pipe run p.yaml --executor slurm";
    let out = run_with_private(&p, &[pipe], run);
    out.expect_code(1);
    expect_parts(
        &out,
        &[
            "the SLURM nodes cannot run `",
            "private/pipe --version`: exit status 127",
            "a path the nodes share",
        ],
    );
    assert_eq!(sbatch_calls(&p), 1, "only the check was submitted");
}

/// The worker of the torch kinds, where the node does not see it: checked
/// before the first `weights` job, while a `cmd` stage runs.
#[test]
fn a_worker_the_nodes_cannot_run_is_named_before_its_kinds_first_job() {
    if !slurm() {
        return;
    }
    let p = project(
        "  a:\n    kind: cmd\n    params:\n      run: echo 1 > $PIPE_OUT/o\n  w:\n    kind: weights\n    params:\n      model: resnet18\n      path: w.pth\n",
    );
    p.write("w.pth", "not read: the check comes first");
    let worker = Path::new(env!("CARGO_BIN_EXE_pipe")).with_file_name("pipe-torch");
    let run = format!(
        "PIPE_WORKER=\"$PWD/private/pipe-torch\" exec '{}' run p.yaml --executor slurm --keep-going",
        env!("CARGO_BIN_EXE_pipe")
    );
    let out = run_with_private(&p, &[&worker], &run);
    out.expect_code(1);
    assert_eq!(out.ran(), names(&["a"]));
    assert_eq!(out.failed(), names(&["w"]));
    expect_parts(
        &out,
        &[
            "the SLURM nodes cannot run `",
            "private/pipe-torch --version`: exit status 127",
        ],
    );
}

/// `%j` in a log path is a job id to sbatch: the log must still be found.
#[test]
fn a_cache_dir_with_a_percent_sign_quote_and_space_still_has_the_log_tail() {
    if !slurm() {
        return;
    }
    let p = project("  bad:\n    kind: cmd\n    params:\n      run: echo about-to-fail; exit 3\n");
    let cache = p.join("it's 100%j done/cache");
    let cache = cache.to_str().unwrap();
    let out = slurm_run(&p, &["--cache-dir", cache]);
    out.expect_code(1);
    assert!(out.stderr.contains("FAILED"), "{}", out.stderr);
    assert!(out.stderr.contains("| about-to-fail"), "{}", out.stderr);
}

#[test]
fn a_job_slurm_refuses_names_its_stage_what_sbatch_said_and_what_it_asked_for() {
    if !slurm() {
        return;
    }
    let p = project(
        "  nowhere:\n    kind: cmd\n    resources: {partition: no-such-partition}\n    params:\n      run: echo 1 > $PIPE_OUT/o\n  fine:\n    kind: cmd\n    params:\n      run: echo 2 > $PIPE_OUT/o\n",
    );
    let out = slurm_run(&p, &["--keep-going"]);
    out.expect_code(1);
    assert_eq!(out.failed(), names(&["nowhere"]));
    assert_eq!(out.ran(), names(&["fine"]));
    // Whichever is submitted first, the shared dir check goes as its job.
    let said = &[
        "stage `nowhere` failed: ",
        "its SLURM job was not submitted",
        "\n  | sbatch: error: ",
        "asked for `--",
        "`--partition=no-such-partition`",
        "sinfo",
    ];
    expect_parts(&out, said);
    assert_eq!(status_json(&p)["would_run"], 1);
}

/// Slow (about 90 s): SLURM checks time limits about every 30 s.
#[test]
fn a_stage_over_its_time_limit_is_reported_as_timeout() {
    if !slurm() {
        return;
    }
    let p = project(
        "  slow:\n    kind: cmd\n    resources: {time: 1}\n    params:\n      run: echo started; sleep 600\n",
    );
    let out = slurm_run(&p, &[]);
    out.expect_code(1);
    assert!(out.stderr.contains("TIMEOUT"), "{}", out.stderr);
    assert!(out.stderr.contains("resources: {time"), "{}", out.stderr);
    assert_eq!(status_json(&p)["would_run"], 1);
}

const TWO_SLEEPERS: &str = r#"  s1:
    kind: cmd
    params: {run: "sleep 600"}
  s2:
    kind: cmd
    params: {run: "sleep 601"}
"#;

#[test]
fn ctrl_c_cancels_every_job_and_exits_130_and_status_showed_them() {
    if !slurm() {
        return;
    }
    let p = project(TWO_SLEEPERS);
    let (mut child, mut err) = spawn_run(&p);
    let jobs = jobs_said(&mut err, "submitted", 2);
    let ids: Vec<&str> = jobs.iter().map(|(_, id)| id.as_str()).collect();
    // `pipe status` sees them on the cluster, from another process.
    let status = status_json(&p);
    let on: Vec<(String, String)> = status["stages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| {
            let state = s["status"].as_str().unwrap().to_string();
            assert!(state == "queued" || state == "running", "{status}");
            (
                s["stage"].as_str().unwrap().into(),
                s["slurm_job"].as_str().unwrap().into(),
            )
        })
        .collect();
    assert_eq!(on, jobs);
    let text = p.pipe(&["status", "p.yaml"]).stdout;
    assert!(text.contains("on SLURM, job"), "{text}");
    // SAFETY: a plain kill(2) of our own child.
    unsafe { libc::kill(child.id() as i32, libc::SIGINT) };
    assert_eq!(wait_exit(&mut child, Duration::from_secs(60)), 130);
    assert_eq!(live(&ids), Vec::<String>::new());
}

#[test]
fn a_run_killed_and_restarted_reattaches_instead_of_submitting_again() {
    if !slurm() {
        return;
    }
    let p = project(
        "  w1:\n    kind: cmd\n    params: {run: \"sleep 15; echo one > $PIPE_OUT/o\"}\n  w2:\n    kind: cmd\n    params: {run: \"sleep 15; echo two > $PIPE_OUT/o\"}\n",
    );
    let (mut first, mut err) = spawn_run(&p);
    let submitted = jobs_said(&mut err, "submitted", 2);
    first.kill().unwrap(); // SIGKILL: no chance to cancel or clean up
    first.wait().unwrap();
    let calls = sbatch_calls(&p);
    let (mut second, mut err) = spawn_run(&p);
    let reattached = jobs_said(&mut err, "re-attached to", 2);
    assert_eq!(reattached, submitted);
    assert_eq!(wait_exit(&mut second, Duration::from_secs(180)), 0);
    // The second run's probe job only: no stage submitted twice.
    assert_eq!(sbatch_calls(&p), calls + 1);
    assert_eq!(p.read("results/p/w1/o"), "one\n");
    assert_eq!(p.read("results/p/w2/o"), "two\n");
}

#[test]
fn a_gpu_stage_gets_one_gpu_from_slurm() {
    if !slurm() {
        return;
    }
    let p = project(
        "  g:\n    kind: cmd\n    gpus: 1\n    params:\n      run: echo \"$CUDA_VISIBLE_DEVICES\" > $PIPE_OUT/gpus\n",
    );
    let out = slurm_run(&p, &["--slurm-gpus-as", "gres"]);
    out.ok();
    let log = std::fs::read_to_string(p.join("sbatch.log")).unwrap();
    let script = log
        .lines()
        .last()
        .unwrap()
        .split_whitespace()
        .last()
        .unwrap();
    let text = std::fs::read_to_string(Path::new(script)).unwrap();
    assert!(text.contains("#SBATCH --gres=gpu:1"), "{text}");
    let visible = p.read("results/p/g/gpus");
    let visible = visible.trim();
    assert!(
        visible.split(',').count() == 1 && visible.parse::<u32>().is_ok(),
        "expected one GPU index, got `{visible}`"
    );
}

/// What a running job's stage logs reaches `pipe run`'s stderr while the
/// job runs: the stage waits for a marker that the test creates only once
/// it has read the stage's line (with a deadline, so that a client that
/// shows nothing until the end fails instead of hanging).
#[test]
fn a_running_jobs_lines_reach_pipe_run_while_it_runs() {
    if !slurm() {
        return;
    }
    let p = Project::new();
    let marker = p.join("marker");
    let stage = format!(
        "  live:\n    kind: cmd\n    params:\n      run: echo waiting for the marker; \
         for i in $(seq 600); do [ -e '{m}' ] && break; sleep 0.2; done; \
         test -e '{m}' && echo seen > $PIPE_OUT/o\n",
        m = marker.display()
    );
    p.write("p.yaml", &format!("{HEADER}{stage}"));
    let (mut child, err) = spawn_run(&p);
    let (tx, rx) = std::sync::mpsc::channel();
    let reader = std::thread::spawn(move || {
        for line in err.lines() {
            let Ok(line) = line else { break };
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    let deadline = Instant::now() + Duration::from_secs(100);
    let mut seen = Vec::new();
    while !seen
        .iter()
        .any(|l: &String| l == "live waiting for the marker")
    {
        let left = deadline.saturating_duration_since(Instant::now());
        match rx.recv_timeout(left) {
            Ok(line) => seen.push(line),
            Err(_) => {
                // SAFETY: a plain kill(2) of our own child.
                unsafe { libc::kill(child.id() as i32, libc::SIGINT) };
                let _ = wait_exit(&mut child, Duration::from_secs(60));
                panic!("the stage's line did not reach `pipe run` while its job ran:\n{seen:#?}");
            }
        }
    }
    assert!(!seen.iter().any(|l| l.starts_with("ran ")), "{seen:#?}");
    std::fs::write(&marker, "").unwrap();
    assert_eq!(wait_exit(&mut child, Duration::from_secs(120)), 0);
    reader.join().unwrap();
    seen.extend(rx.try_iter());
    assert!(seen.iter().any(|l| l.starts_with("ran live")), "{seen:#?}");
    assert_eq!(p.read("results/p/live/o"), "seen\n");
}

/// On a terminal (through `script`), a running job's stage has a spinner
/// with its status message, as a local stage has, and its lines above.
#[test]
fn on_a_terminal_a_running_job_has_a_spinner_with_its_message() {
    if !slurm() {
        return;
    }
    let p = project(
        "  live:\n    kind: cmd\n    params:\n      run: >-\n        echo hello from the node;\n        \
         echo '{\"event\": \"message\", \"text\": \"epoch 1/3\"}' >> \"$PIPE_PROGRESS\";\n        \
         sleep 3; echo done > $PIPE_OUT/o\n",
    );
    let path = path_with_wrapper(&p);
    let text = crate::progress::terminal(&p, "run p.yaml --executor slurm", &[("PATH", &path)]);
    let text = text.replace('\r', "\n");
    assert!(text.contains("live hello from the node\n"), "{text}");
    let spinner = text
        .lines()
        .any(|l| l.contains(" live ") && l.trim_end().ends_with("s epoch 1/3"));
    assert!(spinner, "no spinner with the stage's message:\n{text}");
}
