//! The `evaluate` kind's declaration (pipe-torch's `evaluate` runs it).

use pipe_engine::{Declaration, InputSpec, Lit, OutputSpec, ParamSpec, ParamType, Params};

/// The `evaluate` kind.
pub static EVALUATE: Declaration = Declaration {
    name: "evaluate",
    version: 1,
    summary: "Loss, accuracy, per-class accuracy and confusion matrix of a trained model on the test split.",
    params: PARAMS,
    inputs: &[
        InputSpec::one("model", "A `train` stage (its weights and `run.json`)."),
        InputSpec::one("data", "A stage with `test.safetensors`."),
    ],
    outputs: &[
        OutputSpec {
            name: "metrics.json",
            doc: "Loss, accuracy, per-class accuracy and the confusion matrix.",
        },
        OutputSpec {
            name: "confusion.csv",
            doc: "Rows: true class; columns: predicted class.",
        },
        OutputSpec {
            name: "per_class.csv",
            doc: "class, count, correct, accuracy.",
        },
    ],
    check,
    check_stage: pipe_engine::no_stage_checks,
    history: &[],
};

/// The `evaluate` kind's parameters.
pub static PARAMS: &[ParamSpec] = &[
    ParamSpec::optional(
        "checkpoint",
        ParamType::Enum(&["best", "last"]),
        Lit::Str("best"),
        "Which weights of the run: lowest test loss, or after the last epoch.",
    ),
    ParamSpec::optional(
        "batch_size",
        ParamType::Int,
        Lit::Int(250),
        "Evaluation batch size.",
    ),
    ParamSpec::optional(
        "device",
        ParamType::Str,
        Lit::Str("auto"),
        "`auto`, `cpu`, `cuda` or `cuda:N`.",
    ),
];

fn check(params: &Params) -> Vec<(String, String)> {
    match params.i64("batch_size") {
        Ok(v) if v < 1 => vec![(
            "batch_size".into(),
            format!("`batch_size` must be at least 1 (got {v})"),
        )],
        _ => Vec::new(),
    }
}
