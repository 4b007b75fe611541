//! Datasets on the compute device: the uint8 images of a split are copied
//! there once, and batches are gathered and normalised there, so a training
//! step moves no pixels over PCIe.
//!
//! A dataset file is safetensors with `images` u8 `[N, 3, H, W]` and
//! `labels` i64 `[N]`, as the `resize` and `stl10` stages write them.

use std::path::Path;

use pipe_engine::{Error, Result};
use tch::{Device, Kind, Tensor};

/// One split, resident on a device.
pub struct Split {
    /// u8 `[N, 3, H, W]`.
    pub images: Tensor,
    /// i64 `[N]`.
    pub labels: Tensor,
}

impl Split {
    /// Reads a dataset file and moves it to `device`.
    pub fn load(path: &Path, device: Device) -> Result<Split> {
        let tensors = Tensor::read_safetensors(path)
            .map_err(|e| Error::bad_data(path, format!("cannot read as safetensors: {e}")))?;
        let mut images = None;
        let mut labels = None;
        for (name, t) in tensors {
            match name.as_str() {
                "images" => images = Some(t),
                "labels" => labels = Some(t),
                _ => {}
            }
        }
        let missing = |what: &str| {
            Error::bad_data(path, format!("has no `{what}` tensor"))
                .with_hint("a dataset holds `images` (u8 [N, 3, H, W]) and `labels` (i64 [N])")
        };
        let images = images.ok_or_else(|| missing("images"))?;
        let labels = labels.ok_or_else(|| missing("labels"))?;
        let split = Split::new(images, labels).map_err(|m| Error::bad_data(path, m))?;
        Ok(split.to(device))
    }

    /// Checks shapes and dtypes.
    pub fn new(images: Tensor, labels: Tensor) -> std::result::Result<Split, String> {
        let size = images.size();
        if images.kind() != Kind::Uint8 || size.len() != 4 || size[1] != 3 {
            return Err(format!(
                "`images` must be u8 [N, 3, H, W], not {:?} {size:?}",
                images.kind()
            ));
        }
        if labels.kind() != Kind::Int64 || labels.size() != [size[0]] {
            return Err(format!(
                "`labels` must be i64 [{}], not {:?} {:?}",
                size[0],
                labels.kind(),
                labels.size()
            ));
        }
        Ok(Split { images, labels })
    }

    pub fn to(self, device: Device) -> Split {
        Split {
            images: self.images.to_device(device),
            labels: self.labels.to_device(device),
        }
    }

    pub fn len(&self) -> usize {
        self.images.size()[0] as usize
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Height and width.
    pub fn image_size(&self) -> (i64, i64) {
        let s = self.images.size();
        (s[2], s[3])
    }

    /// The largest label plus one.
    pub fn max_label(&self) -> i64 {
        if self.is_empty() {
            0
        } else {
            self.labels.max().int64_value(&[]) + 1
        }
    }

    /// The uint8 images and labels at `index` (a device i64 tensor).
    pub fn gather(&self, index: &Tensor) -> (Tensor, Tensor) {
        (
            self.images.index_select(0, index),
            self.labels.index_select(0, index),
        )
    }
}

/// `(x / 255 - mean) / std` per channel, done on the device.
pub struct Normalizer {
    mean: Tensor,
    std: Tensor,
    channels_last: bool,
}

impl Normalizer {
    pub fn new(mean: [f64; 3], std: [f64; 3], device: Device, channels_last: bool) -> Normalizer {
        let t = |v: [f64; 3]| {
            Tensor::from_slice(&v.map(|x| x as f32))
                .view([1, 3, 1, 1])
                .to_device(device)
        };
        Normalizer {
            mean: t(mean),
            std: t(std),
            channels_last,
        }
    }

    /// Where the normalisation happens.
    pub fn device(&self) -> Device {
        self.mean.device()
    }

    /// Converts a u8 batch, or an f32 batch on the 0..255 scale (mixed
    /// images), to the model's normalised float input.
    pub fn apply(&self, batch: &Tensor) -> Tensor {
        let x = batch.to_kind(Kind::Float) / 255.0;
        let x = (x - &self.mean) / &self.std;
        if self.channels_last {
            to_channels_last(&x)
        } else {
            x
        }
    }
}

/// The same values in NHWC memory order with NCHW shape (what PyTorch's
/// `torch.channels_last` memory format is).
pub fn to_channels_last(x: &Tensor) -> Tensor {
    x.permute([0, 2, 3, 1]).contiguous().permute([0, 3, 1, 2])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn normalizer_matches_formula() {
        let n = Normalizer::new([0.5, 0.25, 0.0], [0.5, 0.25, 1.0], Device::Cpu, false);
        let x = Tensor::from_slice(&[255u8, 0, 51]).view([1, 3, 1, 1]);
        let y = Vec::<f32>::try_from(n.apply(&x).flatten(0, -1)).unwrap();
        assert_eq!(y, vec![1.0, -1.0, 0.2]);
    }
}
