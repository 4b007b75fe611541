//! Vision Transformers (ViT-B/16, B/32, L/16, L/32, H/14) as torchvision
//! builds them, with torchvision's parameter names.
//!
//! Dosovitskiy et al., "An Image is Worth 16x16 Words", 2020,
//! <https://arxiv.org/abs/2010.11929>. Pre-norm encoder blocks, LayerNorm eps
//! 1e-6, `nn.MultiheadAttention` with a packed `in_proj_weight` (q; k; v
//! rows), exact (erf) GELU, dropout 0, class token prepended, logits from the
//! class token. Initialisation as torchvision's `VisionTransformer.__init__`:
//! `conv_proj` truncated normal with std sqrt(1/fan_in) (its +-2 bounds are
//! ~55 std away, so a plain normal), class token 0, position embedding
//! N(0, 0.02), MLP xavier-uniform weights and N(0, 1e-6) biases, attention
//! `in_proj` xavier-uniform with zero biases. The head differs on purpose:
//! torchvision zeroes `heads.head`, the report replaces it with a fresh
//! `nn.Linear`, whose default init is used here.

use tch::nn::{self, Init, ModuleT};
use tch::Tensor;

use super::layers::{linear, linear_init, xavier_uniform};
use super::Model;

/// Patch size, depth and widths of one ViT variant.
#[derive(Clone, Copy, Debug)]
pub struct Config {
    pub patch: i64,
    pub layers: i64,
    pub heads: i64,
    pub hidden: i64,
    pub mlp: i64,
}

/// The configuration of a torchvision ViT name, if it is one.
pub fn config(name: &str) -> Option<Config> {
    let (patch, layers, heads, hidden, mlp) = match name {
        "vit_b_16" => (16, 12, 12, 768, 3072),
        "vit_b_32" => (32, 12, 12, 768, 3072),
        "vit_l_16" => (16, 24, 16, 1024, 4096),
        "vit_l_32" => (32, 24, 16, 1024, 4096),
        "vit_h_14" => (14, 32, 16, 1280, 5120),
        _ => return None,
    };
    Some(Config {
        patch,
        layers,
        heads,
        hidden,
        mlp,
    })
}

fn layer_norm(p: nn::Path, hidden: i64) -> nn::LayerNorm {
    nn::layer_norm(
        p,
        vec![hidden],
        nn::LayerNormConfig {
            eps: 1e-6,
            ..Default::default()
        },
    )
}

/// `nn.MultiheadAttention(batch_first=True)` without masks or dropout.
#[derive(Debug)]
struct Attention {
    in_proj_weight: Tensor,
    in_proj_bias: Tensor,
    out_proj: nn::Linear,
    heads: i64,
}

impl Attention {
    fn new(p: &nn::Path, hidden: i64, heads: i64) -> Attention {
        Attention {
            in_proj_weight: p.var(
                "in_proj_weight",
                &[3 * hidden, hidden],
                xavier_uniform(3 * hidden, hidden),
            ),
            in_proj_bias: p.var("in_proj_bias", &[3 * hidden], Init::Const(0.0)),
            out_proj: linear_init(
                p / "out_proj",
                hidden,
                hidden,
                Init::Uniform {
                    lo: -1.0 / (hidden as f64).sqrt(),
                    up: 1.0 / (hidden as f64).sqrt(),
                },
                Init::Const(0.0),
            ),
            heads,
        }
    }

    fn forward(&self, xs: &Tensor) -> Tensor {
        let (n, s, h) = xs.size3().unwrap_or_default();
        let split = |t: &Tensor| t.view([n, s, self.heads, h / self.heads]).transpose(1, 2);
        let qkv = xs
            .linear(&self.in_proj_weight, Some(&self.in_proj_bias))
            .chunk(3, -1);
        let ys = Tensor::scaled_dot_product_attention(
            &split(&qkv[0]),
            &split(&qkv[1]),
            &split(&qkv[2]),
            None::<Tensor>,
            0.0,
            false,
            None,
            false,
        );
        ys.transpose(1, 2).reshape([n, s, h]).apply(&self.out_proj)
    }
}

/// x + attention(ln_1(x)), then + mlp(ln_2(.)).
#[derive(Debug)]
struct EncoderBlock {
    ln_1: nn::LayerNorm,
    attention: Attention,
    ln_2: nn::LayerNorm,
    mlp_0: nn::Linear,
    mlp_3: nn::Linear,
}

impl EncoderBlock {
    fn new(p: &nn::Path, c: Config) -> EncoderBlock {
        let mlp = p / "mlp";
        let bias = Init::Randn {
            mean: 0.0,
            stdev: 1e-6,
        };
        EncoderBlock {
            ln_1: layer_norm(p / "ln_1", c.hidden),
            attention: Attention::new(&(p / "self_attention"), c.hidden, c.heads),
            ln_2: layer_norm(p / "ln_2", c.hidden),
            mlp_0: linear_init(
                &mlp / "0",
                c.hidden,
                c.mlp,
                xavier_uniform(c.mlp, c.hidden),
                bias,
            ),
            mlp_3: linear_init(
                &mlp / "3",
                c.mlp,
                c.hidden,
                xavier_uniform(c.hidden, c.mlp),
                bias,
            ),
        }
    }

    fn forward(&self, xs: &Tensor) -> Tensor {
        let xs = self.attention.forward(&xs.apply(&self.ln_1)) + xs;
        let ys = xs
            .apply(&self.ln_2)
            .apply(&self.mlp_0)
            .gelu("none")
            .apply(&self.mlp_3);
        xs + ys
    }
}

/// A torchvision ViT with a `classes`-way `heads.head`.
#[derive(Debug)]
pub struct VisionTransformer {
    conv_proj: nn::Conv2D,
    class_token: Tensor,
    pos_embedding: Tensor,
    layers: Vec<EncoderBlock>,
    ln: nn::LayerNorm,
    head: nn::Linear,
}

impl VisionTransformer {
    /// `image_size` must be a multiple of the patch size (checked by `build`).
    pub fn new(p: &nn::Path, c: Config, classes: i64, image_size: i64) -> VisionTransformer {
        let fan_in = 3 * c.patch * c.patch;
        let conv_config = nn::ConvConfig {
            stride: c.patch,
            ws_init: Init::Randn {
                mean: 0.0,
                stdev: (1.0 / fan_in as f64).sqrt(),
            },
            bs_init: Init::Const(0.0),
            ..Default::default()
        };
        let conv_proj = nn::conv2d(p / "conv_proj", 3, c.hidden, c.patch, conv_config);
        let class_token = p.var("class_token", &[1, 1, c.hidden], Init::Const(0.0));
        let encoder = p / "encoder";
        let patches = (image_size / c.patch) * (image_size / c.patch);
        let pos_embedding = encoder.var(
            "pos_embedding",
            &[1, patches + 1, c.hidden],
            Init::Randn {
                mean: 0.0,
                stdev: 0.02,
            },
        );
        let lp = &encoder / "layers";
        let layers = (0..c.layers)
            .map(|i| EncoderBlock::new(&(&lp / format!("encoder_layer_{i}")), c))
            .collect();
        let ln = layer_norm(&encoder / "ln", c.hidden);
        let head = linear(p / "heads" / "head", c.hidden, classes);
        VisionTransformer {
            conv_proj,
            class_token,
            pos_embedding,
            layers,
            ln,
            head,
        }
    }
}

impl ModuleT for VisionTransformer {
    fn forward_t(&self, xs: &Tensor, _train: bool) -> Tensor {
        let n = xs.size().first().copied().unwrap_or(0);
        let patches = xs.apply(&self.conv_proj).flatten(2, -1).permute([0, 2, 1]);
        let token = self.class_token.expand([n, -1, -1], false);
        let mut ys = Tensor::cat(&[token, patches], 1) + &self.pos_embedding;
        for layer in &self.layers {
            ys = layer.forward(&ys);
        }
        ys.apply(&self.ln)
            .select(1, 0)
            .apply(&self.head)
            .view([n, -1])
    }
}

impl Model for VisionTransformer {
    fn head(&self) -> &'static str {
        "heads.head"
    }
}
