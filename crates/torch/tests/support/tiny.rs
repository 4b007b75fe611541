//! Shared by the training tests: a tiny BatchNorm CNN with an `fc` head
//! (fast enough to train for several epochs in a test) and synthetic
//! datasets whose class is visible in the pixels.

#![allow(dead_code)]

use std::path::{Path, PathBuf};

use pipe_torch::models::Model;
use tch::nn::{self, ModuleT};
use tch::Tensor;

/// conv 3->4 (3x3) -> BatchNorm -> ReLU -> global average -> `fc`.
#[derive(Debug)]
pub struct Tiny {
    conv: nn::Conv2D,
    bn: nn::BatchNorm,
    fc: nn::Linear,
}

impl ModuleT for Tiny {
    fn forward_t(&self, xs: &Tensor, train: bool) -> Tensor {
        let x = xs.apply(&self.conv).apply_t(&self.bn, train).relu();
        x.adaptive_avg_pool2d([1, 1]).flatten(1, -1).apply(&self.fc)
    }
}

impl Model for Tiny {
    fn head(&self) -> &'static str {
        "fc"
    }
}

pub fn tiny(vs: &nn::Path, classes: i64, _image_size: i64) -> pipe_engine::Result<Box<dyn Model>> {
    Ok(Box::new(Tiny {
        conv: nn::conv2d(vs / "conv", 3, 4, 3, Default::default()),
        bn: nn::batch_norm2d(vs / "bn", 4, Default::default()),
        fc: nn::linear(vs / "fc", 4, classes, Default::default()),
    }))
}

/// `n` images of `size` pixels whose class `i % classes` sets the mean
/// brightness of one channel, plus noise from `seed`.
pub fn dataset(n: usize, size: i64, classes: i64, seed: u64) -> (Tensor, Tensor) {
    let labels = Tensor::arange(n as i64, (tch::Kind::Int64, tch::Device::Cpu)).remainder(classes);
    // Noise from a local generator: libtorch's global one is shared by the
    // tests running in parallel.
    let mut state = seed
        .wrapping_mul(6364136223846793005)
        .wrapping_add(1442695040888963407);
    let noise: Vec<f32> = (0..n as i64 * 3 * size * size)
        .map(|_| {
            state = state
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            (state >> 40) as f32 / (1u64 << 24) as f32 * 100.0
        })
        .collect();
    let noise = Tensor::from_slice(&noise).view([n as i64, 3, size, size]);
    let channel = labels.remainder(3).view([n as i64, 1, 1, 1]);
    let onehot = channel
        .eq_tensor(&Tensor::arange(3, (tch::Kind::Int64, tch::Device::Cpu)).view([1, 3, 1, 1]));
    let level = (labels.view([n as i64, 1, 1, 1]) * (150 / classes)).to_kind(tch::Kind::Float);
    let images = (noise + onehot.to_kind(tch::Kind::Float) * level)
        .clamp(0.0, 255.0)
        .to_kind(tch::Kind::Uint8);
    (images, labels)
}

/// Writes a dataset directory with `train.safetensors` and `test.safetensors`.
pub fn write_data(
    dir: &Path,
    n_train: usize,
    n_test: usize,
    size: i64,
    classes: i64,
) -> (PathBuf, PathBuf) {
    std::fs::create_dir_all(dir).unwrap();
    let train = dir.join("train.safetensors");
    let test = dir.join("test.safetensors");
    let (x, y) = dataset(n_train, size, classes, 1);
    Tensor::write_safetensors(&[("images", &x), ("labels", &y)], &train).unwrap();
    let (x, y) = dataset(n_test, size, classes, 2);
    Tensor::write_safetensors(&[("images", &x), ("labels", &y)], &test).unwrap();
    (train, test)
}
