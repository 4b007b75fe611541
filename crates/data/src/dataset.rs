//! A labelled image split held in memory: uint8 CHW images and int64
//! labels, saved as and loaded from one safetensors file.

use std::path::Path;

use pipe_engine::{Error, Result};

use crate::tensors::{Planned, Reader, Writer};

/// `n` images of `channels` x `height` x `width` bytes, row-major, one
/// after another, and their class labels.
#[derive(Clone, Debug, PartialEq)]
pub struct Dataset {
    pub images: Vec<u8>,
    pub labels: Vec<i64>,
    pub n: usize,
    pub channels: usize,
    pub height: usize,
    pub width: usize,
}

impl Dataset {
    /// Reads `images` uint8 [N,C,H,W] and `labels` int64 [N].
    pub fn load(path: &Path) -> Result<Dataset> {
        let mut r = Reader::open(path)?;
        let (shape, images) = r.read_u8("images")?;
        let &[n, channels, height, width] = shape.as_slice() else {
            return Err(Error::bad_data(
                path,
                format!("`images` has shape {shape:?}; expected [N, C, H, W]"),
            ));
        };
        let (lshape, labels) = r.read_i64("labels")?;
        if lshape != [n] {
            return Err(Error::bad_data(
                path,
                format!("`labels` has shape {lshape:?}; expected [{n}] to match `images`"),
            ));
        }
        Ok(Dataset {
            images,
            labels,
            n,
            channels,
            height,
            width,
        })
    }

    /// Writes the split as a safetensors file.
    pub fn save(&self, path: &Path) -> Result<()> {
        let mut w = Writer::create(
            path,
            &Dataset::plan(self.n, self.channels, self.height, self.width),
        )?;
        w.write(&self.images)?;
        w.write_i64(&self.labels)?;
        w.finish()
    }

    /// The tensors of a split file, in the order they are written: images
    /// first, so they can stream while the labels are already known.
    pub fn plan(n: usize, channels: usize, height: usize, width: usize) -> Vec<Planned> {
        vec![
            Planned {
                name: "images".into(),
                dtype: "U8",
                shape: vec![n, channels, height, width],
                elem: 1,
            },
            Planned {
                name: "labels".into(),
                dtype: "I64",
                shape: vec![n],
                elem: 8,
            },
        ]
    }

    /// Bytes per image.
    pub fn image_len(&self) -> usize {
        self.channels * self.height * self.width
    }

    /// Image `i` as CHW bytes.
    pub fn image(&self, i: usize) -> &[u8] {
        let len = self.image_len();
        &self.images[i * len..(i + 1) * len]
    }
}
