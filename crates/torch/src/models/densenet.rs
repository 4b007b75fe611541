//! DenseNet-121/161/169/201 as torchvision builds them, with torchvision's
//! current parameter names (`denselayer1.norm1`, not the 2017 `norm.1`; the
//! checkpoint reader renames old keys).
//!
//! Huang et al., "Densely Connected Convolutional Networks", 2016,
//! <https://arxiv.org/abs/1608.06993>. bn_size 4, drop_rate 0, no
//! memory-efficient checkpointing. Initialisation as torchvision's
//! `DenseNet.__init__`: convs `kaiming_normal_` (fan_in, gain sqrt 2),
//! BatchNorm 1/0; the `classifier` head is PyTorch's Linear default because
//! the report replaces it (torchvision's own zeroes its bias).

use tch::nn::init::{FanInOut, NonLinearity, NormalOrUniform};
use tch::nn::{self, Init, ModuleT};
use tch::Tensor;

use super::layers::{batch_norm, conv, linear};
use super::Model;

const CONV_INIT: Init = Init::Kaiming {
    dist: NormalOrUniform::Normal,
    fan: FanInOut::FanIn,
    non_linearity: NonLinearity::ReLU,
};
const BN_SIZE: i64 = 4;

/// Growth rate, layers per dense block and stem width.
#[derive(Clone, Copy, Debug)]
pub struct Config {
    pub growth: i64,
    pub blocks: [i64; 4],
    pub init_features: i64,
}

/// The configuration of a torchvision DenseNet name, if it is one.
pub fn config(name: &str) -> Option<Config> {
    let (growth, blocks, init_features) = match name {
        "densenet121" => (32, [6, 12, 24, 16], 64),
        "densenet161" => (48, [6, 12, 36, 24], 96),
        "densenet169" => (32, [6, 12, 32, 32], 64),
        "densenet201" => (32, [6, 12, 48, 32], 64),
        _ => return None,
    };
    Some(Config {
        growth,
        blocks,
        init_features,
    })
}

/// norm1 -> relu -> 1x1 conv1 -> norm2 -> relu -> 3x3 conv2, on the
/// concatenation of everything before it in the block.
#[derive(Debug)]
struct DenseLayer {
    norm1: nn::BatchNorm,
    conv1: nn::Conv2D,
    norm2: nn::BatchNorm,
    conv2: nn::Conv2D,
}

impl DenseLayer {
    fn new(p: &nn::Path, inputs: i64, growth: i64) -> DenseLayer {
        let width = BN_SIZE * growth;
        DenseLayer {
            norm1: batch_norm(p / "norm1", inputs),
            conv1: conv(p / "conv1", inputs, width, 1, 1, 0, CONV_INIT),
            norm2: batch_norm(p / "norm2", width),
            conv2: conv(p / "conv2", width, growth, 3, 1, 1, CONV_INIT),
        }
    }

    fn forward_t(&self, xs: &Tensor, train: bool) -> Tensor {
        xs.apply_t(&self.norm1, train)
            .relu_()
            .apply(&self.conv1)
            .apply_t(&self.norm2, train)
            .relu_()
            .apply(&self.conv2)
    }
}

/// norm -> relu -> 1x1 conv halving the channels -> 2x2 average pool.
#[derive(Debug)]
struct Transition {
    norm: nn::BatchNorm,
    conv: nn::Conv2D,
}

impl Transition {
    fn forward_t(&self, xs: &Tensor, train: bool) -> Tensor {
        xs.apply_t(&self.norm, train)
            .relu_()
            .apply(&self.conv)
            .avg_pool2d([2, 2], [2, 2], [0, 0], false, true, None::<i64>)
    }
}

/// A torchvision DenseNet with a `classes`-way `classifier` head.
#[derive(Debug)]
pub struct DenseNet {
    conv0: nn::Conv2D,
    norm0: nn::BatchNorm,
    blocks: Vec<(Vec<DenseLayer>, Option<Transition>)>,
    norm5: nn::BatchNorm,
    classifier: nn::Linear,
}

impl DenseNet {
    pub fn new(p: &nn::Path, config: Config, classes: i64) -> DenseNet {
        let f = p / "features";
        let mut features = config.init_features;
        let conv0 = conv(&f / "conv0", 3, features, 7, 2, 3, CONV_INIT);
        let norm0 = batch_norm(&f / "norm0", features);
        let mut blocks = Vec::new();
        for (i, &count) in config.blocks.iter().enumerate() {
            let bp = &f / format!("denseblock{}", i + 1);
            let layers = (0..count)
                .map(|j| {
                    DenseLayer::new(
                        &(&bp / format!("denselayer{}", j + 1)),
                        features + j * config.growth,
                        config.growth,
                    )
                })
                .collect();
            features += count * config.growth;
            let transition = (i + 1 < config.blocks.len()).then(|| {
                let tp = &f / format!("transition{}", i + 1);
                let t = Transition {
                    norm: batch_norm(&tp / "norm", features),
                    conv: conv(&tp / "conv", features, features / 2, 1, 1, 0, CONV_INIT),
                };
                features /= 2;
                t
            });
            blocks.push((layers, transition));
        }
        let norm5 = batch_norm(&f / "norm5", features);
        let classifier = linear(p / "classifier", features, classes);
        DenseNet {
            conv0,
            norm0,
            blocks,
            norm5,
            classifier,
        }
    }
}

impl ModuleT for DenseNet {
    fn forward_t(&self, xs: &Tensor, train: bool) -> Tensor {
        let mut ys = xs
            .apply(&self.conv0)
            .apply_t(&self.norm0, train)
            .relu_()
            .max_pool2d([3, 3], [2, 2], [1, 1], [1, 1], false);
        for (layers, transition) in &self.blocks {
            let mut features = vec![ys];
            for layer in layers {
                let input = Tensor::cat(&features, 1);
                features.push(layer.forward_t(&input, train));
            }
            ys = Tensor::cat(&features, 1);
            if let Some(t) = transition {
                ys = t.forward_t(&ys, train);
            }
        }
        ys.apply_t(&self.norm5, train)
            .relu_()
            .adaptive_avg_pool2d([1, 1])
            .flatten(1, -1)
            .apply(&self.classifier)
    }
}

impl Model for DenseNet {
    fn head(&self) -> &'static str {
        "classifier"
    }
}
