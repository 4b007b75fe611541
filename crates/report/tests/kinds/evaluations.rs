//! The `report` kind with `evaluate` results: test accuracy of the chosen
//! checkpoint in the results table, a per-class table and a confusion
//! heatmap per run with class names; evaluations must pair with runs.

use std::collections::BTreeMap;
use std::path::Path;

use pipe_engine::{Artifact, Value};
use pipe_report::kinds::report::KIND as Report;

use super::support::*;

const CLASSES: [&str; 3] = ["cat", "dog", "ship"];

/// An `evaluate` output: `confusion` rows are true classes.
fn evaluation(
    root: &Path,
    stage: &str,
    matrix: &[(&str, &str)],
    confusion: [[u64; 3]; 3],
) -> Artifact {
    let dir = root.join(format!("eval-{}", stage.replace(['[', ']', ','], "_")));
    std::fs::create_dir_all(&dir).unwrap();
    let total: u64 = confusion.iter().flatten().sum();
    let correct: u64 = (0..3).map(|i| confusion[i][i]).sum();
    let per_class: Vec<f64> = (0..3)
        .map(|i| confusion[i][i] as f64 / confusion[i].iter().sum::<u64>() as f64)
        .collect();
    let json = serde_json::json!({
        "loss": 0.5,
        "accuracy": correct as f64 / total as f64,
        "error": 1.0 - correct as f64 / total as f64,
        "count": total,
        "per_class_accuracy": per_class,
        "confusion": confusion,
    });
    std::fs::write(dir.join("metrics.json"), json.to_string()).unwrap();
    let matrix = matrix
        .iter()
        .map(|(k, v)| (k.to_string(), Value::Str(v.to_string())))
        .collect();
    artifact(stage, matrix, &dir)
}

fn classes(root: &Path) -> Artifact {
    let dir = root.join("data");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(
        dir.join("classes.json"),
        serde_json::json!(CLASSES).to_string(),
    )
    .unwrap();
    artifact("data", BTreeMap::new(), &dir)
}

fn run(
    root: &Path,
    runs: &[FakeRun],
    evaluations: Vec<Artifact>,
    with_classes: bool,
) -> pipe_engine::Result<std::path::PathBuf> {
    let kind = Report;
    let mut inputs = BTreeMap::from([
        ("runs".to_string(), runs.iter().map(run_artifact).collect()),
        ("evaluations".to_string(), evaluations),
    ]);
    if with_classes {
        inputs.insert("classes".to_string(), vec![classes(root)]);
    }
    let out = root.join("out");
    let _ = std::fs::remove_dir_all(&out);
    run_kind(
        &kind,
        "report",
        &params(&kind, &[]),
        inputs,
        &out,
        Path::new("p.yaml"),
    )?;
    Ok(out)
}

fn two_runs(root: &Path) -> Vec<FakeRun> {
    vec![
        fake_run(root, "train[a]", &[("model", "a")], &curve(3, 1.0, 0.5, 2)),
        fake_run(root, "train[b]", &[("model", "b")], &curve(3, 1.2, 0.6, 3)),
    ]
}

/// Evaluations of `train[a]` and `train[b]`, in that order.
fn evaluations(root: &Path, a: [[u64; 3]; 3], b: [[u64; 3]; 3]) -> Vec<Artifact> {
    vec![
        evaluation(root, "evaluate[a]", &[("model", "a")], a),
        evaluation(root, "evaluate[b]", &[("model", "b")], b),
    ]
}

#[test]
fn evaluations_give_accuracy_per_class_tables_and_heatmaps_with_class_names() {
    let tmp = tempfile::tempdir().unwrap();
    let runs = two_runs(tmp.path());
    let evals = evaluations(
        tmp.path(),
        [[4, 0, 0], [1, 3, 0], [0, 2, 2]],
        [[2, 2, 0], [0, 4, 0], [0, 0, 4]],
    );
    let out = run(tmp.path(), &runs, evals, true).unwrap();
    let md = std::fs::read_to_string(out.join("report.md")).unwrap();
    let html = std::fs::read_to_string(out.join("report.html")).unwrap();
    // 9 of 12 and 10 of 12 correct.
    let header = md.lines().find(|l| l.starts_with("| run |")).unwrap();
    assert!(header.contains("| test acc (evaluate) |"), "{header}");
    let row_a = md
        .lines()
        .find(|l| l.starts_with("| `train[a]` |"))
        .unwrap();
    assert!(row_a.contains("| 75.00% |"), "{row_a}");
    let row_b = md
        .lines()
        .find(|l| l.starts_with("| `train[b]` |"))
        .unwrap();
    assert!(row_b.contains("| 83.33% |"), "{row_b}");
    // The per-class table names the classes.
    assert!(md.contains("| run | cat | dog | ship |"), "{md}");
    assert!(
        md.contains("| `train[a]` | 100.00% | 75.00% | 50.00% |"),
        "{md}"
    );
    // One heatmap per run, beside the Markdown and inline in the HTML.
    for stem in ["train_a", "train_b"] {
        let svg = std::fs::read_to_string(out.join(format!("confusion-{stem}.svg"))).unwrap();
        let texts = svg_texts(&svg);
        for class in CLASSES {
            assert_eq!(texts.iter().filter(|t| *t == class).count(), 2, "{texts:?}");
        }
        assert!(md.contains(&format!("](confusion-{stem}.svg)")), "{md}");
    }
    assert_eq!(html.matches("<figure><svg").count(), 2);
    assert!(html.contains(">ship</text>"));
    let summary: serde_json::Value =
        serde_json::from_slice(&std::fs::read(out.join("summary.json")).unwrap()).unwrap();
    assert_eq!(summary[0]["test_accuracy"], 0.75);
}

#[test]
fn without_classes_the_indices_stand_in() {
    let tmp = tempfile::tempdir().unwrap();
    let runs = two_runs(tmp.path());
    let identity = [[1, 0, 0], [0, 1, 0], [0, 0, 1]];
    let evals = evaluations(tmp.path(), identity, identity);
    let out = run(tmp.path(), &runs, evals, false).unwrap();
    let md = std::fs::read_to_string(out.join("report.md")).unwrap();
    assert!(md.contains("| run | 0 | 1 | 2 |"), "{md}");
}

#[test]
fn evaluations_that_do_not_pair_with_runs_are_errors() {
    let tmp = tempfile::tempdir().unwrap();
    let runs = two_runs(tmp.path());
    let one = vec![evaluation(
        tmp.path(),
        "evaluate[a]",
        &[("model", "a")],
        [[1, 0, 0]; 3],
    )];
    let err = run(tmp.path(), &runs, one, true).unwrap_err().to_string();
    assert!(err.contains("1 `evaluations` for 2 `runs`"), "{err}");
    let swapped = vec![
        evaluation(tmp.path(), "evaluate[b]", &[("model", "b")], [[1, 0, 0]; 3]),
        evaluation(tmp.path(), "evaluate[a]", &[("model", "a")], [[1, 0, 0]; 3]),
    ];
    let err = run(tmp.path(), &runs, swapped, true)
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("evaluation `evaluate[b]` is paired with run `train[a]`"),
        "{err}"
    );
}
