//! CutMix and MixUp on a batch, one of them chosen per batch, with
//! torchvision v2 semantics: lambda ~ Beta(alpha, alpha); sample i is mixed
//! with sample i-1 (`roll(1, 0)`: sample 0 with the last); labels become
//! `lam * onehot(y) + (1 - lam) * onehot(y.roll(1))` with CutMix's lambda
//! adjusted to the pasted box's true area; no label smoothing.
//!
//! Mixing happens on 0..255 floats before normalisation. That is the same
//! as mixing normalised images (torchvision applies MixUp after
//! `Normalize`) because normalisation is affine per channel and the two
//! weights sum to 1: lam*(a-m)/s + (1-lam)*(b-m)/s = (lam*a + (1-lam)*b - m)/s.

use serde::{Deserialize, Serialize};

use crate::rng::Rng;

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct CutmixMixup {
    pub cutmix_alpha: f64,
    pub mixup_alpha: f64,
    pub num_classes: usize,
}

impl Default for CutmixMixup {
    fn default() -> CutmixMixup {
        CutmixMixup {
            cutmix_alpha: 1.0,
            mixup_alpha: 1.0,
            num_classes: 10,
        }
    }
}

/// What was done to a batch (for tests and logs).
#[derive(Clone, Debug, PartialEq)]
pub enum Mixed {
    MixUp {
        lam: f64,
    },
    /// `lam` as drawn and the box [y1, y2) x [x1, x2) with the label weight
    /// `1 - box area / image area`.
    CutMix {
        lam: f64,
        lam_adjusted: f64,
        y1: usize,
        y2: usize,
        x1: usize,
        x2: usize,
    },
}

impl CutmixMixup {
    /// Mixes `images` ([n, c, h, w] floats) in place and returns the soft
    /// labels ([n, num_classes]).
    pub fn apply(
        &self,
        images: &mut [f32],
        labels: &[i64],
        c: usize,
        h: usize,
        w: usize,
        rng: &mut Rng,
    ) -> (Vec<f32>, Mixed) {
        let n = labels.len();
        let len = c * h * w;
        // `RandomChoice([CutMix, MixUp])`: uniform.
        let mixed = if rng.below(2) == 0 {
            let lam = rng.beta(self.cutmix_alpha, self.cutmix_alpha);
            let rx = rng.below(w as u64) as i64;
            let ry = rng.below(h as u64) as i64;
            let r = 0.5 * (1.0 - lam).sqrt();
            let (hw, hh) = ((r * w as f64) as i64, (r * h as f64) as i64);
            let x1 = (rx - hw).clamp(0, w as i64) as usize;
            let y1 = (ry - hh).clamp(0, h as i64) as usize;
            let x2 = (rx + hw).clamp(0, w as i64) as usize;
            let y2 = (ry + hh).clamp(0, h as i64) as usize;
            let lam_adjusted = 1.0 - ((x2 - x1) * (y2 - y1)) as f64 / (w * h) as f64;
            Mixed::CutMix {
                lam,
                lam_adjusted,
                y1,
                y2,
                x1,
                x2,
            }
        } else {
            Mixed::MixUp {
                lam: rng.beta(self.mixup_alpha, self.mixup_alpha),
            }
        };
        if n > 1 {
            // Walk down so that image i-1 is still unmixed when i reads it;
            // image 0 reads the saved, unmixed last image.
            let last = images[(n - 1) * len..n * len].to_vec();
            for i in (0..n).rev() {
                let (head, tail) = images.split_at_mut(i * len);
                let dst = &mut tail[..len];
                let other: &[f32] = if i == 0 {
                    &last
                } else {
                    &head[(i - 1) * len..i * len]
                };
                match &mixed {
                    Mixed::MixUp { lam } => {
                        let (a, b) = (*lam as f32, (1.0 - lam) as f32);
                        dst.iter_mut()
                            .zip(other)
                            .for_each(|(d, o)| *d = a * *d + b * o);
                    }
                    Mixed::CutMix { y1, y2, x1, x2, .. } => {
                        for ch in 0..c {
                            for y in *y1..*y2 {
                                let at = ch * h * w + y * w;
                                dst[at + x1..at + x2].copy_from_slice(&other[at + x1..at + x2]);
                            }
                        }
                    }
                }
            }
        }
        let lam = match &mixed {
            Mixed::MixUp { lam } => *lam,
            Mixed::CutMix { lam_adjusted, .. } => *lam_adjusted,
        } as f32;
        let k = self.num_classes;
        let mut soft = vec![0f32; n * k];
        for i in 0..n {
            let prev = labels[(i + n - 1) % n];
            soft[i * k + labels[i].clamp(0, k as i64 - 1) as usize] += lam;
            soft[i * k + prev.clamp(0, k as i64 - 1) as usize] += 1.0 - lam;
        }
        (soft, mixed)
    }
}
