//! The `plot` kind: valid PNG and SVG with the title, legend and axis text;
//! log scale; minimum markers; clear errors.

use std::collections::BTreeMap;
use std::path::Path;

use pipe_engine::Value;
use pipe_report::kinds::plot::KIND as Plot;

use super::support::*;

/// Three runs of one model in three modes, like figure 7.
fn three_modes(root: &Path) -> Vec<FakeRun> {
    vec![
        fake_run(
            root,
            "train[resnet50,transfer]",
            &[("model", "resnet50"), ("mode", "transfer")],
            &curve(12, 1.8, 0.30, 9),
        ),
        fake_run(
            root,
            "train[resnet50,finetune]",
            &[("model", "resnet50"), ("mode", "finetune")],
            &curve(12, 1.6, 0.15, 5),
        ),
        fake_run(
            root,
            "train[resnet50,scratch]",
            &[("model", "resnet50"), ("mode", "scratch")],
            &curve(12, 2.3, 1.20, 3),
        ),
    ]
}

fn plot(
    root: &Path,
    runs: &[FakeRun],
    set: &[(&str, Value)],
) -> pipe_engine::Result<std::path::PathBuf> {
    let kind = Plot;
    let params = params(&kind, set);
    let inputs = BTreeMap::from([("runs".to_string(), runs.iter().map(run_artifact).collect())]);
    let out = root.join("plot-out");
    let _ = std::fs::remove_dir_all(&out);
    run_kind(&kind, "fig7", &params, inputs, &out, &root.join("p.yaml"))?;
    keep(&out);
    Ok(out)
}

/// With `PIPE_KEEP_FIGURES=DIR`, copies each figure there to look at.
fn keep(out: &Path) {
    if let Ok(dir) = std::env::var("PIPE_KEEP_FIGURES") {
        let thread = std::thread::current();
        let name = thread.name().unwrap_or("figure").replace("::", "-");
        for ext in ["png", "svg"] {
            let _ = std::fs::copy(
                out.join(format!("figure.{ext}")),
                Path::new(&dir).join(format!("{name}.{ext}")),
            );
        }
    }
}

#[test]
fn writes_png_and_svg_with_title_legend_and_axes() {
    let tmp = tempfile::tempdir().unwrap();
    let runs = three_modes(tmp.path());
    let out = plot(
        tmp.path(),
        &runs,
        &[
            ("title", s("Fig. 7: ResNet50 test loss")),
            ("label", s("{mode}")),
        ],
    )
    .unwrap();

    let png = std::fs::read(out.join("figure.png")).unwrap();
    assert_eq!(png_dims(&png), (1000, 600));
    let texts = svg_texts(&std::fs::read_to_string(out.join("figure.svg")).unwrap());
    for want in [
        "Fig. 7: ResNet50 test loss",
        "transfer",
        "finetune",
        "scratch",
        "epoch",
        "test loss",
    ] {
        assert!(
            texts.iter().any(|t| t == want),
            "no <text> `{want}` in {texts:?}"
        );
    }
    // Integer epochs, one per tick, on the x axis (after the axis labels
    // and the y ticks, plotters writes the x ticks in order).
    let x_ticks: Vec<&String> = texts.iter().skip_while(|t| *t != "1").take(12).collect();
    assert_eq!(
        x_ticks,
        (1..=12)
            .map(|e| e.to_string())
            .collect::<Vec<_>>()
            .iter()
            .collect::<Vec<_>>()
    );
    let json: serde_json::Value =
        serde_json::from_slice(&std::fs::read(out.join("figure.json")).unwrap()).unwrap();
    assert_eq!(
        json["series"],
        serde_json::json!(["transfer", "finetune", "scratch"])
    );
}

#[test]
fn png_has_ink_in_the_series_colours() {
    let tmp = tempfile::tempdir().unwrap();
    let runs = three_modes(tmp.path());
    let out = plot(
        tmp.path(),
        &runs,
        &[("title", s("A title in the top band"))],
    )
    .unwrap();
    let bytes = std::fs::read(out.join("figure.png")).unwrap();
    let mut reader = png::Decoder::new(bytes.as_slice()).read_info().unwrap();
    let mut buf = vec![0; reader.output_buffer_size()];
    reader.next_frame(&mut buf).unwrap();
    let count = |rgb: [u8; 3]| buf.chunks(3).filter(|p| *p == rgb).count();
    // tab10 blue, orange, green: one per series.
    for rgb in [[0x1f, 0x77, 0xb4], [0xff, 0x7f, 0x0e], [0x2c, 0xa0, 0x2c]] {
        assert!(count(rgb) > 200, "too few pixels of {rgb:?}");
    }
    // The title renders: dark grey anti-aliased pixels in the top band,
    // where nothing but the title is drawn.
    let title_band = &buf[..1000 * 45 * 3];
    let dark = title_band
        .chunks(3)
        .filter(|p| p[0] == p[1] && p[1] == p[2] && p[0] < 128)
        .count();
    assert!(
        dark > 300,
        "only {dark} dark pixels in the title band: is text drawn?"
    );
}

#[test]
fn default_labels_are_the_varying_matrix_values() {
    let tmp = tempfile::tempdir().unwrap();
    let runs = three_modes(tmp.path());
    let out = plot(tmp.path(), &runs, &[]).unwrap();
    let texts = svg_texts(&std::fs::read_to_string(out.join("figure.svg")).unwrap());
    assert!(texts.iter().any(|t| t == "mode=finetune"), "{texts:?}");
    assert!(!texts.iter().any(|t| t.contains("resnet50")), "{texts:?}");
}

#[test]
fn marks_each_minimum_with_value_and_epoch() {
    let tmp = tempfile::tempdir().unwrap();
    let runs = three_modes(tmp.path());
    let out = plot(tmp.path(), &runs, &[]).unwrap();
    let texts = svg_texts(&std::fs::read_to_string(out.join("figure.svg")).unwrap());
    for want in ["0.3000 @ 9", "0.1500 @ 5", "1.200 @ 3"] {
        assert!(
            texts.iter().any(|t| t == want),
            "no marker `{want}` in {texts:?}"
        );
    }
    let out = plot(tmp.path(), &runs, &[("mark_min", Value::Bool(false))]).unwrap();
    let texts = svg_texts(&std::fs::read_to_string(out.join("figure.svg")).unwrap());
    assert!(!texts.iter().any(|t| t.contains(" @ ")), "{texts:?}");
}

#[test]
fn log_scale_changes_the_ticks_and_rejects_non_positive_values() {
    let tmp = tempfile::tempdir().unwrap();
    let runs = vec![fake_run(tmp.path(), "a", &[], &curve(10, 100.0, 0.01, 10))];
    let linear = svg_texts(
        &std::fs::read_to_string(plot(tmp.path(), &runs, &[]).unwrap().join("figure.svg")).unwrap(),
    );
    let log = plot(tmp.path(), &runs, &[("log_y", Value::Bool(true))]).unwrap();
    let log = svg_texts(&std::fs::read_to_string(log.join("figure.svg")).unwrap());
    // A log axis over 0.01..100 shows decades; a linear one cannot show 0.1.
    assert!(
        log.iter().any(|t| t == "0.1") && log.iter().any(|t| t == "10"),
        "{log:?}"
    );
    assert!(!linear.iter().any(|t| t == "0.1"), "{linear:?}");

    // A narrow range still gets several labelled ticks (1-2-5 per decade).
    let narrow = vec![fake_run(tmp.path(), "n", &[], &curve(5, 5.0, 0.25, 5))];
    let out = plot(tmp.path(), &narrow, &[("log_y", Value::Bool(true))]).unwrap();
    let texts = svg_texts(&std::fs::read_to_string(out.join("figure.svg")).unwrap());
    for tick in ["0.5", "1", "2", "5"] {
        assert!(
            texts.iter().any(|t| t == tick),
            "no tick {tick} in {texts:?}"
        );
    }

    let zero = vec![fake_run(
        tmp.path(),
        "z",
        &[],
        &["1,1,0,0.0,1,0.001".to_string()],
    )];
    let err = plot(tmp.path(), &zero, &[("log_y", Value::Bool(true))]).unwrap_err();
    assert!(
        err.to_string().contains("`log_y` needs positive values"),
        "{err}"
    );
}

#[test]
fn custom_size_and_accuracy_maximum() {
    let tmp = tempfile::tempdir().unwrap();
    let runs = three_modes(tmp.path());
    let set = [
        ("metric", s("test_acc")),
        ("width", Value::Int(640)),
        ("height", Value::Int(400)),
        ("mark_min", Value::Bool(false)),
        ("mark_max", Value::Bool(true)),
    ];
    let out = plot(tmp.path(), &runs, &set).unwrap();
    assert_eq!(
        png_dims(&std::fs::read(out.join("figure.png")).unwrap()),
        (640, 400)
    );
    let texts = svg_texts(&std::fs::read_to_string(out.join("figure.svg")).unwrap());
    assert!(texts.iter().any(|t| t == "test accuracy (%)"), "{texts:?}");
    assert!(texts.iter().any(|t| t.ends_with(" @ 5")), "{texts:?}");
}

#[test]
fn many_runs_and_a_single_epoch_still_draw() {
    let tmp = tempfile::tempdir().unwrap();
    let runs: Vec<FakeRun> = (0..12)
        .map(|i| {
            fake_run(
                tmp.path(),
                &format!("r{i}"),
                &[("seed", &i.to_string())],
                &curve(1, 1.0 + i as f64, 0.5, 1),
            )
        })
        .collect();
    let out = plot(tmp.path(), &runs, &[("label", s("seed {seed}"))]).unwrap();
    let texts = svg_texts(&std::fs::read_to_string(out.join("figure.svg")).unwrap());
    assert!(texts.iter().any(|t| t == "seed 11"), "{texts:?}");
}

#[test]
fn errors_name_the_file_and_line() {
    let tmp = tempfile::tempdir().unwrap();
    // Missing metrics.csv.
    let dir = tmp.path().join("empty");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("run.json"), "{}").unwrap();
    let kind = Plot;
    let p = params(&kind, &[]);
    let inputs = BTreeMap::from([(
        "runs".to_string(),
        vec![artifact("train[x]", BTreeMap::new(), &dir)],
    )]);
    let err = run_kind(
        &kind,
        "fig",
        &p,
        inputs,
        &tmp.path().join("o1"),
        Path::new("p.yaml"),
    )
    .unwrap_err();
    assert!(
        err.to_string()
            .contains("stage `train[x]` has no output `metrics.csv`"),
        "{err}"
    );
    assert!(
        err.hint().unwrap().contains("training stages"),
        "{:?}",
        err.hint()
    );

    // A malformed row: file and line.
    let bad = fake_run(
        tmp.path(),
        "bad",
        &[],
        &["1,1,0,0.5,1,0.001".into(), "2,1,0,oops,1,0.001".into()],
    );
    let err = plot(tmp.path(), &[bad], &[]).unwrap_err();
    let msg = err.to_string();
    assert!(
        msg.contains("metrics.csv") && msg.contains("line 3") && msg.contains("`oops`"),
        "{msg}"
    );

    // A short row.
    let short = fake_run(tmp.path(), "short", &[], &["1,1,0".into()]);
    let msg = plot(tmp.path(), &[short], &[]).unwrap_err().to_string();
    assert!(
        msg.contains("line 2: 3 fields where the header has 6"),
        "{msg}"
    );

    // An unknown metric (the engine validates the enum; the kind refuses too).
    let ok = fake_run(tmp.path(), "ok", &[], &curve(3, 1.0, 0.5, 2));
    let msg = plot(tmp.path(), &[ok], &[("metric", s("test_los"))])
        .unwrap_err()
        .to_string();
    assert!(msg.contains("unknown metric `test_los`"), "{msg}");

    // An unknown label placeholder.
    let ok = fake_run(tmp.path(), "ok2", &[("mode", "x")], &curve(3, 1.0, 0.5, 2));
    let msg = plot(tmp.path(), &[ok], &[("label", s("{mdoe}"))])
        .unwrap_err()
        .to_string();
    assert!(msg.contains("`{mdoe}`"), "{msg}");
}

#[test]
fn check_rejects_bad_sizes_and_templates() {
    let kind = Plot;
    let problems = kind.check(&params(
        &kind,
        &[("width", Value::Int(10)), ("label", s("{mode"))],
    ));
    let names: Vec<&str> = problems.iter().map(|(n, _)| n.as_str()).collect();
    assert_eq!(names, ["width", "label"], "{problems:?}");
}

#[test]
fn minima_at_the_same_place_get_separate_labels() {
    let tmp = tempfile::tempdir().unwrap();
    let runs = vec![
        fake_run(tmp.path(), "a", &[("m", "a")], &curve(4, 1.0, 0.010, 4)),
        fake_run(tmp.path(), "b", &[("m", "b")], &curve(4, 1.2, 0.011, 4)),
    ];
    let out = plot(tmp.path(), &runs, &[]).unwrap();
    let svg = std::fs::read_to_string(out.join("figure.svg")).unwrap();
    let doc = roxmltree::Document::parse(&svg).unwrap();
    let ys: Vec<f64> = doc
        .descendants()
        .filter(|n| n.tag_name().name() == "text" && n.text().is_some_and(|t| t.contains(" @ 4")))
        .map(|n| n.attribute("y").unwrap().parse().unwrap())
        .collect();
    assert_eq!(ys.len(), 2, "{svg}");
    assert!((ys[0] - ys[1]).abs() >= 10.0, "labels overlap: {ys:?}");
}
