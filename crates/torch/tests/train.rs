//! Training: optimizers and the soft-label loss against PyTorch, a few
//! steps reduce the loss for every model, mode and optimizer, transfer mode
//! trains only the head while BatchNorm statistics move, and the `train`
//! and `evaluate` kinds run end to end through a [`Context`] (CPU).

#[path = "support/tiny.rs"]
mod tiny;

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::sync::atomic::AtomicBool;

use pipe_engine::kind::{History, WorkDirs};
use pipe_engine::{Artifact, ContentHash, Context, Kind, Params, Progress, Value};
use pipe_torch::optim::{OptimConfig, Optimizer};
use pipe_torch::train::session::{prepare, step};
use pipe_torch::train::{Mode, TrainSpec};
use tch::{nn, Device, Kind as Dtype, Reduction, Tensor};

fn fixture(name: &str) -> HashMap<String, Tensor> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../tests/fixtures/generated")
        .join(name);
    assert!(
        path.exists(),
        "missing fixture {}: run `scripts/make-fixtures.sh` (it runs scripts/fixtures/training.py)",
        path.display()
    );
    Tensor::read_safetensors(&path)
        .unwrap()
        .into_iter()
        .collect()
}

fn max_abs_diff(a: &Tensor, b: &Tensor) -> f64 {
    (a - b).abs().max().double_value(&[])
}

#[test]
fn optimizers_match_pytorch() {
    let f = fixture("training.safetensors");
    let configs = [
        (
            "sgd",
            OptimConfig::Sgd {
                lr: 0.1,
                momentum: 0.9,
                weight_decay: 0.01,
                nesterov: false,
            },
        ),
        (
            "sgd_nesterov",
            OptimConfig::Sgd {
                lr: 0.05,
                momentum: 0.9,
                weight_decay: 0.0,
                nesterov: true,
            },
        ),
        (
            "sgd_plain",
            OptimConfig::Sgd {
                lr: 0.1,
                momentum: 0.0,
                weight_decay: 0.0,
                nesterov: false,
            },
        ),
        (
            "adam",
            OptimConfig::Adam {
                lr: 0.01,
                betas: (0.9, 0.999),
                eps: 1e-8,
                weight_decay: 0.01,
            },
        ),
    ];
    for (name, config) in configs {
        let p = f["p0"].copy().set_requires_grad(true);
        let mut opt = Optimizer::new(config, vec![("p".into(), p.shallow_clone())]);
        let grads = &f["grads"];
        for i in 0..grads.size()[0] {
            // the gradient of sum(p * g) is exactly g
            opt.minimize(&(&p * grads.get(i)).sum(Dtype::Float))
                .unwrap();
            let want = f[name].get(i);
            let d = max_abs_diff(&p.detach(), &want);
            assert!(
                d < 1e-6,
                "{name} step {}: differs from torch.optim by {d}",
                i + 1
            );
        }
    }
}

#[test]
fn soft_label_loss_matches_pytorch() {
    let f = fixture("training.safetensors");
    let (logits, target) = (&f["ce_logits"], &f["ce_target"]);
    // What `train` computes for CutMix/MixUp batches.
    let ours = logits.cross_entropy_loss::<Tensor>(target, None, Reduction::Mean, -100, 0.0);
    let formula = -(target * logits.log_softmax(1, Dtype::Float))
        .sum_dim_intlist(1, false, Dtype::Float)
        .mean(Dtype::Float);
    let torch = f["ce_loss"].get(0);
    assert!(max_abs_diff(&ours, &torch) < 1e-6);
    assert!(max_abs_diff(&ours, &formula) < 1e-6);
}

/// A fixed batch: `n` images 32x32 and labels.
fn batch(n: i64, classes: i64) -> (Tensor, Tensor) {
    let (images, labels) = tiny::dataset(n as usize, 32, classes, 7);
    let x = (images.to_kind(Dtype::Float) / 255.0 - 0.45) / 0.25;
    (x, labels)
}

/// Saves a differently seeded model as "pretrained" weights with another
/// class count (so loading must skip the head).
fn pretrained(model: &str, dir: &Path) -> PathBuf {
    let mut spec = TrainSpec::new(model, Mode::Scratch, 1);
    spec.seed = 99;
    spec.num_classes = 7;
    let progress = Progress::hidden();
    let p = prepare(&spec, Device::Cpu, 32, None, None, &progress).unwrap();
    let path = dir.join(format!("{model}.safetensors"));
    let vars: Vec<(String, Tensor)> = p.vs.variables().into_iter().collect();
    Tensor::write_safetensors(&vars, &path).unwrap();
    path
}

fn snapshot(vs: &nn::VarStore) -> BTreeMap<String, Tensor> {
    vs.variables()
        .into_iter()
        .map(|(k, v)| (k, v.detach().copy()))
        .collect()
}

fn sgd() -> OptimConfig {
    OptimConfig::Sgd {
        lr: 0.003,
        momentum: 0.9,
        weight_decay: 0.0,
        nesterov: false,
    }
}

fn adam() -> OptimConfig {
    OptimConfig::Adam {
        lr: 1e-4,
        betas: (0.9, 0.999),
        eps: 1e-8,
        weight_decay: 0.0,
    }
}

/// Every mode with both optimizers.
fn all_runs() -> Vec<(Mode, OptimConfig)> {
    [Mode::Transfer, Mode::Finetune, Mode::Scratch]
        .into_iter()
        .flat_map(|m| [(m, sgd()), (m, adam())])
        .collect()
}

/// Runs `steps` steps on one batch for each (mode, optimizer); checks the
/// loss falls, and in transfer mode that only the head and BatchNorm
/// statistics change.
fn few_steps_reduce_loss(model: &str, runs: Vec<(Mode, OptimConfig)>, steps: usize) {
    let tmp = tempfile::tempdir().unwrap();
    let weights = pretrained(model, tmp.path());
    let (x, y) = batch(8, 10);
    let file: HashMap<String, Tensor> = Tensor::read_safetensors(&weights)
        .unwrap()
        .into_iter()
        .collect();
    let progress = Progress::hidden();
    for (mode, optim) in runs {
        let what = format!("{model} {} {}", mode.name(), optim.name());
        let mut spec = TrainSpec::new(model, mode, 1);
        spec.optim = optim;
        let w = (mode != Mode::Scratch).then_some(weights.as_path());
        let mut p = prepare(&spec, Device::Cpu, 32, w, None, &progress).unwrap();
        // Copies of every variable only where they are compared (ViT is big).
        let before = if mode == Mode::Transfer {
            snapshot(&p.vs)
        } else {
            BTreeMap::new()
        };
        let head = p.model.head();
        let head_rows = p.vs.variables()[&format!("{head}.weight")].size()[0];
        let mut losses = Vec::new();
        for _ in 0..steps {
            let (loss, _) = step(p.model.as_ref(), &mut p.optim, &x, &y, false).unwrap();
            losses.push(loss.double_value(&[]));
        }
        // The loss after the updates, measured the same way (train mode).
        let after = tch::no_grad(|| {
            p.model.forward_t(&x, true).cross_entropy_loss::<Tensor>(
                &y,
                None,
                Reduction::Mean,
                -100,
                0.0,
            )
        });
        let (first, last) = (losses[0], after.double_value(&[]));
        assert!(last < first, "{what}: loss {first} -> {last} ({losses:?})");
        if mode == Mode::Transfer {
            check_transfer(&what, p.model.head(), &before, &snapshot(&p.vs));
        }
        // The head is new (10 classes, the file has 7).
        assert_eq!(head_rows, 10, "{what}");
        if mode == Mode::Transfer {
            // Frozen, so still equal to the file: the weights were loaded.
            let vars = p.vs.variables();
            let body = vars
                .keys()
                .find(|k| !k.starts_with(head) && !k.contains("running"))
                .unwrap();
            assert!(
                vars[body].equal(&file[body]),
                "{what}: `{body}` was not loaded"
            );
        }
    }
}

fn check_transfer(
    what: &str,
    head: &str,
    before: &BTreeMap<String, Tensor>,
    after: &BTreeMap<String, Tensor>,
) {
    let mut head_changed = false;
    let mut stats = 0;
    let mut stats_changed = 0;
    for (name, b) in before {
        let same = b.equal(&after[name]);
        if name.starts_with(&format!("{head}.")) {
            head_changed |= !same;
        } else if name.ends_with("running_mean") || name.ends_with("running_var") {
            stats += 1;
            stats_changed += usize::from(!same);
        } else {
            assert!(same, "{what}: frozen `{name}` changed");
        }
    }
    assert!(head_changed, "{what}: the head did not train");
    assert_eq!(
        stats_changed, stats,
        "{what}: BatchNorm running statistics must keep updating"
    );
}

#[test]
fn resnet50_steps_reduce_loss() {
    few_steps_reduce_loss("resnet50", all_runs(), 3);
}

#[test]
fn densenet201_steps_reduce_loss() {
    few_steps_reduce_loss("densenet201", all_runs(), 3);
}

#[test]
fn vit_b_16_steps_reduce_loss() {
    // ViT-B's 86M parameters make full updates slow on a CPU: both
    // optimizers in transfer mode, one each for the other modes.
    let runs = vec![
        (Mode::Transfer, sgd()),
        (Mode::Transfer, adam()),
        (Mode::Finetune, sgd()),
        (Mode::Scratch, adam()),
    ];
    few_steps_reduce_loss("vit_b_16", runs, 2);
}

/// Results of earlier runs of the same stage, by `epochs`.
struct Earlier(Vec<(Value, Artifact)>);

impl History for Earlier {
    fn variants(&self, param: &str) -> Vec<(Value, Artifact)> {
        if param == "epochs" {
            self.0.clone()
        } else {
            Vec::new()
        }
    }
}

fn artifact(stage: &str, dir: &Path) -> Artifact {
    let files = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap())
        .map(|e| (e.file_name().to_string_lossy().into_owned(), e.path()))
        .collect();
    Artifact {
        stage: stage.into(),
        matrix: BTreeMap::new(),
        hash: ContentHash::of(stage.as_bytes()),
        files,
    }
}

/// Every declared parameter with its default, then `set` applied.
fn params(kind: &Kind, set: &[(&str, Value)]) -> Params {
    let mut map: BTreeMap<String, Value> = kind
        .params()
        .iter()
        .map(|p| {
            (
                p.name.to_string(),
                p.default.map_or(Value::Null, |d| d.to_value()),
            )
        })
        .collect();
    for (k, v) in set {
        map.insert(k.to_string(), v.clone());
    }
    Params(map)
}

fn run_kind(
    kind: &Kind,
    params: &Params,
    inputs: &BTreeMap<String, Vec<Artifact>>,
    out: &Path,
    work: &Path,
    history: &dyn History,
) -> BTreeMap<String, f64> {
    let progress = Progress::hidden();
    let cancel = AtomicBool::new(false);
    let ctx = Context {
        stage: "test",
        params,
        inputs,
        out,
        work,
        gpus: &[],
        progress: &progress,
        history,
        input_dirs: &WorkDirs,
        cancel: &cancel,
        pipeline_file: Path::new("test.yaml"),
        pipeline_hash: ContentHash::of(b"test"),
    };
    kind.run(&ctx)
        .unwrap_or_else(|e| panic!("{}: {e} ({:?})", kind.name(), e.hint()));
    progress.measurements()
}

#[test]
fn train_and_evaluate_kinds_run_through_a_context() {
    let tmp = tempfile::tempdir().unwrap();
    let t = tmp.path();
    tiny::write_data(&t.join("data"), 12, 10, 16, 10);
    let data = artifact("resize", &t.join("data"));
    let inputs: BTreeMap<String, Vec<Artifact>> = [("data".to_string(), vec![data.clone()])].into();
    let train = pipe_torch::kinds::train::KIND;
    let set = |epochs: i64| {
        params(
            &train,
            &[
                ("model", Value::Str("resnet18".into())),
                ("mode", Value::Str("scratch".into())),
                ("epochs", Value::Int(epochs)),
                ("batch_size", Value::Int(4)),
                ("device", Value::Str("cpu".into())),
            ],
        )
    };
    assert!(train.check(&set(1)).is_empty());
    run_kind(
        &train,
        &set(1),
        &inputs,
        &t.join("one"),
        &t.join("one-work"),
        &pipe_engine::kind::NoHistory,
    );
    for f in [
        "metrics.csv",
        "best.safetensors",
        "last.safetensors",
        "state.safetensors",
        "run.json",
    ] {
        assert!(t.join("one").join(f).exists(), "missing output {f}");
    }
    // epochs: 2 continues the cached 1-epoch run found in the history.
    let history = Earlier(vec![(Value::Int(1), artifact("train", &t.join("one")))]);
    let measured = run_kind(
        &train,
        &set(2),
        &inputs,
        &t.join("two"),
        &t.join("two-work"),
        &history,
    );
    let run: serde_json::Value =
        serde_json::from_slice(&std::fs::read(t.join("two/run.json")).unwrap()).unwrap();
    assert_eq!(measured.get("continued_from_epochs"), Some(&1.0));
    assert!(run.get("wall_seconds").is_none(), "{run}");
    assert_eq!(run["epochs"], 2);
    assert_eq!(run["model"], "resnet18");
    assert_eq!(run["params_total"], run["params_trainable"]);
    let rows = pipe_torch::metrics::read_csv(&t.join("two/metrics.csv")).unwrap();
    assert_eq!(rows.iter().map(|r| r.epoch).collect::<Vec<_>>(), vec![1, 2]);

    // Python can load best.safetensors with torchvision's names: every
    // BatchNorm has its num_batches_tracked.
    let best: HashMap<String, Tensor> = Tensor::read_safetensors(t.join("two/best.safetensors"))
        .unwrap()
        .into_iter()
        .collect();
    assert!(best.contains_key("fc.weight") && best.contains_key("bn1.num_batches_tracked"));

    let evaluate = pipe_torch::kinds::evaluate::KIND;
    let eval_inputs: BTreeMap<String, Vec<Artifact>> = [
        ("model".to_string(), vec![artifact("train", &t.join("two"))]),
        ("data".to_string(), vec![data]),
    ]
    .into();
    let p = params(&evaluate, &[("device", Value::Str("cpu".into()))]);
    run_kind(
        &evaluate,
        &p,
        &eval_inputs,
        &t.join("eval"),
        &t.join("eval-work"),
        &pipe_engine::kind::NoHistory,
    );
    let m: serde_json::Value =
        serde_json::from_slice(&std::fs::read(t.join("eval/metrics.json")).unwrap()).unwrap();
    // The evaluation of the best checkpoint reproduces that epoch's test loss.
    let best_row = &rows[run["best_epoch"].as_u64().unwrap() as usize - 1];
    assert!(
        (m["loss"].as_f64().unwrap() - best_row.test_loss).abs() < 1e-5,
        "{m} vs {best_row:?}"
    );
    assert_eq!(m["accuracy"].as_f64().unwrap(), best_row.test_acc);
}
