//! The PSPNet-style policy (Zhao et al., arXiv:1612.01105, as in hszhao/semseg)
//! built the way torchvision v2 ops would build it:
//! `RandomResize(0.5x..2x of the side, bilinear, antialias)` (both ends
//! included: at 224, `RandomResize(112, 449)`, whose `randint` excludes
//! 449, as ../shared/torchvision-reference.md builds it) ->
//! `RandomApply(RandomRotation(10, bilinear, fill=mean), p=0.5)` ->
//! `RandomApply(GaussianBlur(5, sigma=1.1), p=0.5)` -> `RandomHorizontalFlip(0.5)`
//! -> `RandomCrop(side, pad_if_needed, fill=mean)`. The fill is PSPNet's
//! mean pixel (124, 116, 104); blur borders reflect (cv2's default).
//!
//! Only the final crop window is ever computed: the window is traced back
//! through flip, blur (2 px margin) and rotation to the part of the resized
//! image it needs, and only that part is resized. The result equals the
//! full-image composition; scale 2x costs no more than 1x.

use serde::{Deserialize, Serialize};

use super::ops::{self, ToU8, View};
use crate::resize::Resizer;
use crate::rng::Rng;

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Pspnet {
    pub scale_min: f64,
    pub scale_max: f64,
    /// Rotation range in degrees, either way.
    pub rotate: f64,
    pub rotate_p: f64,
    pub blur_p: f64,
    pub blur_sigma: f64,
    pub blur_kernel: usize,
    pub flip_p: f64,
    pub fill: [u8; 3],
}

impl Default for Pspnet {
    fn default() -> Pspnet {
        Pspnet {
            scale_min: 0.5,
            scale_max: 2.0,
            rotate: 10.0,
            rotate_p: 0.5,
            blur_p: 0.5,
            blur_sigma: 1.1,
            blur_kernel: 5,
            flip_p: 0.5,
            fill: [124, 116, 104],
        }
    }
}

/// Everything drawn for one image (exposed so tests can check ranges).
#[derive(Clone, Debug, PartialEq)]
pub struct Draw {
    /// The shorter side after the random resize.
    pub size: usize,
    pub angle: Option<f64>,
    pub blur: bool,
    pub flip: bool,
    pub top: usize,
    pub left: usize,
}

impl Pspnet {
    /// The random choices for an image of `h` x `w`, in torchvision's order.
    pub fn draw(&self, h: usize, w: usize, rng: &mut Rng) -> Draw {
        let short = h.min(w) as f64;
        let lo = (self.scale_min * short).round() as i64;
        let hi = (self.scale_max * short).round() as i64;
        let size = rng.range(lo.max(1), hi.max(lo.max(1)) + 1) as usize;
        let angle = rng
            .bernoulli(self.rotate_p)
            .then(|| rng.uniform(-self.rotate, self.rotate));
        let blur = rng.bernoulli(self.blur_p);
        let flip = rng.bernoulli(self.flip_p);
        let (rh, rw) = self.resized(h, w, size);
        let ph = if rh < h { rh + 2 * (h - rh) } else { rh };
        let pw = if rw < w { rw + 2 * (w - rw) } else { rw };
        let top = rng.range(0, (ph - h) as i64 + 1) as usize;
        let left = rng.range(0, (pw - w) as i64 + 1) as usize;
        Draw {
            size,
            angle,
            blur,
            flip,
            top,
            left,
        }
    }

    /// `RandomResize`'s output size: shorter side `size`, aspect kept.
    pub fn resized(&self, h: usize, w: usize, size: usize) -> (usize, usize) {
        if h <= w {
            (size, (size as f64 * w as f64 / h as f64) as usize)
        } else {
            ((size as f64 * h as f64 / w as f64) as usize, size)
        }
    }

    pub fn apply(&self, img: &[u8], c: usize, h: usize, w: usize, rng: &mut Rng) -> Vec<u8> {
        let d = self.draw(h, w, rng);
        self.apply_draw(img, c, h, w, &d)
    }

    /// Applies the given choices; the output has the input's size.
    pub fn apply_draw(&self, img: &[u8], c: usize, h: usize, w: usize, d: &Draw) -> Vec<u8> {
        let (rh, rw) = self.resized(h, w, d.size);
        let pad_y = h.saturating_sub(rh);
        let pad_x = w.saturating_sub(rw);
        let fill = self.fill;
        let mut out = vec![0u8; c * h * w];
        for ch in 0..c {
            out[ch * h * w..(ch + 1) * h * w].fill(fill[ch.min(2)]);
        }
        // The crop window in image coordinates, clipped to the image.
        let clip = |start: usize, pad: usize, len: usize, size: usize| {
            let a = start as i64 - pad as i64;
            (a.max(0) as usize)..((a + len as i64).min(size as i64).max(0) as usize)
        };
        let rows = clip(d.top, pad_y, h, rh);
        let cols = clip(d.left, pad_x, w, rw);
        if rows.is_empty() || cols.is_empty() {
            return out;
        }
        // Before the flip, column x came from rw-1-x.
        let fcols = if d.flip {
            rw - cols.end..rw - cols.start
        } else {
            cols.clone()
        };
        // The blur reads 2 px around (reflected at the image border).
        let r = if d.blur { self.blur_kernel / 2 } else { 0 };
        let brows = rows.start.saturating_sub(r)..(rows.end + r).min(rh);
        let bcols = fcols.start.saturating_sub(r)..(fcols.end + r).min(rw);
        let resizer = Resizer::new(h, w, rh, rw);
        let mut scratch = Vec::new();
        // `rotated` holds brows x bcols.
        let rotated = match d.angle {
            None => {
                let mut buf = vec![0u8; c * brows.len() * bcols.len()];
                resizer.region(img, c, brows.clone(), bcols.clone(), &mut buf, &mut scratch);
                buf
            }
            Some(angle) => {
                let inv = ops::inverse_affine(angle, [0.0, 0.0], [0.0, 0.0], [0.0, 0.0]);
                let (srows, scols) = source_box(&inv, rh, rw, &brows, &bcols);
                let mut src = vec![0u8; c * srows.len() * scols.len()];
                resizer.region(img, c, srows.clone(), scols.clone(), &mut src, &mut scratch);
                let view = View {
                    data: &src,
                    channels: c,
                    full_h: rh,
                    full_w: rw,
                    y0: srows.start,
                    x0: scols.start,
                    h: srows.len(),
                    w: scols.len(),
                };
                let mut buf = vec![0u8; c * brows.len() * bcols.len()];
                let f = [f32::from(fill[0]), f32::from(fill[1]), f32::from(fill[2])];
                ops::warp(view, &inv, Some(f), brows.clone(), bcols.clone(), &mut buf);
                buf
            }
        };
        let (bh, bw) = (brows.len(), bcols.len());
        let kernel = ops::gaussian_kernel(self.blur_kernel, self.blur_sigma);
        let half = (self.blur_kernel / 2) as i64;
        let mut tmp = vec![0f32; bw];
        // Reflected source columns of each output column, computed once.
        let taps = kernel.len();
        let col_idx: Vec<usize> = if d.blur {
            fcols
                .clone()
                .flat_map(|x| {
                    (0..taps)
                        .map(move |k| ops::reflect(x as i64 + k as i64 - half, rw) - bcols.start)
                })
                .collect()
        } else {
            Vec::new()
        };
        for ch in 0..c {
            let plane = &rotated[ch * bh * bw..(ch + 1) * bh * bw];
            let dst = &mut out[ch * h * w..(ch + 1) * h * w];
            for y in rows.clone() {
                let oy = y + pad_y - d.top;
                if d.blur {
                    // Vertical then horizontal, in float, rounded once.
                    tmp.fill(0.0);
                    for (k, &kv) in kernel.iter().enumerate() {
                        let sy = ops::reflect(y as i64 + k as i64 - half, rh) - brows.start;
                        let src = &plane[sy * bw..(sy + 1) * bw];
                        tmp.iter_mut()
                            .zip(src)
                            .for_each(|(t, &p)| *t += kv * f32::from(p));
                    }
                }
                for (n, x) in fcols.clone().enumerate() {
                    let v = if d.blur {
                        let idx = &col_idx[n * taps..(n + 1) * taps];
                        let s: f32 = kernel.iter().zip(idx).map(|(kv, &i)| kv * tmp[i]).sum();
                        s.to_u8_even()
                    } else {
                        plane[(y - brows.start) * bw + (x - bcols.start)]
                    };
                    let ix = if d.flip { rw - 1 - x } else { x };
                    let ox = ix + pad_x - d.left;
                    dst[oy * w + ox] = v;
                }
            }
        }
        out
    }
}

/// The input rows and columns (of an `h` x `w` image) that a warp by `inv`
/// samples for output rows `rows` x columns `cols`.
fn source_box(
    inv: &ops::Inverse,
    h: usize,
    w: usize,
    rows: &std::ops::Range<usize>,
    cols: &std::ops::Range<usize>,
) -> (std::ops::Range<usize>, std::ops::Range<usize>) {
    let (cy, cx) = ((h as f64 - 1.0) * 0.5, (w as f64 - 1.0) * 0.5);
    let (mut ylo, mut yhi, mut xlo, mut xhi) = (f64::MAX, f64::MIN, f64::MAX, f64::MIN);
    for y in [rows.start as f64, (rows.end - 1) as f64] {
        for x in [cols.start as f64, (cols.end - 1) as f64] {
            let (xb, yb) = (x - cx, y - cy);
            let u = inv[0] * xb + inv[1] * yb + inv[2] + cx;
            let v = inv[3] * xb + inv[4] * yb + inv[5] + cy;
            xlo = xlo.min(u);
            xhi = xhi.max(u);
            ylo = ylo.min(v);
            yhi = yhi.max(v);
        }
    }
    let span = |lo: f64, hi: f64, n: usize| {
        let a = (lo.floor() - 1.0).max(0.0) as usize;
        let b = ((hi.floor() + 2.0).max(0.0) as usize).min(n);
        a.min(n.saturating_sub(1))..b.max(a.min(n.saturating_sub(1)) + 1)
    };
    (span(ylo, yhi, h), span(xlo, xhi, w))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The same composition computed naively on whole images.
    fn reference(p: &Pspnet, img: &[u8], c: usize, h: usize, w: usize, d: &Draw) -> Vec<u8> {
        let (rh, rw) = p.resized(h, w, d.size);
        let mut a = vec![0u8; c * rh * rw];
        Resizer::new(h, w, rh, rw).image(img, c, &mut a, &mut Vec::new());
        if let Some(angle) = d.angle {
            let inv = ops::inverse_affine(angle, [0.0, 0.0], [0.0, 0.0], [0.0, 0.0]);
            let f = p.fill.map(f32::from);
            a = ops::warp_image(&a, c, rh, rw, &inv, Some(f));
        }
        if d.blur {
            let k = ops::gaussian_kernel(5, p.blur_sigma);
            let mut b = a.clone();
            for ch in 0..c {
                for y in 0..rh {
                    for x in 0..rw {
                        let mut s = 0.0f32;
                        for (i, kx) in k.iter().enumerate() {
                            let sx = ops::reflect(x as i64 + i as i64 - 2, rw);
                            let mut t = 0.0f32;
                            for (j, ky) in k.iter().enumerate() {
                                let sy = ops::reflect(y as i64 + j as i64 - 2, rh);
                                t += ky * f32::from(a[(ch * rh + sy) * rw + sx]);
                            }
                            s += kx * t;
                        }
                        b[(ch * rh + y) * rw + x] = s.to_u8_even();
                    }
                }
            }
            a = b;
        }
        if d.flip {
            ops::flip_horizontal(&mut a, rw);
        }
        let (py, px) = (h.saturating_sub(rh), w.saturating_sub(rw));
        let mut out = vec![0u8; c * h * w];
        for ch in 0..c {
            for y in 0..h {
                for x in 0..w {
                    let (sy, sx) = (
                        (y + d.top) as i64 - py as i64,
                        (x + d.left) as i64 - px as i64,
                    );
                    out[(ch * h + y) * w + x] =
                        if sy >= 0 && sx >= 0 && (sy as usize) < rh && (sx as usize) < rw {
                            a[(ch * rh + sy as usize) * rw + sx as usize]
                        } else {
                            p.fill[ch]
                        };
                }
            }
        }
        out
    }

    #[test]
    fn the_window_shortcut_equals_the_whole_image_composition() {
        let (c, h, w) = (3, 24, 24);
        let img: Vec<u8> = (0..c * h * w)
            .map(|i| ((i * 7 + (i / 24) * 13) % 256) as u8)
            .collect();
        let p = Pspnet::default();
        let mut rng = Rng::new(3);
        for _ in 0..60 {
            let d = p.draw(h, w, &mut rng);
            let fast = p.apply_draw(&img, c, h, w, &d);
            let slow = reference(&p, &img, c, h, w, &d);
            let worst = fast
                .iter()
                .zip(&slow)
                .map(|(a, b)| (i16::from(*a) - i16::from(*b)).abs())
                .max();
            // Blur sums in another order than the reference: at most 1 apart.
            assert!(worst <= Some(1), "{d:?}: max diff {worst:?}");
        }
    }
}
