//! `kind: report`: the results of training runs as `report.md` and a
//! self-contained `report.html`, beside published numbers where given, with
//! the figures of `plot` stages and the provenance of it all. The writing
//! is `crate::report`'s.

use pipe_engine::{
    Context, Declaration, Diagnostic, Error, InputSpec, Kind, Lit, OutputSpec, ParamSpec,
    ParamType, Params, Pipeline, Result, Stage, Value,
};

use crate::report::{write_report, Reference};

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
    ParamSpec::optional("notes", ParamType::Str, Lit::Str(""), "Text under the title, in Markdown (rendered in `report.html` too)."),
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
    InputSpec {
        name: "evaluations",
        doc: "`evaluate` stages, one per run in the order of `runs`: test accuracy of the chosen checkpoint, per-class accuracy and confusion matrices.",
        required: false,
        many: true,
    },
    InputSpec::optional(
        "classes",
        "A data stage with `classes.json` (`stl10`, `resize`): class names for the per-class table and the confusion matrices.",
    ),
];

const OUTPUTS: &[OutputSpec] = &[
    OutputSpec {
        name: "report.md",
        doc: "The report in Markdown; figures as `fig-*.png` and confusion matrices as `confusion-*.svg` beside it.",
    },
    OutputSpec {
        name: "report.html",
        doc: "The same, as one self-contained HTML page (figures inlined as SVG).",
    },
    OutputSpec {
        name: "summary.json",
        doc: "The table's numbers per run, for scripts.",
    },
];

/// `kind: report`.
pub const KIND: Kind = Kind::in_process(
    Declaration {
        name: "report",
        // 3: no timing columns (they are measurements, not results).
        version: 3,
        summary: "Results of training runs, beside published numbers, as Markdown and self-contained HTML.",
        params: PARAMS,
        inputs: INPUTS,
        outputs: OUTPUTS,
        check,
        check_stage,
        ..Declaration::BASE
    },
    run,
);

/// A `report` stage's settings.
pub struct ReportSpec {
    /// The heading.
    pub title: String,
    /// Published numbers to compare with.
    pub reference: Reference,
    /// What the `reference` numbers are (one of `REFERENCE_METRICS`).
    pub reference_metric: String,
    /// The heading of the reference column.
    pub reference_label: String,
    /// Markdown under the title.
    pub notes: String,
}

impl ReportSpec {
    pub fn from_params(p: &Params) -> Result<ReportSpec> {
        Ok(ReportSpec {
            title: p.string("title")?,
            reference: Reference::parse(p.get("reference")?)
                .map_err(|m| Error::failed(format!("parameter `reference` {m}")))?,
            reference_metric: p.string("reference_metric")?,
            reference_label: p.string("reference_label")?,
            notes: p.string("notes")?,
        })
    }
}

fn check(params: &Params) -> Vec<(String, String)> {
    match params.get("reference").map(Reference::parse) {
        Ok(Err(message)) => vec![("reference".to_string(), message)],
        _ => Vec::new(),
    }
}

fn check_stage(pipeline: &Pipeline, stage: &Stage) -> Vec<Diagnostic> {
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

fn run(ctx: &Context) -> Result<()> {
    write_report(&ReportSpec::from_params(ctx.params)?, ctx)
}
