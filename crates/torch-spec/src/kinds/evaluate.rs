//! The `evaluate` kind's declaration and settings (pipe-torch's `evaluate`
//! runs it).

use pipe_engine::{Declaration, InputSpec, Lit, OutputSpec, ParamSpec, ParamType, Params, Result};

/// The `evaluate` kind.
pub const DECLARATION: Declaration = Declaration {
    name: "evaluate",
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
    ..Declaration::BASE
};

/// An `evaluate` stage's settings.
#[derive(Clone, Debug, PartialEq)]
pub struct EvaluateSpec {
    /// Which weights of the run: `best` or `last`.
    pub checkpoint: String,
    pub batch_size: usize,
    /// `auto`, `cpu`, `cuda` or `cuda:N`.
    pub device: String,
}

impl EvaluateSpec {
    pub fn from_params(p: &Params) -> Result<EvaluateSpec> {
        Ok(EvaluateSpec {
            checkpoint: p.string("checkpoint")?,
            batch_size: p.usize("batch_size")?,
            device: p.string("device")?,
        })
    }
}

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
