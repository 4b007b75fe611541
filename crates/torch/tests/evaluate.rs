//! The `evaluate` kind's numbers equal a direct computation: one forward
//! pass over the whole test split, cross-entropy by hand, predictions
//! counted in Rust.

#[path = "support/tiny.rs"]
mod tiny;

use std::sync::atomic::AtomicBool;

use pipe_engine::Progress;
use pipe_torch::evaluate::{evaluate_run, write_outputs, Request};
use pipe_torch::train::{train, Hooks, Inputs, Mode, TrainSpec};
use tch::{nn, Device, Kind, Tensor};

#[test]
fn evaluate_matches_a_direct_computation() {
    let tmp = tempfile::tempdir().unwrap();
    let t = tmp.path();
    let classes = 3;
    let (train_path, test_path) = tiny::write_data(&t.join("data"), 30, 23, 8, classes);
    let mut spec = TrainSpec::new("tiny", Mode::Scratch, 2);
    spec.device = "cpu".into();
    spec.batch_size = 10;
    spec.num_classes = classes;
    spec.optim = pipe_torch::optim::OptimConfig::Sgd {
        lr: 0.1,
        momentum: 0.9,
        weight_decay: 0.0,
        nesterov: false,
    };
    let progress = Progress::hidden();
    let cancel = AtomicBool::new(false);
    let hooks = Hooks {
        builder: Some(&tiny::tiny),
        ..Hooks::quiet(&progress, &cancel)
    };
    let inputs = Inputs {
        train: train_path,
        test: test_path.clone(),
        ..Inputs::default()
    };
    train(&spec, &inputs, &t.join("run"), &t.join("work"), &hooks).unwrap();

    let req = Request {
        run_json: t.join("run/run.json"),
        weights: t.join("run/last.safetensors"),
        test: test_path.clone(),
        batch_size: 4, // not a divisor of 23: the last batch is partial
        device: Device::Cpu,
    };
    let tally = evaluate_run(&req, Some(&tiny::tiny)).unwrap();

    // Direct: the whole split at once.
    let vs = nn::VarStore::new(Device::Cpu);
    let model = tiny::tiny(&vs.root(), classes, 8).unwrap();
    let saved: std::collections::HashMap<String, Tensor> =
        Tensor::read_safetensors(t.join("run/last.safetensors"))
            .unwrap()
            .into_iter()
            .collect();
    for (name, mut var) in vs.variables() {
        tch::no_grad(|| var.copy_(&saved[&name]));
    }
    let data: std::collections::HashMap<String, Tensor> = Tensor::read_safetensors(&test_path)
        .unwrap()
        .into_iter()
        .collect();
    let (images, labels) = (&data["images"], &data["labels"]);
    let mean = Tensor::from_slice(&[0.485f32, 0.456, 0.406]).view([1, 3, 1, 1]);
    let std = Tensor::from_slice(&[0.229f32, 0.224, 0.225]).view([1, 3, 1, 1]);
    let x = (images.to_kind(Kind::Float) / 255.0 - mean) / std;
    let logits = tch::no_grad(|| model.forward_t(&x, false)).to_kind(Kind::Double);
    let logp = logits.log_softmax(1, Kind::Double);
    let picked = logp.gather(1, &labels.view([-1, 1]), false);
    let loss = -picked.mean(Kind::Double).double_value(&[]);
    let pred = Vec::<i64>::try_from(logits.argmax(1, false)).unwrap();
    let truth = Vec::<i64>::try_from(labels).unwrap();
    let mut confusion = vec![vec![0u64; classes as usize]; classes as usize];
    for (&y, &p) in truth.iter().zip(&pred) {
        confusion[y as usize][p as usize] += 1;
    }
    let correct = truth.iter().zip(&pred).filter(|(y, p)| y == p).count();

    assert_eq!(tally.count, 23);
    assert!(
        (tally.loss() - loss).abs() < 1e-5,
        "loss {} vs direct {loss}",
        tally.loss()
    );
    assert_eq!(tally.accuracy(), correct as f64 / 23.0);
    assert_eq!(tally.confusion, confusion);
    for (c, acc) in tally.per_class_accuracy().iter().enumerate() {
        let n: u64 = confusion[c].iter().sum();
        assert_eq!(*acc, confusion[c][c] as f64 / n as f64);
    }

    // The files say the same.
    write_outputs(&t.join("eval"), &tally).unwrap();
    let json: serde_json::Value =
        serde_json::from_slice(&std::fs::read(t.join("eval/metrics.json")).unwrap()).unwrap();
    assert_eq!(json["accuracy"].as_f64(), Some(correct as f64 / 23.0));
    assert_eq!(json["confusion"][0][0].as_u64(), Some(confusion[0][0]));
    let csv = std::fs::read_to_string(t.join("eval/confusion.csv")).unwrap();
    assert_eq!(csv.lines().count(), classes as usize + 1);
    let row1: Vec<u64> = csv
        .lines()
        .nth(2)
        .unwrap()
        .split(',')
        .skip(1)
        .map(|v| v.parse().unwrap())
        .collect();
    assert_eq!(row1, confusion[1]);
    let per_class = std::fs::read_to_string(t.join("eval/per_class.csv")).unwrap();
    assert!(per_class.starts_with("class,count,correct,accuracy\n0,"));
}
