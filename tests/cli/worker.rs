//! The libtorch kinds run in the `pipe-torch` worker: driven through the
//! real `pipe` and the real worker, a stage's error comes back with its
//! message and hint and nothing is cached, and a missing worker is a clear
//! environment error. (tests/cli/e2e_quick.rs runs whole trainings through it.)
#![cfg(feature = "torch")]

#[path = "../../crates/torch/tests/support/hostile.rs"]
mod hostile;

use crate::common::project::{Project, TINY_DATA_STAGES};

const WEIGHTS: &str = r#"version: 1
stages:
  w:
    kind: weights
    params:
      model: resnet18
      path: bad.pth
"#;

fn project() -> Project {
    let p = Project::new();
    p.write("p.yaml", WEIGHTS)
        .write("bad.pth", "not a checkpoint");
    p
}

#[test]
fn a_stage_error_in_the_worker_comes_back_whole_and_caches_nothing() {
    let p = project();
    for _ in 0..2 {
        let out = p.pipe(&["run", "p.yaml"]);
        out.expect_code(1);
        assert_eq!(out.failed(), vec!["w".to_string()]);
        assert!(
            out.stderr.contains("not a PyTorch checkpoint")
                && out.stderr.contains("hint: pass a `.pth`/`.pt` file"),
            "{}",
            out.stderr
        );
    }
    assert!(!p.join("results/p/w").exists());
}

/// F6, F7: a 1.4 KB pickle whose memo copies double per level used to eat
/// all the worker's memory; a deeply nested one overflowed its stack and
/// the hint blamed a native library. Both are bad data now.
#[test]
fn hostile_pickles_fail_the_stage_with_what_is_wrong() {
    let p = project();
    for (bytes, message) in [
        (
            hostile::legacy(&hostile::doubling_memo(170), &[], &[]),
            "the pickle builds more than 256 MB of values",
        ),
        (
            hostile::legacy(&hostile::deep_nesting(1_000_000), &[], &[]),
            "values nested more than 100 deep",
        ),
    ] {
        std::fs::write(p.join("bad.pth"), bytes).expect("write");
        let out = p.pipe(&["run", "p.yaml"]);
        out.expect_code(1);
        assert_eq!(out.failed(), vec!["w".to_string()]);
        assert!(
            out.stderr.contains(message) && !out.stderr.contains("native library"),
            "{}",
            out.stderr
        );
    }
}

#[test]
fn a_missing_worker_is_an_environment_error_with_a_hint() {
    let p = project();
    let env = [("PIPE_WORKER", "/nonexistent/pipe-torch")];
    let out = p.pipe_env(&["run", "p.yaml"], &env);
    out.expect_code(1);
    assert!(
        out.stderr
            .contains("`PIPE_WORKER` names /nonexistent/pipe-torch, which is not a file")
            && out.stderr.contains("hint: unset `PIPE_WORKER`"),
        "{}",
        out.stderr
    );
    let out = p.pipe_env(&["doctor"], &env);
    out.expect_code(3);
    assert!(out.stderr.contains("no libtorch worker"), "{}", out.stderr);
    // Checking and planning never need the worker.
    p.pipe_env(&["check", "p.yaml"], &env).ok();
    p.pipe_env(&["run", "p.yaml", "--dry-run"], &env).ok();
}

#[test]
fn doctor_reports_through_the_worker() {
    let out = project().pipe(&["doctor"]);
    out.ok();
    assert!(out.stdout.contains("libtorch     2.11.0"), "{}", out.stdout);
}

/// A tiny training, its epochs from `params`.
fn train_yaml() -> String {
    let head = "version: 1\nparams:\n  epochs: 1\nstages:\n";
    let train = r#"  train:
    kind: train
    inputs: {data: data}
    params: {model: resnet18, mode: scratch, epochs: "${params.epochs}", batch_size: 10, device: cpu}
"#;
    format!("{head}{TINY_DATA_STAGES}{train}")
}

#[test]
fn more_epochs_continue_the_cached_run_through_the_worker() {
    // The worker gets the cache's earlier `epochs` variants with its job.
    let p = Project::new();
    p.write("p.yaml", &train_yaml());
    p.pipe(&["run", "p.yaml"]).ok();
    let out = p.pipe(&["run", "p.yaml", "--set", "epochs=2"]);
    out.ok();
    assert_eq!(out.ran(), vec!["train".to_string()]);
    // A `--set` run's results are linked beside the file's own.
    let run: serde_json::Value =
        serde_json::from_str(&p.read("results/p@epochs=2/train/run.json")).unwrap();
    assert_eq!(run["epochs"], 2, "{run}");
    // How it went is a measurement in the manifest, sent over the worker
    // protocol, not in its outputs.
    assert!(run.get("continued_from").is_none(), "{run}");
    let shown = p.pipe(&["exp", "show", "p.yaml", "--json"]);
    shown.ok();
    let rows = shown.json();
    let longer = rows
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["params"]["epochs"] == 2)
        .unwrap_or_else(|| panic!("no 2-epoch row: {rows}"));
    assert_eq!(longer["measured"]["continued_from_epochs"], 1.0, "{longer}");
    assert!(
        longer["measured"]["images_per_s"].as_f64().unwrap() > 0.0,
        "{longer}"
    );
}

#[test]
fn a_training_prints_a_named_line_per_epoch_off_a_terminal() {
    // `Out` captures stderr through a pipe, as `| cat` or a cluster job does.
    let p = Project::new();
    p.write("p.yaml", &train_yaml());
    let out = p.pipe(&["run", "p.yaml", "--set", "epochs=2"]);
    out.ok();
    for epoch in ["epoch 1/2: train loss", "epoch 2/2: train loss"] {
        // e.g. `train epoch 1/2: train loss 0.69 acc 0.50, test loss 0.69 acc 0.50, 80.0 img/s, 0.3 s`
        assert!(
            out.stderr
                .lines()
                .any(|l| l.starts_with(&format!("train {epoch}"))),
            "{}",
            out.stderr
        );
    }
}
