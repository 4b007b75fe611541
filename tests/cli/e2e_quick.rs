//! End to end: `pipelines/quick.yaml` with the real `pipe` binary (libtorch
//! on the CPU, synthetic data, no network) in a temporary project. Checks
//! that every figure is a valid PNG and SVG, that the report lists every
//! run, that a second run executes nothing, and that edits rerun exactly
//! what they should (by stage name).
//!
//! Takes a few minutes on two cores; needs the `torch` feature.
#![cfg(feature = "torch")]

use crate::common::project::{names, Out, Project};

const FIGURES: [&str; 6] = ["fig7", "fig8", "fig9", "fig10", "fig11", "fig_adam"];

const RUNS: [&str; 13] = [
    "train[resnet18,transfer]",
    "train[resnet18,finetune]",
    "train[resnet18,scratch]",
    "train[densenet121,transfer]",
    "train[densenet121,finetune]",
    "train[densenet121,scratch]",
    "train[vit_b_32,transfer]",
    "train[vit_b_32,finetune]",
    "train[vit_b_32,scratch]",
    "train_adam",
    "train_aug[pspnet]",
    "train_aug[augmix]",
    "train_aug[cutmix_mixup]",
];

fn quick_yaml() -> String {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/pipelines/quick.yaml");
    std::fs::read_to_string(path).unwrap_or_else(|e| panic!("cannot read {path}: {e}"))
}

fn run(p: &Project) -> Out {
    run_with(p, &[])
}

/// `pipe run quick.yaml` in the project's cache, with `extra` arguments.
fn run_with(p: &Project, extra: &[&str]) -> Out {
    let mut args = vec![
        "run",
        "quick.yaml",
        "--cache-dir",
        "cache",
        "--results-dir",
        "results",
    ];
    args.extend_from_slice(extra);
    let out = p.pipe(&args);
    out.ok();
    out
}

/// Replaces exactly one occurrence of `from` in the project's quick.yaml.
fn edit(p: &Project, from: &str, to: &str) {
    let text = p.read("quick.yaml");
    assert_eq!(
        text.matches(from).count(),
        1,
        "`{from}` must occur once in quick.yaml"
    );
    p.write("quick.yaml", &text.replacen(from, to, 1));
}

fn check_png(bytes: &[u8], what: &str) {
    assert!(bytes.len() > 1000, "{what}: only {} bytes", bytes.len());
    assert_eq!(
        &bytes[..8],
        b"\x89PNG\r\n\x1a\n",
        "{what}: no PNG signature"
    );
    assert_eq!(&bytes[12..16], b"IHDR", "{what}: no IHDR chunk");
    let w = u32::from_be_bytes(bytes[16..20].try_into().unwrap());
    let h = u32::from_be_bytes(bytes[20..24].try_into().unwrap());
    assert_eq!((w, h), (1000, 600), "{what}: size");
    assert!(
        bytes.ends_with(b"IEND\xaeB`\x82"),
        "{what}: truncated (no IEND chunk)"
    );
}

fn check_svg(text: &str, title: &str, what: &str) {
    assert!(
        text.trim_start().starts_with("<svg"),
        "{what}: not an SVG document"
    );
    assert!(text.trim_end().ends_with("</svg>"), "{what}: truncated SVG");
    assert_eq!(
        text.matches("<text").count(),
        text.matches("</text>").count(),
        "{what}: unbalanced <text>"
    );
    assert!(
        text.contains(&format!(">{title}<")) || text.contains(title),
        "{what}: no title `{title}`"
    );
}

#[test]
fn quick_pipeline_end_to_end() {
    let p = Project::new();
    p.write("quick.yaml", &quick_yaml());

    // First run: everything, successfully.
    let first = run(&p);
    assert!(
        first.cached().is_empty(),
        "a fresh cache has nothing cached: {:?}",
        first.cached()
    );
    for stage in RUNS {
        assert!(
            first.ran().contains(&stage.to_string()),
            "{stage} did not run:\n{}",
            first.stderr
        );
        let csv = p.read(&format!("results/{stage}/metrics.csv"));
        let losses: Vec<f64> = csv
            .lines()
            .skip(1)
            .map(|l| l.split(',').nth(1).unwrap().parse().unwrap())
            .collect();
        assert!(
            losses.last() < losses.first(),
            "{stage}: training loss does not fall: {losses:?}"
        );
    }

    for fig in FIGURES {
        let png = std::fs::read(p.join(&format!("results/{fig}/figure.png"))).unwrap();
        check_png(&png, fig);
        let json: serde_json::Value =
            serde_json::from_str(&p.read(&format!("results/{fig}/figure.json"))).unwrap();
        let title = json["title"].as_str().unwrap().to_string();
        check_svg(&p.read(&format!("results/{fig}/figure.svg")), &title, fig);
    }

    let md = p.read("results/report/report.md");
    let html = p.read("results/report/report.html");
    for stage in RUNS {
        assert!(
            md.contains(&format!("| `{stage}` |")),
            "report.md lacks {stage}"
        );
        // Run names may wrap after commas and brackets in the HTML table.
        let shown = stage.replace(',', ",<wbr>").replace('[', "[<wbr>");
        assert!(
            html.contains(&format!("<code>{shown}</code>")),
            "report.html lacks {stage}"
        );
    }
    // Figures inline as SVG; a confusion heatmap per evaluated run.
    assert_eq!(
        html.matches("<figure><svg").count(),
        FIGURES.len() + RUNS.len()
    );
    assert_eq!(
        html.matches("<table>").count(),
        2,
        "results and per-class tables"
    );
    for heading in [
        "| run | model | mode | optimizer | lr | policy | epochs",
        "test acc (evaluate)",
        "| paper | difference |",
    ] {
        assert!(md.contains(heading), "report.md lacks `{heading}`:\n{md}");
    }
    // The per-class table and the heatmaps name classes, not indices.
    assert!(
        md.contains("| run | pattern0 | pattern1 | pattern2 |"),
        "{md}"
    );
    assert!(html.contains(">pattern0</text>"));
    assert!(!html.contains('`'), "no literal backticks in the HTML");

    // Second run: nothing to do.
    let second = run(&p);
    assert!(
        second.ran().is_empty(),
        "a second run ran {:?}",
        second.ran()
    );

    // Training is deterministic and its timings are measurements, not
    // outputs: forced to run again, a training stage makes the same bytes,
    // so nothing downstream reruns; `pipe exp show` shows what it measured.
    let forced = run_with(&p, &["--force", "train_adam"]);
    assert_eq!(forced.ran(), names(&["train_adam"]), "{}", forced.stderr);
    let shown = p.pipe(&[
        "exp",
        "show",
        "quick.yaml",
        "--cache-dir",
        "cache",
        "train_adam",
    ]);
    shown.ok();
    assert!(shown.stdout.contains("images/s"), "{}", shown.stdout);

    // One run's learning rate: that training, its evaluation, the figure
    // showing it and the report.
    edit(&p, "      lr: 0.001\n", "      lr: 0.002\n");
    let out = run(&p);
    assert_eq!(
        out.ran(),
        names(&["train_adam", "evaluate_adam", "fig_adam", "report"])
    );

    // A figure's title: that figure, and the report that embeds it (its
    // input changed: the image shows the title, the caption quotes it).
    edit(
        &p,
        "Fig. 7 (quick): ResNet18, test loss per epoch",
        "Fig. 7 (quick): ResNet-18 test loss",
    );
    let out = run(&p);
    assert_eq!(out.ran(), names(&["fig7", "report"]));
    assert!(p
        .read("results/report/report.md")
        .contains("Fig. 7 (quick): ResNet-18 test loss"));
}
