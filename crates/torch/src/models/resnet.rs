//! ResNet-18/34/50/101/152 as torchvision builds them (ResNet v1.5: the
//! stride of a bottleneck sits on its 3x3 conv), with torchvision's
//! parameter names.
//!
//! He et al., "Deep Residual Learning for Image Recognition", 2015,
//! <https://arxiv.org/abs/1512.03385>. Initialisation as torchvision's
//! `ResNet.__init__` with `zero_init_residual=False`: convs
//! `kaiming_normal_(mode="fan_out", nonlinearity="relu")`, BatchNorm 1/0,
//! `fc` PyTorch's Linear default.

use tch::nn::init::{FanInOut, NonLinearity, NormalOrUniform};
use tch::nn::{self, Init, ModuleT};
use tch::Tensor;

use super::layers::{batch_norm, conv, linear};
use super::Model;

const CONV_INIT: Init = Init::Kaiming {
    dist: NormalOrUniform::Normal,
    fan: FanInOut::FanOut,
    non_linearity: NonLinearity::ReLU,
};

/// Which block and how many of them per stage.
#[derive(Clone, Copy, Debug)]
pub struct Config {
    pub bottleneck: bool,
    pub blocks: [i64; 4],
}

/// The configuration of a torchvision ResNet name, if it is one.
pub fn config(name: &str) -> Option<Config> {
    let (bottleneck, blocks) = match name {
        "resnet18" => (false, [2, 2, 2, 2]),
        "resnet34" => (false, [3, 4, 6, 3]),
        "resnet50" => (true, [3, 4, 6, 3]),
        "resnet101" => (true, [3, 4, 23, 3]),
        "resnet152" => (true, [3, 8, 36, 3]),
        _ => return None,
    };
    Some(Config { bottleneck, blocks })
}

/// A conv followed by its BatchNorm.
#[derive(Debug)]
struct ConvBn {
    conv: nn::Conv2D,
    bn: nn::BatchNorm,
}

impl ConvBn {
    fn forward_t(&self, xs: &Tensor, train: bool) -> Tensor {
        xs.apply(&self.conv).apply_t(&self.bn, train)
    }
}

/// A residual block: BasicBlock (two 3x3) or Bottleneck (1x1, 3x3, 1x1).
#[derive(Debug)]
struct Block {
    convs: Vec<ConvBn>,
    downsample: Option<ConvBn>,
}

impl Block {
    fn new(p: &nn::Path, inputs: i64, planes: i64, stride: i64, bottleneck: bool) -> Block {
        let conv_bn = |i: usize, cin: i64, cout: i64, k: i64, s: i64| ConvBn {
            conv: conv(p / format!("conv{i}"), cin, cout, k, s, k / 2, CONV_INIT),
            bn: batch_norm(p / format!("bn{i}"), cout),
        };
        let (convs, outputs) = if bottleneck {
            let out = planes * 4;
            (
                vec![
                    conv_bn(1, inputs, planes, 1, 1),
                    conv_bn(2, planes, planes, 3, stride),
                    conv_bn(3, planes, out, 1, 1),
                ],
                out,
            )
        } else {
            (
                vec![
                    conv_bn(1, inputs, planes, 3, stride),
                    conv_bn(2, planes, planes, 3, 1),
                ],
                planes,
            )
        };
        let downsample = (stride != 1 || inputs != outputs).then(|| {
            let d = p / "downsample";
            ConvBn {
                conv: conv(&d / "0", inputs, outputs, 1, stride, 0, CONV_INIT),
                bn: batch_norm(&d / "1", outputs),
            }
        });
        Block { convs, downsample }
    }

    fn forward_t(&self, xs: &Tensor, train: bool) -> Tensor {
        let last = self.convs.len() - 1;
        let mut ys = xs.shallow_clone();
        for (i, c) in self.convs.iter().enumerate() {
            ys = c.forward_t(&ys, train);
            if i < last {
                ys = ys.relu_();
            }
        }
        let identity = match &self.downsample {
            Some(d) => d.forward_t(xs, train),
            None => xs.shallow_clone(),
        };
        // In place, as torchvision's `out += identity; relu(inplace=True)`.
        ys += identity;
        ys.relu_()
    }
}

/// A torchvision ResNet with a `classes`-way `fc` head.
#[derive(Debug)]
pub struct ResNet {
    stem: ConvBn,
    layers: Vec<Vec<Block>>,
    fc: nn::Linear,
}

impl ResNet {
    pub fn new(p: &nn::Path, config: Config, classes: i64) -> ResNet {
        let stem = ConvBn {
            conv: conv(p / "conv1", 3, 64, 7, 2, 3, CONV_INIT),
            bn: batch_norm(p / "bn1", 64),
        };
        let expansion = if config.bottleneck { 4 } else { 1 };
        let mut inputs = 64;
        let mut layers = Vec::new();
        for (stage, &count) in config.blocks.iter().enumerate() {
            let planes = 64 << stage;
            let lp = p / format!("layer{}", stage + 1);
            let stride = if stage == 0 { 1 } else { 2 };
            let blocks = (0..count)
                .map(|i| {
                    let block = Block::new(
                        &(&lp / i),
                        inputs,
                        planes,
                        if i == 0 { stride } else { 1 },
                        config.bottleneck,
                    );
                    inputs = planes * expansion;
                    block
                })
                .collect();
            layers.push(blocks);
        }
        let fc = linear(p / "fc", inputs, classes);
        ResNet { stem, layers, fc }
    }
}

impl ModuleT for ResNet {
    fn forward_t(&self, xs: &Tensor, train: bool) -> Tensor {
        let mut ys = self.stem.forward_t(xs, train).relu_().max_pool2d(
            [3, 3],
            [2, 2],
            [1, 1],
            [1, 1],
            false,
        );
        for block in self.layers.iter().flatten() {
            ys = block.forward_t(&ys, train);
        }
        ys.adaptive_avg_pool2d([1, 1])
            .flatten(1, -1)
            .apply(&self.fc)
    }
}

impl Model for ResNet {
    fn head(&self) -> &'static str {
        "fc"
    }
}
