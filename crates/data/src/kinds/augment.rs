//! `kind: augment`: declares an augmentation policy and its parameters
//! (torchvision's defaults); the train stage applies it on the fly.

use pipe_engine::{
    Context, Declaration, Error, Kind, Lit, OutputSpec, ParamSpec, ParamType, Params, Result, Value,
};

use crate::augment::{AugMix, CutmixMixup, Policy, Pspnet};

const PARAMS: &[ParamSpec] = &[
    ParamSpec::optional(
        "policy",
        ParamType::Enum(&["none", "pspnet", "augmix", "cutmix_mixup"]),
        Lit::Str("none"),
        "Which augmentation.",
    ),
    ParamSpec::optional(
        "severity",
        ParamType::Int,
        Lit::Int(3),
        "augmix: magnitude bins used (of 10).",
    ),
    ParamSpec::optional(
        "mixture_width",
        ParamType::Int,
        Lit::Int(3),
        "augmix: chains mixed.",
    ),
    ParamSpec::optional(
        "chain_depth",
        ParamType::Int,
        Lit::Int(-1),
        "augmix: ops per chain; -1 draws 1..=3.",
    ),
    ParamSpec::optional(
        "alpha",
        ParamType::Float,
        Lit::Float(1.0),
        "augmix: Dirichlet/Beta concentration.",
    ),
    ParamSpec::optional(
        "all_ops",
        ParamType::Bool,
        Lit::Bool(true),
        "augmix: include brightness, color, contrast, sharpness.",
    ),
    ParamSpec::optional(
        "cutmix_alpha",
        ParamType::Float,
        Lit::Float(1.0),
        "cutmix_mixup: CutMix's Beta parameter.",
    ),
    ParamSpec::optional(
        "mixup_alpha",
        ParamType::Float,
        Lit::Float(1.0),
        "cutmix_mixup: MixUp's Beta parameter.",
    ),
    ParamSpec::optional(
        "num_classes",
        ParamType::Int,
        Lit::Int(10),
        "cutmix_mixup: classes of the soft labels.",
    ),
    ParamSpec::optional(
        "scale_min",
        ParamType::Float,
        Lit::Float(0.5),
        "pspnet: smallest random scale.",
    ),
    ParamSpec::optional(
        "scale_max",
        ParamType::Float,
        Lit::Float(2.0),
        "pspnet: largest random scale.",
    ),
    ParamSpec::optional(
        "rotate",
        ParamType::Float,
        Lit::Float(10.0),
        "pspnet: rotation range in degrees (either way).",
    ),
    ParamSpec::optional(
        "rotate_p",
        ParamType::Float,
        Lit::Float(0.5),
        "pspnet: probability of rotating.",
    ),
    ParamSpec::optional(
        "blur_p",
        ParamType::Float,
        Lit::Float(0.5),
        "pspnet: probability of a Gaussian blur.",
    ),
    ParamSpec::optional(
        "blur_sigma",
        ParamType::Float,
        Lit::Float(1.1),
        "pspnet: blur sigma (cv2's for a 5x5 kernel).",
    ),
    ParamSpec::optional(
        "blur_kernel",
        ParamType::Int,
        Lit::Int(5),
        "pspnet: blur kernel size (odd).",
    ),
    ParamSpec::optional(
        "flip_p",
        ParamType::Float,
        Lit::Float(0.5),
        "pspnet: probability of a horizontal flip.",
    ),
    ParamSpec::optional(
        "fill",
        ParamType::List(&ParamType::Int),
        Lit::Null,
        "pspnet: RGB padding value; default PSPNet's mean pixel [124, 116, 104].",
    ),
];

const OUTPUTS: &[OutputSpec] = &[OutputSpec {
    name: "policy.json",
    doc: "The policy and its parameters, read by `train` (`Policy::load`).",
}];

impl Policy {
    /// The policy an `augment` stage's parameters describe: its settings.
    pub fn from_params(p: &Params) -> Result<Policy> {
        Ok(match p.str("policy")? {
            "none" => Policy::None,
            "pspnet" => {
                let mut fill = Pspnet::default().fill;
                if let Value::List(items) = p.get("fill")? {
                    if items.len() != 3 {
                        return Err(Error::failed("`fill` must have 3 values (R, G, B)"));
                    }
                    for (f, v) in fill.iter_mut().zip(items) {
                        *f = v
                            .as_i64()
                            .and_then(|v| u8::try_from(v).ok())
                            .ok_or_else(|| Error::failed("`fill` values must be 0..=255"))?;
                    }
                }
                Policy::Pspnet(Pspnet {
                    scale_min: p.f64("scale_min")?,
                    scale_max: p.f64("scale_max")?,
                    rotate: p.f64("rotate")?,
                    rotate_p: p.f64("rotate_p")?,
                    blur_p: p.f64("blur_p")?,
                    blur_sigma: p.f64("blur_sigma")?,
                    blur_kernel: p.usize("blur_kernel")?,
                    flip_p: p.f64("flip_p")?,
                    fill,
                })
            }
            "augmix" => Policy::Augmix(AugMix {
                severity: u32::try_from(p.i64("severity")?).unwrap_or(0),
                mixture_width: p.usize("mixture_width")?,
                chain_depth: p.i64("chain_depth")?,
                alpha: p.f64("alpha")?,
                all_ops: p.bool("all_ops")?,
            }),
            "cutmix_mixup" => Policy::CutmixMixup(CutmixMixup {
                cutmix_alpha: p.f64("cutmix_alpha")?,
                mixup_alpha: p.f64("mixup_alpha")?,
                num_classes: p.usize("num_classes")?,
            }),
            other => {
                return Err(Error::internal(format!(
                    "policy `{other}` passed validation"
                )))
            }
        })
    }
}

/// `kind: augment`.
pub const KIND: Kind = Kind::in_process(
    Declaration {
        name: "augment",
        summary: "Declares an augmentation policy (none, pspnet, augmix, cutmix_mixup) that `train` applies on the fly.",
        params: PARAMS,
        outputs: OUTPUTS,
        check,
        ..Declaration::BASE
    },
    run,
);

fn check(p: &Params) -> Vec<(String, String)> {
    const MAX_STEPS: i64 = 16;
    const MAX_KERNEL: i64 = 255;
    let mut problems = Vec::new();
    let mut bad = |name: &str, ok: bool, msg: &str| {
        if !ok {
            problems.push((name.to_string(), format!("`{name}` {msg}")));
        }
    };
    let f = |n: &str| p.f64(n).unwrap_or(f64::NAN);
    let i = |n: &str| p.i64(n).unwrap_or(i64::MIN);
    bad(
        "severity",
        (1..=10).contains(&i("severity")),
        "must be between 1 and 10",
    );
    // Upper bounds too: each step allocates per image (AugMix: 3 and 1-3).
    bad(
        "mixture_width",
        (1..=MAX_STEPS).contains(&i("mixture_width")),
        "must be between 1 and 16",
    );
    bad(
        "chain_depth",
        i("chain_depth") == -1 || (1..=MAX_STEPS).contains(&i("chain_depth")),
        "must be -1 or between 1 and 16",
    );
    for n in ["alpha", "cutmix_alpha", "mixup_alpha"] {
        bad(n, f(n) > 0.0, "must be positive");
    }
    bad(
        "num_classes",
        (2..=100_000).contains(&i("num_classes")),
        "must be between 2 and 100000",
    );
    bad(
        "scale_min",
        f("scale_min") > 0.0 && f("scale_min") <= f("scale_max"),
        "must be positive and at most `scale_max`",
    );
    for n in ["rotate_p", "blur_p", "flip_p"] {
        bad(
            n,
            (0.0..=1.0).contains(&f(n)),
            "must be a probability (0 to 1)",
        );
    }
    bad(
        "rotate",
        (0.0..=180.0).contains(&f("rotate")),
        "must be between 0 and 180 degrees",
    );
    bad("blur_sigma", f("blur_sigma") > 0.0, "must be positive");
    bad(
        "blur_kernel",
        (1..=MAX_KERNEL).contains(&i("blur_kernel")) && i("blur_kernel") % 2 == 1,
        "must be odd, between 1 and 255",
    );
    if let Err(e) = Policy::from_params(p) {
        problems.push(("fill".to_string(), e.to_string()));
    }
    problems
}

fn run(ctx: &Context) -> Result<()> {
    Policy::from_params(ctx.params)?.save(&ctx.out.join("policy.json"))
}
