//! The augmentation policies' properties: PSPNet's flip rate and scale and
//! angle ranges, MixUp's lambda ~ Beta(1, 1), CutMix's box area vs lambda,
//! soft labels summing to 1, seeds giving identical bytes and epochs
//! differing, and AugMix's effect against torchvision's (from the fixture).

use std::path::PathBuf;

use pipe_data::augment::{AugMix, CutmixMixup, Mixed, Policy, Pspnet};
use pipe_data::kinds::augment::KIND as Augment;
use pipe_data::rng::Rng;
use pipe_data::tensors::Reader;
use pipe_engine::Value;

use super::support::{run, s};

fn image(c: usize, h: usize, w: usize, seed: u64) -> Vec<u8> {
    let mut rng = Rng::new(seed);
    (0..c * h * w)
        .map(|i| ((i % w) * 2 + (i / w % h) + rng.below(40) as usize) as u8)
        .collect()
}

#[test]
fn pspnet_draws_stay_in_range_at_the_right_rates() {
    let p = Pspnet::default();
    let mut rng = Rng::new(11);
    let n = 4000;
    let (mut flips, mut rotations, mut blurs) = (0, 0, 0);
    let (mut smallest, mut largest) = (usize::MAX, 0);
    for _ in 0..n {
        let d = p.draw(224, 224, &mut rng);
        smallest = smallest.min(d.size);
        largest = largest.max(d.size);
        flips += usize::from(d.flip);
        blurs += usize::from(d.blur);
        if let Some(a) = d.angle {
            rotations += 1;
            assert!((-10.0..=10.0).contains(&a), "angle {a}");
        }
        let (ph, pw) = if d.size < 224 {
            (224 + 2 * (224 - d.size), 224 + 2 * (224 - d.size))
        } else {
            (d.size, d.size)
        };
        assert!(d.top + 224 <= ph && d.left + 224 <= pw);
    }
    assert!(
        (112..=118).contains(&smallest) && (442..=448).contains(&largest),
        "sizes {smallest}..{largest}"
    );
    for (what, k) in [("flip", flips), ("rotate", rotations), ("blur", blurs)] {
        let rate = k as f64 / n as f64;
        assert!((rate - 0.5).abs() < 0.03, "{what} rate {rate}");
    }
}

#[test]
fn pspnet_flip_alone_mirrors_and_padding_uses_the_mean_pixel() {
    let p = Pspnet::default();
    let img = image(3, 16, 16, 1);
    let d = pipe_data::augment::pspnet::Draw {
        size: 16,
        angle: None,
        blur: false,
        flip: true,
        top: 0,
        left: 0,
    };
    let out = p.apply_draw(&img, 3, 16, 16, &d);
    let mut flipped = img.clone();
    pipe_data::augment::ops::flip_horizontal(&mut flipped, 16);
    assert_eq!(out, flipped);
    // Half size, crop at the corner of the padded image: the top-left is padding.
    let d = pipe_data::augment::pspnet::Draw {
        size: 8,
        angle: None,
        blur: false,
        flip: false,
        top: 0,
        left: 0,
    };
    let out = p.apply_draw(&img, 3, 16, 16, &d);
    assert_eq!([out[0], out[256], out[512]], [124, 116, 104]);
}

#[test]
fn image_policies_are_seeded_per_epoch_and_sample() {
    let img = image(3, 64, 64, 2);
    for policy in [
        Policy::Pspnet(Pspnet::default()),
        Policy::Augmix(AugMix::default()),
    ] {
        let a = policy.apply_image(&img, 3, 64, 64, 7, 0, 5).unwrap();
        let b = policy.apply_image(&img, 3, 64, 64, 7, 0, 5).unwrap();
        assert_eq!(a, b, "{}: same key, same bytes", policy.name());
        assert_eq!(a.len(), img.len());
        let differ = (1..6)
            .filter(|e| policy.apply_image(&img, 3, 64, 64, 7, *e, 5).unwrap() != a)
            .count();
        assert!(
            differ >= 4,
            "{}: epochs should differ ({differ} of 5 did)",
            policy.name()
        );
    }
    assert!(Policy::None.apply_image(&img, 3, 64, 64, 7, 0, 5).is_none());
}

fn batch(n: usize, len: usize) -> Vec<f32> {
    (0..n * len)
        .map(|i| (i / len) as f32 * 10.0 + (i % 7) as f32)
        .collect()
}

#[test]
fn mixup_lambda_is_beta_1_1_and_pairs_with_the_previous_sample() {
    let mix = CutmixMixup::default();
    let (n, c, h, w) = (4, 3, 8, 8);
    let labels = [0i64, 3, 3, 9];
    let mut lams = Vec::new();
    let mut choices = 0;
    for b in 0..4000 {
        let orig = batch(n, c * h * w);
        let mut x = orig.clone();
        let (soft, mixed) = mix.apply(&mut x, &labels, c, h, w, &mut Rng::keyed(1, 0, b, 2));
        for row in soft.chunks(10) {
            assert!(
                (row.iter().sum::<f32>() - 1.0).abs() < 1e-5,
                "label mass {row:?}"
            );
        }
        if let Mixed::MixUp { lam } = mixed {
            choices += 1;
            lams.push(lam);
            let l = lam as f32;
            let len = c * h * w;
            // Sample 0 pairs with the last one, sample 2 with sample 1.
            assert!((x[0] - (l * orig[0] + (1.0 - l) * orig[3 * len])).abs() < 1e-3);
            assert!(
                (x[2 * len + 5] - (l * orig[2 * len + 5] + (1.0 - l) * orig[len + 5])).abs() < 1e-3
            );
            assert!((soft[0] - l).abs() < 1e-5 && (soft[9] - (1.0 - l)).abs() < 1e-5);
            assert!(
                (soft[20 + 3] - 1.0).abs() < 1e-5,
                "both of sample 2's labels are 3"
            );
        }
    }
    let rate = choices as f64 / 4000.0;
    assert!((rate - 0.5).abs() < 0.03, "mixup chosen {rate}");
    let k = lams.len() as f64;
    let mean = lams.iter().sum::<f64>() / k;
    let var = lams.iter().map(|l| (l - mean).powi(2)).sum::<f64>() / k;
    assert!((mean - 0.5).abs() < 0.02, "mean {mean}");
    assert!((var - 1.0 / 12.0).abs() < 0.01, "var {var}");
}

#[test]
fn cutmix_box_area_follows_lambda_and_sets_the_labels() {
    let mix = CutmixMixup::default();
    let (n, c, h, w) = (3, 3, 64, 64);
    let labels = [1i64, 2, 5];
    let mut checked = 0;
    for b in 0..3000 {
        let orig = batch(n, c * h * w);
        let mut x = orig.clone();
        let (soft, mixed) = mix.apply(&mut x, &labels, c, h, w, &mut Rng::keyed(2, 0, b, 2));
        let Mixed::CutMix {
            lam,
            lam_adjusted,
            y1,
            y2,
            x1,
            x2,
        } = mixed
        else {
            continue;
        };
        let area = (y2 - y1) * (x2 - x1);
        let changed = x[..h * w]
            .iter()
            .zip(&orig[..h * w])
            .filter(|(a, b)| a != b)
            .count();
        assert_eq!(changed, area, "the pasted region is the box");
        assert!((lam_adjusted - (1.0 - area as f64 / (h * w) as f64)).abs() < 1e-9);
        assert!(
            (soft[1] - lam_adjusted as f32).abs() < 1e-5
                && (soft[5] - (1.0 - lam_adjusted) as f32).abs() < 1e-5
        );
        // Away from the border the box is 2*int(r*W) on a side, r = sqrt(1-lam)/2.
        let unclamped = y1 > 0 && x1 > 0 && y2 < h && x2 < w;
        if unclamped {
            let side = 2.0 * (0.5 * (1.0 - lam).sqrt() * w as f64).floor();
            assert_eq!((x2 - x1) as f64, side);
            assert!((area as f64 / (h * w) as f64 - (1.0 - lam)).abs() <= 4.0 / w as f64 + 1e-9);
            checked += 1;
        }
    }
    assert!(checked > 150, "only {checked} unclamped boxes");
}

fn reference() -> Reader {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../tests/fixtures/generated/data/reference.safetensors");
    assert!(path.exists(), "missing fixture {}: run `scripts/fixtures/data.py` with the torch venv's python ($PIPE_PYTHON)", path.display());
    Reader::open(&path).unwrap()
}

#[test]
fn augmix_changes_images_as_much_as_torchvision() {
    let mut r = reference();
    let (shape, src) = r.read_u8("augmix_src").unwrap();
    let t = r.info("augmix_change", "F32", 4).unwrap().clone();
    let mut raw = vec![0u8; t.end - t.start];
    r.read_bytes("augmix_change", 0, &mut raw).unwrap();
    let mut theirs: Vec<f64> = raw
        .chunks(4)
        .map(|b| f64::from(f32::from_le_bytes(b.try_into().unwrap())))
        .collect();
    let (n, c, h, w) = (shape[0], shape[1], shape[2], shape[3]);
    let a = AugMix::default();
    let mut ours = Vec::new();
    for draw in 0..theirs.len() / n {
        for i in 0..n {
            let img = &src[i * c * h * w..(i + 1) * c * h * w];
            let out = a.apply(img, c, h, w, &mut Rng::keyed(3, draw as u64, i as u64, 1));
            ours.push(
                out.iter()
                    .zip(img)
                    .map(|(x, y)| (f64::from(*x) - f64::from(*y)).abs())
                    .sum::<f64>()
                    / img.len() as f64,
            );
        }
    }
    let stats = |v: &mut Vec<f64>| {
        v.sort_by(f64::total_cmp);
        (
            v.iter().sum::<f64>() / v.len() as f64,
            v[v.len() / 4],
            v[v.len() / 2],
            v[3 * v.len() / 4],
        )
    };
    let (om, oq1, omed, oq3) = stats(&mut ours);
    let (tm, tq1, tmed, tq3) = stats(&mut theirs);
    println!("mean |change|: ours {om:.2} (quartiles {oq1:.2} {omed:.2} {oq3:.2}), torchvision {tm:.2} ({tq1:.2} {tmed:.2} {tq3:.2})");
    assert!((om - tm).abs() < 0.15 * tm, "means {om} vs {tm}");
    assert!(
        (omed - tmed).abs() < 0.2 * tmed + 0.3,
        "medians {omed} vs {tmed}"
    );
}

#[test]
fn the_kind_writes_a_policy_that_loads_back() {
    let dir = tempfile::tempdir().unwrap();
    for (policy, extra) in [
        ("augmix", vec![]),
        (
            "pspnet",
            vec![(
                "fill",
                Value::List(vec![Value::Int(1), Value::Int(2), Value::Int(3)]),
            )],
        ),
        ("cutmix_mixup", vec![]),
        ("none", vec![]),
    ] {
        let mut given = vec![("policy", s(policy))];
        given.extend(extra);
        let out = run(&Augment, &given, &[], &dir.path().join(policy)).unwrap();
        let loaded = Policy::load(out.file("policy.json").unwrap()).unwrap();
        assert_eq!(loaded.name(), policy);
        match loaded {
            Policy::Augmix(a) => assert_eq!(a, AugMix::default()),
            Policy::Pspnet(p) => assert_eq!(p.fill, [1, 2, 3]),
            Policy::CutmixMixup(m) => assert_eq!(m, CutmixMixup::default()),
            Policy::None => {}
        }
    }
}
