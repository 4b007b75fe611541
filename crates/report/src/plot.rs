//! The `plot` stage kind: per-epoch curves of one metric, one series per
//! training run, written as `figure.png` and `figure.svg` (plus
//! `figure.json`, the figure's title and series, which `report` captions with).

mod chart;
mod log_axis;
mod render;
mod ticks;
mod typeset;

use std::collections::BTreeMap;

use pipe_engine::{
    Context, Diagnostic, Error, InputSpec, Kind, Lit, OutputSpec, ParamSpec, ParamType, Params,
    Pipeline, Result, Stage, Value,
};

pub use chart::{Figure, Series};
pub use render::{png, svg};

use crate::label;
use crate::metrics::{as_fractions, Metrics, Run, COLUMNS};

/// The metrics a figure can show: every column but the epoch.
pub const METRICS: &[&str] = &[
    "train_loss",
    "train_acc",
    "test_loss",
    "test_acc",
    "lr",
    "seconds",
    "images_per_s",
];

const PARAMS: &[ParamSpec] = &[
    ParamSpec::optional("metric", ParamType::Enum(METRICS), Lit::Str("test_loss"), "The `metrics.csv` column to draw (accuracies in percent)."),
    ParamSpec::optional("title", ParamType::Str, Lit::Str(""), "The figure's title (none if empty)."),
    ParamSpec::optional("x_label", ParamType::Str, Lit::Str("epoch"), "The x axis label."),
    ParamSpec::optional(
        "y_label",
        ParamType::Str,
        Lit::Str(""),
        "The y axis label; empty: the metric's name in words (`test loss`).",
    ),
    ParamSpec::optional(
        "label",
        ParamType::Str,
        Lit::Str(""),
        "Legend entry per run: `{NAME}` is the run's matrix value NAME, `{stage}` its stage name, `{{`/`}}` literal braces (quote it in YAML: `label: \"{mode}\"`). Empty: the matrix values that differ between the runs, as `name=value`.",
    ),
    ParamSpec::optional("log_y", ParamType::Bool, Lit::Bool(false), "Logarithmic y axis (values must be positive)."),
    ParamSpec::optional(
        "mark_min",
        ParamType::Bool,
        Lit::Bool(true),
        "Mark each series' minimum with a dot and its value and epoch.",
    ),
    ParamSpec::optional("mark_max", ParamType::Bool, Lit::Bool(false), "Mark each series' maximum (useful for accuracy)."),
    ParamSpec::optional("width", ParamType::Int, Lit::Int(1000), "Width in pixels (SVG: user units)."),
    ParamSpec::optional("height", ParamType::Int, Lit::Int(600), "Height in pixels."),
];

const INPUTS: &[InputSpec] = &[InputSpec::many(
    "runs",
    "Training stages whose `metrics.csv` to draw, one series each, in the order given.",
)];

const OUTPUTS: &[OutputSpec] = &[
    OutputSpec {
        name: "figure.png",
        doc: "The figure as a PNG image.",
    },
    OutputSpec {
        name: "figure.svg",
        doc: "The figure as SVG (text as `<text>` elements).",
    },
    OutputSpec {
        name: "figure.json",
        doc: "Title, metric and series labels (for captions).",
    },
];

/// The `plot` kind.
pub struct Plot;

impl Kind for Plot {
    fn name(&self) -> &'static str {
        "plot"
    }

    fn version(&self) -> u32 {
        3
    }

    fn summary(&self) -> &'static str {
        "Line figure of one per-epoch metric of several training runs (PNG and SVG)."
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
        let mut problems = Vec::new();
        for (name, lo, hi) in [("width", 200, 8000), ("height", 150, 8000)] {
            if let Ok(v) = params.i64(name) {
                if !(lo..=hi).contains(&v) {
                    problems.push((
                        name.to_string(),
                        format!("must be between {lo} and {hi} pixels (got {v})"),
                    ));
                }
            }
        }
        if let Ok(template) = params.str("label") {
            if let Err(message) = label::check(template) {
                problems.push(("label".to_string(), message));
            }
        }
        problems
    }

    fn check_stage(&self, pipeline: &Pipeline, stage: &Stage) -> Vec<Diagnostic> {
        let Ok(template) = stage.params.str("label") else {
            return Vec::new();
        };
        let runs = stage.input(pipeline, "runs");
        let stages: Vec<(&str, &BTreeMap<String, Value>)> =
            runs.iter().map(|s| (s.name.as_str(), &s.matrix)).collect();
        match label::check_against(template, &stages) {
            Ok(()) => Vec::new(),
            Err((message, hint)) => vec![Diagnostic::error(message)
                .at(stage.span_of("label"))
                .hint(hint)],
        }
    }

    fn run(&self, ctx: &Context) -> Result<()> {
        let runs: Vec<Run> = ctx
            .inputs_of("runs")
            .iter()
            .map(Run::load)
            .collect::<Result<_>>()?;
        let figure = figure(ctx.params, &runs)?;
        write(ctx.out, "figure.png", &png(&figure)?)?;
        write(ctx.out, "figure.svg", svg(&figure)?.as_bytes())?;
        let labels: Vec<&str> = figure.series.iter().map(|s| s.label.as_str()).collect();
        let stages: Vec<&str> = runs.iter().map(|r| r.stage.as_str()).collect();
        let json = serde_json::json!({
            "title": figure.title,
            "metric": ctx.params.str("metric")?,
            "series": labels,
            "stages": stages,
        });
        write(ctx.out, "figure.json", json.to_string().as_bytes())
    }
}

/// The figure for some runs under a `plot` stage's params.
pub fn figure(params: &Params, runs: &[Run]) -> Result<Figure> {
    let metric = params.str("metric")?;
    if !COLUMNS.contains(&metric) {
        return Err(Error::failed(format!("unknown metric `{metric}`"))
            .with_hint(format!("use one of {}", METRICS.join(", "))));
    }
    let template = params.str("label")?;
    let labels = if template.is_empty() {
        let stages: Vec<_> = runs.iter().map(|r| (r.stage.as_str(), &r.matrix)).collect();
        label::defaults(&stages)
    } else {
        runs.iter()
            .map(|r| label::fill(template, &r.stage, &r.matrix))
            .collect::<Result<_>>()?
    };
    let log_y = params.bool("log_y")?;
    let mut series = Vec::new();
    for (run, label) in runs.iter().zip(labels) {
        series.push(curve(&run.metrics, metric, label, log_y)?);
    }
    let y_label = match params.str("y_label")? {
        "" => y_label(metric),
        given => given.to_string(),
    };
    Ok(Figure {
        title: params.str("title")?.to_string(),
        x_label: params.str("x_label")?.to_string(),
        y_label,
        series,
        log_y,
        mark_min: params.bool("mark_min")?,
        mark_max: params.bool("mark_max")?,
        width: dimension(params, "width")?,
        height: dimension(params, "height")?,
    })
}

/// Whether a column is an accuracy (drawn in percent, as tables show it).
fn is_accuracy(metric: &str) -> bool {
    metric.ends_with("_acc")
}

/// A metric's name in words for the y axis: `test loss`, `test accuracy (%)`.
pub fn y_label(metric: &str) -> String {
    let words = metric
        .replace('_', " ")
        .replace("acc", "accuracy")
        .replace("images per s", "images/s");
    if is_accuracy(metric) {
        format!("{words} (%)")
    } else {
        words
    }
}

/// One labelled curve of `metric` from a per-epoch table: accuracies in
/// percent; with `log_y`, every value must be positive.
pub fn curve(metrics: &Metrics, metric: &str, label: String, log_y: bool) -> Result<Series> {
    let mut points = metrics.series(metric)?;
    if points.is_empty() {
        return Err(Error::bad_data(
            &metrics.path,
            format!("`{metric}` has no finite value"),
        ));
    }
    if is_accuracy(metric) {
        points = as_fractions(points)
            .into_iter()
            .map(|(e, a)| (e, a * 100.0))
            .collect();
    }
    if log_y {
        if let Some((e, v)) = points.iter().find(|p| p.1 <= 0.0) {
            return Err(Error::bad_data(
                &metrics.path,
                format!("`log_y` needs positive values, but `{metric}` is {v} at epoch {e}"),
            )
            .with_hint("set `log_y: false` for this figure"));
        }
    }
    Ok(Series { label, points })
}

fn dimension(params: &Params, name: &str) -> Result<u32> {
    let v = params.i64(name)?;
    u32::try_from(v)
        .ok()
        .filter(|v| (150..=8000).contains(v))
        .ok_or_else(|| {
            Error::failed(format!(
                "`{name}` must be between 150 and 8000 pixels (got {v})"
            ))
        })
}

pub(crate) fn write(dir: &std::path::Path, name: &str, bytes: &[u8]) -> Result<()> {
    let path = dir.join(name);
    std::fs::write(&path, bytes).map_err(|e| Error::io(path, "write", e))
}
