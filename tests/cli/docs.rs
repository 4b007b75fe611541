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

/// Every ```yaml block in README.md and docs/ is a pipeline `pipe check`
/// accepts: examples a reader copies must work (issue 11, item 8).
#[test]
fn every_yaml_block_in_the_docs_checks() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut pages = vec![root.join("README.md")];
    for e in std::fs::read_dir(root.join("docs")).unwrap() {
        let path = e.unwrap().path();
        if path.extension().is_some_and(|x| x == "md") {
            pages.push(path);
        }
    }
    pages.sort();
    let tmp = tempfile::tempdir().unwrap();
    let mut files = Vec::new();
    for page in &pages {
        let text = std::fs::read_to_string(page).unwrap();
        let mut block: Option<String> = None;
        for line in text.lines() {
            match &mut block {
                None if line.trim_start() == "```yaml" => block = Some(String::new()),
                Some(b) if line.trim_start() == "```" => {
                    let stem = page.file_stem().unwrap().to_string_lossy();
                    let file = tmp.path().join(format!("{stem}-{}.yaml", files.len()));
                    std::fs::write(&file, &*b).unwrap();
                    files.push(file);
                    block = None;
                }
                Some(b) => {
                    b.push_str(line);
                    b.push('\n');
                }
                None => {}
            }
        }
    }
    assert!(files.len() >= 3, "found only {} yaml blocks", files.len());
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_pipe"))
        .arg("check")
        .args(&files)
        .env("NO_COLOR", "1")
        .output()
        .expect("pipe runs");
    assert!(
        out.status.success(),
        "a yaml block in the docs fails `pipe check`:\n{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}
