//! Image operations the augmentation policies are built from, each with
//! torchvision v2's arithmetic on uint8 CHW images: affine warps sampled
//! like `grid_sample` (bilinear, `align_corners=False`, zero padding, an
//! optional fill blended through a warped mask), the colour ops of
//! AutoAugment's family with their truncating casts, Gaussian blur, flips.

/// A 2x3 matrix mapping output pixel coordinates, centred on the image
/// (x - (w-1)/2, y - (h-1)/2), to input coordinates centred the same way,
/// as torchvision's `_get_inverse_affine_matrix` builds it.
pub type Inverse = [f64; 6];

/// torchvision's inverse affine matrix for F.affine on tensors (which
/// negates the angle: positive angles turn counter-clockwise) with the
/// centre `center` given relative to the image centre.
pub fn inverse_affine(angle_deg: f64, translate: [f64; 2], shear_deg: [f64; 2], center: [f64; 2]) -> Inverse {
    let rot = (-angle_deg).to_radians();
    let (sx, sy) = (shear_deg[0].to_radians(), shear_deg[1].to_radians());
    let (cx, cy) = (center[0], center[1]);
    let (tx, ty) = (translate[0], translate[1]);
    let a = (rot - sy).cos() / sy.cos();
    let b = -(rot - sy).cos() * sx.tan() / sy.cos() - rot.sin();
    let c = (rot - sy).sin() / sy.cos();
    let d = -(rot - sy).sin() * sx.tan() / sy.cos() + rot.cos();
    let mut m = [d, -b, 0.0, -c, a, 0.0];
    m[2] += m[0] * (-cx - tx) + m[1] * (-cy - ty);
    m[5] += m[3] * (-cx - tx) + m[4] * (-cy - ty);
    m[2] += cx;
    m[5] += cy;
    m
}

/// A view of part of a CHW image: rows `y0..y0+h`, columns `x0..x0+w` of a
/// `full_h` x `full_w` image (the rest is not needed by the caller).
#[derive(Clone, Copy)]
pub struct View<'a> {
    pub data: &'a [u8],
    pub channels: usize,
    pub full_h: usize,
    pub full_w: usize,
    pub y0: usize,
    pub x0: usize,
    pub h: usize,
    pub w: usize,
}

impl<'a> View<'a> {
    pub fn whole(data: &'a [u8], channels: usize, h: usize, w: usize) -> View<'a> {
        View { data, channels, full_h: h, full_w: w, y0: 0, x0: 0, h, w }
    }
}

/// Warps `src` by `inv` into output rows `rows` and columns `cols` of a
/// same-sized image (`dst`: channels x rows x cols). Outside the image
/// the sample is 0; with `fill`, a ones-mask is warped alongside and the
/// result is `img * mask + fill * (1 - mask)` (torchvision's bilinear fill).
/// Values are rounded half to even, as `round_()` does.
pub fn warp(src: View, inv: &Inverse, fill: Option<[f32; 3]>, rows: std::ops::Range<usize>, cols: std::ops::Range<usize>, dst: &mut [u8]) {
    let (fh, fw) = (src.full_h as f64, src.full_w as f64);
    let (cy, cx) = ((fh - 1.0) * 0.5, (fw - 1.0) * 0.5);
    let plane_out = rows.len() * cols.len();
    let plane_in = src.h * src.w;
    let ch = src.channels;
    for (i, y) in rows.clone().enumerate() {
        let yb = y as f64 - cy;
        for (j, x) in cols.clone().enumerate() {
            let xb = x as f64 - cx;
            let u = inv[0] * xb + inv[1] * yb + inv[2] + cx;
            let v = inv[3] * xb + inv[4] * yb + inv[5] + cy;
            let (x0, y0) = (u.floor(), v.floor());
            let (fx, fy) = ((u - x0) as f32, (v - y0) as f32);
            let (x0, y0) = (x0 as i64, y0 as i64);
            let taps = [(y0, x0, (1.0 - fy) * (1.0 - fx)), (y0, x0 + 1, (1.0 - fy) * fx), (y0 + 1, x0, fy * (1.0 - fx)), (y0 + 1, x0 + 1, fy * fx)];
            let mut idx = [usize::MAX; 4];
            let mut mask = 0.0f32;
            for (t, &(ty, tx, wt)) in taps.iter().enumerate() {
                if ty >= 0 && tx >= 0 && (ty as usize) < src.full_h && (tx as usize) < src.full_w {
                    let (ly, lx) = (ty as usize, tx as usize);
                    if ly >= src.y0 && lx >= src.x0 && ly < src.y0 + src.h && lx < src.x0 + src.w {
                        idx[t] = (ly - src.y0) * src.w + (lx - src.x0);
                        mask += wt;
                    }
                }
            }
            for c in 0..ch {
                let plane = &src.data[c * plane_in..(c + 1) * plane_in];
                let mut acc = 0.0f32;
                for t in 0..4 {
                    if idx[t] != usize::MAX {
                        acc += taps[t].2 * f32::from(plane[idx[t]]);
                    }
                }
                if let Some(f) = fill {
                    acc = acc * mask + (1.0 - mask) * f[c.min(2)];
                }
                dst[c * plane_out + i * cols.len() + j] = acc.round_ties_even().clamp(0.0, 255.0) as u8;
            }
        }
    }
}

/// Whole-image warp.
pub fn warp_image(img: &[u8], c: usize, h: usize, w: usize, inv: &Inverse, fill: Option<[f32; 3]>) -> Vec<u8> {
    let mut out = vec![0u8; img.len()];
    warp(View::whole(img, c, h, w), inv, fill, 0..h, 0..w, &mut out);
    out
}

/// Keeps the top `bits` bits of every value.
pub fn posterize(img: &mut [u8], bits: u32) {
    let mask = (0xFFu32 << (8 - bits.min(8))) as u8;
    img.iter_mut().for_each(|v| *v &= mask);
}

/// Inverts values at or above `threshold`.
pub fn solarize(img: &mut [u8], threshold: f64) {
    img.iter_mut().for_each(|v| {
        if f64::from(*v) >= threshold {
            *v = 255 - *v;
        }
    });
}

/// Stretches each channel to 0..255 (truncating, as the uint8 cast does).
pub fn autocontrast(img: &mut [u8], c: usize) {
    let plane = img.len() / c;
    for p in img.chunks_exact_mut(plane) {
        let (lo, hi) = p.iter().fold((255u8, 0u8), |(lo, hi), &v| (lo.min(v), hi.max(v)));
        if hi == lo {
            continue;
        }
        let inv_scale = (f32::from(hi) - f32::from(lo)) * (1.0 / 255.0);
        let lo = f32::from(lo);
        p.iter_mut().for_each(|v| *v = ((f32::from(*v) - lo) / inv_scale).clamp(0.0, 255.0) as u8);
    }
}

/// Histogram equalisation per channel, Pillow's (and torchvision's) lookup
/// table: step = (pixels not of the top value) / 255.
pub fn equalize(img: &mut [u8], c: usize) {
    let plane = img.len() / c;
    for p in img.chunks_exact_mut(plane) {
        let mut hist = [0usize; 256];
        p.iter().for_each(|&v| hist[v as usize] += 1);
        let last = hist.iter().rposition(|&n| n > 0).unwrap_or(0);
        let step = (plane - hist[last]) / 255;
        if step == 0 {
            continue;
        }
        let mut lut = [0u8; 256];
        let mut cum = 0usize;
        for i in 0..256 {
            lut[i] = ((cum + step / 2) / step).min(255) as u8;
            cum += hist[i];
        }
        p.iter_mut().for_each(|v| *v = lut[*v as usize]);
    }
}

/// `factor * a + (1 - factor) * b`, clamped and truncated like `_blend`.
fn blend(img: &mut [u8], other: impl Fn(usize) -> f32, factor: f32) {
    for (i, v) in img.iter_mut().enumerate() {
        *v = (factor * f32::from(*v) + (1.0 - factor) * other(i)).clamp(0.0, 255.0) as u8;
    }
}

/// torchvision's grayscale of a uint8 RGB image (truncated to integers).
fn grayscale(img: &[u8]) -> Vec<f32> {
    let plane = img.len() / 3;
    (0..plane)
        .map(|i| (0.2989 * f32::from(img[i]) + 0.587 * f32::from(img[plane + i]) + 0.114 * f32::from(img[2 * plane + i])).trunc())
        .collect()
}

pub fn brightness(img: &mut [u8], factor: f32) {
    blend(img, |_| 0.0, factor);
}

/// `adjust_saturation` (AugMix's `Color`): blend with the grayscale image.
pub fn color(img: &mut [u8], c: usize, factor: f32) {
    if c != 3 {
        return;
    }
    let gray = grayscale(img);
    let plane = gray.len();
    blend(img, |i| gray[i % plane], factor);
}

/// `adjust_contrast`: blend with the mean of the grayscale image.
pub fn contrast(img: &mut [u8], c: usize, factor: f32) {
    let mean = if c == 3 {
        let g = grayscale(img);
        g.iter().map(|&v| f64::from(v)).sum::<f64>() / g.len().max(1) as f64
    } else {
        img.iter().map(|&v| f64::from(v)).sum::<f64>() / img.len().max(1) as f64
    } as f32;
    blend(img, |_| mean, factor);
}

/// `adjust_sharpness`: blend with a 3x3 smoothed copy (border kept).
pub fn sharpness(img: &mut [u8], c: usize, h: usize, w: usize, factor: f32) {
    if h < 3 || w < 3 {
        return;
    }
    let mut degenerate = img.to_vec();
    for ch in 0..c {
        let p = &img[ch * h * w..(ch + 1) * h * w];
        let d = &mut degenerate[ch * h * w..(ch + 1) * h * w];
        for y in 1..h - 1 {
            for x in 1..w - 1 {
                let mut s = 4.0 * f32::from(p[y * w + x]);
                for dy in 0..3 {
                    for dx in 0..3 {
                        s += f32::from(p[(y + dy - 1) * w + x + dx - 1]);
                    }
                }
                d[y * w + x] = (s / 13.0).round_ties_even().clamp(0.0, 255.0) as u8;
            }
        }
    }
    blend(img, |i| f32::from(degenerate[i]), factor);
}

/// The normalised 1-D Gaussian of `size` taps (torchvision's kernel).
pub fn gaussian_kernel(size: usize, sigma: f64) -> Vec<f32> {
    let half = (size as f64 - 1.0) * 0.5;
    let k: Vec<f64> = (0..size).map(|i| (-((i as f64 - half) / sigma).powi(2) * 0.5).exp()).collect();
    let sum: f64 = k.iter().sum();
    k.iter().map(|v| (v / sum) as f32).collect()
}

/// Reflect-101 index (`cv2.BORDER_REFLECT_101`, torch's `reflect`).
#[inline]
pub fn reflect(i: i64, n: usize) -> usize {
    let n = n as i64;
    if n == 1 {
        return 0;
    }
    let period = 2 * (n - 1);
    let mut i = i.rem_euclid(period);
    if i >= n {
        i = period - i;
    }
    i as usize
}

pub fn flip_horizontal(img: &mut [u8], w: usize) {
    img.chunks_exact_mut(w).for_each(<[u8]>::reverse);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn identity_warp_is_exact_and_translation_shifts() {
        let img: Vec<u8> = (0..3 * 6 * 5).map(|i| (i * 11 % 256) as u8).collect();
        let id = inverse_affine(0.0, [0.0, 0.0], [0.0, 0.0], [0.0, 0.0]);
        assert_eq!(warp_image(&img, 3, 6, 5, &id, None), img);
        let t = inverse_affine(0.0, [2.0, 0.0], [0.0, 0.0], [0.0, 0.0]);
        let out = warp_image(&img, 3, 6, 5, &t, None);
        assert_eq!(out[2], img[0]);
        assert_eq!(out[0], 0);
    }

    #[test]
    fn equalize_spreads_and_reflect_mirrors() {
        let mut img: Vec<u8> = (0..300).map(|i| (100 + i % 20) as u8).collect();
        equalize(&mut img, 1);
        assert!(img.iter().any(|&v| v < 30) && img.iter().any(|&v| v > 200));
        assert_eq!([reflect(-1, 5), reflect(-2, 5), reflect(5, 5), reflect(6, 5), reflect(3, 5)], [1, 2, 3, 2, 3]);
    }
}
