//! The data benchmark's Rust side (driven by `benches/data.sh`; not a test).
//!
//! `data_bench images <out.safetensors> <n>`: writes `n` synthetic 96x96
//! STL-10-like images for both sides to share.
//! `data_bench kernels <images.safetensors> <threads>`: times resize
//! 96->224, pspnet, augmix and cutmix_mixup at 224; prints one JSON line.
//! `data_bench decode-resize <dir>`: writes a full-size synthetic archive
//! (13,000 images), then in a child process decodes and resizes it to 224
//! (peak RSS measured by the caller with `/usr/bin/time -v`).

use std::path::Path;
use std::sync::atomic::AtomicBool;
use std::time::Instant;

use pipe_data::augment::{AugMix, CutmixMixup, Pspnet};
use pipe_data::kinds::resize::resize_file;
use pipe_data::resize::Resizer;
use pipe_data::rng::Rng;
use pipe_data::synthetic::{split, write_archive, Spec};
use pipe_data::Dataset;
use pipe_engine::Progress;
use rayon::prelude::*;

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let arg = |i: usize| args.get(i).cloned().unwrap_or_else(|| usage());
    match arg(1).as_str() {
        "images" => {
            let n: usize = arg(3).parse().unwrap_or_else(|_| usage());
            let spec = Spec {
                seed: 1,
                train_per_class: n.div_ceil(10),
                test_per_class: 1,
                image_size: 96,
                task: 0,
                noise: 0.1,
            };
            let mut d = split(&spec, 0, spec.train_per_class).expect("fits in memory");
            d.n = n;
            d.images.truncate(n * d.image_len());
            d.labels.truncate(n);
            d.save(Path::new(&arg(2))).expect("write images");
        }
        "kernels" => kernels(
            Path::new(&arg(2)),
            arg(3).parse().unwrap_or_else(|_| usage()),
        ),
        "decode-resize" => {
            let dir_arg = arg(2);
            let dir = Path::new(&dir_arg);
            let archive = dir.join("stl10_binary.tar.gz");
            if !archive.exists() {
                let spec = Spec {
                    seed: 1,
                    train_per_class: 500,
                    test_per_class: 800,
                    image_size: 96,
                    task: 0,
                    noise: 0.1,
                };
                write_archive(&spec, &archive).expect("write archive");
            }
            let (p, cancel) = (Progress::hidden(), AtomicBool::new(false));
            let t = Instant::now();
            let s = pipe_data::stl10::extract(&archive, dir, false, &p, &cancel).expect("decode");
            let decoded = t.elapsed().as_secs_f64();
            for split in ["train", "test"] {
                let from = dir.join(format!("{split}.safetensors"));
                resize_file(
                    &from,
                    &dir.join(format!("{split}_224.safetensors")),
                    224,
                    &p,
                    &cancel,
                )
                .expect("resize");
            }
            println!(
                "{{\"decoded\": {}, \"decode_s\": {decoded:.2}, \"total_s\": {:.2}}}",
                s.train + s.test,
                t.elapsed().as_secs_f64()
            );
        }
        _ => usage(),
    }
}

fn usage() -> ! {
    eprintln!(
        "usage: data_bench images <out> <n> | kernels <images> <threads> | decode-resize <dir>"
    );
    std::process::exit(2)
}

/// CPU seconds this process has used (user + system), from /proc: on a
/// shared machine, throughput per CPU second is the fair per-core number.
fn cpu_seconds() -> f64 {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    // Fields after the `(comm)`; utime and stime are the 12th and 13th.
    let rest = stat.rsplit(')').next().unwrap_or("");
    let f: Vec<f64> = rest
        .split_whitespace()
        .map(|x| x.parse().unwrap_or(0.0))
        .collect();
    (f.get(11).unwrap_or(&0.0) + f.get(12).unwrap_or(&0.0)) / 100.0
}

/// Runs `f` once to warm up, then times it; returns images per wall
/// second and per CPU second.
fn rate(n: usize, mut f: impl FnMut()) -> (f64, f64) {
    f();
    let (t, c) = (Instant::now(), cpu_seconds());
    f();
    (
        n as f64 / t.elapsed().as_secs_f64(),
        n as f64 / (cpu_seconds() - c).max(0.01),
    )
}

fn kernels(path: &Path, threads: usize) {
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(threads)
        .build()
        .expect("pool");
    let d = Dataset::load(path).expect("read images");
    let (c, n) = (d.channels, d.n);
    let r = Resizer::new(96, 96, 224, 224);
    let out_len = r.out_len(c);
    let mut big = vec![0u8; n * out_len];
    let resize = pool.install(|| {
        rate(n, || {
            big.par_chunks_mut(out_len)
                .zip(d.images.par_chunks(d.image_len()))
                .for_each_init(Vec::new, |s, (o, i)| r.image(i, c, o, s));
        })
    });
    // The augmentations run on the 224 images, as in training.
    let m = 500.min(n);
    let img = |i: usize| &big[i * out_len..(i + 1) * out_len];
    let per_image = |f: &(dyn Fn(&[u8], &mut Rng) -> Vec<u8> + Sync)| {
        pool.install(|| {
            rate(m, || {
                (0..m).into_par_iter().for_each(|i| {
                    let mut rng = Rng::keyed(1, 0, i as u64, 1);
                    std::hint::black_box(f(img(i), &mut rng));
                });
            })
        })
    };
    let psp = Pspnet::default();
    let pspnet = per_image(&|x, rng| psp.apply(x, c, 224, 224, rng));
    let am = AugMix::default();
    let augmix = per_image(&|x, rng| am.apply(x, c, 224, 224, rng));
    // CutMix/MixUp on float batches of 50 (conversion to float not timed,
    // as torchvision's side starts from float batches too).
    let bs = 50;
    let batches = (n / bs).min(20);
    let mut floats: Vec<Vec<f32>> = (0..batches)
        .map(|b| {
            big[b * bs * out_len..(b + 1) * bs * out_len]
                .iter()
                .map(|&v| f32::from(v))
                .collect()
        })
        .collect();
    let labels: Vec<i64> = (0..bs as i64).map(|i| i % 10).collect();
    let mix = CutmixMixup::default();
    let cutmix_mixup = pool.install(|| {
        rate(batches * bs, || {
            for (b, x) in floats.iter_mut().enumerate() {
                let mut rng = Rng::keyed(1, 0, b as u64, 2);
                std::hint::black_box(mix.apply(x, &labels, c, 224, 224, &mut rng));
            }
        })
    });
    let mut json = format!("{{\"threads\": {threads}");
    for (name, (wall, cpu)) in [
        ("resize", resize),
        ("pspnet", pspnet),
        ("augmix", augmix),
        ("cutmix_mixup", cutmix_mixup),
    ] {
        json += &format!(", \"{name}\": {wall:.1}, \"{name}_cpu\": {cpu:.1}");
    }
    println!("{json}}}");
}
