//! A seeded stand-in for STL-10 written in its exact binary layout, so
//! tests and the offline quick pipeline exercise the same extract/decode
//! code as the real archive.
//!
//! Every class has a pattern: an oriented sine grating blended between two
//! colours, with a frequency of its own. Each image jitters the pattern
//! (orientation, phase, contrast, brightness), adds a dark blob at a random
//! place and Gaussian pixel noise, so a small CNN learns the classes within
//! a few epochs but not instantly. `task` permutes which pattern belongs to
//! which class and shifts the frequencies, so features learnt on task 0
//! transfer to task 1 while its labels do not.

use std::fs::File;
use std::io::Write;
use std::path::Path;

use flate2::write::GzEncoder;
use flate2::Compression;
use pipe_engine::{Error, Result};
use rayon::prelude::*;

use crate::alloc::{product, zeroed};
use crate::dataset::Dataset;
use crate::rng::Rng;
use crate::stl10::{transpose_image, CHANNELS, DIR};

pub const NUM_CLASSES: usize = 10;

/// The largest image side (as `resize`'s largest `size`).
pub const MAX_SIDE: usize = 4096;

/// The most pixel bytes one split may hold (it is held in memory twice
/// while the archive is written); STL-10's test split holds 221 MB.
pub const MAX_SPLIT_BYTES: u64 = 4 << 30;

/// What to generate.
#[derive(Clone, Debug, PartialEq)]
pub struct Spec {
    pub seed: u64,
    pub train_per_class: usize,
    pub test_per_class: usize,
    pub image_size: usize,
    pub task: u64,
    /// Standard deviation of the pixel noise as a fraction of 255.
    pub noise: f64,
}

impl Spec {
    /// Why this spec cannot be generated, if it cannot, and the parameter
    /// to blame: a side above [`MAX_SIDE`] or a split above
    /// [`MAX_SPLIT_BYTES`].
    pub fn too_large(&self) -> Option<(&'static str, String)> {
        if self.image_size > MAX_SIDE {
            return Some((
                "image_size",
                format!(
                    "`image_size: {}` is larger than {MAX_SIDE} pixels",
                    self.image_size
                ),
            ));
        }
        for (name, per_class) in [
            ("train_per_class", self.train_per_class),
            ("test_per_class", self.test_per_class),
        ] {
            let bytes = [
                NUM_CLASSES,
                per_class,
                CHANNELS,
                self.image_size,
                self.image_size,
            ]
            .iter()
            .try_fold(1u64, |n, &k| n.checked_mul(k as u64));
            if bytes.is_none_or(|b| b > MAX_SPLIT_BYTES) {
                return Some((
                    name,
                    format!(
                    "`{name}: {per_class}` with `image_size: {}` makes a split of more than {} GiB",
                    self.image_size,
                    MAX_SPLIT_BYTES >> 30
                ),
                ));
            }
        }
        None
    }
}

/// What to change when [`Spec::too_large`] says no.
pub const TOO_LARGE_HINT: &str =
    "generate fewer or smaller images (STL-10: `image_size: 96`, 500 and 800 per class)";

/// The pattern of one class: colours, grating orientation and frequency.
struct Pattern {
    a: [f64; 3],
    b: [f64; 3],
    angle: f64,
    /// Cycles across the image.
    cycles: f64,
}

fn hue(h: f64) -> [f64; 3] {
    let f = |n: f64| {
        let k = (n + h * 6.0) % 6.0;
        1.0 - (k.min(4.0 - k).clamp(0.0, 1.0))
    };
    [f(5.0), f(3.0), f(1.0)]
}

fn patterns(task: u64) -> Vec<Pattern> {
    let mut order: Vec<usize> = (0..NUM_CLASSES).collect();
    if task != 0 {
        Rng::keyed(0x5EED, task, 0, 7).shuffle(&mut order);
    }
    order
        .iter()
        .map(|&p| {
            let h = p as f64 / NUM_CLASSES as f64;
            let a = hue(h);
            let b = hue(h + 0.45).map(|c| 0.25 + 0.5 * c);
            Pattern {
                a,
                b,
                angle: (p % 5) as f64 * std::f64::consts::PI / 5.0,
                cycles: 3.0 + 2.0 * (p / 5) as f64 + 0.5 * task as f64,
            }
        })
        .collect()
}

/// One image as row-major CHW bytes.
fn render(p: &Pattern, side: usize, noise: f64, rng: &mut Rng, out: &mut [u8]) {
    let angle = p.angle + rng.uniform(-0.12, 0.12);
    let phase = rng.uniform(0.0, std::f64::consts::TAU);
    let contrast = rng.uniform(0.6, 1.0);
    let bright = rng.uniform(-0.1, 0.1);
    let (bx, by, br) = (
        rng.uniform(0.2, 0.8),
        rng.uniform(0.2, 0.8),
        rng.uniform(0.08, 0.2),
    );
    let (c, s) = (angle.cos(), angle.sin());
    let k = std::f64::consts::TAU * p.cycles / side as f64;
    let plane = side * side;
    for y in 0..side {
        for x in 0..side {
            let g = 0.5 + 0.5 * contrast * (k * (x as f64 * c + y as f64 * s) + phase).sin();
            let (u, v) = (x as f64 / side as f64 - bx, y as f64 / side as f64 - by);
            let shade = if u * u + v * v < br * br { 0.35 } else { 1.0 };
            for ch in 0..CHANNELS {
                let col = g * p.a[ch] + (1.0 - g) * p.b[ch];
                let val = (col * shade + bright + noise * rng.normal()) * 255.0;
                out[ch * plane + y * side + x] = val.round().clamp(0.0, 255.0) as u8;
            }
        }
    }
}

/// Split `which` (0 train, 1 test) as decoded images: CHW, labels 0..=9.
/// Fails, rather than aborting, when the images do not fit in memory.
pub fn split(spec: &Spec, which: u64, per_class: usize) -> Result<Dataset> {
    let pats = patterns(spec.task);
    let mut labels: Vec<i64> = (0..NUM_CLASSES * per_class)
        .map(|i| (i % NUM_CLASSES) as i64)
        .collect();
    Rng::keyed(spec.seed, which, 0, 1).shuffle(&mut labels);
    let side = spec.image_size;
    let per = product(CHANNELS, product(side, side, "an image")?, "an image")?;
    let mut images = zeroed(product(labels.len(), per, "a split")?, "the split's images")?;
    images
        .par_chunks_mut(per)
        .zip(labels.par_iter())
        .enumerate()
        .for_each(|(i, (img, &l))| {
            let mut rng = Rng::keyed(spec.seed, which, i as u64, 2);
            render(&pats[l as usize], side, spec.noise, &mut rng, img);
        });
    Ok(Dataset {
        n: labels.len(),
        images,
        labels,
        channels: CHANNELS,
        height: side,
        width: side,
    })
}

/// A split in the file layout: column-major images and 1-based labels.
fn file_layout(data: &Dataset) -> Result<(Vec<u8>, Vec<u8>)> {
    let per = data.image_len();
    let mut x = zeroed(data.images.len(), "the split in the file layout")?;
    x.par_chunks_mut(per)
        .zip(data.images.par_chunks(per))
        .for_each(|(dst, src)| transpose_image(src, dst, data.height));
    Ok((x, data.labels.iter().map(|&l| l as u8 + 1).collect()))
}

/// Writes `stl10_binary.tar.gz` in STL-10's layout to `dest`.
pub fn write_archive(spec: &Spec, dest: &Path) -> Result<()> {
    if spec.image_size == 0 || spec.train_per_class == 0 || spec.test_per_class == 0 {
        return Err(Error::failed(
            "`image_size`, `train_per_class` and `test_per_class` must be positive",
        ));
    }
    if let Some((_, problem)) = spec.too_large() {
        return Err(Error::failed(problem).with_hint(TOO_LARGE_HINT));
    }
    let file = File::create(dest).map_err(|e| Error::io(dest, "create", e))?;
    let mut tar = tar::Builder::new(GzEncoder::new(file, Compression::fast()));
    let mut add = |name: &str, bytes: &[u8]| -> Result<()> {
        let mut header = tar::Header::new_gnu();
        header.set_size(bytes.len() as u64);
        header.set_mode(0o644);
        header.set_mtime(0);
        header.set_entry_type(tar::EntryType::Regular);
        header.set_cksum();
        tar.append_data(&mut header, format!("{DIR}/{name}"), bytes)
            .map_err(|e| Error::io(dest, "write", e))
    };
    let names: Vec<String> = (0..NUM_CLASSES).map(|c| format!("pattern{c}")).collect();
    add("class_names.txt", (names.join("\n") + "\n").as_bytes())?;
    for (which, name, per_class) in [
        (0, "train", spec.train_per_class),
        (1, "test", spec.test_per_class),
    ] {
        let (x, y) = file_layout(&split(spec, which, per_class)?)?;
        add(&format!("{name}_X.bin"), &x)?;
        add(&format!("{name}_y.bin"), &y)?;
    }
    let gz = tar.into_inner().map_err(|e| Error::io(dest, "write", e))?;
    let mut file = gz.finish().map_err(|e| Error::io(dest, "write", e))?;
    file.flush().map_err(|e| Error::io(dest, "write", e))
}
