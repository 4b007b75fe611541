//! The results of training runs as `report.md` and a self-contained
//! `report.html`, beside published numbers where given, with the figures
//! of `plot` stages and the provenance of it all: what the `report` stage
//! kind (`kinds/report.rs`) writes.

mod document;
mod evaluation;
mod heatmap;
mod html;
mod markdown;
mod provenance;
mod reference;
mod summary;

use pipe_engine::{Context, Error, Result};

pub use document::{Confusion, Document, Table};
pub use evaluation::Evaluation;
pub use reference::{Published, Reference};
pub use summary::Summary;

use crate::kinds::report::ReportSpec;
use crate::metrics::Run;
use crate::plot::write;
pub(crate) use document::fmt;
use provenance::Provenance;

/// Writes a `report` stage's outputs (`kinds/report.rs` runs it).
pub(crate) fn write_report(spec: &ReportSpec, ctx: &Context) -> Result<()> {
    let artifacts = ctx.inputs_of("runs");
    let runs: Vec<Run> = artifacts.iter().map(Run::load).collect::<Result<_>>()?;
    let summaries: Vec<Summary> = runs.iter().map(Summary::of).collect::<Result<_>>()?;
    let evaluations = evaluation::pair(artifacts, ctx.inputs_of("evaluations"))?;
    let n_classes = evaluations
        .iter()
        .flatten()
        .map(|e| e.per_class.len())
        .max();
    let classes =
        evaluation::class_names(ctx.inputs_of("classes").first(), n_classes.unwrap_or(0))?;
    let mut figures = Vec::new();
    for fig in ctx.inputs_of("figures") {
        let png_path = fig
            .file("figure.png")
            .map_err(|e| e.with_hint("`figures` must name `plot` stages"))?;
        let png = std::fs::read(png_path).map_err(|e| Error::io(png_path, "read", e))?;
        let svg = fig
            .files
            .get("figure.svg")
            .map(|p| std::fs::read_to_string(p).map_err(|e| Error::io(p, "read", e)))
            .transpose()?;
        let caption = fig
            .files
            .get("figure.json")
            .and_then(|p| std::fs::read(p).ok())
            .and_then(|b| serde_json::from_slice::<serde_json::Value>(&b).ok())
            .and_then(|j| j["title"].as_str().map(str::to_string))
            .filter(|t| !t.is_empty())
            .unwrap_or_else(|| fig.stage.clone());
        let file_name = format!("fig-{}.png", file_stem(&fig.stage));
        figures.push(document::Figure {
            stage: fig.stage.clone(),
            caption,
            file_name,
            png,
            svg,
        });
    }
    let provenance = Provenance::collect(ctx.pipeline_file, ctx.pipeline_hash.to_hex(), &summaries);
    let mut doc = document(spec, &summaries, figures, provenance)?;
    add_evaluations(&mut doc, &summaries, &evaluations, &classes);

    for f in &doc.figures {
        write(ctx.out, &f.file_name, &f.png)?;
    }
    for c in &doc.confusions {
        write(ctx.out, &c.file_name, c.svg.as_bytes())?;
    }
    write(ctx.out, "report.md", markdown::render(&doc).as_bytes())?;
    write(ctx.out, "report.html", html::render(&doc).as_bytes())?;
    let json: Vec<serde_json::Value> = summaries
        .iter()
        .zip(&evaluations)
        .map(|(s, e)| {
            let mut j = s.to_json();
            j["test_accuracy"] = e.as_ref().map(|e| e.accuracy).into();
            j
        })
        .collect();
    let json = serde_json::to_string_pretty(&json).map_err(|e| Error::internal(e.to_string()))?;
    write(ctx.out, "summary.json", json.as_bytes())
}

/// Adds the evaluations to the report: a test accuracy column in the
/// results table, a per-class table and a confusion heatmap per run.
fn add_evaluations(
    doc: &mut Document,
    summaries: &[Summary],
    evaluations: &[Option<Evaluation>],
    classes: &[String],
) {
    if evaluations.iter().all(Option::is_none) {
        return;
    }
    let at = doc
        .table
        .header
        .iter()
        .position(|h| h == "final train loss")
        .unwrap_or(doc.table.header.len());
    doc.table.header.insert(at, "test acc (evaluate)".into());
    for (row, e) in doc.table.rows.iter_mut().zip(evaluations) {
        row.insert(
            at,
            e.as_ref().map_or("-".into(), |e| fmt::percent(e.accuracy)),
        );
    }
    let mut header = vec!["run".to_string()];
    header.extend(classes.iter().cloned());
    let rows = summaries
        .iter()
        .zip(evaluations)
        .filter_map(|(s, e)| {
            let e = e.as_ref()?;
            let mut row = vec![s.stage.clone()];
            row.extend(e.per_class.iter().map(|a| fmt::percent(*a)));
            Some(row)
        })
        .collect();
    doc.per_class = Some(Table { header, rows });
    doc.confusions = summaries
        .iter()
        .zip(evaluations)
        .filter_map(|(s, e)| {
            let e = e.as_ref()?;
            Some(Confusion {
                stage: s.stage.clone(),
                evaluation: e.stage.clone(),
                file_name: format!("confusion-{}.svg", file_stem(&s.stage)),
                svg: heatmap::svg(&e.confusion, classes),
            })
        })
        .collect();
}

/// Builds the report's content from the runs' summaries.
pub fn document(
    spec: &ReportSpec,
    summaries: &[Summary],
    figures: Vec<document::Figure>,
    provenance: Provenance,
) -> Result<Document> {
    let reference = &spec.reference;
    let compared = spec.reference_metric.as_str();
    let label = spec.reference_label.as_str();

    let mut used = vec![false; reference.entries.len()];
    let mut published = Vec::new();
    for s in summaries {
        let entry = reference.lookup(&s.stage, &s.matrix)?;
        if let Some(e) = entry {
            if let Some(i) = reference.entries.iter().position(|x| std::ptr::eq(x, e)) {
                used[i] = true;
            }
        }
        published.push(entry.map(|e| e.value.clone()));
    }
    let with_reference = published.iter().any(Option::is_some);

    // Parameter columns for what varies between the runs.
    let mut varying: Vec<&str> = Vec::new();
    for s in summaries {
        for (name, _) in &s.settings {
            let value = |s: &'_ Summary| {
                s.settings
                    .iter()
                    .find(|(n, _)| n == name)
                    .map(|p| p.1.clone())
            };
            let differs = summaries.iter().any(|o| value(o) != value(s));
            if differs && !varying.contains(&name.as_str()) {
                varying.push(name);
            }
        }
    }
    let mut header: Vec<String> = vec!["run".into()];
    header.extend(varying.iter().map(|v| v.to_string()));
    header.push("epochs".into());
    let columns: [(&str, &str); 3] = [
        ("min_test_loss", "min test loss (epoch)"),
        ("error_rate", "error rate at min"),
        ("best_test_acc", "best test acc (epoch)"),
    ];
    for (key, title) in columns {
        header.push(title.into());
        if with_reference && key == compared {
            header.push(label.to_string());
            header.push("difference".into());
        }
    }
    header.push("final train loss".to_string());

    let show = |key: &str, v: f64| {
        if key == "min_test_loss" {
            fmt::loss(v)
        } else {
            fmt::percent(v)
        }
    };
    let mut rows = Vec::new();
    for (s, pubd) in summaries.iter().zip(&published) {
        let mut row = vec![s.stage.clone()];
        for name in &varying {
            let v = s.settings.iter().find(|(n, _)| n == name);
            row.push(v.map_or("-".into(), |p| p.1.clone()));
        }
        row.push(s.epochs.to_string());
        for (key, _) in columns {
            row.push(match key {
                "min_test_loss" => format!("{} ({})", fmt::loss(s.min_test_loss), s.min_epoch),
                "error_rate" => s.error_at_min.map_or("-".into(), fmt::percent),
                _ => s
                    .best_test_acc
                    .map_or("-".into(), |(a, e)| format!("{} ({e})", fmt::percent(a))),
            });
            if with_reference && key == compared {
                match (pubd, s.metric(key)) {
                    (Some(Published::Number(p)), Some(ours)) => {
                        row.push(show(key, *p));
                        row.push(difference(key, ours, *p));
                    }
                    (Some(Published::Number(p)), None) => {
                        row.push(show(key, *p));
                        row.push("-".into());
                    }
                    (Some(Published::Text(t)), _) => {
                        row.push(t.clone());
                        row.push("-".into());
                    }
                    (None, _) => {
                        row.push("-".into());
                        row.push("-".into());
                    }
                }
            }
        }
        row.push(s.final_train_loss.map_or("-".into(), fmt::loss));
        rows.push(row);
    }

    let what = match compared {
        "min_test_loss" => "minimum test loss",
        "error_rate" => "error rate at the epoch of minimum test loss",
        _ => "best test accuracy",
    };
    let reference_note = with_reference.then(|| {
        format!("`{label}`: the reference value of the {what}; `difference`: this run minus it (relative difference in brackets).")
    });
    let unused_references = reference
        .entries
        .iter()
        .zip(&used)
        .filter(|(_, u)| !**u)
        .map(|(e, _)| e.describe())
        .collect();
    Ok(Document {
        title: spec.title.clone(),
        provenance,
        table: Table { header, rows },
        reference_note,
        unused_references,
        figures,
        notes: spec.notes.clone(),
        per_class: None,
        confusions: Vec::new(),
    })
}

/// `ours - published`, in the metric's units, with the relative change.
fn difference(key: &str, ours: f64, published: f64) -> String {
    let d = ours - published;
    let relative = if published != 0.0 {
        format!(" ({:+.1}%)", 100.0 * d / published.abs())
    } else {
        String::new()
    };
    if key == "min_test_loss" {
        format!("{d:+.4}{relative}")
    } else {
        format!("{:+.2} pp{relative}", d * 100.0)
    }
}

/// A stage name as a file name: `fig7[a,b]` -> `fig7_a_b`.
fn file_stem(stage: &str) -> String {
    let mut s: String = stage
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' {
                c
            } else {
                '_'
            }
        })
        .collect();
    while s.ends_with('_') {
        s.pop();
    }
    s
}
