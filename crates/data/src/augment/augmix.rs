//! AugMix (Hendrycks et al., arXiv:1912.02781) with torchvision `v2.AugMix`
//! semantics: `mixture_width` chains of 1..=3 random ops (or
//! `chain_depth`), each op's magnitude from bin `randint(severity)` of 10,
//! signed ops negated with probability 1/2, chains mixed with Dirichlet
//! weights, the mixture truncated to uint8.
//!
//! Draw order per image, as torchvision's: Dirichlet([a, a]), Dirichlet of
//! the chain weights, then per chain [depth], per op: op index, magnitude
//! bin, sign. Our generator is our own, so the draws are not torch's
//! numbers, only their distribution and order.

use serde::{Deserialize, Serialize};

use super::ops;
use crate::rng::Rng;

/// torchvision's defaults.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct AugMix {
    pub severity: u32,
    pub mixture_width: usize,
    /// -1: drawn per chain from 1..=3.
    pub chain_depth: i64,
    pub alpha: f64,
    pub all_ops: bool,
}

impl Default for AugMix {
    fn default() -> AugMix {
        AugMix {
            severity: 3,
            mixture_width: 3,
            chain_depth: -1,
            alpha: 1.0,
            all_ops: true,
        }
    }
}

/// The op list in torchvision's order.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Op {
    ShearX,
    ShearY,
    TranslateX,
    TranslateY,
    Rotate,
    Posterize,
    Solarize,
    AutoContrast,
    Equalize,
    Brightness,
    Color,
    Contrast,
    Sharpness,
}

pub const OPS: [Op; 13] = [
    Op::ShearX,
    Op::ShearY,
    Op::TranslateX,
    Op::TranslateY,
    Op::Rotate,
    Op::Posterize,
    Op::Solarize,
    Op::AutoContrast,
    Op::Equalize,
    Op::Brightness,
    Op::Color,
    Op::Contrast,
    Op::Sharpness,
];

const NUM_BINS: f64 = 10.0;

/// Element `i` of `torch.linspace(start, end, 10)` in float32, computed
/// as PyTorch's CPU kernel does: from the start up to the halfway point,
/// from the end after it.
fn linspace_f32(start: f32, end: f32, i: u32) -> f32 {
    let steps = NUM_BINS as u32;
    let step = (end - start) / (steps - 1) as f32;
    if i < steps / 2 {
        start + step * i as f32
    } else {
        end - step * (steps - i - 1) as f32
    }
}

impl Op {
    /// The magnitude of bin `b` (of 10) and whether the op is signed;
    /// `None` for ops without a magnitude.
    pub fn magnitude(self, b: u32, h: usize, w: usize) -> Option<(f64, bool)> {
        let lin = |lo: f64, hi: f64| lo + (hi - lo) * f64::from(b) / (NUM_BINS - 1.0);
        Some(match self {
            Op::ShearX | Op::ShearY => (lin(0.0, 0.3), true),
            Op::TranslateX => (lin(0.0, w as f64 / 3.0), true),
            Op::TranslateY => (lin(0.0, h as f64 / 3.0), true),
            Op::Rotate => (lin(0.0, 30.0), true),
            Op::Posterize => (
                4.0 - (f64::from(b) / ((NUM_BINS - 1.0) / 4.0)).round_ties_even(),
                false,
            ),
            // The threshold in pixels: torchvision's float32
            // `linspace(255, 0, 10)`, so bins 3 and 6 are exactly 170 and 85.
            Op::Solarize => (f64::from(linspace_f32(255.0, 0.0, b)), false),
            Op::AutoContrast | Op::Equalize => return None,
            Op::Brightness | Op::Color | Op::Contrast | Op::Sharpness => (lin(0.0, 0.9), true),
        })
    }

    /// Applies the op with `magnitude` to a uint8 CHW image.
    pub fn apply(self, img: &[u8], c: usize, h: usize, w: usize, m: f64) -> Vec<u8> {
        let warp = |inv: ops::Inverse| ops::warp_image(img, c, h, w, &inv, None);
        let mut out = match self {
            // Shears and translations have a cheap exact form of the warp
            // (tests check it against the general one).
            Op::ShearX => return ops::shear_x(img, c, h, w, m),
            Op::ShearY => return ops::shear_y(img, c, h, w, m),
            Op::TranslateX => return ops::translate(img, c, h, w, m.trunc() as i64, 0),
            Op::TranslateY => return ops::translate(img, c, h, w, 0, m.trunc() as i64),
            Op::Rotate => return warp(ops::inverse_affine(m, [0.0, 0.0], [0.0, 0.0], [0.0, 0.0])),
            _ => img.to_vec(),
        };
        match self {
            Op::Posterize => ops::posterize(&mut out, m as u32),
            Op::Solarize => ops::solarize(&mut out, m as f32),
            Op::AutoContrast => ops::autocontrast(&mut out, c),
            Op::Equalize => ops::equalize(&mut out, c),
            Op::Brightness => ops::brightness(&mut out, (1.0 + m) as f32),
            Op::Color => ops::color(&mut out, c, (1.0 + m) as f32),
            Op::Contrast => ops::contrast(&mut out, c, (1.0 + m) as f32),
            Op::Sharpness => ops::sharpness(&mut out, c, h, w, (1.0 + m) as f32),
            _ => {}
        }
        out
    }
}

impl AugMix {
    /// One augmented image (uint8 CHW, same size).
    pub fn apply(&self, img: &[u8], c: usize, h: usize, w: usize, rng: &mut Rng) -> Vec<u8> {
        let ops: &[Op] = if self.all_ops { &OPS } else { &OPS[..9] };
        let m = rng.dirichlet(self.alpha, 2);
        let weights = rng.dirichlet(self.alpha, self.mixture_width);
        let mut mix: Vec<f32> = img.iter().map(|&v| m[0] as f32 * f32::from(v)).collect();
        for wi in weights {
            let depth = if self.chain_depth > 0 {
                self.chain_depth as usize
            } else {
                rng.range(1, 4) as usize
            };
            let mut aug: Option<Vec<u8>> = None;
            for _ in 0..depth {
                let op = ops[rng.below(ops.len() as u64) as usize];
                let bin = rng.below(u64::from(self.severity.max(1))) as u32;
                let magnitude = match op.magnitude(bin, h, w) {
                    Some((mag, signed)) => {
                        if signed && rng.f64() <= 0.5 {
                            -mag
                        } else {
                            mag
                        }
                    }
                    None => 0.0,
                };
                aug = Some(op.apply(aug.as_deref().unwrap_or(img), c, h, w, magnitude));
            }
            let wt = (wi * m[1]) as f32;
            let aug = aug.as_deref().unwrap_or(img);
            for (acc, &v) in mix.iter_mut().zip(aug) {
                *acc += wt * f32::from(v);
            }
        }
        // `.to(uint8)`: truncation toward zero, no rounding.
        mix.iter().map(|&v| v.clamp(0.0, 255.0) as u8).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The torchvision formulation through the general warp.
    fn by_warp(op: Op, img: &[u8], c: usize, h: usize, w: usize, m: f64) -> Vec<u8> {
        let top_left = [-(w as f64) * 0.5, -(h as f64) * 0.5];
        let inv = match op {
            Op::ShearX => {
                ops::inverse_affine(0.0, [0.0, 0.0], [m.atan().to_degrees(), 0.0], top_left)
            }
            Op::ShearY => {
                ops::inverse_affine(0.0, [0.0, 0.0], [0.0, m.atan().to_degrees()], top_left)
            }
            Op::TranslateX => ops::inverse_affine(0.0, [m.trunc(), 0.0], [0.0, 0.0], [0.0, 0.0]),
            _ => ops::inverse_affine(0.0, [0.0, m.trunc()], [0.0, 0.0], [0.0, 0.0]),
        };
        ops::warp_image(img, c, h, w, &inv, None)
    }

    #[test]
    fn fast_shears_and_translations_equal_the_general_warp() {
        let (c, h, w) = (3, 31, 40);
        let img: Vec<u8> = (0..c * h * w)
            .map(|i| ((i * 37 + i / 40 * 11) % 256) as u8)
            .collect();
        for op in [Op::ShearX, Op::ShearY, Op::TranslateX, Op::TranslateY] {
            for m in [0.0, 0.0333, -0.0667, 0.3, 8.3, -16.6] {
                let fast = op.apply(&img, c, h, w, m);
                let slow = by_warp(op, &img, c, h, w, m);
                let worst = fast
                    .iter()
                    .zip(&slow)
                    .map(|(a, b)| (i16::from(*a) - i16::from(*b)).abs())
                    .max();
                assert!(worst <= Some(1), "{op:?} {m}: max diff {worst:?}");
            }
        }
    }

    /// torchvision's `F.solarize(img, magnitudes[b].item())` on a uint8
    /// tensor compares `img >= threshold` in float32, with the thresholds
    /// of `torch.linspace(255.0, 0.0, 10)` (float32): 170.0 and 85.0
    /// exactly at bins 3 and 6, so pixels 170 and 85 are inverted there.
    #[test]
    fn solarize_thresholds_compare_in_float32_as_torchvision() {
        let thresholds: Vec<f64> = (0..10)
            .map(|b| Op::Solarize.magnitude(b, 1, 1).unwrap().0)
            .collect();
        assert_eq!(thresholds[3], 170.0);
        assert_eq!(thresholds[6], 85.0);
        let img: Vec<u8> = vec![84, 85, 86, 169, 170, 171];
        let at = |b: u32| {
            let m = Op::Solarize.magnitude(b, 1, 6).unwrap().0;
            Op::Solarize.apply(&img, 1, 1, 6, m)
        };
        assert_eq!(at(3), [84, 85, 86, 169, 85, 84]);
        assert_eq!(at(6), [84, 170, 169, 86, 85, 84]);
        // Bin 0 (threshold 255) inverts only 255.
        assert_eq!(at(0), img);
    }

    #[test]
    fn magnitudes_match_torchvision_bins() {
        let close = |a: f64, b: f64| (a - b).abs() < 1e-3;
        assert!(close(Op::ShearX.magnitude(1, 224, 224).unwrap().0, 0.0333));
        assert!(close(
            Op::TranslateX.magnitude(2, 224, 224).unwrap().0,
            16.593
        ));
        assert!(close(Op::Rotate.magnitude(2, 224, 224).unwrap().0, 6.667));
        let bits: Vec<f64> = (0..3)
            .map(|b| Op::Posterize.magnitude(b, 1, 1).unwrap().0)
            .collect();
        assert_eq!(bits, [4.0, 4.0, 3.0]);
        assert!(close(Op::Solarize.magnitude(1, 1, 1).unwrap().0, 226.667));
        assert!(Op::Equalize.magnitude(1, 1, 1).is_none());
        assert!(close(Op::Contrast.magnitude(2, 1, 1).unwrap().0, 0.2));
    }
}
