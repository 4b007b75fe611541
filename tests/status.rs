//! `pipe status` and `pipe run --dry-run`: the verdict per stage, the
//! reason in words, and the exit code CI relies on.

mod common;

use common::project::Project;

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
    let json: serde_json::Value = serde_json::from_str(&out.stdout).unwrap();
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
