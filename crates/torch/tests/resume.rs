//! Never lose a run: a run that failed after an epoch resumes from its
//! checkpoint and ends bit-identical to an uninterrupted one, and a run
//! with more epochs continues a finished shorter one (CPU).

#[path = "support/tiny.rs"]
mod tiny;

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::atomic::AtomicBool;

use pipe_data::augment::{CutmixMixup, Policy, Pspnet};
use pipe_engine::Progress;
use pipe_torch::metrics::read_csv;
use pipe_torch::optim::OptimConfig;
use pipe_torch::train::{train, Hooks, Inputs, Mode, Saved, TrainSpec};

fn spec(epochs: usize, optim: OptimConfig) -> TrainSpec {
    let mut s = TrainSpec::new("tiny", Mode::Scratch, epochs);
    s.device = "cpu".into();
    s.batch_size = 8;
    s.eval_batch_size = 7;
    s.num_classes = 4;
    s.seed = 3;
    s.optim = optim;
    s
}

fn run(
    spec: &TrainSpec,
    inputs: &Inputs,
    out: &Path,
    work: &Path,
    fail_after: Option<usize>,
) -> pipe_engine::Result<BTreeMap<String, f64>> {
    let progress = Progress::hidden();
    let cancel = AtomicBool::new(false);
    let hooks = Hooks {
        fail_after_epoch: fail_after,
        builder: Some(&tiny::tiny),
        ..Hooks::quiet(&progress, &cancel)
    };
    train(spec, inputs, out, work, &hooks)?;
    Ok(progress.measurements())
}

/// SGD with momentum, as the report trains.
fn sgd() -> OptimConfig {
    OptimConfig::Sgd {
        lr: 0.05,
        momentum: 0.9,
        weight_decay: 0.0,
        nesterov: false,
    }
}

/// 40 training and 20 test images of 8x8 pixels in 4 classes, under `t/data`.
fn tiny_inputs(t: &Path) -> Inputs {
    let (train, test) = tiny::write_data(&t.join("data"), 40, 20, 8, 4);
    Inputs {
        train,
        test,
        ..Inputs::default()
    }
}

fn bytes(p: &Path) -> Vec<u8> {
    std::fs::read(p).unwrap_or_else(|e| panic!("{}: {e}", p.display()))
}

/// Every output file of two runs is byte-identical: timings and how a run
/// got there are measurements, not outputs.
fn same_outputs(a: &Path, b: &Path) {
    for f in [
        "metrics.csv",
        "run.json",
        "last.safetensors",
        "best.safetensors",
        "state.safetensors",
    ] {
        assert!(
            bytes(&a.join(f)) == bytes(&b.join(f)),
            "{f} of {} differs from {}",
            b.display(),
            a.display()
        );
    }
}

fn check_resume_and_extension(optim: OptimConfig, policy: Option<Policy>) {
    let tmp = tempfile::tempdir().unwrap();
    let t = tmp.path();
    let inputs = Inputs {
        policy,
        ..tiny_inputs(t)
    };

    // Uninterrupted: 3 epochs.
    run(
        &spec(3, optim.clone()),
        &inputs,
        &t.join("a"),
        &t.join("a-work"),
        None,
    )
    .unwrap();
    let rows_a = read_csv(&t.join("a/metrics.csv")).unwrap();
    assert_eq!(rows_a.len(), 3);

    // Fails after epoch 1 (as a crash would), then the same stage runs again.
    let err = run(
        &spec(3, optim.clone()),
        &inputs,
        &t.join("b"),
        &t.join("b-work"),
        Some(1),
    );
    assert!(err.is_err());
    assert!(!t.join("b/metrics.csv").exists());
    let measured = run(
        &spec(3, optim.clone()),
        &inputs,
        &t.join("b"),
        &t.join("b-work"),
        None,
    )
    .unwrap();
    assert_eq!(measured.get("resumed_from_epoch"), Some(&1.0));
    assert!(measured["images_per_s"] > 0.0, "{measured:?}");
    same_outputs(&t.join("a"), &t.join("b"));

    // 2 epochs finished and cached; then epochs: 3 continues from them.
    run(
        &spec(2, optim.clone()),
        &inputs,
        &t.join("c2"),
        &t.join("c2-work"),
        None,
    )
    .unwrap();
    let prior = Inputs {
        prior: Some((2, Saved::in_dir(&t.join("c2")))),
        ..inputs.clone()
    };
    let measured = run(
        &spec(3, optim),
        &prior,
        &t.join("c3"),
        &t.join("c3-work"),
        None,
    )
    .unwrap();
    assert_eq!(measured.get("continued_from_epochs"), Some(&2.0));
    assert_eq!(measured.get("resumed_from_epoch"), None);
    same_outputs(&t.join("a"), &t.join("c3"));
    // The first two rows are the cached run's own.
    assert_eq!(
        read_csv(&t.join("c2/metrics.csv")).unwrap()[..],
        read_csv(&t.join("c3/metrics.csv")).unwrap()[..2]
    );
}

#[test]
fn sgd_run_resumes_and_extends_bit_identically() {
    check_resume_and_extension(
        OptimConfig::Sgd {
            lr: 0.05,
            momentum: 0.9,
            weight_decay: 1e-4,
            nesterov: false,
        },
        None,
    );
}

#[test]
fn adam_run_resumes_and_extends_bit_identically() {
    check_resume_and_extension(
        OptimConfig::Adam {
            lr: 0.01,
            betas: (0.9, 0.999),
            eps: 1e-8,
            weight_decay: 0.0,
        },
        None,
    );
}

#[test]
fn augmented_runs_resume_bit_identically() {
    // Batches come from the CPU loader: per-image (PSPNet) and per-batch
    // soft-label (CutMix/MixUp) policies.
    let sgd = sgd();
    check_resume_and_extension(sgd.clone(), Some(Policy::Pspnet(Pspnet::default())));
    check_resume_and_extension(
        sgd,
        Some(Policy::CutmixMixup(CutmixMixup {
            num_classes: 4,
            ..CutmixMixup::default()
        })),
    );
}

#[test]
fn augmentation_changes_training() {
    let tmp = tempfile::tempdir().unwrap();
    let t = tmp.path();
    let plain = tiny_inputs(t);
    let mixed = Inputs {
        policy: Some(Policy::CutmixMixup(CutmixMixup {
            num_classes: 4,
            ..CutmixMixup::default()
        })),
        ..plain.clone()
    };
    // `none` through the loader visits the same batches as the device path.
    let none = Inputs {
        policy: Some(Policy::None),
        ..plain.clone()
    };
    let sgd = sgd();
    run(
        &spec(1, sgd.clone()),
        &plain,
        &t.join("plain"),
        &t.join("w1"),
        None,
    )
    .unwrap();
    run(
        &spec(1, sgd.clone()),
        &mixed,
        &t.join("mixed"),
        &t.join("w2"),
        None,
    )
    .unwrap();
    run(&spec(1, sgd), &none, &t.join("none"), &t.join("w3"), None).unwrap();
    let last = |d: &str| bytes(&t.join(d).join("last.safetensors"));
    assert!(last("plain") != last("mixed"));
    assert!(last("plain") == last("none"));
}

#[test]
fn a_longer_run_keeps_training_where_a_shorter_one_stopped() {
    // Guards the test above against passing vacuously: later epochs change
    // the weights.
    let tmp = tempfile::tempdir().unwrap();
    let t = tmp.path();
    let inputs = tiny_inputs(t);
    let sgd = sgd();
    run(
        &spec(1, sgd.clone()),
        &inputs,
        &t.join("one"),
        &t.join("w1"),
        None,
    )
    .unwrap();
    run(&spec(2, sgd), &inputs, &t.join("two"), &t.join("w2"), None).unwrap();
    assert!(bytes(&t.join("one/last.safetensors")) != bytes(&t.join("two/last.safetensors")));
}
