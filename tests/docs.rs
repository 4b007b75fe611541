//! docs/stage-kinds.md is generated from the same declarations as
//! `pipe schema`; this fails when a kind changed and the page was not
//! regenerated (`pipe kinds --format markdown > docs/stage-kinds.md`).
#![cfg(feature = "torch")]

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
