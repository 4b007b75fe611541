//! Training-step throughput of pipe's models, optimizer and data path, for
//! comparison with PyTorch eager (benches/train_torch.py takes the same
//! arguments and prints the same lines). Used by benches/train_cpu.sh and
//! scripts/gpu-bench.sh.
//!
//! cargo build --release --example train_bench
//! train_bench --models resnet50,vit_b_16 --modes transfer,finetune --amp none,bf16 \
//!             --batch 8 --size 224 --steps 5 --warmup 2 --device cpu --threads 2 \
//!             [--layout auto|flat|per-tensor] [--median]
//!
//! Each step is what `train` does per batch: gather a uint8 batch on the
//! device, normalise it there, forward in train mode, cross-entropy,
//! backward, SGD (lr 0.001, momentum 0.9). Prints one line per
//! configuration: `pipe <model> <mode> <amp> <images/s>`.

use std::time::Instant;

use pipe_engine::{Error, Progress, Result};
use pipe_torch::optim::Optimizer;
use pipe_torch::train::data::{Normalizer, Split};
use pipe_torch::train::session::{freeze_all_but, prepare, step, trainable};
use pipe_torch::train::{Mode, TrainSpec};
use tch::{Device, Kind, Tensor};

struct Args {
    models: Vec<String>,
    modes: Vec<String>,
    amps: Vec<String>,
    batch: i64,
    size: i64,
    steps: usize,
    warmup: usize,
    device: String,
    threads: Option<i32>,
    /// The optimizer's layout: `None` as `train` picks it (one buffer on a
    /// GPU, per parameter on the CPU), or forced flat (`true`) or per
    /// parameter (`false`).
    flat: Option<bool>,
    /// Report the median step rather than the mean over all steps (robust
    /// to a busy neighbour on a shared machine; each step is synchronised).
    median: bool,
    /// Instead of timing, run whole `train` stages on tiny synthetic data
    /// in this directory (plain, bf16 + channels-last, augmented) and check
    /// that they finish: a smoke test of the device path.
    smoke: Option<std::path::PathBuf>,
}

fn parse() -> std::result::Result<Args, String> {
    let mut a = Args {
        models: vec!["resnet50".into(), "densenet201".into(), "vit_b_16".into()],
        modes: vec!["transfer".into(), "finetune".into()],
        amps: vec!["none".into()],
        batch: 8,
        size: 224,
        steps: 5,
        warmup: 2,
        device: "auto".into(),
        threads: None,
        flat: None,
        median: false,
        smoke: None,
    };
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        let mut value = || it.next().ok_or_else(|| format!("`{flag}` needs a value"));
        let list = |v: String| v.split(',').map(str::to_string).collect::<Vec<_>>();
        let num = |v: String| v.parse::<i64>().map_err(|e| format!("`{flag}`: {e}"));
        match flag.as_str() {
            "--models" => a.models = list(value()?),
            "--modes" => a.modes = list(value()?),
            "--amp" => a.amps = list(value()?),
            "--batch" => a.batch = num(value()?)?,
            "--size" => a.size = num(value()?)?,
            "--steps" => a.steps = num(value()?)? as usize,
            "--warmup" => a.warmup = num(value()?)? as usize,
            "--device" => a.device = value()?,
            "--threads" => a.threads = Some(num(value()?)? as i32),
            "--median" => a.median = true,
            "--layout" => {
                a.flat = match value()?.as_str() {
                    "auto" => None,
                    "flat" => Some(true),
                    "per-tensor" => Some(false),
                    other => return Err(format!("`--layout {other}`: auto, flat or per-tensor")),
                }
            }
            "--smoke" => a.smoke = Some(value()?.into()),
            other => return Err(format!("unknown argument `{other}`")),
        }
    }
    Ok(a)
}

fn main() -> std::process::ExitCode {
    let args = match parse() {
        Ok(a) => a,
        Err(e) => {
            eprintln!("error: {e}");
            return std::process::ExitCode::from(2);
        }
    };
    if let Some(n) = args.threads {
        tch::set_num_threads(n);
    }
    let outcome = match &args.smoke {
        Some(dir) => smoke(&args, dir),
        None => run(&args),
    };
    match outcome {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            std::process::ExitCode::FAILURE
        }
    }
}

fn run(args: &Args) -> Result<()> {
    let device = pipe_torch::device::resolve(&args.device, &[])?;
    eprint!("{}", pipe_torch::doctor::report().render());
    eprintln!("pipe: device {}", pipe_torch::device::describe(device));
    for amp in &args.amps {
        let bf16 = match amp.as_str() {
            "none" => false,
            "bf16" => true,
            other => return Err(Error::failed(format!("unknown amp `{other}`"))),
        };
        if bf16 {
            pipe_torch::device::check_autocast()?;
        }
        for model in &args.models {
            for mode in &args.modes {
                let rate = bench(args, device, model, Mode::parse(mode)?, bf16)?;
                println!("pipe {model} {mode} {amp} {rate:.2}");
            }
        }
    }
    Ok(())
}

fn bench(args: &Args, device: Device, model: &str, mode: Mode, bf16: bool) -> Result<f64> {
    let spec = TrainSpec::new(model, Mode::Scratch, 1);
    let progress = Progress::hidden();
    let vs;
    let net;
    let mut optim;
    if let Some(flat) = args.flat {
        vs = tch::nn::VarStore::new(device);
        net = pipe_torch::models::build(model, &vs.root(), 10, args.size)?;
        if mode == Mode::Transfer {
            freeze_all_but(&vs, net.head());
        }
        optim = Optimizer::with_layout(spec.optim.clone(), trainable(&vs), flat);
    } else {
        let p = prepare(&spec, device, args.size, None, None, &progress)?;
        (vs, net, optim) = (p.vs, p.model, p.optim);
        if mode == Mode::Transfer {
            freeze_all_but(&vs, net.head());
            optim = Optimizer::new(spec.optim.clone(), trainable(&vs));
        }
    }
    // A pool of two batches' worth of images on the device, gathered by a
    // random index each step like `train` does.
    let n = args.batch * 2;
    let images = Tensor::randint(256, [n, 3, args.size, args.size], (Kind::Uint8, device));
    let labels = Tensor::randint(10, [n], (Kind::Int64, device));
    let split = Split::new(images, labels).map_err(Error::failed)?;
    let norm = Normalizer::new([0.485, 0.456, 0.406], [0.229, 0.224, 0.225], device, false);
    let mut timed = None;
    let mut steps = Vec::with_capacity(args.steps);
    let mut last = Tensor::zeros([], (Kind::Float, device));
    for i in 0..args.warmup + args.steps {
        if i == args.warmup {
            sync(device, &last);
            timed = Some(Instant::now());
        }
        let t = Instant::now();
        let index = Tensor::randperm(n, (Kind::Int64, device)).narrow(0, 0, args.batch);
        let (x, y) = split.gather(&index);
        let (loss, _) = step(net.as_ref(), &mut optim, &norm.apply(&x), &y, bf16)?;
        last = loss;
        if args.median {
            sync(device, &last);
            steps.push(t.elapsed().as_secs_f64());
        }
    }
    sync(device, &last);
    let seconds = timed.map_or(0.0, |t| t.elapsed().as_secs_f64());
    if !last.double_value(&[]).is_finite() {
        return Err(Error::failed(format!("{model}: the loss is not finite")));
    }
    let per_step = if args.median {
        steps.drain(..args.warmup.min(steps.len()));
        steps.sort_by(f64::total_cmp);
        // The lower median, as Python's `statistics.median_low`.
        steps
            .get(steps.len().saturating_sub(1) / 2)
            .copied()
            .unwrap_or(0.0)
    } else {
        seconds / args.steps as f64
    };
    Ok(args.batch as f64 / per_step.max(1e-9))
}

fn sync(device: Device, last: &Tensor) {
    if let Device::Cuda(i) = device {
        tch::Cuda::synchronize(i as i64);
    }
    let _ = last.double_value(&[]);
}

/// Trains resnet18 for two epochs on 64 random 32x32 images, three ways,
/// then once more with `epochs: 3` continuing the first run.
fn smoke(args: &Args, dir: &std::path::Path) -> Result<()> {
    use pipe_data::augment::{Policy, Pspnet};
    use pipe_torch::train::{train, Hooks, Inputs, Saved};
    std::fs::create_dir_all(dir).map_err(|e| Error::io(dir, "create", e))?;
    let write = |name: &str, n: i64| -> Result<std::path::PathBuf> {
        let path = dir.join(name);
        let images = Tensor::randint(256, [n, 3, 32, 32], (Kind::Uint8, Device::Cpu));
        let labels = Tensor::randint(10, [n], (Kind::Int64, Device::Cpu));
        Tensor::write_safetensors(&[("images", &images), ("labels", &labels)], &path)
            .map_err(|e| Error::failed(e.to_string()))?;
        Ok(path)
    };
    let inputs = Inputs {
        train: write("train.safetensors", 64)?,
        test: write("test.safetensors", 40)?,
        ..Inputs::default()
    };
    let cancel = std::sync::atomic::AtomicBool::new(false);
    let mut spec = TrainSpec::new(
        args.models.first().map_or("resnet18", String::as_str),
        Mode::Scratch,
        2,
    );
    spec.device = args.device.clone();
    spec.batch_size = 16;
    let runs: Vec<(&str, TrainSpec, Inputs)> = vec![
        ("plain", spec.clone(), inputs.clone()),
        (
            "bf16",
            TrainSpec {
                bf16: true,
                channels_last: true,
                ..spec.clone()
            },
            inputs.clone(),
        ),
        (
            "pspnet",
            spec.clone(),
            Inputs {
                policy: Some(Policy::Pspnet(Pspnet::default())),
                ..inputs.clone()
            },
        ),
        (
            "extended",
            TrainSpec {
                epochs: 3,
                ..spec.clone()
            },
            Inputs {
                prior: Some((2, Saved::in_dir(&dir.join("plain")))),
                ..inputs.clone()
            },
        ),
    ];
    for (name, spec, inputs) in runs {
        // One per run: its measurements are that run's.
        let progress = Progress::hidden();
        let hooks = Hooks::quiet(&progress, &cancel);
        let t = Instant::now();
        let s = train(
            &spec,
            &inputs,
            &dir.join(name),
            &dir.join(format!("{name}-work")),
            &hooks,
        )?;
        println!(
            "smoke {name}: {} epochs on {} in {:.1}s, test loss {:.4}, continued from {:?} epochs",
            s.epochs,
            s.device,
            t.elapsed().as_secs_f64(),
            s.final_test_loss,
            progress.measurements().get("continued_from_epochs")
        );
    }
    Ok(())
}
