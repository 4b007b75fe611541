//! Architecture invariants (docs/ARCHITECTURE.md), enforced mechanically:
//! the engine knows no machine learning, and only the registry names kinds.

use std::collections::{BTreeSet, HashMap};
use std::process::Command;

/// Every package `name` depends on, transitively (normal dependencies only).
fn transitive_deps(name: &str) -> BTreeSet<String> {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let out = Command::new(cargo)
        // Only this platform's packages: the others (Windows-only crates) may
        // not be downloaded, and --offline must not need them.
        .args(["metadata", "--format-version", "1", "--offline"])
        .args(["--filter-platform", env!("PIPE_TARGET_TRIPLE")])
        .arg("--manifest-path")
        .arg(concat!(env!("CARGO_MANIFEST_DIR"), "/Cargo.toml"))
        .output()
        .expect("cargo metadata runs");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let meta: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let names: HashMap<&str, &str> = meta["packages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| (p["id"].as_str().unwrap(), p["name"].as_str().unwrap()))
        .collect();
    let nodes = meta["resolve"]["nodes"].as_array().unwrap();
    let deps: HashMap<&str, Vec<&str>> = nodes
        .iter()
        .map(|n| {
            let normal = n["deps"]
                .as_array()
                .unwrap()
                .iter()
                .filter(|d| {
                    d["dep_kinds"]
                        .as_array()
                        .unwrap()
                        .iter()
                        .any(|k| k["kind"].is_null())
                })
                .map(|d| d["pkg"].as_str().unwrap())
                .collect();
            (n["id"].as_str().unwrap(), normal)
        })
        .collect();
    let start = names
        .iter()
        .find(|(_, n)| **n == name)
        .map(|(id, _)| *id)
        .expect("package exists");
    let mut seen = BTreeSet::new();
    let mut stack = vec![start];
    while let Some(id) = stack.pop() {
        for dep in deps.get(id).into_iter().flatten() {
            if seen.insert(names[dep].to_string()) {
                stack.push(dep);
            }
        }
    }
    seen
}

#[test]
fn engine_depends_on_no_ml_image_or_plot_crate() {
    let deps = transitive_deps("pipe-engine");
    for banned in [
        "tch",
        "torch-sys",
        "plotters",
        "image",
        "pipe-data",
        "pipe-torch",
        "pipe-report",
        "rayon",
    ] {
        assert!(
            !deps.contains(banned),
            "pipe-engine must not depend on `{banned}`"
        );
    }
}

#[test]
fn data_report_and_torch_declarations_build_without_libtorch() {
    for krate in ["pipe-data", "pipe-report", "pipe-torch-spec"] {
        let deps = transitive_deps(krate);
        assert!(
            !deps.contains("tch") && !deps.contains("torch-sys"),
            "`{krate}` must not need libtorch"
        );
    }
}

#[test]
fn only_the_registry_names_every_kind() {
    let src =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/src/registry.rs")).unwrap();
    for krate in ["pipe_engine", "pipe_data", "pipe_report"] {
        assert!(
            src.contains(&format!("{krate}::register(")),
            "registry.rs must register `{krate}`'s kinds"
        );
    }
    // The libtorch kinds: declared here, run by the worker.
    assert!(src.contains("pipe_torch_spec::DECLARATIONS"));
    let worker = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/src/bin/pipe-torch.rs"
    ))
    .unwrap();
    assert!(worker.contains("pipe_torch::register("));
}

/// The SLURM client (`crates/slurm`) is a cluster client: it builds without
/// libtorch and knows no stage kind.
#[test]
fn slurm_client_needs_no_libtorch_and_no_kind_crate() {
    let deps = transitive_deps("pipe-slurm");
    for banned in ["tch", "torch-sys", "pipe-data", "pipe-torch", "pipe-report"] {
        assert!(
            !deps.contains(banned),
            "pipe-slurm must not depend on `{banned}`"
        );
    }
}
