//! `kind: weights`: torchvision's published ImageNet weights for a model
//! (or a local checkpoint), checked against pipe's model and rewritten as
//! safetensors with torchvision's current key names.
//!
//! The catalog below is read from torchvision 0.26's `models/{resnet,
//! densenet,vision_transformer}.py`. Each file name carries the first 8 hex
//! digits of the file's SHA-256 (torch.hub's `check_hash` convention), which
//! the download verifies. The report's DEFAULTs: resnet50 IMAGENET1K_V2,
//! densenet201 IMAGENET1K_V1, vit_b_16 IMAGENET1K_V1.

use std::path::{Path, PathBuf};

use pipe_data::download::{fetch, file_name_of};
use pipe_data::Checksum;
use pipe_engine::{Context, Error, Kind, Lit, OutputSpec, ParamSpec, ParamType, Params, Result};
use tch::{nn, Device, Tensor};

use crate::{checkpoint, models};

const BASE_URL: &str = "https://download.pytorch.org/models/";

/// One published weight file: model, variant (torchvision's enum member), file name.
struct Published {
    model: &'static str,
    variant: &'static str,
    file: &'static str,
}

const fn w(model: &'static str, variant: &'static str, file: &'static str) -> Published {
    Published {
        model,
        variant,
        file,
    }
}

const CATALOG: &[Published] = &[
    w("resnet18", "IMAGENET1K_V1", "resnet18-f37072fd.pth"),
    w("resnet34", "IMAGENET1K_V1", "resnet34-b627a593.pth"),
    w("resnet50", "IMAGENET1K_V1", "resnet50-0676ba61.pth"),
    w("resnet50", "IMAGENET1K_V2", "resnet50-11ad3fa6.pth"),
    w("resnet101", "IMAGENET1K_V1", "resnet101-63fe2227.pth"),
    w("resnet101", "IMAGENET1K_V2", "resnet101-cd907fc2.pth"),
    w("resnet152", "IMAGENET1K_V1", "resnet152-394f9c45.pth"),
    w("resnet152", "IMAGENET1K_V2", "resnet152-f82ba261.pth"),
    w("densenet121", "IMAGENET1K_V1", "densenet121-a639ec97.pth"),
    w("densenet161", "IMAGENET1K_V1", "densenet161-8d451a50.pth"),
    w("densenet169", "IMAGENET1K_V1", "densenet169-b2777c0a.pth"),
    w("densenet201", "IMAGENET1K_V1", "densenet201-c1103571.pth"),
    w("vit_b_16", "IMAGENET1K_V1", "vit_b_16-c867db91.pth"),
    w(
        "vit_b_16",
        "IMAGENET1K_SWAG_E2E_V1",
        "vit_b_16_swag-9ac1b537.pth",
    ),
    w(
        "vit_b_16",
        "IMAGENET1K_SWAG_LINEAR_V1",
        "vit_b_16_lc_swag-4e70ced5.pth",
    ),
    w("vit_b_32", "IMAGENET1K_V1", "vit_b_32-d86f8d99.pth"),
    w("vit_l_16", "IMAGENET1K_V1", "vit_l_16-852ce7e3.pth"),
    w(
        "vit_l_16",
        "IMAGENET1K_SWAG_E2E_V1",
        "vit_l_16_swag-4f3808c9.pth",
    ),
    w(
        "vit_l_16",
        "IMAGENET1K_SWAG_LINEAR_V1",
        "vit_l_16_lc_swag-4d563306.pth",
    ),
    w("vit_l_32", "IMAGENET1K_V1", "vit_l_32-c7638314.pth"),
    w(
        "vit_h_14",
        "IMAGENET1K_SWAG_E2E_V1",
        "vit_h_14_swag-80465313.pth",
    ),
    w(
        "vit_h_14",
        "IMAGENET1K_SWAG_LINEAR_V1",
        "vit_h_14_lc_swag-c1eb923e.pth",
    ),
];

/// torchvision's `DEFAULT` variant of each model.
pub fn default_variant(model: &str) -> &'static str {
    match model {
        "resnet50" | "resnet101" | "resnet152" => "IMAGENET1K_V2",
        "vit_h_14" => "IMAGENET1K_SWAG_E2E_V1",
        _ => "IMAGENET1K_V1",
    }
}

/// The URL of a published variant (`DEFAULT` resolved), if there is one.
pub fn published_url(model: &str, variant: &str) -> Option<String> {
    find(model, variant).map(|p| format!("{BASE_URL}{}", p.file))
}

fn find(model: &str, variant: &str) -> Option<&'static Published> {
    let variant = if variant == "DEFAULT" {
        default_variant(model)
    } else {
        variant
    };
    CATALOG
        .iter()
        .find(|p| p.model == model && p.variant == variant)
}

fn variants(model: &str) -> String {
    let list: Vec<String> = CATALOG
        .iter()
        .filter(|p| p.model == model)
        .map(|p| format!("`{}`", p.variant))
        .collect();
    list.join(", ")
}

/// The SHA-256 prefix torchvision puts in a file name (`resnet50-11ad3fa6.pth`).
pub fn hash_prefix(file_name: &str) -> Option<&str> {
    let stem = file_name.split('.').next()?;
    let (_, hash) = stem.rsplit_once('-')?;
    (hash.len() >= 8
        && hash
            .bytes()
            .all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase()))
    .then_some(hash)
}

pub struct Weights;

const PARAMS: &[ParamSpec] = &[
    ParamSpec::required("model", ParamType::Enum(models::NAMES), "The architecture the weights are for."),
    ParamSpec::optional(
        "variant",
        ParamType::Str,
        Lit::Str("DEFAULT"),
        "torchvision's weights enum member, e.g. `IMAGENET1K_V2`; `DEFAULT` is torchvision's default (the report's).",
    ),
    ParamSpec::optional(
        "url",
        ParamType::Str,
        Lit::Null,
        "Fetch from here instead (http(s)://, file:// or a path), e.g. a mirror; its file name must carry the SHA-256 prefix unless `sha256` is given.",
    ),
    ParamSpec::optional("sha256", ParamType::Str, Lit::Null, "Expected SHA-256 (or a prefix of at least 8 hex digits) of the `url` file."),
    ParamSpec::optional("path", ParamType::Path, Lit::Null, "A local checkpoint (.pth/.pt/.safetensors) to use instead of downloading."),
];

const OUTPUTS: &[OutputSpec] = &[
    OutputSpec {
        name: "weights.safetensors",
        doc: "The state dict with torchvision's current key names (legacy names renamed).",
    },
    OutputSpec {
        name: "weights.json",
        doc: "Model, variant, source, num_classes and image_size of the checkpoint.",
    },
];

impl Kind for Weights {
    fn name(&self) -> &'static str {
        "weights"
    }

    fn version(&self) -> u32 {
        1
    }

    fn summary(&self) -> &'static str {
        "Pretrained torchvision weights (or a local checkpoint), verified against the model and saved as safetensors."
    }

    fn params(&self) -> &'static [ParamSpec] {
        PARAMS
    }

    fn outputs(&self) -> &'static [OutputSpec] {
        OUTPUTS
    }

    fn check(&self, params: &Params) -> Vec<(String, String)> {
        let mut problems = Vec::new();
        let (Ok(model), Ok(variant)) = (params.str("model"), params.str("variant")) else {
            return problems;
        };
        let url = params.opt_str("url").ok().flatten();
        let path = params.opt_str("path").ok().flatten();
        let sha = params.opt_str("sha256").ok().flatten();
        if url.is_some() && path.is_some() {
            problems.push(("path".into(), "give `path` or `url`, not both".into()));
        }
        if url.is_none() && path.is_none() && find(model, variant).is_none() {
            let known = variants(model);
            let msg = if known.is_empty() {
                format!("torchvision publishes no weights for `{model}`; give `path` or `url`")
            } else {
                format!("unknown variant `{variant}` of `{model}`; known: `DEFAULT`, {known}")
            };
            problems.push(("variant".into(), msg));
        }
        if let Some(url) = url {
            if sha.is_none() && file_name_of(url).as_deref().and_then(hash_prefix).is_none() {
                problems.push((
                    "url".into(),
                    "cannot verify this file: its name carries no SHA-256 prefix (`name-<8 hex>.pth`); give `sha256`".into(),
                ));
            }
        }
        if let Some(s) = sha {
            if let Some(p) = Checksum::Sha256(s.to_string()).problem() {
                problems.push(("sha256".into(), p));
            }
        }
        problems
    }

    fn run(&self, ctx: &Context) -> Result<()> {
        let p = ctx.params;
        let model = p.str("model")?;
        let variant = p.str("variant")?;
        let (file, source) = match (p.opt_str("path")?, p.opt_str("url")?) {
            (Some(path), _) => (PathBuf::from(path), path.to_string()),
            (None, url) => {
                let url = match url {
                    Some(u) => u.to_string(),
                    None => published_url(model, variant).ok_or_else(|| {
                        Error::failed(format!("unknown variant `{variant}` of `{model}`"))
                    })?,
                };
                let name = file_name_of(&url)
                    .ok_or_else(|| Error::failed(format!("`{url}` names no file")))?;
                let checksum = match p.opt_str("sha256")? {
                    Some(s) => Checksum::Sha256(s.to_string()),
                    None => Checksum::Sha256(
                        hash_prefix(&name)
                            .ok_or_else(|| {
                                Error::failed(format!(
                                    "`{name}` carries no SHA-256 prefix; give `sha256`"
                                ))
                            })?
                            .to_string(),
                    ),
                };
                let dest = ctx.work.join(&name);
                ctx.progress.message(format!("downloading {name}"));
                fetch(&url, &dest, &checksum, ctx.progress, ctx.cancel)?;
                (dest, url)
            }
        };
        ctx.check_cancelled()?;
        ctx.progress.message("reading checkpoint");
        let raw = checkpoint::read(&file)?;
        let renamed = raw
            .iter()
            .filter(|(k, _)| checkpoint::rename(k).is_some())
            .count();
        let tensors: Vec<(String, Tensor)> = raw
            .into_iter()
            .map(|(k, t)| (checkpoint::rename(&k).unwrap_or(k), t))
            .collect();
        let shape = describe(model, &tensors, &file)?;
        verify(model, &shape, &tensors, &file)?;
        ctx.check_cancelled()?;
        let out = ctx.out.join("weights.safetensors");
        Tensor::write_safetensors(&tensors, &out)
            .map_err(|e| Error::io(&out, "write", std::io::Error::other(e.to_string())))?;
        let json = serde_json::json!({
            "model": model,
            "variant": if p.opt_str("path")?.is_some() { variant.to_string() } else { find(model, variant).map_or(variant, |w| w.variant).to_string() },
            "source": source,
            "num_classes": shape.classes,
            "image_size": shape.image_size,
            "tensors": tensors.len(),
            "renamed_keys": renamed,
        });
        let path = ctx.out.join("weights.json");
        let text =
            serde_json::to_string_pretty(&json).map_err(|e| Error::internal(e.to_string()))?;
        std::fs::write(&path, text + "\n").map_err(|e| Error::io(&path, "write", e))?;
        ctx.progress.log(format!(
            "{model}: {} tensors, {} classes ({renamed} keys renamed)",
            tensors.len(),
            shape.classes
        ));
        Ok(())
    }
}

/// What a checkpoint says about the model it fits.
struct Shape {
    classes: i64,
    image_size: i64,
}

fn describe(model: &str, tensors: &[(String, Tensor)], file: &Path) -> Result<Shape> {
    let get = |key: &str| {
        tensors
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, t)| t.size())
    };
    let head = format!("{}.weight", models::head_of(model)?);
    let classes = get(&head).and_then(|s| s.first().copied()).ok_or_else(|| {
        Error::bad_data(
            file,
            format!("no `{head}` in the checkpoint: not a `{model}` state dict"),
        )
    })?;
    let image_size = match models::patch_size(model) {
        None => 224,
        Some(patch) => {
            let seq = get("encoder.pos_embedding")
                .and_then(|s| s.get(1).copied())
                .ok_or_else(|| {
                    Error::bad_data(
                        file,
                        format!("no `encoder.pos_embedding`: not a `{model}` state dict"),
                    )
                })?;
            let grid = ((seq - 1) as f64).sqrt().round() as i64;
            if grid * grid != seq - 1 {
                return Err(Error::bad_data(file, format!("a position embedding of {seq} tokens is not a square grid plus a class token")));
            }
            grid * patch
        }
    };
    Ok(Shape {
        classes,
        image_size,
    })
}

/// Loads the tensors into a fresh model strictly, so a checkpoint that does
/// not fit fails here, naming the keys, not later in training.
fn verify(model: &str, shape: &Shape, tensors: &[(String, Tensor)], file: &Path) -> Result<()> {
    let mut vs = nn::VarStore::new(Device::Cpu);
    let _net = models::build(model, &vs.root(), shape.classes, shape.image_size)?;
    checkpoint::load_tensors(&mut vs, tensors, None, file)?;
    Ok(())
}
