//! Image operations the augmentation policies are built from, each with
//! torchvision v2's arithmetic on uint8 CHW images: affine warps sampled
//! like `grid_sample` (bilinear, `align_corners=False`, zero padding, an
//! optional fill blended through a warped mask), the colour ops of
//! AutoAugment's family with their truncating casts, Gaussian blur, flips.

/// A 2x3 matrix mapping output pixel coordinates, centred on the image
/// (x - (w-1)/2, y - (h-1)/2), to input coordinates centred the same way,
/// as torchvision's `_get_inverse_affine_matrix` builds it.
pub type Inverse = [f64; 6];

/// `round_even` then clamp to 0..=255.
pub trait ToU8 {
    fn to_u8_even(self) -> u8;
}

impl ToU8 for f32 {
    #[inline(always)]
    fn to_u8_even(self) -> u8 {
        round_even(self.clamp(-1.0, 256.0)).clamp(0.0, 255.0) as u8
    }
}

/// Rounds half to even, as `torch.round`, for |x| < 2^22, without the
/// `rintf` library call a baseline x86-64 build would make: adding and
/// subtracting 1.5 * 2^23 leaves the integer part in round-to-nearest-even.
#[inline(always)]
pub fn round_even(x: f32) -> f32 {
    (x + 12_582_912.0) - 12_582_912.0
}

/// `x.floor() as i64` without the `floor` library call.
#[inline(always)]
pub fn floor_i64(x: f64) -> i64 {
    let i = x as i64;
    if (i as f64) > x {
        i - 1
    } else {
        i
    }
}

/// torchvision's inverse affine matrix for F.affine on tensors (which
/// negates the angle: positive angles turn counter-clockwise) with the
/// centre `center` given relative to the image centre.
pub fn inverse_affine(
    angle_deg: f64,
    translate: [f64; 2],
    shear_deg: [f64; 2],
    center: [f64; 2],
) -> Inverse {
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
        View {
            data,
            channels,
            full_h: h,
            full_w: w,
            y0: 0,
            x0: 0,
            h,
            w,
        }
    }
}

/// Warps `src` by `inv` into output rows `rows` and columns `cols` of a
/// same-sized image (`dst`: channels x rows x cols). Outside the image
/// the sample is 0; with `fill`, a ones-mask is warped alongside and the
/// result is `img * mask + fill * (1 - mask)` (torchvision's bilinear fill).
/// Values are rounded half to even, as `round_()` does.
pub fn warp(
    src: View,
    inv: &Inverse,
    fill: Option<[f32; 3]>,
    rows: std::ops::Range<usize>,
    cols: std::ops::Range<usize>,
    dst: &mut [u8],
) {
    let (cy, cx) = (
        (src.full_h as f64 - 1.0) * 0.5,
        (src.full_w as f64 - 1.0) * 0.5,
    );
    let (rw, plane_out, plane_in) = (cols.len(), rows.len() * cols.len(), src.h * src.w);
    let ch = src.channels;
    // Interior: all four taps inside the view (which lies inside the image).
    let (ix0, ix1) = (src.x0 as i64, (src.x0 + src.w) as i64 - 1);
    let (iy0, iy1) = (src.y0 as i64, (src.y0 + src.h) as i64 - 1);
    // Per row: each pixel's top-left tap and weights once, then every
    // channel in a tight loop (interior pixels: all four taps in the view).
    let mut taps_at: Vec<(u32, u32, [f32; 4])> = Vec::with_capacity(rw);
    let mut edge: Vec<(usize, [i64; 2], [f32; 2])> = Vec::new();
    for (i, y) in rows.clone().enumerate() {
        let yb = y as f64 - cy;
        let (bu, bv) = (inv[1] * yb + inv[2] + cx, inv[4] * yb + inv[5] + cy);
        taps_at.clear();
        edge.clear();
        for (j, x) in cols.clone().enumerate() {
            let xb = x as f64 - cx;
            let u = inv[0] * xb + bu;
            let v = inv[3] * xb + bv;
            let (x0, y0) = (floor_i64(u), floor_i64(v));
            let (fx, fy) = ((u - x0 as f64) as f32, (v - y0 as f64) as f32);
            if x0 >= ix0 && x0 < ix1 && y0 >= iy0 && y0 < iy1 {
                let k = (y0 - iy0) as usize * src.w + (x0 - ix0) as usize;
                taps_at.push((
                    j as u32,
                    k as u32,
                    [
                        (1.0 - fy) * (1.0 - fx),
                        (1.0 - fy) * fx,
                        fy * (1.0 - fx),
                        fy * fx,
                    ],
                ));
            } else {
                edge.push((j, [y0, x0], [fy, fx]));
            }
        }
        for c in 0..ch {
            let plane = &src.data[c * plane_in..(c + 1) * plane_in];
            let out = &mut dst[c * plane_out + i * rw..c * plane_out + (i + 1) * rw];
            for &(j, k, [w00, w01, w10, w11]) in &taps_at {
                let (j, k) = (j as usize, k as usize);
                let p = &plane[k..k + src.w + 2];
                let acc = w00 * f32::from(p[0])
                    + w01 * f32::from(p[1])
                    + w10 * f32::from(p[src.w])
                    + w11 * f32::from(p[src.w + 1]);
                out[j] = acc.to_u8_even();
            }
        }
        for &(j, [y0, x0], [fy, fx]) in &edge {
            let taps = [
                (y0, x0, (1.0 - fy) * (1.0 - fx)),
                (y0, x0 + 1, (1.0 - fy) * fx),
                (y0 + 1, x0, fy * (1.0 - fx)),
                (y0 + 1, x0 + 1, fy * fx),
            ];
            let mut idx = [usize::MAX; 4];
            let mut mask = 0.0f32;
            for (t, &(ty, tx, wt)) in taps.iter().enumerate() {
                if ty >= 0 && tx >= 0 && (ty as usize) < src.full_h && (tx as usize) < src.full_w {
                    mask += wt;
                    if ty >= iy0 && tx >= ix0 && ty <= iy1 && tx <= ix1 {
                        idx[t] = (ty - iy0) as usize * src.w + (tx - ix0) as usize;
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
                dst[c * plane_out + i * rw + j] = acc.to_u8_even();
            }
        }
    }
}

/// Shifts the image by whole pixels (`dx` right, `dy` down), zero-filled:
/// what the bilinear warp gives for an integer translation, without the
/// arithmetic.
pub fn translate(img: &[u8], c: usize, h: usize, w: usize, dx: i64, dy: i64) -> Vec<u8> {
    let mut out = vec![0u8; img.len()];
    if dx.unsigned_abs() as usize >= w || dy.unsigned_abs() as usize >= h {
        return out;
    }
    let xs = dx.max(0) as usize..(w as i64 + dx.min(0)) as usize;
    let n = xs.len();
    for ch in 0..c {
        for y in 0..h {
            let sy = y as i64 - dy;
            if sy < 0 || sy >= h as i64 {
                continue;
            }
            let from = (ch * h + sy as usize) * w + (xs.start as i64 - dx) as usize;
            let to = (ch * h + y) * w + xs.start;
            out[to..to + n].copy_from_slice(&img[from..from + n]);
        }
    }
    out
}

/// Horizontal shear about the top-left corner: row `y` is shifted by
/// `-m * (y + 0.5)` pixels, interpolated linearly, zero outside (the
/// warp's arithmetic, row by row, since each row's fraction is constant).
pub fn shear_x(img: &[u8], c: usize, h: usize, w: usize, m: f64) -> Vec<u8> {
    let mut out = vec![0u8; img.len()];
    for y in 0..h {
        // Source column for output x is x + off.
        let off = m * (y as f64 + 0.5);
        let k = floor_i64(off);
        let fx = (off - k as f64) as f32;
        for ch in 0..c {
            let row = &img[(ch * h + y) * w..(ch * h + y + 1) * w];
            let dst = &mut out[(ch * h + y) * w..(ch * h + y + 1) * w];
            let px = |i: i64| {
                if i >= 0 && i < w as i64 {
                    f32::from(row[i as usize])
                } else {
                    0.0
                }
            };
            for (x, d) in dst.iter_mut().enumerate() {
                let s = x as i64 + k;
                let v = if s >= 0 && s + 1 < w as i64 {
                    (1.0 - fx) * f32::from(row[s as usize]) + fx * f32::from(row[s as usize + 1])
                } else {
                    (1.0 - fx) * px(s) + fx * px(s + 1)
                };
                *d = v.to_u8_even();
            }
        }
    }
    out
}

/// Vertical shear about the top-left corner (see [`shear_x`]).
pub fn shear_y(img: &[u8], c: usize, h: usize, w: usize, m: f64) -> Vec<u8> {
    let mut out = vec![0u8; img.len()];
    let cols: Vec<(i64, f32)> = (0..w)
        .map(|x| {
            let off = m * (x as f64 + 0.5);
            let k = floor_i64(off);
            (k, (off - k as f64) as f32)
        })
        .collect();
    for ch in 0..c {
        let plane = &img[ch * h * w..(ch + 1) * h * w];
        let px = |y: i64, x: usize| {
            if y >= 0 && y < h as i64 {
                f32::from(plane[y as usize * w + x])
            } else {
                0.0
            }
        };
        for y in 0..h {
            let dst = &mut out[(ch * h + y) * w..(ch * h + y + 1) * w];
            for (x, (d, &(k, fy))) in dst.iter_mut().zip(&cols).enumerate() {
                let s = y as i64 + k;
                let v = (1.0 - fy) * px(s, x) + fy * px(s + 1, x);
                *d = v.to_u8_even();
            }
        }
    }
    out
}

/// Whole-image warp.
pub fn warp_image(
    img: &[u8],
    c: usize,
    h: usize,
    w: usize,
    inv: &Inverse,
    fill: Option<[f32; 3]>,
) -> Vec<u8> {
    let mut out = vec![0u8; img.len()];
    warp(View::whole(img, c, h, w), inv, fill, 0..h, 0..w, &mut out);
    out
}

/// Keeps the top `bits` bits of every value.
pub fn posterize(img: &mut [u8], bits: u32) {
    let mask = (0xFFu32 << (8 - bits.min(8))) as u8;
    img.iter_mut().for_each(|v| *v &= mask);
}

/// Inverts values at or above `threshold`, compared in float32 as
/// torchvision compares a uint8 tensor with a float threshold.
pub fn solarize(img: &mut [u8], threshold: f32) {
    let lut: [u8; 256] = std::array::from_fn(|v| {
        if v as f32 >= threshold {
            255 - v as u8
        } else {
            v as u8
        }
    });
    img.iter_mut().for_each(|v| *v = lut[*v as usize]);
}

/// Stretches each channel to 0..255 (truncating, as the uint8 cast does).
pub fn autocontrast(img: &mut [u8], c: usize) {
    let plane = img.len() / c;
    for p in img.chunks_exact_mut(plane) {
        let (lo, hi) = p
            .iter()
            .fold((255u8, 0u8), |(lo, hi), &v| (lo.min(v), hi.max(v)));
        if hi == lo {
            continue;
        }
        let inv_scale = (f32::from(hi) - f32::from(lo)) * (1.0 / 255.0);
        let lo = f32::from(lo);
        let lut: [u8; 256] =
            std::array::from_fn(|v| ((v as f32 - lo) / inv_scale).clamp(0.0, 255.0) as u8);
        p.iter_mut().for_each(|v| *v = lut[*v as usize]);
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

/// `factor * a + (1 - factor) * b` for every value, clamped and truncated
/// like torchvision's `_blend` on uint8.
#[inline]
fn mix(a: u8, b: f32, factor: f32) -> u8 {
    (factor * f32::from(a) + (1.0 - factor) * b).clamp(0.0, 255.0) as u8
}

/// torchvision's grayscale of a uint8 RGB image (truncated to integers).
fn grayscale(img: &[u8]) -> Vec<f32> {
    let plane = img.len() / 3;
    let (r, rest) = img.split_at(plane);
    let (g, b) = rest.split_at(plane);
    r.iter()
        .zip(g)
        .zip(b)
        .map(|((&r, &g), &b)| {
            (0.2989 * f32::from(r) + 0.587 * f32::from(g) + 0.114 * f32::from(b)) as u32 as f32
        })
        .collect()
}

pub fn brightness(img: &mut [u8], factor: f32) {
    let lut: [u8; 256] = std::array::from_fn(|v| mix(v as u8, 0.0, factor));
    img.iter_mut().for_each(|v| *v = lut[*v as usize]);
}

/// `adjust_saturation` (AugMix's `Color`): blend with the grayscale image.
pub fn color(img: &mut [u8], c: usize, factor: f32) {
    if c != 3 {
        return;
    }
    let gray = grayscale(img);
    for p in img.chunks_exact_mut(gray.len()) {
        p.iter_mut()
            .zip(&gray)
            .for_each(|(v, &g)| *v = mix(*v, g, factor));
    }
}

/// `adjust_contrast`: blend with the mean of the grayscale image.
pub fn contrast(img: &mut [u8], c: usize, factor: f32) {
    let mean = if c == 3 {
        let g = grayscale(img);
        g.iter().map(|&v| f64::from(v)).sum::<f64>() / g.len().max(1) as f64
    } else {
        img.iter().map(|&v| f64::from(v)).sum::<f64>() / img.len().max(1) as f64
    } as f32;
    let lut: [u8; 256] = std::array::from_fn(|v| mix(v as u8, mean, factor));
    img.iter_mut().for_each(|v| *v = lut[*v as usize]);
}

/// `adjust_sharpness`: blend with a 3x3 smoothed copy (border kept).
pub fn sharpness(img: &mut [u8], c: usize, h: usize, w: usize, factor: f32) {
    if h < 3 || w < 3 {
        return;
    }
    let mut row = vec![0u8; w];
    for ch in 0..c {
        let p = &mut img[ch * h * w..(ch + 1) * h * w];
        // Rows are rewritten in place, so keep the unmodified row above.
        let mut above: Vec<u8> = p[..w].to_vec();
        for y in 1..h - 1 {
            row.copy_from_slice(&p[y * w..(y + 1) * w]);
            let below = &p[(y + 1) * w..(y + 2) * w];
            let mut out = row.clone();
            for x in 1..w - 1 {
                let sum3 = |r: &[u8]| u32::from(r[x - 1]) + u32::from(r[x]) + u32::from(r[x + 1]);
                let s = sum3(&above) + sum3(&row) + sum3(below) + 4 * u32::from(row[x]);
                // round(s / 13); 13 is odd, so there are no ties to break.
                let degenerate = ((2 * s + 13) / 26) as f32;
                out[x] = mix(row[x], degenerate, factor);
            }
            above.copy_from_slice(&row);
            p[y * w..(y + 1) * w].copy_from_slice(&out);
        }
    }
}

/// The normalised 1-D Gaussian of `size` taps (torchvision's kernel).
pub fn gaussian_kernel(size: usize, sigma: f64) -> Vec<f32> {
    let half = (size as f64 - 1.0) * 0.5;
    let k: Vec<f64> = (0..size)
        .map(|i| (-((i as f64 - half) / sigma).powi(2) * 0.5).exp())
        .collect();
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
        assert_eq!(
            [
                reflect(-1, 5),
                reflect(-2, 5),
                reflect(5, 5),
                reflect(6, 5),
                reflect(3, 5)
            ],
            [1, 2, 3, 2, 3]
        );
    }
}
