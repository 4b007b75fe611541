//! The layer constructors every model shares, with PyTorch's defaults
//! (BatchNorm momentum 0.1 and eps 1e-5, `nn.Linear`'s initialisation)
//! spelled out once.

use tch::nn::{self, Init};

/// `nn.Linear`'s default: `kaiming_uniform_(a=sqrt(5))` for the weight, which
/// is uniform in +-1/sqrt(fan_in), and the same bound for the bias.
pub fn linear(p: nn::Path, inputs: i64, outputs: i64) -> nn::Linear {
    let bound = 1.0 / (inputs as f64).sqrt();
    let config = nn::LinearConfig {
        ws_init: Init::Uniform {
            lo: -bound,
            up: bound,
        },
        bs_init: Some(Init::Uniform {
            lo: -bound,
            up: bound,
        }),
        bias: true,
    };
    nn::linear(p, inputs, outputs, config)
}

/// A linear layer with explicit initialisers (ViT's MLP, DenseNet's zero bias).
pub fn linear_init(p: nn::Path, inputs: i64, outputs: i64, weight: Init, bias: Init) -> nn::Linear {
    let config = nn::LinearConfig {
        ws_init: weight,
        bs_init: Some(bias),
        bias: true,
    };
    nn::linear(p, inputs, outputs, config)
}

/// A bias-free 2-D convolution, as every ResNet and DenseNet conv is.
pub fn conv(
    p: nn::Path,
    inputs: i64,
    outputs: i64,
    kernel: i64,
    stride: i64,
    padding: i64,
    init: Init,
) -> nn::Conv2D {
    let config = nn::ConvConfig {
        stride,
        padding,
        bias: false,
        ws_init: init,
        ..Default::default()
    };
    nn::conv2d(p, inputs, outputs, kernel, config)
}

/// BatchNorm2d as torchvision builds it: weight 1, bias 0, momentum 0.1, eps 1e-5.
pub fn batch_norm(p: nn::Path, channels: i64) -> nn::BatchNorm {
    let config = nn::BatchNormConfig {
        eps: 1e-5,
        momentum: 0.1,
        ws_init: Init::Const(1.0),
        bs_init: Init::Const(0.0),
        ..Default::default()
    };
    nn::batch_norm2d(p, channels, config)
}

/// `nn.init.xavier_uniform_` for a 2-D weight `[out, in]`.
pub fn xavier_uniform(outputs: i64, inputs: i64) -> Init {
    let bound = (6.0 / (inputs + outputs) as f64).sqrt();
    Init::Uniform {
        lo: -bound,
        up: bound,
    }
}
