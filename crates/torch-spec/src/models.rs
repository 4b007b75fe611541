//! The model names pipe-torch builds, torchvision's spelling.

/// Every model name pipe-torch's `models::build` accepts.
pub const NAMES: &[&str] = &[
    "resnet18",
    "resnet34",
    "resnet50",
    "resnet101",
    "resnet152",
    "densenet121",
    "densenet161",
    "densenet169",
    "densenet201",
    "vit_b_16",
    "vit_b_32",
    "vit_l_16",
    "vit_l_32",
    "vit_h_14",
];

/// The patch size of a vision transformer (`vit_b_16` -> 16); `None` for
/// a convolutional model.
pub fn patch_size(model: &str) -> Option<i64> {
    model.strip_prefix("vit_")?.split_once('_')?.1.parse().ok()
}
