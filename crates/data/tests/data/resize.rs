//! `resize` against torchvision's `v2.functional.resize(antialias=True)` on
//! uint8, from the reference file made by `scripts/fixtures/data.py`.

use std::path::PathBuf;

use pipe_data::resize::Resizer;
use pipe_data::tensors::Reader;

fn reference() -> Reader {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../tests/fixtures/generated/data/reference.safetensors");
    assert!(
        path.exists(),
        "missing fixture {}: run `scripts/fixtures/data.py` with the torch venv's python ($PIPE_PYTHON)",
        path.display()
    );
    Reader::open(&path).expect("the fixture is readable")
}

/// Resizes every image of `src` and returns (max abs diff, fraction of
/// values that differ) against `expected`.
fn compare(r: &mut Reader, src: &str, expected: &str) -> (i32, f64) {
    let (s_shape, s) = r.read_u8(src).unwrap();
    let (e_shape, e) = r.read_u8(expected).unwrap();
    let (n, c, ih, iw) = (s_shape[0], s_shape[1], s_shape[2], s_shape[3]);
    let (oh, ow) = (e_shape[2], e_shape[3]);
    let resizer = Resizer::new(ih, iw, oh, ow);
    let mut out = vec![0u8; n * c * oh * ow];
    let mut scratch = Vec::new();
    for i in 0..n {
        let (a, b) = (c * ih * iw, c * oh * ow);
        resizer.image(
            &s[i * a..(i + 1) * a],
            c,
            &mut out[i * b..(i + 1) * b],
            &mut scratch,
        );
    }
    let mut worst = 0;
    let mut differ = 0usize;
    for (x, y) in out.iter().zip(&e) {
        let d = (i32::from(*x) - i32::from(*y)).abs();
        worst = worst.max(d);
        differ += usize::from(d != 0);
    }
    let frac = differ as f64 / e.len() as f64;
    println!(
        "{src} -> {expected}: max diff {worst}, {differ} of {} values differ ({:.4} %)",
        e.len(),
        100.0 * frac
    );
    (worst, frac)
}

#[test]
fn upscale_96_to_224_matches_torchvision_bit_exactly() {
    let (worst, frac) = compare(&mut reference(), "src_96", "up_224");
    assert_eq!(worst, 0, "max diff {worst} ({frac} of values differ)");
}

#[test]
fn downscales_match_torchvision_bit_exactly() {
    let mut r = reference();
    for (src, expected) in [
        ("src_96", "down_37"),
        ("src_224", "down_112"),
        ("src_96", "mixed_130x50"),
    ] {
        let (worst, frac) = compare(&mut r, src, expected);
        assert_eq!(
            worst, 0,
            "{expected}: max diff {worst} ({frac} of values differ)"
        );
    }
}
