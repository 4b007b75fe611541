//! The checkpoint reader on `torch.save` files made by PyTorch itself
//! (scripts/fixtures/models.py) and on hand-made hostile files.

use std::io::Write;
use std::path::{Path, PathBuf};

use pipe_torch::checkpoint;
use tch::{nn, Device, Kind, Tensor};

#[path = "support/hostile.rs"]
mod hostile;

fn fixture(name: &str) -> PathBuf {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../tests/fixtures/generated/models")
        .join(name);
    assert!(
        path.exists(),
        "missing fixture `{}`: run `scripts/fixtures/models.py tests/fixtures/generated` with the torch venv's python (or scripts/make-fixtures.sh)",
        path.display()
    );
    path
}

fn same(a: &Tensor, b: &Tensor) -> bool {
    a.kind() == b.kind() && a.size() == b.size() && a.equal(b)
}

#[test]
fn reads_every_dtype_and_view_in_both_formats_like_pytorch() {
    let expected = Tensor::read_safetensors(fixture("tensors.safetensors")).expect("safetensors");
    for file in ["tensors.zip.pth", "tensors.legacy.pth"] {
        let got = checkpoint::read(&fixture(file)).expect("readable");
        let names: Vec<&str> = got.iter().map(|(k, _)| k.as_str()).collect();
        assert_eq!(
            names[..3],
            ["f32", "transposed", "sliced"],
            "file order kept in {file}"
        );
        assert_eq!(got.len(), expected.len(), "{file}");
        for (name, want) in &expected {
            let (_, have) = got
                .iter()
                .find(|(k, _)| k == name)
                .unwrap_or_else(|| panic!("{file}: no `{name}`"));
            assert!(
                same(have, want),
                "{file}: `{name}` differs: {have:?} vs {want:?}"
            );
        }
    }
}

/// The era of the published DenseNet weights: `_rebuild_tensor`, storages
/// saved from a GPU, a storage view in the persistent id.
#[test]
fn reads_a_pytorch_0_3_style_legacy_file_with_storage_views() {
    let expected = Tensor::read_safetensors(fixture("old2017.safetensors")).expect("safetensors");
    let got = checkpoint::read(&fixture("old2017.legacy.pth")).expect("readable");
    assert_eq!(got.len(), expected.len());
    for (name, want) in &expected {
        let (_, have) = got
            .iter()
            .find(|(k, _)| k == name)
            .unwrap_or_else(|| panic!("no `{name}`"));
        assert!(same(have, want), "`{name}` differs: {have:?} vs {want:?}");
    }
}

#[test]
fn reads_safetensors_too() {
    let got = checkpoint::read(&fixture("tensors.safetensors")).expect("readable");
    assert_eq!(got.len(), 14);
}

#[test]
fn renames_old_densenet_and_vit_keys_and_unwraps_nested_dicts() {
    let raw = checkpoint::read(&fixture("densenet201.oldnames.legacy.pth")).expect("readable");
    assert!(raw
        .iter()
        .any(|(k, _)| k == "features.denseblock1.denselayer1.norm.1.weight"));
    let current =
        checkpoint::read_current(&fixture("densenet201.oldnames.legacy.pth")).expect("readable");
    assert!(current
        .iter()
        .any(|(k, _)| k == "features.denseblock1.denselayer1.norm1.weight"));
    assert!(!current.iter().any(|(k, _)| k.contains(".norm.1.")));

    let vit = checkpoint::read_current(&fixture("vit_b_16.oldnames.zip.pth"))
        .expect("nested under `model`");
    assert_eq!(vit.len(), 152);
    assert!(vit
        .iter()
        .any(|(k, _)| k == "encoder.layers.encoder_layer_3.mlp.3.bias"));
}

#[test]
fn strict_load_lists_what_does_not_fit_and_skips_the_head_on_request() {
    let file = fixture("resnet50.zip.pth");
    // A 1000-class model: only the head differs.
    let mut vs = nn::VarStore::new(Device::Cpu);
    let _model = pipe_torch::models::build("resnet50", &vs.root(), 1000, 224).expect("builds");
    let err = checkpoint::load_weights(&mut vs, &file, None).expect_err("head shapes differ");
    let msg = err.to_string();
    assert!(
        msg.contains("shape mismatch (2)") && msg.contains("`fc.weight`"),
        "{msg}"
    );
    let before = vs.variables()["fc.weight"].copy();
    let report = checkpoint::load_weights(&mut vs, &file, Some("fc")).expect("head skipped");
    assert_eq!(report.skipped_head, ["fc.weight", "fc.bias"]);
    assert_eq!(report.ignored, 53, "num_batches_tracked");
    assert_eq!(report.loaded, 320 - 53 - 2);
    assert!(
        vs.variables()["fc.weight"].equal(&before),
        "head kept its init"
    );

    // The wrong model: missing and unexpected keys, nothing copied.
    let mut vs = nn::VarStore::new(Device::Cpu);
    let _model = pipe_torch::models::build("resnet18", &vs.root(), 10, 224).expect("builds");
    let before = vs.variables()["conv1.weight"].copy();
    let err = checkpoint::load_weights(&mut vs, &file, None).expect_err("not a resnet18");
    let msg = err.to_string();
    assert!(
        msg.contains("unexpected (") && msg.contains("`layer1.0.conv3.weight`"),
        "{msg}"
    );
    assert!(
        vs.variables()["conv1.weight"].equal(&before),
        "nothing copied on failure"
    );
}

/// A pickle that would run `os.system("echo pwned")` if unpickled by Python.
fn evil_pickle() -> Vec<u8> {
    let mut p = vec![0x80, 2];
    p.extend_from_slice(b"cos\nsystem\nq\x00X\x0a\x00\x00\x00echo pwnedq\x01\x85q\x02Rq\x03.");
    p
}

#[test]
fn refuses_a_legacy_file_that_names_a_foreign_global() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("evil.pth");
    std::fs::write(&path, evil_pickle()).expect("write");
    let err = checkpoint::read(&path).expect_err("refused");
    assert!(
        err.to_string()
            .contains("refusing to load `os.system`: not a tensor checkpoint"),
        "{err}"
    );
}

#[test]
fn refuses_a_zip_file_whose_pickle_names_a_foreign_global() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("evil.pt");
    let file = std::fs::File::create(&path).expect("create");
    let mut zip = zip::ZipWriter::new(file);
    let options =
        zip::write::SimpleFileOptions::default().compression_method(zip::CompressionMethod::Stored);
    zip.start_file("evil/data.pkl", options).expect("entry");
    // Protocol 4 spelling: STACK_GLOBAL on two strings.
    let mut p = vec![0x80, 4, 0x8c, 8];
    p.extend_from_slice(b"builtins");
    p.extend_from_slice(&[0x8c, 4]);
    p.extend_from_slice(b"eval");
    p.extend_from_slice(&[0x93, 0x8c, 4]);
    p.extend_from_slice(b"1+1)");
    p.extend_from_slice(&[0x85, b'R', b'.']);
    zip.write_all(&p).expect("write");
    zip.finish().expect("finish");
    let err = checkpoint::read(&path).expect_err("refused");
    assert!(
        err.to_string().contains("refusing to load `builtins.eval`"),
        "{err}"
    );
}

fn read_err(dir: &Path, name: &str, bytes: &[u8]) -> String {
    let path = dir.join(name);
    std::fs::write(&path, bytes).expect("write");
    checkpoint::read(&path).expect_err("refused").to_string()
}

/// 170 levels of memo copies would be 2^170 lists; the budget stops it at
/// a few hundred megabytes (F6).
#[test]
fn a_pickle_whose_memo_copies_double_per_level_is_refused_within_the_budget() {
    let dir = tempfile::tempdir().expect("tempdir");
    let bomb = hostile::legacy(&hostile::doubling_memo(170), &[], &[]);
    assert!(bomb.len() < 1500, "{} bytes", bomb.len());
    let err = read_err(dir.path(), "bomb.pth", &bomb);
    assert!(
        err.contains("the pickle builds more than 256 MB of values (memo copies count)"),
        "{err}"
    );
    // The same shape a few levels deep is an ordinary (if odd) pickle.
    let small = hostile::legacy(&hostile::doubling_memo(4), &[], &[]);
    let err = read_err(dir.path(), "small.pth", &small);
    assert!(err.contains("not a dict of tensors"), "{err}");
}

/// A million nested lists would overflow the stack when dropped (F7).
#[test]
fn a_deeply_nested_pickle_is_refused_before_it_overflows_the_stack() {
    let dir = tempfile::tempdir().expect("tempdir");
    let deep = hostile::legacy(&hostile::deep_nesting(1_000_000), &[], &[]);
    let err = read_err(dir.path(), "deep.pth", &deep);
    assert!(err.contains("values nested more than 100 deep"), "{err}");
    let ok = hostile::legacy(&hostile::deep_nesting(50), &[], &[]);
    let err = read_err(dir.path(), "fifty.pth", &ok);
    assert!(err.contains("not a dict of tensors"), "{err}");
}

/// One 1 MB storage viewed transposed 1000 times would copy 1 GB.
#[test]
fn views_may_not_copy_much_more_than_the_file_stores() {
    let dir = tempfile::tempdir().expect("tempdir");
    let err = read_err(
        dir.path(),
        "views.pth",
        &hostile::transposed_views(512, 1000),
    );
    assert!(
        err.contains("its views copy more than the file's 1 MB of storages plus 64 MB"),
        "{err}"
    );
    let path = dir.path().join("few.pth");
    std::fs::write(&path, hostile::transposed_views(512, 3)).expect("write");
    let got = checkpoint::read(&path).expect("three copies are fine");
    assert_eq!(got.len(), 3);
    assert_eq!(got[2].1.size(), [512, 512]);
}

/// A deflated storage entry of zeros far bigger than the file (a zip bomb)
/// is refused once it expands past 16 times the file plus 64 MB.
#[test]
fn a_zip_whose_storage_expands_past_the_allowance_is_refused() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("bomb.pt");
    let file = std::fs::File::create(&path).expect("create");
    let mut zip = zip::ZipWriter::new(file);
    let deflate = zip::write::SimpleFileOptions::default()
        .compression_method(zip::CompressionMethod::Deflated);
    zip.start_file("bomb/data.pkl", deflate).expect("entry");
    // {'t0': a 1x1 tensor of storage `0`, said to hold 2^28 floats (1 GiB)}
    let p = hostile::views(1, 1, 1 << 28);
    zip.write_all(&p).expect("write");
    zip.start_file("bomb/data/0", deflate).expect("entry");
    let zeros = vec![0u8; 1 << 20];
    for _ in 0..128 {
        zip.write_all(&zeros).expect("write");
    }
    zip.finish().expect("finish");
    let size = std::fs::metadata(&path).expect("size").len();
    assert!(size < 1 << 20, "{size} bytes");
    let err = checkpoint::read(&path).expect_err("refused");
    assert!(
        err.to_string()
            .contains("expands to more than 16 times its"),
        "{err}"
    );
    assert!(
        err.hint()
            .is_some_and(|h| h.contains("re-save the checkpoint")),
        "{err}"
    );
}

/// The fuzzer's seeds (fuzz/corpus/checkpoint) are valid checkpoints.
#[test]
fn every_file_of_the_fuzz_corpus_reads() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fuzz/corpus/checkpoint");
    let mut n = 0;
    for entry in std::fs::read_dir(&dir).expect("corpus") {
        let path = entry.expect("entry").path();
        let got = checkpoint::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        assert!(!got.is_empty(), "{}", path.display());
        n += 1;
    }
    assert!(n >= 4, "{n} corpus files");
}

#[test]
fn truncated_and_foreign_files_fail_clearly() {
    let dir = tempfile::tempdir().expect("tempdir");
    let full = std::fs::read(fixture("tensors.legacy.pth")).expect("read");
    let cut = dir.path().join("cut.pth");
    std::fs::write(&cut, &full[..full.len() - 10]).expect("write");
    let err = checkpoint::read(&cut).expect_err("truncated");
    assert!(err.to_string().contains("truncated"), "{err}");

    let text = dir.path().join("notes.pth");
    std::fs::write(&text, "hello").expect("write");
    let err = checkpoint::read(&text).expect_err("foreign");
    assert!(
        err.to_string().contains("not a PyTorch checkpoint"),
        "{err}"
    );
}

#[test]
fn reads_back_a_state_dict_saved_as_safetensors_by_tch() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("w.safetensors");
    let t = Tensor::arange(6, (Kind::Float, Device::Cpu)).view([2, 3]);
    Tensor::write_safetensors(&[("a.weight", &t)], &path).expect("write");
    let got = checkpoint::read(&path).expect("read");
    assert_eq!(got.len(), 1);
    assert!(got[0].1.equal(&t));
}

mod weights_kind {
    use std::collections::BTreeMap;
    use std::path::Path;
    use std::sync::atomic::AtomicBool;

    use pipe_engine::kind::{NoHistory, WorkDirs};
    use pipe_engine::{ContentHash, Context, Params, Progress, Value};
    use pipe_torch::kinds::weights::{hash_prefix, published_url};
    use pipe_torch::{checkpoint, models};
    use tch::{nn, Device};

    use super::fixture;

    fn params(set: &[(&str, Value)]) -> Params {
        let mut map: BTreeMap<String, Value> = pipe_torch::kinds::weights::KIND
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
            map.insert((*k).to_string(), v.clone());
        }
        Params(map)
    }

    fn run(params: &Params, out: &Path, work: &Path) -> pipe_engine::Result<()> {
        let progress = Progress::hidden();
        let cancel = AtomicBool::new(false);
        let inputs = BTreeMap::new();
        let ctx = Context {
            stage: "weights",
            params,
            inputs: &inputs,
            out,
            work,
            gpus: &[],
            progress: &progress,
            history: &NoHistory,
            input_dirs: &WorkDirs,
            cancel: &cancel,
            pipeline_file: Path::new("test.yaml"),
            pipeline_hash: ContentHash::of(b"test"),
        };
        pipe_torch::kinds::weights::KIND.run(&ctx)
    }

    fn json(out: &Path) -> serde_json::Value {
        serde_json::from_str(
            &std::fs::read_to_string(out.join("weights.json")).expect("weights.json"),
        )
        .expect("json")
    }

    #[test]
    fn the_catalog_has_the_reports_defaults_and_their_hash_prefixes() {
        let cases = [
            (
                "resnet50",
                "DEFAULT",
                "https://download.pytorch.org/models/resnet50-11ad3fa6.pth",
            ),
            (
                "resnet50",
                "IMAGENET1K_V1",
                "https://download.pytorch.org/models/resnet50-0676ba61.pth",
            ),
            (
                "densenet201",
                "DEFAULT",
                "https://download.pytorch.org/models/densenet201-c1103571.pth",
            ),
            (
                "vit_b_16",
                "DEFAULT",
                "https://download.pytorch.org/models/vit_b_16-c867db91.pth",
            ),
        ];
        for (model, variant, url) in cases {
            assert_eq!(
                published_url(model, variant).as_deref(),
                Some(url),
                "{model} {variant}"
            );
        }
        assert_eq!(published_url("resnet50", "IMAGENET1K_V9"), None);
        assert_eq!(
            hash_prefix("vit_b_16_lc_swag-4e70ced5.pth"),
            Some("4e70ced5")
        );
        assert_eq!(hash_prefix("weights.pth"), None);
        assert_eq!(hash_prefix("model-final.pth"), None);
    }

    #[test]
    fn check_rejects_unknown_variants_and_unverifiable_urls() {
        let problems = pipe_torch::kinds::weights::KIND.check(&params(&[
            ("model", Value::Str("resnet50".into())),
            ("variant", Value::Str("V9".into())),
        ]));
        assert!(
            problems
                .iter()
                .any(|(p, m)| p == "variant" && m.contains("`IMAGENET1K_V2`")),
            "{problems:?}"
        );
        let problems = pipe_torch::kinds::weights::KIND.check(&params(&[
            ("model", Value::Str("resnet50".into())),
            ("url", Value::Str("file:///tmp/weights.pth".into())),
        ]));
        assert!(
            problems
                .iter()
                .any(|(p, m)| p == "url" && m.contains("sha256")),
            "{problems:?}"
        );
        assert!(pipe_torch::kinds::weights::KIND
            .check(&params(&[("model", Value::Str("vit_b_16".into()))]))
            .is_empty());
    }

    #[test]
    fn a_local_legacy_densenet_becomes_current_safetensors_that_load_strictly() {
        let tmp = tempfile::tempdir().expect("tempdir");
        let (out, work) = (tmp.path().join("out"), tmp.path().join("work"));
        std::fs::create_dir_all(&out).expect("out");
        std::fs::create_dir_all(&work).expect("work");
        let file = fixture("densenet201.oldnames.legacy.pth");
        let p = params(&[
            ("model", Value::Str("densenet201".into())),
            ("path", Value::Str(file.display().to_string())),
        ]);
        run(&p, &out, &work).unwrap_or_else(|e| panic!("{e}"));
        let meta = json(&out);
        assert_eq!(meta["num_classes"], 10);
        assert_eq!(meta["image_size"], 224);
        assert_eq!(
            meta["renamed_keys"],
            98 * 10,
            "norm1 and norm2 (4 each), conv1, conv2 per dense layer"
        );
        let saved = checkpoint::read(&out.join("weights.safetensors")).expect("safetensors");
        assert!(saved
            .iter()
            .any(|(k, _)| k == "features.denseblock4.denselayer32.norm2.running_mean"));
        let mut vs = nn::VarStore::new(Device::Cpu);
        let _m = models::build("densenet201", &vs.root(), 10, 224).expect("builds");
        checkpoint::load_weights(&mut vs, &out.join("weights.safetensors"), None)
            .expect("loads strictly");

        // The wrong model is refused with the keys that do not fit.
        let p = params(&[
            ("model", Value::Str("densenet121".into())),
            ("path", Value::Str(file.display().to_string())),
        ]);
        let err = run(&p, &out, &work).expect_err("not a densenet121");
        assert!(err.to_string().contains("does not fit the model"), "{err}");
    }

    #[test]
    fn a_url_download_is_verified_by_the_sha256_prefix_in_its_name() {
        let tmp = tempfile::tempdir().expect("tempdir");
        let (out, work) = (tmp.path().join("out"), tmp.path().join("work"));
        std::fs::create_dir_all(&out).expect("out");
        std::fs::create_dir_all(&work).expect("work");
        let src = fixture("resnet50.zip.pth");
        let digest = pipe_data::Checksum::Sha256(String::new())
            .digest_of(&src)
            .expect("sha256");
        let good = tmp.path().join(format!("resnet50-{}.pth", &digest[..8]));
        std::fs::copy(&src, &good).expect("copy");
        let url = format!("file://{}", good.display());
        let p = params(&[
            ("model", Value::Str("resnet50".into())),
            ("url", Value::Str(url.clone())),
        ]);
        run(&p, &out, &work).unwrap_or_else(|e| panic!("{e}"));
        let meta = json(&out);
        assert_eq!(meta["source"], url.as_str());
        assert_eq!(meta["variant"], "IMAGENET1K_V2");
        assert_eq!(meta["tensors"], 320);

        let wrong = if digest.starts_with('0') {
            "11111111"
        } else {
            "00000000"
        };
        let bad = tmp.path().join(format!("resnet50-{wrong}.pth"));
        std::fs::copy(&src, &bad).expect("copy");
        std::fs::remove_dir_all(&work).expect("clean");
        std::fs::create_dir_all(&work).expect("work");
        let p = params(&[
            ("model", Value::Str("resnet50".into())),
            ("url", Value::Str(format!("file://{}", bad.display()))),
        ]);
        let err = run(&p, &out, &work).expect_err("checksum mismatch");
        assert!(
            err.to_string().contains(wrong) || err.to_string().contains("sha256"),
            "{err}"
        );
    }
}
