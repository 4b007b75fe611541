//! `pipe exp show`, `exp diff` and `exp plot` over a real cache: an lr
//! sweep made with `--set` through the real `pipe` and `pipe-torch`
//! (tiny synthetic training and evaluation on the CPU), and a sweep of
//! `cmd` stages writing their own `metrics.csv` (no libtorch needed).

use crate::common::project::Project;

/// Three lr variants of `cmd` stages whose metrics depend on lr.
const CMD: &str = r#"version: 1
params:
  lr: 0.5
stages:
  train:
    kind: cmd
    params:
      run: >-
        printf 'epoch,train_loss,test_loss,test_acc\n1,2.0,%s,0.25\n2,1.0,1.5,%s\n' ${params.lr} ${params.lr} > $PIPE_OUT/metrics.csv
      outs: [metrics.csv]
"#;

fn cmd_sweep() -> Project {
    let p = Project::new();
    p.write("p.yaml", CMD);
    for lr in ["0.9", "0.1"] {
        p.pipe(&["run", "p.yaml", "--set", &format!("lr={lr}")])
            .ok();
    }
    p.pipe(&["run", "p.yaml"]).ok();
    p
}

/// The line of `text` starting with `name`, whitespace runs made one space.
fn line(text: &str, name: &str) -> String {
    let found = text
        .lines()
        .find(|l| l.trim_start().starts_with(&format!("{name} ")))
        .unwrap_or_else(|| panic!("no `{name}` line in:\n{text}"));
    found.split_whitespace().collect::<Vec<_>>().join(" ")
}

fn json(text: &str) -> serde_json::Value {
    serde_json::from_str(text).unwrap_or_else(|e| panic!("not JSON ({e}):\n{text}"))
}

#[test]
fn exp_show_lists_every_variant_with_its_metrics_and_the_current_one() {
    let p = cmd_sweep();
    let out = p.pipe(&["exp", "show", "p.yaml", "--json"]);
    out.ok();
    let rows = json(&out.stdout);
    let rows = rows.as_array().unwrap();
    assert_eq!(rows.len(), 3, "{rows:?}");
    // Oldest first: 0.9, 0.1, then the file's own 0.5, which is current.
    for (row, lr) in rows.iter().zip([0.9, 0.1, 0.5]) {
        let m = &row["metrics"];
        // min test loss: lr at epoch 1 when below 1.5, else 1.5 at epoch 2.
        let (min, epoch) = if lr < 1.5 { (lr, 1.0) } else { (1.5, 2.0) };
        assert_eq!(m["min_test_loss"], min, "{row}");
        assert_eq!(m["min_epoch"], epoch, "{row}");
        let (best, best_epoch) = if lr > 0.25 { (lr, 2.0) } else { (0.25, 1.0) };
        assert_eq!(m["best_test_acc"], best, "{row}");
        assert_eq!(m["best_epoch"], best_epoch, "{row}");
        assert_eq!(m["final_train_loss"], 1.0, "{row}");
        assert_eq!(row["current"], lr == 0.5, "{row}");
        assert!(row["params"]["run"]
            .as_str()
            .unwrap()
            .contains(&lr.to_string()));
    }

    let out = p.pipe(&["exp", "show", "p.yaml", "--sort-by", "best_test_acc"]);
    out.ok();
    let lines: Vec<&str> = out.stdout.lines().collect();
    // Best accuracy first; the current row starts with `*`.
    assert!(lines[1].contains("90.00%"), "{}", out.stdout);
    assert!(
        lines[2].starts_with('*') && lines[2].contains("50.00%"),
        "{}",
        out.stdout
    );
    assert!(lines[3].contains("25.00%"), "{}", out.stdout);

    let out = p.pipe(&["exp", "show", "p.yaml", "--csv", "--only-changed"]);
    out.ok();
    let header = out.stdout.lines().next().unwrap();
    assert!(
        header.starts_with("current,stage,run,min_test_loss"),
        "{header}"
    );
    assert!(!header.contains("outs"), "outs does not vary: {header}");
    let out = p.pipe(&["exp", "show", "p.yaml", "--md", "--sort-by", "nope"]);
    out.expect_code(2);
    assert!(
        out.stderr.contains("`--sort-by nope`: no such column"),
        "{}",
        out.stderr
    );
}

#[test]
fn exp_diff_and_plot_over_cmd_results() {
    let p = cmd_sweep();
    let out = p.pipe(&["exp", "diff", "p.yaml"]);
    out.ok();
    // Current (lr 0.5, made last) against the one made before it (0.1).
    assert!(out.stdout.contains("(current)"), "{}", out.stdout);
    assert_eq!(
        line(&out.stdout, "min_test_loss"),
        "min_test_loss 0.1000 -> 0.5000 +0.4000"
    );
    assert_eq!(
        line(&out.stdout, "best_test_acc"),
        "best_test_acc 25.00% -> 50.00% +25.00 pp"
    );

    let out = p.pipe(&["exp", "plot", "p.yaml", "--metric", "test_acc", "-o", "fig"]);
    out.ok();
    let fig = json(&p.read("fig/figure.json"));
    // The three variants differ only in `run` (lr is interpolated into it).
    assert_eq!(fig["series"].as_array().unwrap().len(), 3, "{fig}");
    let out = p.pipe(&["exp", "diff", "p.yaml", "--from", "zzzz"]);
    out.expect_code(2);
    assert!(out.stderr.contains("no cached result"), "{}", out.stderr);
}

#[cfg(feature = "torch")]
mod training {
    use super::{json, line, Project};
    use crate::common::project::TINY_DATA_STAGES;

    /// Tiny synthetic training and an evaluation of it, lr from `params`.
    fn train_yaml() -> String {
        let head = r#"version: 1
params:
  lr: 0.05
stages:
"#;
        let tail = r#"  train:
    kind: train
    inputs: {data: data}
    params: {model: resnet18, mode: scratch, lr: "${params.lr}", epochs: 2, batch_size: 10, device: cpu}
  evaluate:
    kind: evaluate
    inputs: {model: train, data: data}
    params: {device: cpu}
"#;
        format!("{head}{TINY_DATA_STAGES}{tail}")
    }

    /// What one run wrote, read from its results before the next run.
    struct Expected {
        lr: f64,
        min_test_loss: f64,
        best_test_acc: f64,
        eval_acc: f64,
    }

    fn fraction(v: f64) -> f64 {
        if v > 1.0 {
            v / 100.0
        } else {
            v
        }
    }

    #[test]
    fn an_lr_sweep_is_three_rows_one_diff_and_one_figure() {
        let p = Project::new();
        p.write("p.yaml", &train_yaml());
        let mut expected = Vec::new();
        // The file's own lr first: the current row is not the newest.
        for (set, lr) in [(None, 0.05), (Some("lr=0.1"), 0.1), (Some("lr=0.2"), 0.2)] {
            let mut args = vec!["run", "p.yaml"];
            if let Some(s) = set {
                args.extend(["--set", s]);
            }
            p.pipe(&args).ok();
            // A `--set` run's results are linked beside the file's own.
            let dir = set.map_or("results/p".to_string(), |s| format!("results/p@{s}"));
            let run = json(&p.read(&format!("{dir}/train/run.json")));
            let eval = json(&p.read(&format!("{dir}/evaluate/metrics.json")));
            expected.push(Expected {
                lr,
                min_test_loss: run["min_test_loss"].as_f64().unwrap(),
                best_test_acc: fraction(run["best_test_acc"].as_f64().unwrap()),
                eval_acc: eval["accuracy"].as_f64().unwrap(),
            });
        }

        let out = p.pipe(&["exp", "show", "p.yaml", "--json"]);
        out.ok();
        let rows = json(&out.stdout);
        let rows = rows.as_array().unwrap();
        assert_eq!(rows.len(), 3, "{}", out.stdout);
        for (row, want) in rows.iter().zip(&expected) {
            assert_eq!(row["params"]["lr"], want.lr, "{row}");
            let m = &row["metrics"];
            let close = |name: &str, v: f64| {
                let got = m[name].as_f64().unwrap_or(f64::NAN);
                assert!((got - v).abs() < 1e-9, "{name}: {got} vs {v} in {row}");
            };
            close("min_test_loss", want.min_test_loss);
            close("best_test_acc", want.best_test_acc);
            close("eval_acc", want.eval_acc);
            assert_eq!(row["current"], want.lr == 0.05, "{row}");
        }

        let out = p.pipe(&["exp", "show", "p.yaml", "--only-changed"]);
        out.ok();
        let header: Vec<&str> = out
            .stdout
            .lines()
            .next()
            .unwrap()
            .split_whitespace()
            .collect();
        assert_eq!(
            header[..2],
            ["stage", "lr"],
            "only lr varies, so it is the only param column:\n{}",
            out.stdout
        );
        assert!(
            !header.contains(&"epochs") && !header.contains(&"model"),
            "{}",
            out.stdout
        );
        assert!(header.contains(&"eval_acc"), "{}", out.stdout);
        let current: Vec<&str> = out.stdout.lines().filter(|l| l.starts_with('*')).collect();
        assert_eq!(current.len(), 1, "{}", out.stdout);
        assert!(current[0].contains(" 0.05 "), "{}", out.stdout);

        // Current (0.05, made first) against the newest other one (0.2).
        let out = p.pipe(&["exp", "diff", "p.yaml", "train"]);
        out.ok();
        assert_eq!(line(&out.stdout, "lr"), "lr 0.2 -> 0.05");
        let (old, new) = (&expected[2], &expected[0]);
        for (name, a, b) in [
            ("min_test_loss", old.min_test_loss, new.min_test_loss),
            ("eval_acc", old.eval_acc, new.eval_acc),
        ] {
            let change = if name == "eval_acc" {
                format!("{:+.2} pp", (b - a) * 100.0)
            } else {
                format!("{:+.4}", b - a)
            };
            let shown = line(&out.stdout, name);
            assert!(shown.ends_with(&change), "{shown} vs {change}");
        }
        let md = p.pipe(&["exp", "diff", "p.yaml", "train", "--md"]);
        md.ok();
        assert!(
            md.stdout.contains("| `lr` | 0.2 | 0.05 | |"),
            "{}",
            md.stdout
        );

        let out = p.pipe(&["exp", "plot", "p.yaml", "train", "-o", "fig"]);
        out.ok();
        let fig = json(&p.read("fig/figure.json"));
        assert_eq!(
            fig["series"],
            serde_json::json!(["lr=0.05", "lr=0.1", "lr=0.2"])
        );
        let svg = p.read("fig/figure.svg");
        // Three curves, each with its legend entry.
        for label in ["lr=0.05", "lr=0.1", "lr=0.2"] {
            let entry = svg.lines().any(|l| l.trim() == label);
            assert!(entry, "no legend entry {label}");
        }
    }
}
