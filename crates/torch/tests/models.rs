//! Parameter counts and names of the models against the report and
//! torchvision (the numbers are the report's, Table 1).

use pipe_torch::models;
use tch::{nn, Device, Kind, Tensor};

/// (total trainable parameters, parameters under the head) with a 10-class head.
fn counts(name: &str) -> (i64, i64, nn::VarStore) {
    let vs = nn::VarStore::new(Device::Cpu);
    let model = models::build(name, &vs.root(), 10, 224).expect("model builds");
    let head = format!("{}.", model.head());
    let trainable: Vec<Tensor> = vs.trainable_variables();
    let total: i64 = trainable.iter().map(Tensor::numel).map(|n| n as i64).sum();
    let variables = vs.variables();
    let head_count: i64 = variables
        .iter()
        .filter(|(k, v)| k.starts_with(&head) && v.requires_grad())
        .map(|(_, v)| v.numel() as i64)
        .sum();
    drop(model);
    (total, head_count, vs)
}

#[test]
fn resnet50_has_the_reports_parameter_counts() {
    let (total, head, vs) = counts("resnet50");
    assert_eq!((total, head), (23_528_522, 20_490));
    let vars = vs.variables();
    for key in [
        "conv1.weight",
        "bn1.running_mean",
        "layer1.0.conv1.weight",
        "layer1.0.downsample.0.weight",
        "layer4.2.bn3.running_var",
        "fc.weight",
        "fc.bias",
    ] {
        assert!(vars.contains_key(key), "missing `{key}`");
    }
    // 161 tensors in torchvision's state dict minus 53 num_batches_tracked.
    assert_eq!(vars.len(), 320 - 53);
}

#[test]
fn densenet201_has_the_reports_parameter_counts() {
    let (total, head, vs) = counts("densenet201");
    assert_eq!((total, head), (18_112_138, 19_210));
    let vars = vs.variables();
    for key in [
        "features.conv0.weight",
        "features.denseblock1.denselayer1.norm1.weight",
        "features.denseblock3.denselayer48.conv2.weight",
        "features.transition1.conv.weight",
        "features.norm5.running_var",
        "classifier.bias",
    ] {
        assert!(vars.contains_key(key), "missing `{key}`");
    }
}

#[test]
fn vit_b_16_has_the_reports_parameter_counts_and_torchvisions_152_keys() {
    let (total, head, vs) = counts("vit_b_16");
    assert_eq!((total, head), (85_806_346, 7_690));
    let vars = vs.variables();
    assert_eq!(vars.len(), 152);
    assert_eq!(
        vars["encoder.layers.encoder_layer_11.self_attention.in_proj_weight"].size(),
        [2304, 768]
    );
    assert_eq!(vars["encoder.pos_embedding"].size(), [1, 197, 768]);
    assert_eq!(vars["class_token"].size(), [1, 1, 768]);
    assert_eq!(
        vars["encoder.layers.encoder_layer_0.mlp.3.weight"].size(),
        [768, 3072]
    );
}

#[test]
fn siblings_have_torchvisions_parameter_counts() {
    // torchvision's documented `num_params` (1000 classes).
    for (name, expected) in [
        ("resnet18", 11_689_512),
        ("resnet34", 21_797_672),
        ("densenet121", 7_978_856),
        ("vit_b_32", 88_224_232),
    ] {
        let vs = nn::VarStore::new(Device::Cpu);
        let _model = models::build(name, &vs.root(), 1000, 224).expect("model builds");
        let total: i64 = vs
            .trainable_variables()
            .iter()
            .map(|t| t.numel() as i64)
            .sum();
        assert_eq!(total, expected, "{name}");
    }
}

#[test]
fn every_listed_name_has_a_head_and_unknown_names_fail_with_the_list() {
    for name in models::names() {
        models::head_of(name).expect("known model");
    }
    let vs = nn::VarStore::new(Device::Cpu);
    let Err(err) = models::build("resnet5O", &vs.root(), 10, 224) else {
        panic!("unknown model built");
    };
    assert!(
        err.to_string().contains("unknown model `resnet5O`"),
        "{err}"
    );
    assert!(err.hint().unwrap_or_default().contains("resnet50"));
    let Err(err) = models::build("vit_b_16", &vs.root(), 10, 100) else {
        panic!("vit_b_16 built for 100 px images");
    };
    assert!(err.to_string().contains("divisible"), "{err}");
}

#[test]
fn forward_gives_one_row_of_logits_per_image_in_train_and_eval() {
    for name in ["resnet18", "densenet121", "vit_b_32"] {
        let vs = nn::VarStore::new(Device::Cpu);
        let model = models::build(name, &vs.root(), 10, 64).expect("model builds");
        let xs = Tensor::randn([2, 3, 64, 64], (Kind::Float, Device::Cpu));
        for train in [false, true] {
            let ys = tch::no_grad(|| model.forward_t(&xs, train));
            assert_eq!(ys.size(), [2, 10], "{name}");
            assert!(ys.isfinite().all().int64_value(&[]) == 1, "{name}");
        }
        // The in-place ReLUs and residual adds keep autograd intact: every
        // parameter gets a finite gradient.
        let loss = model
            .forward_t(&xs, true)
            .logsumexp([1], false)
            .mean(Kind::Float);
        loss.backward();
        for v in vs.trainable_variables() {
            let g = v.grad();
            assert!(g.defined(), "{name}: a parameter without gradient");
            assert!(
                g.isfinite().all().int64_value(&[]) == 1,
                "{name}: non-finite gradient"
            );
        }
    }
}
