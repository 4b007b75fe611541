//! Antialiased bilinear resizing of uint8 images, equal to torchvision's
//! `v2.functional.resize(img, size, antialias=True)` on uint8 tensors.
//!
//! That call runs PyTorch's native uint8 kernel (the Pillow-style separable
//! filter): per axis, output index `i` has centre `scale * (i + 0.5)`, a
//! triangle filter whose support grows with the scale factor when shrinking
//! (antialiasing; when enlarging it is plain bilinear with
//! `align_corners=False`), weights normalised to sum 1 and then rounded to
//! int16 fixed point with the largest precision that keeps them in range.
//! The horizontal pass runs first and its result is rounded to uint8, then
//! the vertical pass. We follow the same arithmetic, so results agree to
//! the bit in nearly every pixel (the ±1 test checks it).

use std::ops::Range;

/// The filter of one axis: for every output index, where its input window
/// starts and its fixed-point weights (`taps` of them, zero-padded).
#[derive(Clone, Debug)]
pub struct Axis {
    pub in_size: usize,
    pub out_size: usize,
    pub taps: usize,
    pub start: Vec<usize>,
    /// Fixed point, `precision` fractional bits; every weight fits in i16.
    pub weights: Vec<i16>,
    pub precision: u32,
}

impl Axis {
    pub fn new(in_size: usize, out_size: usize) -> Axis {
        let scale = in_size as f64 / out_size as f64;
        let (support, invscale) = if scale >= 1.0 {
            (scale, 1.0 / scale)
        } else {
            (1.0, 1.0)
        };
        let filter = |x: f64| {
            let x = x.abs();
            if x < 1.0 {
                1.0 - x
            } else {
                0.0
            }
        };
        let mut ranges = Vec::with_capacity(out_size);
        let mut float_weights: Vec<Vec<f64>> = Vec::with_capacity(out_size);
        let mut w_max = 0.0f64;
        for i in 0..out_size {
            let center = scale * (i as f64 + 0.5);
            // `as i64` truncates toward zero, as the C++ `(int64_t)` cast does.
            let xmin = ((center - support + 0.5) as i64).max(0) as usize;
            let xmax = ((center + support + 0.5) as i64)
                .min(in_size as i64)
                .max(xmin as i64 + 1) as usize;
            let mut w: Vec<f64> = (xmin..xmax)
                .map(|j| filter((j as f64 - center + 0.5) * invscale))
                .collect();
            let total: f64 = w.iter().sum();
            if total != 0.0 {
                for v in &mut w {
                    *v /= total;
                    w_max = w_max.max(*v);
                }
            }
            ranges.push(xmin);
            float_weights.push(w);
        }
        let mut precision = 0u32;
        while precision < 22 {
            let next = (0.5 + w_max * f64::from(1u32 << (precision + 1))) as i64;
            if next >= 1 << 15 {
                break;
            }
            precision += 1;
        }
        let taps = float_weights
            .iter()
            .map(Vec::len)
            .max()
            .unwrap_or(1)
            .min(in_size);
        let mut start = Vec::with_capacity(out_size);
        let mut weights = vec![0i16; out_size * taps];
        for (i, (xmin, w)) in ranges.into_iter().zip(float_weights).enumerate() {
            // Keep every window inside the input; the shift is taken up by
            // zero weights, so the sum is unchanged.
            let s = xmin.min(in_size - taps);
            start.push(s);
            for (k, v) in w.iter().enumerate() {
                let v = v * f64::from(1u32 << precision);
                let q = if v < 0.0 {
                    (-0.5 + v) as i16
                } else {
                    (0.5 + v) as i16
                };
                weights[i * taps + (xmin - s) + k] = q;
            }
        }
        Axis {
            in_size,
            out_size,
            taps,
            start,
            weights,
            precision,
        }
    }

    pub fn is_identity(&self) -> bool {
        self.in_size == self.out_size
    }

    /// The input indices the outputs in `out` read.
    pub fn window(&self, out: Range<usize>) -> Range<usize> {
        if out.is_empty() {
            return 0..0;
        }
        if self.is_identity() {
            return out;
        }
        let lo = self.start[out.start];
        let hi = self.start[out.end - 1] + self.taps;
        lo..hi
    }
}

#[inline]
fn clamp_shift(acc: i32, precision: u32) -> u8 {
    (acc >> precision).clamp(0, 255) as u8
}

/// Resizes one plane pass by pass. Reused per image; holds the scratch row
/// buffer so that a hot loop allocates nothing.
#[derive(Clone, Debug)]
pub struct Resizer {
    pub y: Axis,
    pub x: Axis,
}

impl Resizer {
    pub fn new(in_h: usize, in_w: usize, out_h: usize, out_w: usize) -> Resizer {
        Resizer {
            y: Axis::new(in_h, out_h),
            x: Axis::new(in_w, out_w),
        }
    }

    pub fn out_len(&self, channels: usize) -> usize {
        channels * self.y.out_size * self.x.out_size
    }

    /// Resizes a whole CHW image into `dst` (`channels * out_h * out_w`).
    pub fn image(&self, src: &[u8], channels: usize, dst: &mut [u8], scratch: &mut Vec<u8>) {
        let (oh, ow) = (self.y.out_size, self.x.out_size);
        self.region(src, channels, 0..oh, 0..ow, dst, scratch);
    }

    /// Resizes only output rows `rows` and columns `cols` of every channel
    /// into `dst` (`channels * rows.len() * cols.len()`, row-major), the
    /// same values a full resize has there.
    pub fn region(
        &self,
        src: &[u8],
        channels: usize,
        rows: Range<usize>,
        cols: Range<usize>,
        dst: &mut [u8],
        scratch: &mut Vec<u8>,
    ) {
        #[cfg(target_arch = "x86_64")]
        if std::arch::is_x86_feature_detected!("avx2") {
            // SAFETY: the CPU supports AVX2 (checked just above).
            unsafe { self.region_avx2(src, channels, rows, cols, dst, scratch) };
            return;
        }
        self.region_inline(src, channels, rows, cols, dst, scratch);
    }

    /// The same code compiled for AVX2, chosen at run time: a portable
    /// build otherwise targets SSE2 only.
    #[cfg(target_arch = "x86_64")]
    #[target_feature(enable = "avx2")]
    unsafe fn region_avx2(
        &self,
        src: &[u8],
        channels: usize,
        rows: Range<usize>,
        cols: Range<usize>,
        dst: &mut [u8],
        scratch: &mut Vec<u8>,
    ) {
        self.region_inline(src, channels, rows, cols, dst, scratch);
    }

    #[inline(always)]
    fn region_inline(
        &self,
        src: &[u8],
        channels: usize,
        rows: Range<usize>,
        cols: Range<usize>,
        dst: &mut [u8],
        scratch: &mut Vec<u8>,
    ) {
        let (ih, iw) = (self.y.in_size, self.x.in_size);
        let (rh, rw) = (rows.len(), cols.len());
        let in_rows = self.y.window(rows.clone());
        for c in 0..channels {
            let plane = &src[c * ih * iw..(c + 1) * ih * iw];
            let out = &mut dst[c * rh * rw..(c + 1) * rh * rw];
            // Horizontal pass over the input rows the vertical pass needs;
            // skipped (as PyTorch skips it) when the width does not change.
            let (hbuf, hbase, hstride, col0): (&[u8], usize, usize, usize) = if self.x.is_identity()
            {
                (plane, 0, iw, cols.start)
            } else {
                scratch.resize(in_rows.len() * rw, 0);
                let mut k = 0;
                // Four rows at a time share each output column's window and
                // weights (loaded once) and give independent sums.
                while k + 4 <= in_rows.len() {
                    let r = in_rows.start + k;
                    let src = &plane[r * iw..(r + 4) * iw];
                    horizontal4(
                        &self.x,
                        src,
                        iw,
                        cols.clone(),
                        &mut scratch[k * rw..(k + 4) * rw],
                    );
                    k += 4;
                }
                for (k, r) in in_rows.clone().enumerate().skip(k) {
                    horizontal(
                        &self.x,
                        &plane[r * iw..(r + 1) * iw],
                        cols.clone(),
                        &mut scratch[k * rw..(k + 1) * rw],
                    );
                }
                (&scratch[..], in_rows.start, rw, 0)
            };
            if self.y.is_identity() {
                for (k, r) in rows.clone().enumerate() {
                    let from = (r - hbase) * hstride + col0;
                    out[k * rw..(k + 1) * rw].copy_from_slice(&hbuf[from..from + rw]);
                }
                continue;
            }
            for (k, r) in rows.clone().enumerate() {
                let s = self.y.start[r] - hbase;
                let w = &self.y.weights[r * self.y.taps..(r + 1) * self.y.taps];
                let row = |t: usize| &hbuf[(s + t) * hstride + col0..(s + t) * hstride + col0 + rw];
                vertical(w, self.y.precision, &row, &mut out[k * rw..(k + 1) * rw]);
            }
        }
    }
}

#[inline(always)]
fn horizontal(axis: &Axis, src: &[u8], cols: Range<usize>, dst: &mut [u8]) {
    match axis.taps {
        1 => horizontal_n::<1>(axis, src, cols, dst),
        2 => horizontal_n::<2>(axis, src, cols, dst),
        3 => horizontal_n::<3>(axis, src, cols, dst),
        4 => horizontal_n::<4>(axis, src, cols, dst),
        _ => horizontal_any(axis, src, cols, dst),
    }
}

/// [`horizontal`] over four consecutive rows (`src`: 4 x `iw`, `dst`: 4 x
/// `cols.len()`).
#[inline(always)]
fn horizontal4(axis: &Axis, src: &[u8], iw: usize, cols: Range<usize>, dst: &mut [u8]) {
    if axis.taps != 2 {
        let rw = cols.len();
        for r in 0..4 {
            horizontal(
                axis,
                &src[r * iw..(r + 1) * iw],
                cols.clone(),
                &mut dst[r * rw..(r + 1) * rw],
            );
        }
        return;
    }
    let round = 1i32 << axis.precision.saturating_sub(1);
    let rw = cols.len();
    let (s0, rest) = src.split_at(iw);
    let (s1, rest) = rest.split_at(iw);
    let (s2, s3) = rest.split_at(iw);
    let (d0, rest) = dst.split_at_mut(rw);
    let (d1, rest) = rest.split_at_mut(rw);
    let (d2, d3) = rest.split_at_mut(rw);
    let weights = &axis.weights[cols.start * 2..cols.end * 2];
    for (o, (&s, w)) in axis.start[cols]
        .iter()
        .zip(weights.chunks_exact(2))
        .enumerate()
    {
        let (w0, w1) = (i32::from(w[0]), i32::from(w[1]));
        let f = |row: &[u8]| {
            clamp_shift(
                round + i32::from(row[s]) * w0 + i32::from(row[s + 1]) * w1,
                axis.precision,
            )
        };
        d0[o] = f(s0);
        d1[o] = f(s1);
        d2[o] = f(s2);
        d3[o] = f(s3);
    }
}

/// The horizontal pass with the tap count known at compile time (the
/// upscaling case has 2), so the inner loop unrolls.
#[inline(always)]
fn horizontal_n<const N: usize>(axis: &Axis, src: &[u8], cols: Range<usize>, dst: &mut [u8]) {
    let round = 1i32 << axis.precision.saturating_sub(1);
    let weights = &axis.weights[cols.start * N..cols.end * N];
    let starts = &axis.start[cols];
    for ((d, &s), w) in dst.iter_mut().zip(starts).zip(weights.chunks_exact(N)) {
        let px: &[u8; N] = src[s..s + N].try_into().unwrap_or(&[0; N]);
        let mut acc = round;
        for t in 0..N {
            acc += i32::from(px[t]) * i32::from(w[t]);
        }
        *d = clamp_shift(acc, axis.precision);
    }
}

fn horizontal_any(axis: &Axis, src: &[u8], cols: Range<usize>, dst: &mut [u8]) {
    let taps = axis.taps;
    let round = 1i32 << axis.precision.saturating_sub(1);
    for (o, x) in cols.enumerate() {
        let s = axis.start[x];
        let w = &axis.weights[x * taps..(x + 1) * taps];
        let px = &src[s..s + taps];
        let mut acc = round;
        for t in 0..taps {
            acc += i32::from(px[t]) * i32::from(w[t]);
        }
        dst[o] = clamp_shift(acc, axis.precision);
    }
}

#[inline(always)]
fn vertical<'a>(w: &[i16], precision: u32, row: &dyn Fn(usize) -> &'a [u8], dst: &mut [u8]) {
    let round = 1i32 << precision.saturating_sub(1);
    match w.len() {
        2 => {
            let (a, b) = (row(0), row(1));
            let (w0, w1) = (i32::from(w[0]), i32::from(w[1]));
            for ((d, &p), &q) in dst.iter_mut().zip(a).zip(b) {
                // Both factors fit in i16, so this can map to pmaddwd.
                *d = clamp_shift(
                    round + i32::from(p as i16) * w0 + i32::from(q as i16) * w1,
                    precision,
                );
            }
        }
        3 => {
            let (a, b, c) = (row(0), row(1), row(2));
            let (w0, w1, w2) = (i32::from(w[0]), i32::from(w[1]), i32::from(w[2]));
            for (((d, &p), &q), &r) in dst.iter_mut().zip(a).zip(b).zip(c) {
                *d = clamp_shift(
                    round
                        + i32::from(p as i16) * w0
                        + i32::from(q as i16) * w1
                        + i32::from(r as i16) * w2,
                    precision,
                );
            }
        }
        _ => {
            let mut acc = vec![round; dst.len()];
            for (t, &wt) in w.iter().enumerate() {
                if wt == 0 {
                    continue;
                }
                for (a, &p) in acc.iter_mut().zip(row(t)) {
                    *a += i32::from(p) * i32::from(wt);
                }
            }
            for (d, a) in dst.iter_mut().zip(acc) {
                *d = clamp_shift(a, precision);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn identity_and_constant_images_are_preserved() {
        let src: Vec<u8> = (0..3 * 5 * 7).map(|i| (i * 37 % 256) as u8).collect();
        let r = Resizer::new(5, 7, 5, 7);
        let mut dst = vec![0; src.len()];
        r.image(&src, 3, &mut dst, &mut Vec::new());
        assert_eq!(dst, src);
        for (ih, oh) in [(96, 224), (224, 96), (10, 37), (300, 112)] {
            let src = vec![200u8; 3 * ih * ih];
            let r = Resizer::new(ih, ih, oh, oh);
            let mut dst = vec![0; 3 * oh * oh];
            r.image(&src, 3, &mut dst, &mut Vec::new());
            assert!(dst.iter().all(|&v| v == 200), "{ih}->{oh}");
        }
    }

    #[test]
    fn a_region_equals_the_same_part_of_the_full_image() {
        let src: Vec<u8> = (0..3 * 40 * 30).map(|i| ((i * 7919) % 251) as u8).collect();
        for (oh, ow) in [(97, 61), (17, 11), (40, 61)] {
            let r = Resizer::new(40, 30, oh, ow);
            let mut full = vec![0; 3 * oh * ow];
            r.image(&src, 3, &mut full, &mut Vec::new());
            let (rows, cols) = (oh / 3..oh - 2, ow / 4..ow / 2 + 3);
            let mut part = vec![0; 3 * rows.len() * cols.len()];
            r.region(
                &src,
                3,
                rows.clone(),
                cols.clone(),
                &mut part,
                &mut Vec::new(),
            );
            for c in 0..3 {
                for (i, y) in rows.clone().enumerate() {
                    for (j, x) in cols.clone().enumerate() {
                        assert_eq!(
                            part[(c * rows.len() + i) * cols.len() + j],
                            full[(c * oh + y) * ow + x]
                        );
                    }
                }
            }
        }
    }
}
