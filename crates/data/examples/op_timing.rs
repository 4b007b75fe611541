use std::time::Instant;
use pipe_data::augment::augmix::OPS;
fn main() {
    let img: Vec<u8> = (0..3 * 224 * 224).map(|i| (i * 7 % 251) as u8).collect();
    for op in OPS {
        let mag = op.magnitude(2, 224, 224).map(|m| m.0).unwrap_or(0.0);
        let t = Instant::now();
        for _ in 0..50 { std::hint::black_box(op.apply(&img, 3, 224, 224, mag)); }
        println!("{op:?}: {:.3} ms", t.elapsed().as_secs_f64() * 1000.0 / 50.0);
    }
    let r = pipe_data::resize::Resizer::new(96, 96, 224, 224);
    let src: Vec<u8> = (0..3 * 96 * 96).map(|i| (i * 7 % 251) as u8).collect();
    let mut out = vec![0u8; 3 * 224 * 224];
    let mut s = Vec::new();
    let t = Instant::now();
    for _ in 0..500 { r.image(&src, 3, &mut out, &mut s); }
    println!("resize: {:.3} ms", t.elapsed().as_secs_f64() * 1000.0 / 500.0);
}
