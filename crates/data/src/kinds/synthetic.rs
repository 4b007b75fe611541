//! `kind: synthetic`: a seeded STL-10 look-alike archive for tests and
//! offline pipelines (see [`crate::synthetic`]).

use pipe_engine::{
    Context, Declaration, Kind, Lit, OutputSpec, ParamSpec, ParamType, Params, Result,
};

use crate::synthetic::{write_archive, Spec, TOO_LARGE_HINT};

const PARAMS: &[ParamSpec] = &[
    ParamSpec::optional(
        "seed",
        ParamType::Int,
        Lit::Int(0),
        "Seed of every image and the label order.",
    ),
    ParamSpec::optional(
        "train_per_class",
        ParamType::Int,
        Lit::Int(500),
        "Training images per class (STL-10: 500).",
    ),
    ParamSpec::optional(
        "test_per_class",
        ParamType::Int,
        Lit::Int(800),
        "Test images per class (STL-10: 800).",
    ),
    ParamSpec::optional(
        "image_size",
        ParamType::Int,
        Lit::Int(96),
        "Image side in pixels (STL-10: 96).",
    ),
    ParamSpec::optional(
        "task",
        ParamType::Int,
        Lit::Int(0),
        "Which class-to-pattern mapping; other tasks share the patterns but not the labels.",
    ),
    ParamSpec::optional(
        "noise",
        ParamType::Float,
        Lit::Float(0.1),
        "Pixel noise standard deviation as a fraction of 255.",
    ),
];

const OUTPUTS: &[OutputSpec] = &[OutputSpec {
    name: "stl10_binary.tar.gz",
    doc: "The archive, in STL-10's binary layout.",
}];

/// `kind: synthetic`.
pub const KIND: Kind = Kind::in_process(
    Declaration {
        name: "synthetic",
        summary: "Writes a seeded synthetic `stl10_binary.tar.gz` with learnable classes, in STL-10's exact layout.",
        params: PARAMS,
        outputs: OUTPUTS,
        check,
        ..Declaration::BASE
    },
    run,
);

impl Spec {
    /// A `synthetic` stage's settings.
    pub fn from_params(p: &Params) -> Result<Spec> {
        Ok(Spec {
            seed: p.i64("seed")? as u64,
            train_per_class: p.usize("train_per_class")?,
            test_per_class: p.usize("test_per_class")?,
            image_size: p.usize("image_size")?,
            task: p.usize("task")? as u64,
            noise: p.f64("noise")?,
        })
    }
}

fn check(params: &Params) -> Vec<(String, String)> {
    let mut problems = Vec::new();
    for name in ["train_per_class", "test_per_class", "image_size"] {
        if params.i64(name).map(|v| v < 1).unwrap_or(false) {
            problems.push((name.to_string(), format!("`{name}` must be at least 1")));
        }
    }
    for name in ["task", "seed"] {
        if params.i64(name).map(|v| v < 0).unwrap_or(false) {
            problems.push((name.to_string(), format!("`{name}` must not be negative")));
        }
    }
    if params
        .f64("noise")
        .map(|v| !(0.0..=1.0).contains(&v))
        .unwrap_or(false)
    {
        problems.push((
            "noise".to_string(),
            "`noise` must be between 0 and 1".to_string(),
        ));
    }
    if let Ok(spec) = Spec::from_params(params) {
        if let Some((name, problem)) = spec.too_large() {
            problems.push((
                name.to_string(),
                format!("{problem}\nhint: {TOO_LARGE_HINT}"),
            ));
        }
    }
    problems
}

fn run(ctx: &Context) -> Result<()> {
    write_archive(
        &Spec::from_params(ctx.params)?,
        &ctx.out.join("stl10_binary.tar.gz"),
    )
}
