//! The `train` kind's declaration, and a training run's settings resolved
//! from a stage's parameters: the one typed value the training loop reads.

use pipe_engine::{
    Declaration, Diagnostic, Error, InputSpec, Lit, OutputSpec, ParamSpec, ParamType, Params,
    Pipeline, Result, Stage, Value,
};

use crate::optim::OptimConfig;

/// How the pretrained weights are used (the report's three modes).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mode {
    /// Only the new head trains; BatchNorm statistics still update.
    Transfer,
    /// Everything trains, starting from the weights.
    Finetune,
    /// Everything trains, from torchvision's random initialisation.
    Scratch,
}

impl Mode {
    pub fn parse(s: &str) -> Result<Mode> {
        match s {
            "transfer" => Ok(Mode::Transfer),
            "finetune" => Ok(Mode::Finetune),
            "scratch" => Ok(Mode::Scratch),
            _ => Err(Error::failed(format!("unknown mode `{s}`"))
                .with_hint("use `transfer`, `finetune` or `scratch`")),
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Mode::Transfer => "transfer",
            Mode::Finetune => "finetune",
            Mode::Scratch => "scratch",
        }
    }
}

/// Everything that determines a training run.
#[derive(Clone, Debug, PartialEq)]
pub struct TrainSpec {
    pub model: String,
    pub mode: Mode,
    pub optim: OptimConfig,
    pub epochs: usize,
    pub batch_size: usize,
    pub eval_batch_size: usize,
    pub seed: u64,
    /// `auto`, `cpu`, `cuda` or `cuda:N`.
    pub device: String,
    /// `None`: the data's image size.
    pub image_size: Option<i64>,
    pub num_classes: i64,
    /// bfloat16 autocast (CUDA only).
    pub bf16: bool,
    pub channels_last: bool,
    /// CPU threads for augmentation; `None`: all cores.
    pub threads: Option<usize>,
}

impl TrainSpec {
    /// A spec with the report's defaults (SGD, lr 0.001, momentum 0.9,
    /// batch 50) for tests and benchmarks.
    pub fn new(model: &str, mode: Mode, epochs: usize) -> TrainSpec {
        TrainSpec {
            model: model.to_string(),
            mode,
            optim: OptimConfig::Sgd {
                lr: 0.001,
                momentum: 0.9,
                weight_decay: 0.0,
                nesterov: false,
            },
            epochs,
            batch_size: 50,
            eval_batch_size: 250,
            seed: 0,
            device: "auto".into(),
            image_size: None,
            num_classes: 10,
            bf16: false,
            channels_last: false,
            threads: None,
        }
    }

    pub fn from_params(p: &Params) -> Result<TrainSpec> {
        let lr = p.f64("lr")?;
        let weight_decay = p.f64("weight_decay")?;
        let optim = match p.str("optimizer")? {
            "sgd" => OptimConfig::Sgd {
                lr,
                momentum: p.f64("momentum")?,
                weight_decay,
                nesterov: p.bool("nesterov")?,
            },
            "adam" => {
                let betas = match p.get("betas")? {
                    Value::Null => (0.9, 0.999),
                    Value::List(list) => betas(list).map_err(Error::failed)?,
                    other => {
                        return Err(Error::failed(format!(
                            "`betas` must be a list, not {}",
                            other.type_name()
                        )))
                    }
                };
                OptimConfig::Adam {
                    lr,
                    betas,
                    eps: 1e-8,
                    weight_decay,
                }
            }
            other => return Err(Error::failed(format!("unknown optimizer `{other}`"))),
        };
        let positive = |name: &str| -> Result<usize> {
            let v = p.usize(name)?;
            if v == 0 {
                return Err(Error::failed(format!("`{name}` must be at least 1")));
            }
            Ok(v)
        };
        let threads = match p.opt_i64("threads")? {
            None | Some(0) => None,
            Some(n) => Some(
                usize::try_from(n).map_err(|_| Error::failed("`threads` must not be negative"))?,
            ),
        };
        Ok(TrainSpec {
            model: p.str("model")?.to_string(),
            mode: Mode::parse(p.str("mode")?)?,
            optim,
            epochs: positive("epochs")?,
            batch_size: positive("batch_size")?,
            eval_batch_size: positive("eval_batch_size")?,
            seed: p.i64("seed")? as u64,
            device: p.str("device")?.to_string(),
            image_size: p.opt_i64("image_size")?,
            num_classes: p.i64("num_classes")?,
            bf16: p.str("amp")? == "bf16",
            channels_last: p.bool("channels_last")?,
            threads,
        })
    }
}

fn betas(list: &[Value]) -> std::result::Result<(f64, f64), String> {
    match list {
        [a, b] => match (a.as_f64(), b.as_f64()) {
            (Some(a), Some(b)) if (0.0..1.0).contains(&a) && (0.0..1.0).contains(&b) => Ok((a, b)),
            _ => Err("`betas` must be two numbers in [0, 1)".into()),
        },
        _ => Err(format!("`betas` must have two numbers, not {}", list.len())),
    }
}

/// The `train` kind.
pub const DECLARATION: Declaration = Declaration {
    name: "train",
    summary: "Train a classifier (transfer, finetune or scratch) with per-epoch test loss and resumable checkpoints.",
    params: PARAMS,
    inputs: &[
        InputSpec::one("data", "A stage with `train.safetensors` and `test.safetensors` (`resize`, `stl10`)."),
        InputSpec::optional(
            "weights",
            "Starting weights: a `weights` stage, or a `train` stage (its `best.safetensors`). Needed by transfer and finetune.",
        ),
        InputSpec::optional("augment", "An `augment` stage's `policy.json` (none: no augmentation)."),
    ],
    outputs: &[
        OutputSpec {
            name: "metrics.csv",
            doc: "One row per epoch: losses, accuracies, lr (timings are measurements in the manifest: `pipe exp show`).",
        },
        OutputSpec {
            name: "best.safetensors",
            doc: "Weights of the epoch with the lowest test loss (torchvision names).",
        },
        OutputSpec {
            name: "last.safetensors",
            doc: "Weights after the last epoch (torchvision names).",
        },
        OutputSpec {
            name: "state.safetensors",
            doc: "Optimizer state and metrics: what a longer run continues from.",
        },
        OutputSpec {
            name: "run.json",
            doc: "Model, mode, best epoch, minimum test loss, device, libtorch.",
        },
    ],
    check,
    check_stage,
    // A run with more epochs continues the cached run with the most epochs below.
    history: &["epochs"],
    // 2: timings left `metrics.csv`, `run.json` and `state.safetensors` for
    // the manifest's measurements.
    version: 2,
    ..Declaration::BASE
};

const FLOAT: ParamType = ParamType::Float;

/// The `train` kind's parameters.
pub static PARAMS: &[ParamSpec] = &[
    ParamSpec::required("model", ParamType::Enum(crate::models::NAMES), "Architecture, torchvision's name."),
    ParamSpec::required(
        "mode",
        ParamType::Enum(&["transfer", "finetune", "scratch"]),
        "`transfer` trains only the new head (BatchNorm statistics still update), `finetune` trains everything from the weights, `scratch` trains from random initialisation.",
    ),
    ParamSpec::optional("optimizer", ParamType::Enum(&["sgd", "adam"]), Lit::Str("sgd"), "`torch.optim.SGD` or `torch.optim.Adam`."),
    ParamSpec::optional("lr", FLOAT, Lit::Float(0.001), "Learning rate (constant)."),
    ParamSpec::optional("momentum", FLOAT, Lit::Float(0.9), "SGD momentum (dampening 0)."),
    ParamSpec::optional("weight_decay", FLOAT, Lit::Float(0.0), "L2 penalty added to the gradient (SGD and Adam)."),
    ParamSpec::optional("nesterov", ParamType::Bool, Lit::Bool(false), "Nesterov momentum for SGD."),
    ParamSpec::optional("betas", ParamType::List(&FLOAT), Lit::Null, "Adam's betas [default: [0.9, 0.999]]."),
    ParamSpec::required("epochs", ParamType::Int, "Passes over the training split. Raising it continues a cached shorter run."),
    ParamSpec::optional("batch_size", ParamType::Int, Lit::Int(50), "Training batch size."),
    ParamSpec::optional("eval_batch_size", ParamType::Int, Lit::Int(250), "Batch size of the per-epoch test evaluation."),
    ParamSpec::optional("seed", ParamType::Int, Lit::Int(0), "Seeds initialisation, data order and augmentation."),
    ParamSpec::optional("device", ParamType::Str, Lit::Str("auto"), "`auto` (the GPU handed to the stage, else CUDA 0, else CPU), `cpu`, `cuda` or `cuda:N`."),
    ParamSpec::optional("image_size", ParamType::Int, Lit::Null, "Input size the model is built for [default: the data's]."),
    ParamSpec::optional("num_classes", ParamType::Int, Lit::Int(10), "Classes of the new head."),
    ParamSpec::optional("amp", ParamType::Enum(&["none", "bf16"]), Lit::Str("none"), "Mixed precision: bfloat16 autocast on CUDA."),
    ParamSpec::optional("channels_last", ParamType::Bool, Lit::Bool(false), "Use the channels-last memory layout for convolutions."),
    ParamSpec::optional("threads", ParamType::Int, Lit::Null, "CPU threads for augmentation [default: all cores]."),
];

/// Checks beyond the declared types, for `Kind::check`.
pub fn check(p: &Params) -> Vec<(String, String)> {
    let mut problems = Vec::new();
    for name in ["epochs", "batch_size", "eval_batch_size", "num_classes"] {
        if let Ok(v) = p.i64(name) {
            if v < 1 {
                problems.push((
                    name.to_string(),
                    format!("`{name}` must be at least 1 (got {v})"),
                ));
            }
        }
    }
    if let Ok(v) = p.f64("lr") {
        if v <= 0.0 || !v.is_finite() {
            problems.push(("lr".into(), format!("`lr` must be positive (got {v})")));
        }
    }
    if let Ok(list) = p.list("betas") {
        if let Err(m) = betas(list) {
            problems.push(("betas".into(), m));
        }
    }
    if let Ok(d) = p.str("device") {
        let ok = matches!(d, "auto" | "cpu" | "cuda")
            || d.strip_prefix("cuda:")
                .is_some_and(|i| i.parse::<usize>().is_ok());
        if !ok {
            problems.push((
                "device".into(),
                format!("unknown device `{d}`; use `auto`, `cpu`, `cuda` or `cuda:N`"),
            ));
        }
    }
    problems
}

/// Checks that need the pipeline, for `Kind::check_stage`: a mode that
/// starts from weights has a `weights` input, and a ViT's patch size
/// divides the image size its data is resized to.
pub fn check_stage(pipeline: &Pipeline, stage: &Stage) -> Vec<Diagnostic> {
    let mut problems = Vec::new();
    if let Ok(mode) = stage.params.str("mode") {
        if mode != "scratch" && stage.input(pipeline, "weights").is_empty() {
            problems.push(
                Diagnostic::error(format!("mode `{mode}` starts from pretrained weights, but stage `{}` has no `weights` input", stage.name))
                    .at(stage.span_of("mode"))
                    .hint("add `weights: STAGE` under `inputs:` (a `weights` or `train` stage), or use `mode: scratch`"),
            );
        }
    }
    let Ok(model) = stage.params.str("model") else {
        return problems;
    };
    let Some(patch) = crate::models::patch_size(model) else {
        return problems;
    };
    // The size the model is built for: `image_size`, else the data's.
    let (size, span) = match stage.params.opt_i64("image_size") {
        Ok(Some(size)) => (size, stage.span_of("image_size")),
        _ => {
            let Some(data) = stage.input(pipeline, "data").into_iter().next() else {
                return problems;
            };
            match data.kind.name() {
                "resize" => match data.params.i64("size") {
                    Ok(size) => (size, data.span_of("size")),
                    Err(_) => return problems,
                },
                // STL-10 as decoded: 96x96.
                "stl10" => (96, data.span.clone()),
                _ => return problems,
            }
        }
    };
    if size % patch != 0 {
        let fit = (size / patch).max(1) * patch;
        problems.push(
            Diagnostic::error(format!("`{model}` needs an image size divisible by its patch size {patch}, but the images are {size}x{size}"))
                .at(span)
                .hint(format!("resize to a multiple of {patch}, e.g. {fit} or {}", fit + patch)),
        );
    }
    problems
}
