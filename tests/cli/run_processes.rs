//! `pipe run` under process-level stress: kill -9 mid-stage, Ctrl-C, two
//! runs on one cache at once, and GPU hand-out with fake GPU counts.

use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::{Child, Stdio};
use std::time::{Duration, Instant};

use crate::common::project::{names, Out, Project};

/// `slow` blocks (until killed) while the file `hold` exists; the file is
/// not a declared dep, so it does not change the key.
const SLOW: &str = r#"version: 1
stages:
  first:
    kind: cmd
    params:
      run: echo first > $PIPE_OUT/o
  slow:
    kind: cmd
    inputs:
      x: first
    params:
      run: |
        cat $PIPE_INPUT_X/o > $PIPE_OUT/o
        echo partial > $PIPE_OUT/partial
        if [ -e hold ]; then echo $$ > stage.pid; touch started; exec sleep 60; fi
        echo done >> $PIPE_OUT/o
  last:
    kind: cmd
    inputs:
      x: slow
    params:
      run: cat $PIPE_INPUT_X/o > $PIPE_OUT/o
"#;

fn wait_for(path: &Path, child: &mut Child) {
    let deadline = Instant::now() + Duration::from_secs(20);
    while !path.exists() {
        if let Ok(Some(status)) = child.try_wait() {
            panic!("pipe exited early with {status}");
        }
        assert!(Instant::now() < deadline, "stage never started");
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// The committed manifests in the project's cache.
fn manifests(p: &Project) -> usize {
    std::fs::read_dir(p.join("cache/keys")).map_or(0, |d| {
        d.flatten()
            .filter(|e| e.file_name().to_string_lossy().ends_with(".json"))
            .filter(|e| !e.file_name().to_string_lossy().starts_with(".tmp"))
            .count()
    })
}

fn wait_until(done: impl Fn() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(20);
    while !done() {
        assert!(Instant::now() < deadline, "timed out waiting");
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn spawn(p: &Project, args: &[&str]) -> Child {
    let mut cmd = p.command(args);
    cmd.stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .process_group(0);
    cmd.spawn().expect("pipe starts")
}

/// `kill -SIG -- TARGET` (a pid, or `-pgid` for a process group).
fn signal(sig: &str, target: &str) {
    let ok = std::process::Command::new("kill")
        .args([&format!("-{sig}"), "--", target])
        .status()
        .expect("kill runs");
    assert!(ok.success(), "kill -{sig} {target} failed");
}

/// Every file under `dir` with its contents, sorted.
fn tree(dir: &Path) -> Vec<(String, String)> {
    let mut out = Vec::new();
    fn walk(root: &Path, dir: &Path, out: &mut Vec<(String, String)>) {
        for e in std::fs::read_dir(dir).unwrap().flatten() {
            let path = e.path();
            if path.is_dir() {
                walk(root, &path, out);
            } else {
                let rel = path.strip_prefix(root).unwrap().display().to_string();
                out.push((rel, std::fs::read_to_string(&path).unwrap_or_default()));
            }
        }
    }
    walk(dir, dir, &mut out);
    out.sort();
    out
}

#[test]
fn kill_9_mid_stage_then_rerun_gives_a_clean_runs_outputs() {
    let clean = Project::new();
    clean.write("s.yaml", SLOW);
    clean.pipe(&["run", "s.yaml"]).ok();

    let p = Project::new();
    p.write("s.yaml", SLOW).write("hold", "");
    let mut child = spawn(&p, &["run", "s.yaml"]);
    wait_for(&p.join("started"), &mut child);
    // `first` is committed in the background (group commit) while `slow`
    // already runs: wait for its manifest, so that what the kill loses is
    // exactly `slow`.
    wait_until(|| manifests(&p) == 1);
    // The whole process group we created for this pipe.
    signal("KILL", &format!("-{}", child.id()));
    child.wait().unwrap();
    // Its command, in a process group of its own, is stopped by its
    // supervisor: it never outlives its pipe.
    wait_dead(p.read("stage.pid").trim());
    // Nothing of `slow` looks complete.
    let status = p.pipe(&["status", "s.yaml", "--format", "json"]);
    status.expect_code(1);
    assert!(
        status.stdout.contains("\"stage\": \"slow\""),
        "{}",
        status.stdout
    );
    let json = status.json();
    let slow = json["stages"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["stage"] == "slow")
        .unwrap();
    assert_eq!(slow["status"], "would run");
    std::fs::remove_file(p.join("hold")).unwrap();
    let rerun = p.pipe(&["run", "s.yaml"]);
    rerun.ok();
    assert_eq!(rerun.ran(), names(&["slow", "last"]));
    assert_eq!(tree(&p.join("results/s")), tree(&clean.join("results/s")));
    let verify = p.pipe(&["cache", "verify"]);
    verify.ok();
    assert!(
        verify
            .stdout
            .contains("0 corrupt objects deleted, 0 results dropped"),
        "{}",
        verify.stdout
    );
    // The dead run's staging area was cleaned by the rerun.
    let tmp: Vec<_> = std::fs::read_dir(p.join("cache/tmp"))
        .unwrap()
        .flatten()
        .collect();
    assert!(
        tmp.is_empty(),
        "stale staging left: {:?}",
        tmp.iter().map(|e| e.path()).collect::<Vec<_>>()
    );
}

/// Whether process `pid` still runs (a zombie does not: nothing may reap
/// an orphan inside a container).
fn alive(pid: &str) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat")).is_ok_and(|stat| {
        stat.rsplit_once(") ")
            .is_some_and(|(_, rest)| !rest.starts_with('Z'))
    })
}

/// Waits up to 10 s for `pid` to end; panics if it does not.
fn wait_dead(pid: &str) {
    let deadline = Instant::now() + Duration::from_secs(10);
    while alive(pid) {
        assert!(Instant::now() < deadline, "command {pid} outlived its pipe");
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// `slow` resumes numbering steps in `$PIPE_WORK/log` (as a training
/// resumes from its checkpoint) in a grandchild that ignores SIGTERM, while
/// the file `hold` exists.
const ORPHAN: &str = r#"version: 1
stages:
  slow:
    kind: cmd
    params:
      run: |
        (trap '' TERM; while [ -e hold ]; do i=$(cat $PIPE_WORK/log 2>/dev/null | wc -l); echo $((i + 1)) >> $PIPE_WORK/log; sleep 0.02; done) &
        echo $! > stage.pid
        touch started
        wait
        cat $PIPE_WORK/log > $PIPE_OUT/o
"#;

#[test]
fn kill_9_of_pipe_stops_its_commands_and_the_rerun_has_the_work_dir_alone() {
    let p = Project::new();
    p.write("o.yaml", ORPHAN).write("hold", "");
    let mut child = spawn(&p, &["run", "o.yaml"]);
    wait_for(&p.join("started"), &mut child);
    // Only pipe itself, as the OOM killer or `kill -9 PID` would.
    signal("KILL", &child.id().to_string());
    child.wait().unwrap();
    let orphan = p.read("stage.pid").trim().to_string();
    // A rerun at once waits until the orphan is stopped, then runs alone.
    let rerun = spawn(&p, &["run", "o.yaml"]);
    std::thread::sleep(Duration::from_millis(300));
    std::fs::remove_file(p.join("hold")).unwrap();
    let out = Out::from(rerun.wait_with_output().unwrap());
    out.ok();
    assert!(!alive(&orphan), "the killed pipe's command still runs");
    let log = p.read("results/o/slow/o");
    let steps: Vec<usize> = log.lines().map(|l| l.parse().unwrap()).collect();
    assert_eq!(
        steps,
        (1..=steps.len()).collect::<Vec<_>>(),
        "two writers: {log:?}"
    );
}

#[test]
fn sigterm_takes_the_ctrl_c_path_with_exit_143() {
    let p = Project::new();
    p.write("s.yaml", SLOW).write("hold", "");
    let mut child = spawn(&p, &["run", "s.yaml"]);
    wait_for(&p.join("started"), &mut child);
    signal("TERM", &child.id().to_string());
    let out = Out::from(child.wait_with_output().unwrap());
    out.expect_code(143);
    assert!(out.stderr.contains("interrupted"), "{}", out.stderr);
    wait_dead(p.read("stage.pid").trim());
    let tmp: Vec<_> = std::fs::read_dir(p.join("cache/tmp"))
        .unwrap()
        .flatten()
        .collect();
    assert!(tmp.is_empty(), "staging left after SIGTERM");
}

#[test]
fn a_second_ctrl_c_still_stops_a_command_that_ignores_sigterm() {
    let p = Project::new();
    p.write(
        "i.yaml",
        "version: 1
stages:
  stubborn:
    kind: cmd
    params:
      run: trap '' TERM; echo $$ > stage.pid; touch started; exec sleep 60
",
    );
    let mut child = spawn(&p, &["run", "i.yaml"]);
    wait_for(&p.join("started"), &mut child);
    signal("INT", &child.id().to_string());
    std::thread::sleep(Duration::from_millis(200));
    signal("INT", &child.id().to_string());
    let out = Out::from(child.wait_with_output().unwrap());
    out.expect_code(130);
    wait_dead(p.read("stage.pid").trim());
}

#[test]
fn ctrl_c_stops_cleanly_with_exit_130() {
    let p = Project::new();
    p.write("s.yaml", SLOW).write("hold", "");
    let mut child = spawn(&p, &["run", "s.yaml"]);
    wait_for(&p.join("started"), &mut child);
    let started = Instant::now();
    signal("INT", &child.id().to_string());
    let out = Out::from(child.wait_with_output().unwrap());
    assert!(
        started.elapsed() < Duration::from_secs(10),
        "Ctrl-C took {:?}",
        started.elapsed()
    );
    out.expect_code(130);
    assert!(out.stderr.contains("interrupted"), "{}", out.stderr);
    assert_eq!(out.ran(), names(&["first"]));
    let status = p.pipe(&["status", "s.yaml"]);
    assert!(
        status.stdout.contains("would run   slow: never run"),
        "{}",
        status.stdout
    );
    let tmp: Vec<_> = std::fs::read_dir(p.join("cache/tmp"))
        .unwrap()
        .flatten()
        .collect();
    assert!(tmp.is_empty(), "staging left after Ctrl-C");
}

#[test]
fn two_concurrent_runs_share_one_cache_and_run_each_stage_once() {
    let mut yaml = String::from("version: 1\nstages:\n");
    for i in 0..6 {
        yaml.push_str(&format!(
            "  s{i}:\n    kind: cmd\n    params:\n      run: echo $PIPE_STAGE >> ran.log; sleep 0.3; echo {i} > $PIPE_OUT/o\n"
        ));
    }
    yaml.push_str("  all:\n    kind: cmd\n    inputs:\n      x: [s0, s1, s2, s3, s4, s5]\n    params:\n      run: echo all >> ran.log; for d in $PIPE_INPUT_X; do cat $d/o; done > $PIPE_OUT/o\n");
    let p = Project::new();
    p.write("c.yaml", &yaml);
    let a = spawn(&p, &["run", "c.yaml", "--jobs", "3"]);
    let b = spawn(&p, &["run", "c.yaml", "--jobs", "3"]);
    let a = Out::from(a.wait_with_output().unwrap());
    let b = Out::from(b.wait_with_output().unwrap());
    a.ok();
    b.ok();
    let mut log: Vec<String> = p.read("ran.log").lines().map(String::from).collect();
    log.sort();
    assert_eq!(
        log,
        names(&["all", "s0", "s1", "s2", "s3", "s4", "s5"]),
        "a:\n{}\nb:\n{}",
        a.stderr,
        b.stderr
    );
    let mut both = a.ran();
    both.extend(b.ran());
    assert_eq!(both.len(), 7);
    assert_eq!(p.read("results/c/all/o"), "0\n1\n2\n3\n4\n5\n");
    let verify = p.pipe(&["cache", "verify"]);
    verify.ok();
    assert!(
        verify
            .stdout
            .contains("0 corrupt objects deleted, 0 results dropped"),
        "{}",
        verify.stdout
    );
}

#[test]
fn gpu_stages_get_distinct_free_devices() {
    let mut yaml = String::from("version: 1\nstages:\n");
    for i in 0..4 {
        yaml.push_str(&format!(
            "  g{i}:\n    kind: cmd\n    gpus: 1\n    params:\n      run: s=$(date +%s%N); sleep 0.4; echo \"$PIPE_STAGE $CUDA_VISIBLE_DEVICES $s $(date +%s%N)\" >> gpu.log; echo {i} > $PIPE_OUT/o\n"
        ));
    }
    // CPU stages run beside GPU stages.
    yaml.push_str("  cpu:\n    kind: cmd\n    params:\n      run: echo \"cpu [$CUDA_VISIBLE_DEVICES]\" > cpu.log; echo > $PIPE_OUT/o\n");
    let p = Project::new();
    p.write("g.yaml", &yaml);
    let out = p.pipe_env(
        &["run", "g.yaml", "--jobs", "1"],
        &[("PIPE_FAKE_GPUS", "2")],
    );
    out.ok();
    assert_eq!(out.ran().len(), 5);
    assert_eq!(p.read("cpu.log"), "cpu []\n");
    let runs: Vec<(String, String, u128, u128)> = p
        .read("gpu.log")
        .lines()
        .map(|l| {
            let f: Vec<&str> = l.split(' ').collect();
            (
                f[0].to_string(),
                f[1].to_string(),
                f[2].parse().unwrap(),
                f[3].parse().unwrap(),
            )
        })
        .collect();
    assert_eq!(runs.len(), 4);
    for r in &runs {
        assert!(
            r.1 == "0" || r.1 == "1",
            "stage {} got devices `{}`",
            r.0,
            r.1
        );
    }
    for (i, a) in runs.iter().enumerate() {
        // How many were running at the instant `a` started (a run whose
        // interval merely overlaps `a`'s may have ended before another began).
        let at_start = runs.iter().filter(|b| b.2 <= a.2 && a.2 < b.3).count();
        assert!(at_start <= 2, "more than 2 GPU stages at once: {runs:?}");
        for b in runs.iter().skip(i + 1) {
            if a.2 < b.3 && b.2 < a.3 {
                assert_ne!(a.1, b.1, "overlapping stages share a GPU: {a:?} {b:?}");
            }
        }
    }
    // Two GPUs: stages ran two at a time, not one after another.
    let overlapped = runs
        .iter()
        .enumerate()
        .any(|(i, a)| runs.iter().skip(i + 1).any(|b| a.2 < b.3 && b.2 < a.3));
    assert!(overlapped, "GPU stages never overlapped: {runs:?}");
}

#[test]
fn a_stage_needing_more_gpus_than_exist_fails_before_anything_runs() {
    let p = Project::new();
    p.write(
        "g.yaml",
        "version: 1\nstages:\n  a:\n    kind: cmd\n    params:\n      run: echo > $PIPE_OUT/o\n  big:\n    kind: cmd\n    gpus: 3\n    params:\n      run: echo big > $PIPE_OUT/o\n",
    );
    let out = p.pipe_env(&["run", "g.yaml"], &[("PIPE_FAKE_GPUS", "2")]);
    out.expect_code(3);
    assert!(
        out.stderr
            .contains("2 GPUs are available, but stage `big` needs 3"),
        "{}",
        out.stderr
    );
    assert!(out.ran().is_empty());
    let listed = p.pipe(&["run", "g.yaml", "--gpus", "0,1,2"]);
    listed.ok();
    assert_eq!(listed.ran(), names(&["a", "big"]));
    // Once cached, a GPU stage is no obstacle on a machine without GPUs.
    let cached = p.pipe_env(&["run", "g.yaml"], &[("PIPE_FAKE_GPUS", "0")]);
    cached.ok();
    assert_eq!(cached.cached(), names(&["a", "big"]));
}
