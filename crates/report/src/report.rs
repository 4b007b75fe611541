//! The `report` stage kind: the results of training runs as `report.md` and
//! a self-contained `report.html`, beside published numbers where given,
//! with the figures of `plot` stages and the provenance of it all.

mod document;
mod html;
mod markdown;
mod provenance;
mod reference;
mod summary;

use pipe_engine::{
    Context, Diagnostic, Error, InputSpec, Kind, Lit, OutputSpec, ParamSpec, ParamType, Params,
    Pipeline, Result, Stage, Value,
};

pub use document::{Document, Table};
pub use reference::{Published, Reference};
pub use summary::Summary;

use crate::metrics::Run;
use crate::plot::write;
use document::fmt;
use provenance::Provenance;

/// Which result the `reference` numbers are compared with.
const REFERENCE_METRICS: &[&str] = &["min_test_loss", "error_rate", "best_test_acc"];

const PARAMS: &[ParamSpec] = &[
    ParamSpec::optional("title", ParamType::Str, Lit::Str("Results"), "The report's heading."),
    ParamSpec::optional(
        "reference",
        ParamType::Map,
        Lit::Null,
        "Published numbers to compare with. Keys select runs: a stage name or glob (`\"train[resnet50,transfer]\": 0.1166`), or nested matrix values (`resnet50: {transfer: 0.1166}`; `axis=value` pins an axis). Leaves are numbers, or text shown as is (`overfits`). The most specific match wins.",
    ),
    ParamSpec::optional(
        "reference_metric",
        ParamType::Enum(REFERENCE_METRICS),
        Lit::Str("min_test_loss"),
        "What the `reference` numbers are: the minimum test loss, the error rate (1 - accuracy) at that epoch, or the best test accuracy; fractions, not percentages.",
    ),
    ParamSpec::optional("reference_label", ParamType::Str, Lit::Str("published"), "The heading of the reference column."),
    ParamSpec::optional("notes", ParamType::Str, Lit::Str(""), "Text under the title (Markdown in `report.md`)."),
];

const INPUTS: &[InputSpec] = &[
    InputSpec::many(
        "runs",
        "Training stages to report, one table row each, in the order given.",
    ),
    InputSpec {
        name: "figures",
        doc: "`plot` stages whose figures to include.",
        required: false,
        many: true,
    },
];

const OUTPUTS: &[OutputSpec] = &[
    OutputSpec {
        name: "report.md",
        doc: "The report in Markdown; figures as `fig-*.png` beside it.",
    },
    OutputSpec {
        name: "report.html",
        doc: "The same, as one self-contained HTML page (figures inlined).",
    },
    OutputSpec {
        name: "summary.json",
        doc: "The table's numbers per run, for scripts.",
    },
];

/// The `report` kind.
pub struct Report;

impl Kind for Report {
    fn name(&self) -> &'static str {
        "report"
    }

    fn version(&self) -> u32 {
        1
    }

    fn summary(&self) -> &'static str {
        "Results of training runs, beside published numbers, as Markdown and self-contained HTML."
    }

    fn params(&self) -> &'static [ParamSpec] {
        PARAMS
    }

    fn inputs(&self) -> &'static [InputSpec] {
        INPUTS
    }

    fn outputs(&self) -> &'static [OutputSpec] {
        OUTPUTS
    }

    fn check(&self, params: &Params) -> Vec<(String, String)> {
        match params.get("reference").map(Reference::parse) {
            Ok(Err(message)) => vec![("reference".to_string(), message)],
            _ => Vec::new(),
        }
    }

    fn check_stage(&self, pipeline: &Pipeline, stage: &Stage) -> Vec<Diagnostic> {
        let Ok(Ok(reference)) = stage.params.get("reference").map(Reference::parse) else {
            return Vec::new();
        };
        let runs = stage.input(pipeline, "runs");
        let stages: Vec<(&str, &std::collections::BTreeMap<String, Value>)> =
            runs.iter().map(|s| (s.name.as_str(), &s.matrix)).collect();
        reference
            .matching_none(&stages)
            .map(|e| {
                Diagnostic::error(format!(
                    "`reference` entry `{}` selects none of the runs of stage `{}`",
                    e.describe(),
                    stage.name
                ))
                .at(stage.span_of("reference"))
                .hint("a key is a stage name or glob, or nested matrix values (`resnet50: {transfer: 0.1}`, `optimizer=sgd`); `pipe dag FILE` lists the stages")
            })
            .collect()
    }

    fn run(&self, ctx: &Context) -> Result<()> {
        let runs: Vec<Run> = ctx
            .inputs_of("runs")
            .iter()
            .map(Run::load)
            .collect::<Result<_>>()?;
        let summaries: Vec<Summary> = runs.iter().map(Summary::of).collect::<Result<_>>()?;
        let mut figures = Vec::new();
        for fig in ctx.inputs_of("figures") {
            let png_path = fig
                .file("figure.png")
                .map_err(|e| e.with_hint("`figures` must name `plot` stages"))?;
            let png = std::fs::read(png_path).map_err(|e| Error::io(png_path, "read", e))?;
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
            });
        }
        let provenance =
            Provenance::collect(ctx.pipeline_file, ctx.pipeline_hash.to_hex(), &summaries);
        let doc = document(ctx.params, &summaries, figures, provenance)?;

        for f in &doc.figures {
            write(ctx.out, &f.file_name, &f.png)?;
        }
        write(ctx.out, "report.md", markdown::render(&doc).as_bytes())?;
        write(ctx.out, "report.html", html::render(&doc).as_bytes())?;
        let json: Vec<serde_json::Value> = summaries.iter().map(Summary::to_json).collect();
        let json =
            serde_json::to_string_pretty(&json).map_err(|e| Error::internal(e.to_string()))?;
        write(ctx.out, "summary.json", json.as_bytes())
    }
}

/// Builds the report's content from the runs' summaries.
pub fn document(
    params: &Params,
    summaries: &[Summary],
    figures: Vec<document::Figure>,
    provenance: Provenance,
) -> Result<Document> {
    let reference = Reference::parse(params.get("reference")?)
        .map_err(|m| Error::failed(format!("parameter `reference` {m}")))?;
    let compared = params.str("reference_metric")?;
    let label = params.str("reference_label")?;

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

    let mut header: Vec<String> = vec!["run".into(), "epochs".into()];
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
    header.extend(["final train loss", "wall time", "images/s"].map(String::from));

    let show = |key: &str, v: f64| {
        if key == "min_test_loss" {
            fmt::loss(v)
        } else {
            fmt::percent(v)
        }
    };
    let mut rows = Vec::new();
    for (s, pubd) in summaries.iter().zip(&published) {
        let mut row = vec![s.stage.clone(), s.epochs.to_string()];
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
        row.push(s.wall_seconds.map_or("-".into(), fmt::duration));
        row.push(s.images_per_s.map_or("-".into(), fmt::rate));
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
        title: params.str("title")?.to_string(),
        provenance,
        table: Table { header, rows },
        reference_note,
        unused_references,
        figures,
        notes: params.str("notes")?.to_string(),
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
