//! What is committed beside the code stays true to it: the generated stage
//! kind reference and the pipelines.
#![cfg(feature = "torch")]

/// docs/stage-kinds.md is generated from the same declarations as `pipe
/// schema`; this fails when a kind changed and the page was not regenerated.
#[test]
fn stage_kinds_reference_is_current() {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_pipe"))
        .args(["kinds", "--format", "markdown"])
        .output()
        .expect("pipe runs");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let committed =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/docs/stage-kinds.md"))
            .unwrap();
    assert!(
        String::from_utf8_lossy(&out.stdout) == committed,
        "docs/stage-kinds.md is stale: run `pipe kinds --format markdown > docs/stage-kinds.md`"
    );
}

/// The committed pipelines stay valid (what `pipe check pipelines/*.yaml`
/// does in CI).
#[test]
fn committed_pipelines_check() {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/pipelines");
    let mut files: Vec<_> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "yaml"))
        .collect();
    files.sort();
    assert!(files.len() >= 2, "pipelines/ has paper.yaml and quick.yaml");
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_pipe"))
        .arg("check")
        .args(&files)
        .output()
        .expect("pipe runs");
    assert!(
        out.status.success(),
        "pipe check failed:\n{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}
