//! `kind: plot`: per-epoch curves of one metric, one series per training
//! run, written as `figure.png` and `figure.svg` (plus `figure.json`, the
//! figure's title and series, which `report` captions with). The drawing
//! is `crate::plot`'s.

use std::collections::BTreeMap;

use pipe_engine::{
    Context, Declaration, Diagnostic, Error, InputSpec, Kind, Lit, OutputSpec, ParamSpec,
    ParamType, Params, Pipeline, Result, Stage, Value,
};

use crate::label;
use crate::metrics::{Run, COLUMNS};
use crate::plot::{curve, png, svg, write, y_label, Figure, METRICS};

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

/// `kind: plot`.
pub const KIND: Kind = Kind::in_process(
    Declaration {
        name: "plot",
        version: 3,
        summary: "Line figure of one per-epoch metric of several training runs (PNG and SVG).",
        params: PARAMS,
        inputs: INPUTS,
        outputs: OUTPUTS,
        check,
        check_stage,
        ..Declaration::BASE
    },
    run,
);

/// A `plot` stage's settings.
pub struct PlotSpec {
    /// The `metrics.csv` column to draw.
    pub metric: String,
    pub title: String,
    pub x_label: String,
    /// Empty: the metric's name in words.
    pub y_label: String,
    /// The legend template; empty: the matrix values that differ.
    pub label: String,
    pub log_y: bool,
    pub mark_min: bool,
    pub mark_max: bool,
    pub width: u32,
    pub height: u32,
}

impl PlotSpec {
    pub fn from_params(p: &Params) -> Result<PlotSpec> {
        Ok(PlotSpec {
            metric: p.string("metric")?,
            title: p.string("title")?,
            x_label: p.string("x_label")?,
            y_label: p.string("y_label")?,
            label: p.string("label")?,
            log_y: p.bool("log_y")?,
            mark_min: p.bool("mark_min")?,
            mark_max: p.bool("mark_max")?,
            width: dimension(p, "width")?,
            height: dimension(p, "height")?,
        })
    }
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

fn check(params: &Params) -> Vec<(String, String)> {
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

fn check_stage(pipeline: &Pipeline, stage: &Stage) -> Vec<Diagnostic> {
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

fn run(ctx: &Context) -> Result<()> {
    let spec = PlotSpec::from_params(ctx.params)?;
    let runs: Vec<Run> = ctx
        .inputs_of("runs")
        .iter()
        .map(Run::load)
        .collect::<Result<_>>()?;
    let figure = figure(&spec, &runs)?;
    write(ctx.out, "figure.png", &png(&figure)?)?;
    write(ctx.out, "figure.svg", svg(&figure)?.as_bytes())?;
    let labels: Vec<&str> = figure.series.iter().map(|s| s.label.as_str()).collect();
    let stages: Vec<&str> = runs.iter().map(|r| r.stage.as_str()).collect();
    let json = serde_json::json!({
        "title": figure.title,
        "metric": spec.metric,
        "series": labels,
        "stages": stages,
    });
    write(ctx.out, "figure.json", json.to_string().as_bytes())
}

/// The figure of some runs under a `plot` stage's settings.
pub fn figure(spec: &PlotSpec, runs: &[Run]) -> Result<Figure> {
    let metric = spec.metric.as_str();
    if !COLUMNS.contains(&metric) {
        return Err(Error::failed(format!("unknown metric `{metric}`"))
            .with_hint(format!("use one of {}", METRICS.join(", "))));
    }
    let labels = if spec.label.is_empty() {
        let stages: Vec<_> = runs.iter().map(|r| (r.stage.as_str(), &r.matrix)).collect();
        label::defaults(&stages)
    } else {
        runs.iter()
            .map(|r| label::fill(&spec.label, &r.stage, &r.matrix))
            .collect::<Result<_>>()?
    };
    let mut series = Vec::new();
    for (run, label) in runs.iter().zip(labels) {
        series.push(curve(&run.metrics, metric, label, spec.log_y)?);
    }
    let y_label = match spec.y_label.as_str() {
        "" => y_label(metric),
        given => given.to_string(),
    };
    Ok(Figure {
        title: spec.title.clone(),
        x_label: spec.x_label.clone(),
        y_label,
        series,
        log_y: spec.log_y,
        mark_min: spec.mark_min,
        mark_max: spec.mark_max,
        width: spec.width,
        height: spec.height,
    })
}
