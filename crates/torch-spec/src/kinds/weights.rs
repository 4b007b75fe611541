//! The `weights` kind's declaration (pipe-torch's `weights` runs it):
//! torchvision's published ImageNet weights for a model (or a local
//! checkpoint), checked against pipe's model and rewritten as safetensors
//! with torchvision's current key names.
//!
//! The catalog below is read from torchvision 0.26's `models/{resnet,
//! densenet,vision_transformer}.py`. Each file name carries the first 8 hex
//! digits of the file's SHA-256 (torch.hub's `check_hash` convention), which
//! the download verifies. The report's DEFAULTs: resnet50 IMAGENET1K_V2,
//! densenet201 IMAGENET1K_V1, vit_b_16 IMAGENET1K_V1.

use pipe_data::download::file_name_of;
use pipe_data::Checksum;
use pipe_engine::{Declaration, Lit, OutputSpec, ParamSpec, ParamType, Params, Result};

use crate::models;

/// The `weights` kind.
pub const DECLARATION: Declaration = Declaration {
    name: "weights",
    summary: "Pretrained torchvision weights (or a local checkpoint), verified against the model and saved as safetensors.",
    params: PARAMS,
    outputs: OUTPUTS,
    check,
    ..Declaration::BASE
};

/// A `weights` stage's settings.
#[derive(Clone, Debug, PartialEq)]
pub struct WeightsSpec {
    pub model: String,
    /// torchvision's enum member, or `DEFAULT`.
    pub variant: String,
    /// Fetch from here instead of torchvision's URL.
    pub url: Option<String>,
    /// The expected SHA-256 (or a prefix) of the `url` file.
    pub sha256: Option<String>,
    /// A local checkpoint to use instead of downloading.
    pub path: Option<String>,
}

impl WeightsSpec {
    pub fn from_params(p: &Params) -> Result<WeightsSpec> {
        Ok(WeightsSpec {
            model: p.string("model")?,
            variant: p.string("variant")?,
            url: p.opt_string("url")?,
            sha256: p.opt_string("sha256")?,
            path: p.opt_string("path")?,
        })
    }
}

const BASE_URL: &str = "https://download.pytorch.org/models/";

/// One published weight file: model, variant (torchvision's enum member), file name.
pub struct Published {
    pub model: &'static str,
    pub variant: &'static str,
    pub file: &'static str,
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

pub fn find(model: &str, variant: &str) -> Option<&'static Published> {
    let variant = if variant == "DEFAULT" {
        default_variant(model)
    } else {
        variant
    };
    CATALOG
        .iter()
        .find(|p| p.model == model && p.variant == variant)
}

pub fn variants(model: &str) -> String {
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

fn check(params: &Params) -> Vec<(String, String)> {
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
