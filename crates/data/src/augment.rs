//! Augmentation policies: what the `augment` kind declares and the loader
//! applies on the fly, every epoch anew, seeded per (seed, epoch, sample).
//!
//! `none` and the per-image policies (`pspnet`, `augmix`) keep uint8
//! images; `cutmix_mixup` works on a whole batch of floats and turns labels
//! into soft targets.

pub mod augmix;
pub mod mix;
pub mod ops;
pub mod pspnet;

use std::path::Path;

use pipe_engine::{Error, Result};
use serde::{Deserialize, Serialize};

pub use augmix::AugMix;
pub use mix::{CutmixMixup, Mixed};
pub use pspnet::Pspnet;

use crate::rng::Rng;

/// The RNG stream purposes, so per-sample and per-batch draws never share
/// a stream.
pub const PURPOSE_SAMPLE: u64 = 1;
pub const PURPOSE_BATCH: u64 = 2;
pub const PURPOSE_SHUFFLE: u64 = 3;

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "policy", rename_all = "snake_case")]
pub enum Policy {
    None,
    Pspnet(Pspnet),
    Augmix(AugMix),
    CutmixMixup(CutmixMixup),
}

impl Policy {
    pub fn name(&self) -> &'static str {
        match self {
            Policy::None => "none",
            Policy::Pspnet(_) => "pspnet",
            Policy::Augmix(_) => "augmix",
            Policy::CutmixMixup(_) => "cutmix_mixup",
        }
    }

    /// Reads a `policy.json` written by the `augment` kind.
    pub fn load(path: &Path) -> Result<Policy> {
        let text = std::fs::read_to_string(path).map_err(|e| Error::io(path, "read", e))?;
        serde_json::from_str(&text).map_err(|e| {
            Error::bad_data(path, format!("is not an augmentation policy: {e}"))
                .with_hint("rerun the `augment` stage that wrote it")
        })
    }

    pub fn save(&self, path: &Path) -> Result<()> {
        let text =
            serde_json::to_string_pretty(self).map_err(|e| Error::internal(e.to_string()))?;
        std::fs::write(path, text + "\n").map_err(|e| Error::io(path, "write", e))
    }

    /// Whether the policy works on whole batches (and yields soft labels).
    pub fn is_batch(&self) -> bool {
        matches!(self, Policy::CutmixMixup(_))
    }

    /// The per-image part: sample `index` of epoch `epoch`. `None` when the
    /// policy leaves single images alone.
    // The image and its key are separate on purpose: callers hold them apart.
    #[allow(clippy::too_many_arguments)]
    pub fn apply_image(
        &self,
        img: &[u8],
        c: usize,
        h: usize,
        w: usize,
        seed: u64,
        epoch: u64,
        index: u64,
    ) -> Option<Vec<u8>> {
        let mut rng = Rng::keyed(seed, epoch, index, PURPOSE_SAMPLE);
        match self {
            Policy::Pspnet(p) => Some(p.apply(img, c, h, w, &mut rng)),
            Policy::Augmix(a) => Some(a.apply(img, c, h, w, &mut rng)),
            Policy::None | Policy::CutmixMixup(_) => None,
        }
    }
}
