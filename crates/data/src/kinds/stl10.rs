//! `kind: stl10`: the STL-10 binary archive decoded into split files.

use pipe_engine::{Context, InputSpec, Kind, Lit, OutputSpec, ParamSpec, ParamType, Result};

use crate::stl10::extract;

pub struct Stl10;

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

impl Kind for Stl10 {
    fn name(&self) -> &'static str {
        "stl10"
    }

    fn version(&self) -> u32 {
        1
    }

    fn summary(&self) -> &'static str {
        "Safely extracts and decodes `stl10_binary.tar.gz` into train/test safetensors (CHW uint8, labels 0..9)."
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

    fn run(&self, ctx: &Context) -> Result<()> {
        let archive = super::single_file(ctx.input("archive")?, "stl10_binary.tar.gz")?;
        let s = extract(
            archive,
            ctx.out,
            ctx.params.bool("unlabeled")?,
            ctx.progress,
            ctx.cancel,
        )?;
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
}
