//! Logit parity with torchvision 0.26: the same random-init weights, saved
//! by PyTorch in both `torch.save` formats, give the same eval-mode logits
//! in pipe's models (max abs difference 1e-4, CPU).

use std::path::{Path, PathBuf};

use pipe_torch::{checkpoint, models};
use tch::nn;
use tch::{Device, Tensor};

fn fixture(name: &str) -> PathBuf {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../tests/fixtures/generated/models")
        .join(name);
    assert!(
        path.exists(),
        "missing fixture `{}`: run `scripts/fixtures/models.py tests/fixtures/generated` with the torch venv's python (or scripts/make-fixtures.sh)",
        path.display()
    );
    path
}

fn reference(name: &str) -> Tensor {
    let all = Tensor::read_safetensors(fixture("reference.safetensors")).expect("reference logits");
    all.into_iter()
        .find(|(k, _)| k == name)
        .map(|(_, t)| t)
        .unwrap_or_else(|| panic!("no `{name}` in reference.safetensors"))
}

fn check(model_name: &str, files: &[&str]) {
    let input = reference("input");
    let expected = reference(model_name);
    for file in files {
        let mut vs = nn::VarStore::new(Device::Cpu);
        let model = models::build(model_name, &vs.root(), 10, 224).expect("builds");
        let report =
            checkpoint::load_weights(&mut vs, &fixture(file), None).expect("loads strictly");
        assert_eq!(report.loaded, vs.variables().len(), "{file}");
        let logits = tch::no_grad(|| model.forward_t(&input, false));
        let diff = (&logits - &expected).abs().max().double_value(&[]);
        eprintln!("{model_name} from {file}: max abs logit difference {diff:.2e}");
        assert!(
            diff < 1e-4,
            "{model_name} from {file}: max abs logit difference {diff}"
        );
        // The model is not trivially constant: logits differ between images.
        let spread = (logits.get(0) - logits.get(1))
            .abs()
            .max()
            .double_value(&[]);
        assert!(
            spread > 1e-3,
            "{model_name}: the two images give the same logits"
        );
    }
}

#[test]
fn resnet50_matches_torchvision() {
    check("resnet50", &["resnet50.zip.pth", "resnet50.legacy.pth"]);
}

#[test]
fn densenet201_matches_torchvision_with_old_and_new_names() {
    check(
        "densenet201",
        &[
            "densenet201.zip.pth",
            "densenet201.legacy.pth",
            "densenet201.oldnames.legacy.pth",
        ],
    );
}

#[test]
fn vit_b_16_matches_torchvision_with_old_and_new_names() {
    check(
        "vit_b_16",
        &[
            "vit_b_16.zip.pth",
            "vit_b_16.legacy.pth",
            "vit_b_16.oldnames.zip.pth",
        ],
    );
}
