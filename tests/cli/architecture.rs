//! Architecture invariants (docs/ARCHITECTURE.md), enforced mechanically:
//! the engine knows no machine learning, and only the registry names kinds
//! (`kinds`, which also keeps kinds declared one way).

mod kinds;

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
        // The engine stays synchronous and knows no S3 (docs/remote.md).
        "pipe-remote",
        "object_store",
        "tokio",
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

/// The engine's layers, bottom up (docs/ARCHITECTURE.md, "Layers"): the
/// top-level modules of `crates/engine/src` each belong to one, and a module
/// may import only from what its layer lists.
const LAYERS: &[(&str, &[&str], &[&str])] = &[
    // (layer, its top-level modules, what it may import)
    (
        "base",
        &["error", "diagnostic", "hash", "render"],
        &["base"],
    ),
    // A kind's whole-pipeline check (`Kind::check_stage`) reads the
    // resolved pipeline: the format's product, as for execution.
    (
        "kind API",
        &["kind"],
        &["base", "kind API", "format::pipeline"],
    ),
    ("format", &["format"], &["base", "kind API", "format"]),
    ("kinds", &["kinds"], &["base", "kind API", "kinds"]),
    (
        "execution",
        &["execution"],
        // Of the format, only its product: the resolved pipeline and the
        // stage-name patterns that select from it.
        &[
            "base",
            "kind API",
            "format::pipeline",
            "format::pattern",
            "execution",
        ],
    ),
];

/// The layer of a path inside the engine (`format::yaml::Pos` -> `format`),
/// and the same path's two first segments (`format::yaml`).
fn layer_of(path: &str) -> Option<(&'static str, String)> {
    let mut segments = path.split("::");
    let top = segments.next()?;
    let layer = LAYERS.iter().find(|(_, m, _)| m.contains(&top))?.0;
    let two = match segments.next() {
        Some(second) => format!("{top}::{second}"),
        None => top.to_string(),
    };
    Some((layer, two))
}

/// Every `crate::a::b` a source file names outside comments and its tests,
/// with its line number; `use crate::{a, b::c}` gives `a` and `b::c`.
fn engine_paths(source: &str) -> Vec<(usize, String)> {
    let mut found = Vec::new();
    for (i, line) in source.lines().enumerate() {
        let code = line.trim_start();
        if code.starts_with("#[cfg(test)]") {
            break; // Tests may build anything.
        }
        if code.starts_with("//") {
            continue;
        }
        let mut rest = line;
        while let Some(at) = rest.find("crate::") {
            rest = &rest[at + "crate::".len()..];
            if let Some(group) = rest.strip_prefix('{') {
                let end = group.find('}').unwrap_or(group.len());
                for item in group[..end].split(',') {
                    let item = item.trim();
                    if !item.is_empty() {
                        found.push((i + 1, item.to_string()));
                    }
                }
                continue;
            }
            let end = rest
                .find(|c: char| !(c.is_alphanumeric() || c == '_' || c == ':'))
                .unwrap_or(rest.len());
            found.push((i + 1, rest[..end].trim_end_matches(':').to_string()));
        }
    }
    found
}

fn rust_files(dir: &std::path::Path, out: &mut Vec<std::path::PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// The problems with the imports of the engine's sources under `src`.
fn upward_imports(src: &std::path::Path) -> Vec<String> {
    let mut files = Vec::new();
    rust_files(src, &mut files);
    files.sort();
    let mut problems = Vec::new();
    let mut seen_layers = BTreeSet::new();
    for file in &files {
        let rel = file.strip_prefix(src).unwrap();
        if rel == std::path::Path::new("lib.rs") {
            continue; // The crate root re-exports every layer.
        }
        let module = rel.to_string_lossy().replace('/', "::");
        let module = module.trim_end_matches(".rs");
        let Some((layer, _)) = layer_of(module) else {
            problems.push(format!(
                "{}: `{module}` belongs to no layer (add it to LAYERS and docs/ARCHITECTURE.md)",
                rel.display()
            ));
            continue;
        };
        seen_layers.insert(layer);
        let allowed = LAYERS.iter().find(|(l, _, _)| *l == layer).unwrap().2;
        let source = std::fs::read_to_string(file).unwrap();
        for (line, path) in engine_paths(&source) {
            match layer_of(&path) {
                None => problems.push(format!(
                    "{}:{line}: `crate::{path}` names no layer's module (import it by its layer's path)",
                    rel.display()
                )),
                Some((target, two)) if !allowed.contains(&target) && !allowed.contains(&two.as_str()) => {
                    problems.push(format!(
                        "{}:{line}: `crate::{path}` points up or sideways: the {layer} layer may import only {allowed:?}",
                        rel.display()
                    ))
                }
                Some(_) => {}
            }
        }
    }
    for (layer, _, _) in LAYERS {
        if !seen_layers.contains(layer) {
            problems.push(format!("no source file found for the {layer} layer"));
        }
    }
    problems
}

#[test]
fn engine_imports_only_point_down() {
    let src = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("crates/engine/src");
    let problems = upward_imports(&src);
    assert!(problems.is_empty(), "{}", problems.join("\n"));
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

/// The remote cache (`crates/remote`) talks S3 and hands the engine
/// verified files: it builds without libtorch and knows no stage kind.
#[test]
fn remote_cache_needs_no_libtorch_and_no_kind_crate() {
    let deps = transitive_deps("pipe-remote");
    assert!(deps.contains("object_store"));
    for banned in ["tch", "torch-sys", "pipe-data", "pipe-torch", "pipe-report"] {
        assert!(
            !deps.contains(banned),
            "pipe-remote must not depend on `{banned}`"
        );
    }
}
