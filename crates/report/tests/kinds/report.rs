//! The `report` kind: every run with its numbers, reference values and
//! differences, figures inlined, provenance; clear errors.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use pipe_engine::{Artifact, Value};
use pipe_report::kinds::plot::KIND as Plot;
use pipe_report::kinds::report::KIND as Report;

use super::support::*;

fn map(pairs: Vec<(&str, Value)>) -> Value {
    Value::Map(pairs.into_iter().map(|(k, v)| (k.to_string(), v)).collect())
}

/// Four runs (one with accuracy in percent) and the paper-style reference.
fn runs(root: &Path) -> Vec<FakeRun> {
    let pct: Vec<String> = curve(6, 2.0, 0.2, 4)
        .iter()
        .map(|r| {
            let mut f: Vec<String> = r.split(',').map(str::to_string).collect();
            f[4] = format!("{}", f[4].parse::<f64>().unwrap() * 100.0);
            f.join(",")
        })
        .collect();
    vec![
        fake_run(
            root,
            "train[resnet50,transfer]",
            &[
                ("model", "resnet50"),
                ("mode", "transfer"),
                ("optimizer", "sgd"),
            ],
            &curve(6, 1.8, 0.125, 5),
        ),
        fake_run(
            root,
            "train[resnet50,scratch]",
            &[
                ("model", "resnet50"),
                ("mode", "scratch"),
                ("optimizer", "sgd"),
            ],
            &curve(6, 2.3, 1.5, 2),
        ),
        fake_run(
            root,
            "train[vit_b_16,transfer]",
            &[
                ("model", "vit_b_16"),
                ("mode", "transfer"),
                ("optimizer", "sgd"),
            ],
            &pct,
        ),
        fake_run(
            root,
            "train[vit_b_16,transfer,adam]",
            &[
                ("model", "vit_b_16"),
                ("mode", "transfer"),
                ("optimizer", "adam"),
            ],
            &curve(6, 1.0, 0.05, 3),
        ),
    ]
}

fn reference() -> Value {
    map(vec![
        (
            "resnet50",
            map(vec![
                ("transfer", Value::Float(0.1166)),
                ("scratch", s("overfits (loss rises)")),
            ]),
        ),
        (
            "vit_b_16",
            map(vec![(
                "transfer",
                map(vec![("optimizer=sgd", Value::Float(0.0635))]),
            )]),
        ),
        ("densenet201", map(vec![("transfer", Value::Float(0.0986))])),
    ])
}

struct Out {
    dir: PathBuf,
    md: String,
    html: String,
}

fn report(
    root: &Path,
    runs: &[FakeRun],
    figures: Vec<Artifact>,
    set: &[(&str, Value)],
) -> pipe_engine::Result<Out> {
    let kind = Report;
    let params = params(&kind, set);
    let mut inputs =
        BTreeMap::from([("runs".to_string(), runs.iter().map(run_artifact).collect())]);
    if !figures.is_empty() {
        inputs.insert("figures".to_string(), figures);
    }
    let dir = root.join("report-out");
    let _ = std::fs::remove_dir_all(&dir);
    run_kind(
        &kind,
        "report",
        &params,
        inputs,
        &dir,
        &root.join("pipelines/paper.yaml"),
    )?;
    Ok(Out {
        md: std::fs::read_to_string(dir.join("report.md")).unwrap(),
        html: std::fs::read_to_string(dir.join("report.html")).unwrap(),
        dir,
    })
}

/// The Markdown table row of a stage, split into cells.
fn row<'a>(md: &'a str, stage: &str) -> Vec<&'a str> {
    let line = md
        .lines()
        .find(|l| {
            l.starts_with(&format!("| {stage} |")) || l.starts_with(&format!("| `{stage}` |"))
        })
        .unwrap_or_else(|| panic!("no row for {stage}:\n{md}"));
    line.trim_matches('|')
        .split(" | ")
        .map(|c| c.trim().trim_matches('`'))
        .collect()
}

#[test]
fn lists_every_run_with_numbers_and_reference() {
    let tmp = tempfile::tempdir().unwrap();
    let runs = runs(tmp.path());
    let out = report(
        tmp.path(),
        &runs,
        vec![],
        &[("title", s("STL-10 results")), ("reference", reference())],
    )
    .unwrap();
    assert!(out.md.starts_with("# STL-10 results\n"), "{}", out.md);
    let header = row(&out.md, "run");
    assert_eq!(
        header,
        [
            "run",
            "model",
            "mode",
            "optimizer",
            "epochs",
            "min test loss (epoch)",
            "published",
            "difference",
            "error rate at min",
            "best test acc (epoch)",
            "final train loss"
        ]
    );
    // curve(6, 1.8, 0.125, 5): minimum 0.125 at epoch 5; published 0.1166.
    let r = row(&out.md, "train[resnet50,transfer]");
    // The parameter columns: what varies between the runs.
    assert_eq!(r[1..4], ["resnet50", "transfer", "sgd"]);
    assert_eq!(r[4], "6");
    assert_eq!(r[5], "0.1250 (5)");
    assert_eq!(r[6], "0.1166");
    assert_eq!(r[7], "+0.0084 (+7.2%)");
    // test_acc at epoch 5 = 1 - 0.125 / 2.16; error = its complement.
    assert_eq!(r[8], format!("{:.2}%", 100.0 * 0.125 / 2.16));
    assert_eq!(r.len(), 11, "no timing columns: {r:?}");
    let r = row(&out.md, "train[resnet50,scratch]");
    assert_eq!(
        (r[5], r[6], r[7]),
        ("1.5000 (2)", "overfits (loss rises)", "-")
    );
    // Percent accuracies are read as such: the error rate stays a sane percentage.
    let r = row(&out.md, "train[vit_b_16,transfer]");
    assert_eq!((r[5], r[6]), ("0.2000 (4)", "0.0635"));
    assert_eq!(r[8], format!("{:.2}%", 100.0 * 0.2 / 2.4));
    // The Adam run has no published number (the path pins optimizer=sgd).
    let r = row(&out.md, "train[vit_b_16,transfer,adam]");
    assert_eq!(r[3], "adam");
    assert_eq!((r[6], r[7]), ("-", "-"));
    // The densenet entry matched nothing: said, not silently dropped.
    assert!(
        out.md.contains("match no run: `densenet201 > transfer`"),
        "{}",
        out.md
    );

    for run in &runs {
        let shown = run.stage.replace(',', ",<wbr>").replace('[', "[<wbr>");
        assert!(
            out.html.contains(&format!("<code>{shown}</code>")),
            "html lacks {}",
            run.stage
        );
    }
    // The reference legend is Markdown, rendered: no literal backticks.
    assert!(out
        .html
        .contains("<code>published</code>: the reference value"));
    assert!(!out.html.contains('`'), "{}", out.html);
    assert!(out.html.contains("<td class=\"n\">0.1166</td>"));
    let json: serde_json::Value =
        serde_json::from_slice(&std::fs::read(out.dir.join("summary.json")).unwrap()).unwrap();
    assert_eq!(json.as_array().unwrap().len(), 4);
    assert_eq!(json[0]["min_epoch"], 5);
}

#[test]
fn without_reference_there_are_no_reference_columns() {
    let tmp = tempfile::tempdir().unwrap();
    let runs = runs(tmp.path());
    let out = report(tmp.path(), &runs, vec![], &[]).unwrap();
    assert!(!row(&out.md, "run").contains(&"published"));
    assert!(out.md.starts_with("# Results\n"));
}

#[test]
fn compares_error_rates_when_asked() {
    let tmp = tempfile::tempdir().unwrap();
    let runs = runs(tmp.path());
    let reference = map(vec![("train[resnet50,*]", Value::Float(0.05))]);
    let set = [
        ("reference", reference),
        ("reference_metric", s("error_rate")),
        ("reference_label", s("paper")),
    ];
    let out = report(tmp.path(), &runs, vec![], &set).unwrap();
    let header = row(&out.md, "run");
    assert_eq!(&header[6..9], ["error rate at min", "paper", "difference"]);
    let r = row(&out.md, "train[resnet50,transfer]");
    assert_eq!(r[7], "5.00%");
    assert!(r[8].ends_with(" pp (+15.7%)"), "{r:?}");
}

#[test]
fn figures_are_inlined_and_written_beside_the_markdown() {
    let tmp = tempfile::tempdir().unwrap();
    let runs = runs(tmp.path());
    let plot = Plot;
    let fig_dir = tmp.path().join("fig7-out");
    let p = params(
        &plot,
        &[
            ("title", s("Fig. 7: ResNet50")),
            ("width", Value::Int(400)),
            ("height", Value::Int(300)),
        ],
    );
    let inputs = BTreeMap::from([(
        "runs".to_string(),
        runs[..2].iter().map(run_artifact).collect(),
    )]);
    run_kind(&plot, "fig7", &p, inputs, &fig_dir, Path::new("p.yaml")).unwrap();
    let figures = vec![artifact("fig7", BTreeMap::new(), &fig_dir)];

    let out = report(
        tmp.path(),
        &runs,
        figures,
        &[("notes", s("Offline & *small*: <not> the paper."))],
    )
    .unwrap();
    let png = std::fs::read(fig_dir.join("figure.png")).unwrap();
    assert_eq!(std::fs::read(out.dir.join("fig-fig7.png")).unwrap(), png);
    assert!(
        out.md.contains("![Fig. 7: ResNet50](fig-fig7.png)"),
        "{}",
        out.md
    );
    // The HTML inlines the figure's SVG (text stays text).
    let svg = std::fs::read_to_string(fig_dir.join("figure.svg")).unwrap();
    let start = svg.find("<svg").unwrap();
    assert!(out.html.contains(&format!("<figure>{}", &svg[start..])));
    // Notes are Markdown; raw HTML in them is shown as text.
    assert!(
        out.html
            .contains("<p>Offline &amp; <em>small</em>: &lt;not&gt; the paper.</p>"),
        "{}",
        out.html
    );
    assert!(
        !out.html.contains("src=\"fig-"),
        "the HTML must not depend on files beside it"
    );
}

#[test]
fn provenance_names_file_hash_versions_and_device_and_nothing_of_the_making() {
    let tmp = tempfile::tempdir().unwrap();
    let runs = runs(tmp.path());
    let out = report(tmp.path(), &runs, vec![], &[]).unwrap();
    let hash = pipe_engine::ContentHash::of(b"pipeline").to_hex();
    for want in [
        "pipeline file: `paper.yaml`".to_string(),
        hash,
        format!("pipe version: `{}`", env!("CARGO_PKG_VERSION")),
        "libtorch: `2.11.0`".into(),
        "CUDA: `12.8`".into(),
        "device: `Fake GPU 9000`".into(),
        "git commit: `none (not in a git work tree)`".into(),
    ] {
        assert!(out.md.contains(&want), "no `{want}` in\n{}", out.md);
    }
    // Nothing that differs between two makings of the same report.
    assert!(!out.md.contains("- date:"), "{}", out.md);
    assert!(
        !out.md.contains(&tmp.path().display().to_string()),
        "{}",
        out.md
    );
}

#[test]
fn errors() {
    let tmp = tempfile::tempdir().unwrap();
    let kind = Report;
    // A run without metrics.csv.
    let dir = tmp.path().join("nothing");
    std::fs::create_dir_all(&dir).unwrap();
    let inputs = BTreeMap::from([(
        "runs".to_string(),
        vec![artifact("train[x]", BTreeMap::new(), &dir)],
    )]);
    let err = run_kind(
        &kind,
        "r",
        &params(&kind, &[]),
        inputs,
        &tmp.path().join("o"),
        Path::new("p.yaml"),
    )
    .unwrap_err();
    assert!(
        err.to_string().contains("has no output `metrics.csv`"),
        "{err}"
    );

    // A malformed row.
    let bad = fake_run(
        tmp.path(),
        "bad",
        &[],
        &[
            "1,0.5,0.9,0.4,0.9,0.001".into(),
            "2,0.5,0.9,x,0.9,0.001".into(),
        ],
    );
    let msg = report(tmp.path(), &[bad], vec![], &[])
        .err()
        .unwrap()
        .to_string();
    assert!(
        msg.contains("line 3: `test_loss` is `x`, not a number"),
        "{msg}"
    );

    // An ambiguous reference.
    let ok = fake_run(
        tmp.path(),
        "t[a,b]",
        &[("m", "a"), ("n", "b")],
        &curve(3, 1.0, 0.5, 2),
    );
    let reference = map(vec![("a", Value::Float(1.0)), ("b", Value::Float(2.0))]);
    let msg = report(tmp.path(), &[ok], vec![], &[("reference", reference)])
        .err()
        .unwrap()
        .to_string();
    assert!(msg.contains("matches two `reference` entries"), "{msg}");

    // A malformed reference is caught by `check`, before anything runs.
    let problems = kind.check(&params(
        &kind,
        &[("reference", map(vec![("a", Value::List(vec![]))]))],
    ));
    assert_eq!(problems.len(), 1, "{problems:?}");
    assert_eq!(problems[0].0, "reference");
}
