//! The whole quick pipeline through the real local SLURM (every stage a
//! job running `pipe run-job`, torch kinds starting `pipe-torch` on the
//! node) against the same file run locally: the same key and the same
//! output hash for every stage, training included (its timings are
//! measurements in the manifest, not outputs). A rerun submits nothing.
//! Slow (a local and a cluster run of quick.yaml, about 5 minutes).

use crate::common::project::Project;

use pipe_slurm::testing::slurm_or_skip as slurm;

/// quick.yaml with pipeline-level resources (the one-node cluster gives a
/// job without `mem` the whole node).
fn quick_yaml() -> String {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/pipelines/quick.yaml");
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{path}: {e}"));
    assert_eq!(text.matches("\nversion: 1\n").count(), 1);
    text.replacen(
        "\nversion: 1\n",
        "\nversion: 1\nresources: {mem: 2G, time: 30}\n",
        1,
    )
}

/// (stage, key, output hash) of every stage, from `pipe status`.
fn results(p: &Project) -> Vec<(String, String, String)> {
    let json = p.pipe(&["status", "quick.yaml", "--format", "json"]).json();
    json["stages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| {
            let field = |f: &str| s[f].as_str().unwrap_or("-").to_string();
            (field("stage"), field("key"), field("output"))
        })
        .collect()
}

#[test]
fn the_quick_pipeline_through_slurm_gives_the_local_runs_output_hashes() {
    if !slurm() {
        return;
    }
    let local = Project::new();
    local.write("quick.yaml", &quick_yaml());
    local.pipe(&["run", "quick.yaml", "--quiet"]).ok();

    let p = Project::new();
    p.write("quick.yaml", &quick_yaml());
    let out = p.pipe(&["run", "quick.yaml", "--executor", "slurm"]);
    out.ok();
    let submitted = out.stderr.matches(" submitted job ").count();
    let local_results = results(&local);
    assert_eq!(submitted, local_results.len(), "{}", out.stderr);

    let cluster_results = results(&p);
    assert!(
        cluster_results.iter().all(|(_, _, output)| output != "-"),
        "{cluster_results:?}"
    );
    for (l, c) in local_results.iter().zip(&cluster_results) {
        assert_eq!(l, c, "stage `{}` differs between local and SLURM", l.0);
    }
    assert_eq!(local_results.len(), cluster_results.len());

    let again = p.pipe(&["run", "quick.yaml", "--executor", "slurm"]);
    again.ok();
    assert!(again.ran().is_empty(), "{}", again.stderr);
    assert!(!again.stderr.contains("submitted"), "{}", again.stderr);
}
