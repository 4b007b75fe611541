//! `pipe status` and `pipe run --dry-run`: the verdict per stage, the
//! reason in words, and the exit code CI relies on.

use crate::common::project::Project;

const CHAIN: &str = r#"version: 1
params:
  n: 3
  tag: x
stages:
  a:
    kind: cmd
    params:
      run: seq 1 ${params.n} > $PIPE_OUT/o
  b:
    kind: cmd
    inputs:
      x: a
    params:
      run: cat $PIPE_INPUT_X/o > $PIPE_OUT/o; echo ${params.tag} >> $PIPE_OUT/o
  c:
    kind: cmd
    inputs:
      x: b
    params:
      run: wc -l < $PIPE_INPUT_X/o > $PIPE_OUT/o
"#;

fn chain() -> Project {
    let p = Project::new();
    p.write("c.yaml", CHAIN);
    p
}

/// The status line of each stage, e.g. `would run   b: never run`.
fn lines(out: &str) -> Vec<&str> {
    out.lines().collect()
}

#[test]
fn fresh_pipeline_would_run_everything_and_exits_1() {
    let p = chain();
    let out = p.pipe(&["status", "c.yaml"]);
    out.expect_code(1);
    assert_eq!(
        lines(&out.stdout),
        [
            "would run   a: never run",
            "would run   b: never run; upstream `a` will rerun",
            "would run   c: never run; upstream `b` will rerun",
            "3 of 3 stages would run",
        ]
    );
}

#[test]
fn up_to_date_after_a_run_and_exits_0() {
    let p = chain();
    p.pipe(&["run", "c.yaml"]).ok();
    let out = p.pipe(&["status", "c.yaml"]);
    out.ok();
    assert_eq!(
        lines(&out.stdout),
        [
            "up to date  a",
            "up to date  b",
            "up to date  c",
            "all 3 stages up to date"
        ]
    );
}

#[test]
fn a_param_change_names_the_param_and_both_values() {
    let p = chain();
    p.pipe(&["run", "c.yaml"]).ok();
    let out = p.pipe(&["status", "c.yaml", "--set", "tag=y"]);
    out.expect_code(1);
    assert_eq!(
        lines(&out.stdout),
        [
            "up to date  a",
            "would run   b: param `run` changed: cat $PIPE_INPUT_X/o > $PIPE_OUT/o; echo x >> $PIPE_OUT/o -> cat $PIPE_INPUT_X/o > $PIPE_OUT/o; echo y >> $PIPE_OUT/o",
            "would run   c: upstream `b` will rerun",
            "2 of 3 stages would run",
        ]
    );
}

#[test]
fn a_changed_input_names_the_upstream_stage() {
    let p = chain();
    p.pipe(&["run", "c.yaml"]).ok();
    // Rerun only `a` with another n: `b` is not rerun yet.
    p.pipe(&["run", "c.yaml", "a", "--set", "n=4"]).ok();
    let out = p.pipe(&["status", "c.yaml", "--set", "n=4"]);
    out.expect_code(1);
    assert!(
        out.stdout
            .contains("would run   b: input `x` changed: `a` output differs\n"),
        "{}",
        out.stdout
    );
    // Going back needs nothing.
    p.pipe(&["status", "c.yaml"]).ok();
}

#[test]
fn a_result_gone_from_the_cache_is_named() {
    let p = chain();
    p.pipe(&["run", "c.yaml"]).ok();
    for e in std::fs::read_dir(p.join("cache/keys")).unwrap().flatten() {
        std::fs::remove_file(e.path()).unwrap();
    }
    let out = p.pipe(&["status", "c.yaml"]);
    out.expect_code(1);
    assert_eq!(
        lines(&out.stdout)[0],
        "would run   a: outputs missing from cache"
    );
}

#[test]
fn json_status_and_dry_run() {
    let p = chain();
    p.pipe(&["run", "c.yaml"]).ok();
    let out = p.pipe(&["status", "c.yaml", "--format", "json", "--set", "n=5"]);
    out.expect_code(1);
    let json = out.json();
    assert_eq!(json["up_to_date"], false);
    assert_eq!(json["would_run"], 3);
    assert_eq!(json["stages"][0]["stage"], "a");
    assert_eq!(json["stages"][0]["status"], "would run");
    let reason = json["stages"][0]["reasons"][0].as_str().unwrap();
    assert!(
        reason.starts_with("param `run` changed: seq 1 3 "),
        "{reason}"
    );
    assert!(json["stages"][0]["key"]
        .as_str()
        .is_some_and(|k| k.len() == 64));

    let dry = p.pipe(&["run", "c.yaml", "--dry-run", "--force", "b"]);
    dry.ok();
    assert_eq!(
        lines(&dry.stdout),
        [
            "up to date  a",
            "would run   b: forced",
            "would run   c: upstream `b` will rerun",
            "2 of 3 stages would run"
        ]
    );
    assert!(dry.ran().is_empty());
    // A dry run ran nothing.
    p.pipe(&["status", "c.yaml"]).ok();
}

#[test]
fn targets_limit_status() {
    let p = chain();
    let out = p.pipe(&["status", "c.yaml", "b"]);
    out.expect_code(1);
    assert_eq!(lines(&out.stdout).len(), 3, "{}", out.stdout);
    assert!(
        out.stdout.ends_with("2 of 2 stages would run\n"),
        "{}",
        out.stdout
    );
}

/// Issue 11, item 1: a `--set` run links its results beside the file's,
/// so results/<pipeline> never mixes configurations and status stays true.
#[test]
fn a_set_run_leaves_the_files_results_alone() {
    let p = chain();
    p.pipe(&["run", "c.yaml"]).ok();
    let before = p.read("results/c/b/o");
    let out = p.pipe(&["run", "c.yaml", "--set", "tag=y"]);
    out.ok();
    assert!(
        out.stderr
            .contains("results of this `--set` run: results/c@tag=y"),
        "{}",
        out.stderr
    );
    assert_eq!(p.read("results/c/b/o"), before);
    assert!(p.read("results/c@tag=y/b/o").ends_with("y\n"));
    p.pipe(&["status", "c.yaml"]).ok();
    p.pipe(&["status", "c.yaml", "--set", "tag=y"]).ok();
}

/// Issue 11, item 1: results/ showing another configuration's result (the
/// file was edited, run, and edited back) is not "up to date"; a run
/// relinks it.
#[test]
fn status_compares_results_with_the_files_configuration() {
    let p = chain();
    p.pipe(&["run", "c.yaml"]).ok();
    p.write("c.yaml", &CHAIN.replace("tag: x", "tag: z"));
    p.pipe(&["run", "c.yaml"]).ok();
    p.write("c.yaml", CHAIN);
    let out = p.pipe(&["status", "c.yaml"]);
    out.expect_code(1);
    assert_eq!(
        lines(&out.stdout),
        [
            "up to date  a",
            "would run   b: `results/c/b` shows another result than this configuration's (`pipe run` relinks it)",
            "up to date  c",
            "1 of 3 stages would run",
        ]
    );
    let run = p.pipe(&["run", "c.yaml"]);
    run.ok();
    assert!(run.ran().is_empty(), "{}", run.stderr);
    assert!(p.read("results/c/b/o").ends_with("x\n"));
    p.pipe(&["status", "c.yaml"]).ok();
}

/// Issue 11, item 2: the project root is found from the pipeline file's
/// directory upwards, and a read-only command creates nothing.
#[test]
fn status_from_a_subdirectory_finds_the_projects_cache_and_creates_nothing() {
    let p = Project::new();
    p.write("pipelines/c.yaml", CHAIN);
    let fresh = p.pipe(&["status", "pipelines/c.yaml"]);
    fresh.expect_code(1);
    assert!(!p.join("cache").exists(), "status created the cache");
    p.pipe(&["run", "pipelines/c.yaml"]).ok();
    assert!(p.join("results/c/a/o").is_file());
    let mut cmd = p.command(&["status", "c.yaml"]);
    cmd.current_dir(p.join("pipelines"));
    let out = crate::common::project::Out::from(cmd.output().unwrap());
    out.ok();
    assert!(
        out.stdout.contains("all 3 stages up to date"),
        "{}",
        out.stdout
    );
    for read_only in [
        &["status", "c.yaml"][..],
        &["run", "-n", "c.yaml"],
        &["dag", "c.yaml"],
        &["check", "c.yaml"],
        &["gc", "-n", "c.yaml"],
        &["cache", "verify", "-n"],
    ] {
        let mut cmd = p.command(read_only);
        cmd.current_dir(p.join("pipelines"));
        let out = crate::common::project::Out::from(cmd.output().unwrap());
        assert!(out.code == 0, "{read_only:?}: {}{}", out.stdout, out.stderr);
        let mut left: Vec<_> = std::fs::read_dir(p.join("pipelines"))
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        left.sort();
        assert_eq!(left, ["c.yaml"], "{read_only:?} created files");
    }
}

/// Issue 11, item 3: a dry run says what the run would say about GPUs: a
/// `gpus: 1` stage that must run on a machine with none is an error.
#[test]
fn a_dry_run_rejects_stages_needing_more_gpus_than_exist() {
    let p = Project::new();
    p.write(
        "g.yaml",
        "version: 1\nstages:\n  g:\n    kind: cmd\n    gpus: 1\n    params: {run: echo $CUDA_VISIBLE_DEVICES > $PIPE_OUT/o}\n",
    );
    let none = p.pipe_env(&["run", "-n", "g.yaml"], &[("PIPE_FAKE_GPUS", "0")]);
    none.expect_code(3);
    assert!(
        none.stderr
            .contains("0 GPUs are available, but stage `g` needs 1"),
        "{}",
        none.stderr
    );
    assert!(
        none.stdout.contains("would run   g: never run"),
        "{}",
        none.stdout
    );
    p.pipe_env(&["run", "-n", "g.yaml"], &[("PIPE_FAKE_GPUS", "1")])
        .ok();
    // Cached, it needs no GPU.
    p.pipe_env(&["run", "g.yaml"], &[("PIPE_FAKE_GPUS", "1")])
        .ok();
    p.pipe_env(&["run", "-n", "g.yaml"], &[("PIPE_FAKE_GPUS", "0")])
        .ok();
}

/// Issue 11, item 5: a stage waiting on many upstream stages gets one
/// short reason, not one per upstream.
#[test]
fn many_upstream_stages_make_one_short_reason() {
    let p = Project::new();
    p.write(
        "m.yaml",
        r#"version: 1
stages:
  up:
    kind: cmd
    matrix:
      i: [1, 2, 3, 4, 5]
    params: {run: "echo ${matrix.i} > $PIPE_OUT/o"}
  all:
    kind: cmd
    inputs: {x: "up[*]"}
    params: {run: "cat $PIPE_INPUT_X/o > $PIPE_OUT/o"}
"#,
    );
    let out = p.pipe(&["status", "m.yaml"]);
    out.expect_code(1);
    assert!(
        out.stdout
            .contains("would run   all: never run; upstream `up[1]` and 4 others will rerun\n"),
        "{}",
        out.stdout
    );
}

/// `pipe status` and `pipe run` ask one planner: after each edit, the
/// stages status says would run are exactly the stages the run then runs
/// (the outputs change, so no early cutoff hides a difference).
#[test]
fn status_names_exactly_the_stages_the_run_then_runs() {
    let p = chain();
    p.pipe(&["run", "c.yaml"]).ok();
    for (set, expected) in [
        ("tag=y", vec!["b", "c"]),
        ("n=5", vec!["a", "b", "c"]),
        ("n=5", vec![]),
    ] {
        let status = p.pipe(&["status", "c.yaml", "--format", "json", "--set", set]);
        let json = status.json();
        let would: Vec<&str> = json["stages"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|s| s["status"] == "would run")
            .map(|s| s["stage"].as_str().unwrap())
            .collect();
        assert_eq!(would, expected, "status with --set {set}");
        let run = p.pipe(&["run", "c.yaml", "--set", set]);
        run.ok();
        let mut ran = run.ran();
        ran.sort();
        assert_eq!(ran, expected, "run with --set {set}");
    }
}
