//! A mutation fuzzer for the checkpoint reader (`pipe_torch::checkpoint::read`:
//! zip, legacy pickle, safetensors), without coverage instrumentation, so it
//! runs on the stable toolchain against the ordinary build.
//!
//! It mutates the files of a corpus (bit flips, interesting bytes, pickle
//! opcodes, repeated and spliced chunks; inside a zip it mutates the
//! entries and re-zips them, so the pickle is reached past the CRCs), reads
//! each result, and keeps inputs that produce an error message not seen
//! before, a cheap stand-in for coverage. A panic, a read slower than
//! `--timeout` seconds, or a peak RSS above `--rss-limit-mb` stops it and
//! leaves the input in `--out`. See fuzz/README.md.
//!
//! ```sh
//! cargo run -p pipe-torch --example fuzz_checkpoint --locked -- \
//!     --seconds 600 --rss-limit-mb 2048 fuzz/corpus/checkpoint
//! cargo run -p pipe-torch --example fuzz_checkpoint --locked -- --replay FILE
//! ```

use std::collections::HashSet;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use pipe_torch::checkpoint;

/// Byte strings a pickle is made of, inserted whole.
const TOKENS: &[&[u8]] = &[
    b"(",
    b")",
    b"]",
    b"}",
    b"N",
    b".",
    b"0",
    b"1",
    b"2",
    b"a",
    b"e",
    b"l",
    b"t",
    b"d",
    b"s",
    b"u",
    b"R",
    b"b",
    b"Q",
    b"\x85",
    b"\x86",
    b"\x87",
    b"\x88",
    b"\x94",
    b"h\x00",
    b"h\x01",
    b"q\x00",
    b"q\x01",
    b"j\xff\xff\xff\x00",
    b"r\xff\xff\xff\x00",
    b"K\x00",
    b"K\xff",
    b"J\xff\xff\xff\x7f",
    b"J\x00\x00\x00\x80",
    b"M\xff\xff",
    b"\x8a\x08\xff\xff\xff\xff\xff\xff\xff\x7f",
    b"X\xff\xff\xff\x7f",
    b"X\x00\x00\x00\x00",
    b"\x8c\x07storage",
    b"\x8c\x01k",
    b"G\x7f\xf0\x00\x00\x00\x00\x00\x00",
    b"ctorch._utils\n_rebuild_tensor_v2\n",
    b"ctorch._utils\n_rebuild_parameter\n",
    b"ccollections\nOrderedDict\n",
    b"ctorch\nFloatStorage\n",
    b"ctorch\nSize\n",
    b"cos\nsystem\n",
    b"\x80\x02",
    b"\x95\x00\x00\x00\x00\x00\x00\x00\x00",
];

const INTERESTING: &[u8] = &[0, 1, 0x7f, 0x80, 0xff, b'(', b'.', b'h', b'q', b'2'];

/// splitmix64: a seeded, dependency-free generator.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }
}

struct Args {
    seconds: u64,
    seed: u64,
    rss_limit_mb: u64,
    timeout: u64,
    max_len: usize,
    out: PathBuf,
    corpus: Vec<PathBuf>,
    /// Reads this one file, timed, instead of fuzzing.
    replay: Option<PathBuf>,
}

fn args() -> Args {
    let mut a = Args {
        seconds: 60,
        seed: 1,
        rss_limit_mb: 2048,
        timeout: 10,
        max_len: 64 << 10,
        out: PathBuf::from("target/fuzz-checkpoint"),
        corpus: Vec::new(),
        replay: None,
    };
    let mut it = std::env::args().skip(1);
    while let Some(arg) = it.next() {
        let mut value = || it.next().unwrap_or_else(|| panic!("{arg} needs a value"));
        match arg.as_str() {
            "--seconds" => a.seconds = value().parse().expect("--seconds N"),
            "--seed" => a.seed = value().parse().expect("--seed N"),
            "--rss-limit-mb" => a.rss_limit_mb = value().parse().expect("--rss-limit-mb N"),
            "--timeout" => a.timeout = value().parse().expect("--timeout SECONDS"),
            "--max-len" => a.max_len = value().parse().expect("--max-len BYTES"),
            "--out" => a.out = PathBuf::from(value()),
            "--replay" => a.replay = Some(PathBuf::from(value())),
            _ => a.corpus.push(PathBuf::from(arg)),
        }
    }
    a
}

fn main() {
    let args = args();
    if let Some(file) = &args.replay {
        let t0 = Instant::now();
        let result = checkpoint::read(file).map(|t| t.len());
        println!(
            "{}: {result:?} in {:.1} ms, peak RSS {} MB",
            file.display(),
            t0.elapsed().as_secs_f64() * 1000.0,
            peak_rss_mb()
        );
        return;
    }
    let mut pool: Vec<Vec<u8>> = Vec::new();
    for dir in &args.corpus {
        let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
            .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
            .flatten()
            .map(|e| e.path())
            .collect();
        files.sort();
        for f in files {
            pool.push(std::fs::read(&f).expect("corpus file"));
        }
    }
    assert!(
        !pool.is_empty(),
        "usage: fuzz_checkpoint [options] CORPUS_DIR..."
    );
    std::fs::create_dir_all(&args.out).expect("out dir");
    let work = tempfile::tempdir_in(shm_or_tmp()).expect("temp dir");
    let input = work.path().join("input.pth");

    // A read that does not return within the timeout is a hang: the
    // watchdog keeps the input and ends the process.
    let started = Arc::new(AtomicU64::new(0));
    let epoch = Instant::now();
    {
        let (started, input, out, timeout) = (
            Arc::clone(&started),
            input.clone(),
            args.out.clone(),
            args.timeout,
        );
        std::thread::spawn(move || loop {
            std::thread::sleep(Duration::from_millis(500));
            let at = started.load(Ordering::Relaxed);
            let now = epoch.elapsed().as_millis() as u64;
            if at != 0 && now.saturating_sub(at) > timeout * 1000 {
                let _ = std::fs::copy(&input, out.join("hang.pth"));
                eprintln!(
                    "HANG: a read took over {timeout} s; input kept in {}",
                    out.join("hang.pth").display()
                );
                std::process::exit(3);
            }
        });
    }

    let mut rng = Rng(args.seed);
    let mut seen: HashSet<String> = HashSet::new();
    let (mut execs, mut oks, mut slowest) = (0u64, 0u64, Duration::ZERO);
    let deadline = epoch + Duration::from_secs(args.seconds);
    let mut last_report = Instant::now();
    while Instant::now() < deadline {
        let base = &pool[rng.below(pool.len())];
        let other = &pool[rng.below(pool.len())];
        let data = mutate(base, other, &mut rng, args.max_len);
        std::fs::write(&input, &data).expect("write input");
        started.store(epoch.elapsed().as_millis().max(1) as u64, Ordering::Relaxed);
        let t0 = Instant::now();
        let result = std::panic::catch_unwind(|| checkpoint::read(&input).map(|t| t.len()));
        let took = t0.elapsed();
        started.store(0, Ordering::Relaxed);
        slowest = slowest.max(took);
        execs += 1;
        match result {
            Err(_) => {
                let kept = args.out.join(format!("crash-{execs}.pth"));
                std::fs::write(&kept, &data).expect("keep crash");
                eprintln!(
                    "CRASH: the reader panicked; input kept in {}",
                    kept.display()
                );
                std::process::exit(1);
            }
            Ok(Ok(_)) => oks += 1,
            Ok(Err(e)) => {
                if seen.insert(feature(&e.to_string())) && pool.len() < 20_000 {
                    pool.push(data.clone());
                }
            }
        }
        if execs.is_multiple_of(256) {
            let rss = peak_rss_mb();
            if rss > args.rss_limit_mb {
                let kept = args.out.join(format!("oom-{execs}.pth"));
                std::fs::write(&kept, &data).expect("keep input");
                eprintln!(
                    "OOM: peak RSS {rss} MB over the limit; last input kept in {}",
                    kept.display()
                );
                std::process::exit(2);
            }
        }
        if last_report.elapsed() > Duration::from_secs(30) {
            last_report = Instant::now();
            report(execs, oks, seen.len(), pool.len(), slowest, epoch);
        }
    }
    report(execs, oks, seen.len(), pool.len(), slowest, epoch);
    println!("DONE: no crash, hang or RSS over {} MB", args.rss_limit_mb);
}

fn report(execs: u64, oks: u64, errors: usize, pool: usize, slowest: Duration, epoch: Instant) {
    let secs = epoch.elapsed().as_secs_f64();
    println!(
        "{secs:.0} s: {execs} execs ({:.0}/s), {oks} read fine, {errors} distinct errors, pool {pool}, slowest read {:.1} ms, peak RSS {} MB",
        execs as f64 / secs,
        slowest.as_secs_f64() * 1000.0,
        peak_rss_mb()
    );
}

/// An error message with its numbers and names blurred, so that "byte 17"
/// and "byte 18" count as one behaviour.
fn feature(message: &str) -> String {
    let mut out = String::new();
    let mut in_tick = false;
    for c in message.chars() {
        match c {
            '`' => {
                in_tick = !in_tick;
                out.push('`');
            }
            _ if in_tick => {}
            '0'..='9' => {
                if !out.ends_with('#') {
                    out.push('#');
                }
            }
            _ => out.push(c),
        }
    }
    out
}

fn mutate(base: &[u8], other: &[u8], rng: &mut Rng, max_len: usize) -> Vec<u8> {
    if base.starts_with(b"PK\x03\x04") && rng.below(4) != 0 {
        if let Some(z) = mutate_zip(base, other, rng, max_len) {
            return z;
        }
    }
    let mut data = base.to_vec();
    for _ in 0..1 + rng.below(4) {
        mutate_bytes(&mut data, other, rng);
    }
    data.truncate(max_len);
    data
}

/// Mutates one entry of a zip (the pickle more often than not) and writes
/// the archive again, so the reader gets past the zip's checksums.
fn mutate_zip(base: &[u8], other: &[u8], rng: &mut Rng, max_len: usize) -> Option<Vec<u8>> {
    let mut zip = zip::ZipArchive::new(std::io::Cursor::new(base)).ok()?;
    let mut entries = Vec::new();
    for i in 0..zip.len() {
        let mut f = zip.by_index(i).ok()?;
        let mut bytes = Vec::new();
        f.read_to_end(&mut bytes).ok()?;
        entries.push((f.name().to_string(), bytes));
    }
    let pkl = entries.iter().position(|(n, _)| n.ends_with("data.pkl"));
    let which = match pkl {
        Some(i) if rng.below(4) != 0 => i,
        _ => rng.below(entries.len()),
    };
    match rng.below(8) {
        0 => {
            // Rename an entry (a missing storage, a second data.pkl).
            let (name, _) = &mut entries[which];
            name.push_str(["x", "/data.pkl", ""][rng.below(3)]);
        }
        1 if entries.len() > 1 => {
            entries.remove(which);
        }
        _ => {
            let inner = if rng.below(3) == 0 {
                other
            } else {
                &entries[which].1.clone()
            };
            for _ in 0..1 + rng.below(4) {
                mutate_bytes(&mut entries[which].1, inner, rng);
            }
        }
    }
    let mut out = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    let method = if rng.below(8) == 0 {
        zip::CompressionMethod::Deflated
    } else {
        zip::CompressionMethod::Stored
    };
    let options = zip::write::SimpleFileOptions::default().compression_method(method);
    for (name, bytes) in &entries {
        out.start_file(name.as_str(), options).ok()?;
        out.write_all(bytes).ok()?;
    }
    let bytes = out.finish().ok()?.into_inner();
    (bytes.len() <= max_len).then_some(bytes)
}

fn mutate_bytes(data: &mut Vec<u8>, other: &[u8], rng: &mut Rng) {
    let at = rng.below(data.len() + 1);
    match rng.below(9) {
        0 if !data.is_empty() => {
            let i = rng.below(data.len());
            data[i] ^= 1 << rng.below(8);
        }
        1 if !data.is_empty() => {
            let i = rng.below(data.len());
            data[i] = INTERESTING[rng.below(INTERESTING.len())];
        }
        2 => {
            let t = TOKENS[rng.below(TOKENS.len())];
            data.splice(at..at, t.iter().copied());
        }
        3 if !data.is_empty() => {
            let end = (at + 1 + rng.below(16)).min(data.len());
            data.drain(at.min(end)..end);
        }
        4 if !data.is_empty() => {
            // Repeat a chunk many times: memo/nesting amplification.
            let start = rng.below(data.len());
            let len = 1 + rng.below(8.min(data.len() - start));
            let chunk = data[start..start + len].to_vec();
            let times = 1 + rng.below(512);
            let rep: Vec<u8> = chunk.iter().copied().cycle().take(len * times).collect();
            data.splice(at..at, rep);
        }
        5 if !other.is_empty() => {
            // Splice a piece of another input.
            let start = rng.below(other.len());
            let len = 1 + rng.below(64.min(other.len() - start));
            data.splice(at..at, other[start..start + len].iter().copied());
        }
        6 if data.len() >= 4 => {
            // A little-endian length or count set to an extreme.
            let i = rng.below(data.len() - 3);
            let v: u32 = [0, 1, 0x7fff_ffff, 0xffff_ffff, 1 << 28][rng.below(5)];
            data[i..i + 4].copy_from_slice(&v.to_le_bytes());
        }
        7 => data.truncate(at),
        _ => {
            let t = TOKENS[rng.below(TOKENS.len())];
            data.splice(at..at, t.iter().copied());
        }
    }
}

/// The peak resident set size of this process (VmHWM), in MB.
fn peak_rss_mb() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
        .map_or(0, |kb| kb / 1024)
}

fn shm_or_tmp() -> &'static Path {
    if Path::new("/dev/shm").is_dir() {
        Path::new("/dev/shm")
    } else {
        Path::new("/tmp")
    }
}
