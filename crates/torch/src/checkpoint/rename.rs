//! Old torchvision key names -> current ones, as torchvision's own loaders
//! rename them: DenseNet's 2017 `denselayerN.norm.1.weight` ->
//! `denselayerN.norm1.weight` (densenet.py `_load_state_dict`) and ViT's
//! `mlp.linear_1.*` / `mlp.linear_2.*` -> `mlp.0.*` / `mlp.3.*`
//! (vision_transformer.py `MLPBlock._load_from_state_dict`).
//!
//! torchvision applies the ViT rename only when the state dict's `_metadata`
//! version is missing or below 2; current names never contain `linear_1`, so
//! applying it by pattern alone gives the same keys.

/// The current name of `key`, or `None` when it is already current.
pub fn rename(key: &str) -> Option<String> {
    densenet(key).or_else(|| vit(key))
}

/// `^(.*denselayer\d+\.(?:norm|relu|conv))\.((?:[12])\.(?:weight|bias|running_mean|running_var))$`
fn densenet(key: &str) -> Option<String> {
    let parts: Vec<&str> = key.split('.').collect();
    let [.., layer, module, index, param] = parts.as_slice() else {
        return None;
    };
    let digits = layer.rsplit_once("denselayer")?.1;
    let ok = !digits.is_empty()
        && digits.bytes().all(|b| b.is_ascii_digit())
        && matches!(*module, "norm" | "relu" | "conv")
        && matches!(*index, "1" | "2")
        && matches!(*param, "weight" | "bias" | "running_mean" | "running_var");
    if !ok {
        return None;
    }
    let head = &parts[..parts.len() - 3];
    Some(format!("{}.{module}{index}.{param}", head.join(".")))
}

fn vit(key: &str) -> Option<String> {
    for (old, new) in [("mlp.linear_1.", "mlp.0."), ("mlp.linear_2.", "mlp.3.")] {
        if let Some((prefix, param)) = key.rsplit_once(old) {
            if (prefix.is_empty() || prefix.ends_with('.')) && matches!(param, "weight" | "bias") {
                return Some(format!("{prefix}{new}{param}"));
            }
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::rename;

    #[test]
    fn renames_exactly_what_torchvision_renames() {
        let cases = [
            (
                "features.denseblock1.denselayer1.norm.1.weight",
                Some("features.denseblock1.denselayer1.norm1.weight"),
            ),
            (
                "features.denseblock4.denselayer32.conv.2.weight",
                Some("features.denseblock4.denselayer32.conv2.weight"),
            ),
            (
                "features.denseblock2.denselayer12.norm.2.running_var",
                Some("features.denseblock2.denselayer12.norm2.running_var"),
            ),
            ("features.denseblock1.denselayer1.norm1.weight", None),
            (
                "features.denseblock1.denselayer1.norm.1.num_batches_tracked",
                None,
            ),
            ("features.denseblock1.denselayer1.norm.3.weight", None),
            ("features.transition1.norm.weight", None),
            ("features.norm5.weight", None),
            (
                "encoder.layers.encoder_layer_0.mlp.linear_1.weight",
                Some("encoder.layers.encoder_layer_0.mlp.0.weight"),
            ),
            (
                "encoder.layers.encoder_layer_11.mlp.linear_2.bias",
                Some("encoder.layers.encoder_layer_11.mlp.3.bias"),
            ),
            ("encoder.layers.encoder_layer_0.mlp.0.weight", None),
            ("encoder.layers.encoder_layer_0.xmlp.linear_1.weight", None),
            ("fc.weight", None),
        ];
        for (key, expected) in cases {
            assert_eq!(rename(key).as_deref(), expected, "{key}");
        }
    }
}
