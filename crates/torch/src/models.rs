//! Image classifiers with torchvision's architectures and parameter names,
//! so a torchvision state dict maps onto them key for key.
//!
//! Every model is built from `nn::Path` segments equal to torchvision's
//! state-dict keys (`layer1.0.downsample.0.weight`,
//! `features.denseblock1.denselayer1.norm1.weight`,
//! `encoder.layers.encoder_layer_0.self_attention.in_proj_weight`), so a
//! `VarStore` variable name is the torchvision key. BatchNorm's
//! `num_batches_tracked` is the one torchvision key with no variable here:
//! tch's BatchNorm does not count batches and nothing reads the counter when
//! momentum is set, so [`crate::checkpoint`] ignores it on load.
//! Initialisation follows torchvision's own `__init__` for training from
//! scratch; the head is always PyTorch's default `nn.Linear` init because the
//! report replaces it with a fresh `nn.Linear` (docs/models.md).

mod densenet;
mod layers;
mod resnet;
mod vit;

use pipe_engine::{Error, Result};
use tch::nn;

pub use densenet::DenseNet;
pub use resnet::ResNet;
pub use vit::VisionTransformer;

/// A classifier: images `[N, 3, H, W]` float (normalised) -> logits `[N, classes]`.
pub trait Model: nn::ModuleT + Send {
    /// The state-dict prefix of the classification head (`fc`,
    /// `classifier`, `heads.head`): the only part trained in transfer mode
    /// and the part replaced when the class count changes.
    fn head(&self) -> &'static str;
}

/// Builds `name` (`resnet50`, `densenet201`, `vit_b_16`, ...) under `vs`
/// with a `classes`-way head initialised like PyTorch's `nn.Linear`, for
/// square inputs of `image_size` pixels (only ViT depends on it).
pub fn build(name: &str, vs: &nn::Path, classes: i64, image_size: i64) -> Result<Box<dyn Model>> {
    if classes < 1 {
        return Err(Error::failed(format!(
            "model `{name}` needs at least one class (got {classes})"
        )));
    }
    if let Some(config) = resnet::config(name) {
        return Ok(Box::new(ResNet::new(vs, config, classes)));
    }
    if let Some(config) = densenet::config(name) {
        return Ok(Box::new(DenseNet::new(vs, config, classes)));
    }
    if let Some(config) = vit::config(name) {
        if image_size < config.patch || image_size % config.patch != 0 {
            return Err(Error::failed(format!(
                "model `{name}` needs an image size divisible by its patch size {} (got {image_size})",
                config.patch
            ))
            .with_hint(format!("resize images to a multiple of {}, e.g. 224", config.patch)));
        }
        return Ok(Box::new(VisionTransformer::new(
            vs, config, classes, image_size,
        )));
    }
    Err(unknown(name))
}

/// Every model name `build` accepts (a const, for parameter enums).
pub use pipe_torch_spec::models::NAMES;

/// Every model name `build` accepts.
pub fn names() -> &'static [&'static str] {
    NAMES
}

/// The state-dict prefix of `name`'s head (`fc`, `classifier`, `heads.head`),
/// known without building the model.
pub fn head_of(name: &str) -> Result<&'static str> {
    if resnet::config(name).is_some() {
        Ok("fc")
    } else if densenet::config(name).is_some() {
        Ok("classifier")
    } else if vit::config(name).is_some() {
        Ok("heads.head")
    } else {
        Err(unknown(name))
    }
}

/// ImageNet mean and std of the model's DEFAULT weights' transforms.
pub fn normalization(_name: &str) -> ([f64; 3], [f64; 3]) {
    // Every torchvision DEFAULT weight of these families uses ImageNet
    // statistics (transforms/_presets.py `ImageClassification`).
    ([0.485, 0.456, 0.406], [0.229, 0.224, 0.225])
}

fn unknown(name: &str) -> Error {
    Error::failed(format!("unknown model `{name}`"))
        .with_hint(format!("known models: {}", names().join(", ")))
}

/// The patch size of a ViT name (`None` for convolutional models), from
/// which a checkpoint's position embedding gives its image size.
pub fn patch_size(name: &str) -> Option<i64> {
    vit::config(name).map(|c| c.patch)
}
