//! `kind: stl10`: the STL-10 binary archive decoded into split files.

use pipe_engine::{
    Context, Declaration, InputSpec, Kind, Lit, OutputSpec, ParamSpec, ParamType, Params, Result,
};

use crate::stl10::extract;

const PARAMS: &[ParamSpec] = &[ParamSpec::optional(
    "unlabeled",
    ParamType::Bool,
    Lit::Bool(false),
    "Also decode the 100,000 unlabelled images into `unlabeled.safetensors` (labels -1).",
)];

const INPUTS: &[InputSpec] = &[InputSpec::one(
    "archive",
    "A `download` or `synthetic` stage holding `stl10_binary.tar.gz`.",
)];

const OUTPUTS: &[OutputSpec] = &[
    OutputSpec {
        name: "train.safetensors",
        doc: "`images` uint8 [5000,3,96,96], `labels` int64 [5000] (0..9).",
    },
    OutputSpec {
        name: "test.safetensors",
        doc: "`images` uint8 [8000,3,96,96], `labels` int64 [8000].",
    },
    OutputSpec {
        name: "classes.json",
        doc: "The class names, in label order.",
    },
];

/// `kind: stl10`.
pub const KIND: Kind = Kind::in_process(
    Declaration {
        name: "stl10",
        summary: "Safely extracts and decodes `stl10_binary.tar.gz` into train/test safetensors (CHW uint8, labels 0..9).",
        params: PARAMS,
        inputs: INPUTS,
        outputs: OUTPUTS,
        ..Declaration::BASE
    },
    run,
);

/// An `stl10` stage's settings.
struct Stl10Spec {
    unlabeled: bool,
}

impl Stl10Spec {
    fn from_params(p: &Params) -> Result<Stl10Spec> {
        Ok(Stl10Spec {
            unlabeled: p.bool("unlabeled")?,
        })
    }
}

fn run(ctx: &Context) -> Result<()> {
    let spec = Stl10Spec::from_params(ctx.params)?;
    let archive = super::single_file(ctx.input("archive")?, "stl10_binary.tar.gz")?;
    let s = extract(archive, ctx.out, spec.unlabeled, ctx.progress, ctx.cancel)?;
    ctx.progress.log(format!(
        "decoded {} training and {} test images of {}x{} ({} classes)",
        s.train,
        s.test,
        s.side,
        s.side,
        s.classes.len()
    ));
    Ok(())
}
