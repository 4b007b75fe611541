//! Where a report's numbers come from: the pipeline file and its hash, the
//! git commit, pipe's version, and the libtorch/CUDA versions and devices
//! the runs recorded. Nothing that differs between two makings of the same
//! report (the date, the checkout's absolute path): the same runs give the
//! same bytes, here and on a cluster node (`pipe exp show` dates results).

use std::path::Path;
use std::process::Command;

use super::summary::Summary;

/// Provenance facts, each already text for display.
#[derive(Clone, Debug)]
pub struct Provenance {
    /// Relative to the git work tree's root, else the file's name.
    pub pipeline_file: String,
    pub pipeline_hash: String,
    /// `None` outside a git work tree or without git.
    pub git_commit: Option<String>,
    pub pipe_version: String,
    pub libtorch: Vec<String>,
    pub cuda: Vec<String>,
    pub devices: Vec<String>,
}

impl Provenance {
    pub fn collect(pipeline_file: &Path, pipeline_hash: String, runs: &[Summary]) -> Provenance {
        let distinct = |f: fn(&Summary) -> Option<&String>| {
            let mut v: Vec<String> = runs.iter().filter_map(|s| f(s).cloned()).collect();
            v.sort();
            v.dedup();
            v
        };
        let git = git(pipeline_file);
        let name = pipeline_file
            .file_name()
            .map_or_else(String::new, |n| n.to_string_lossy().into_owned());
        Provenance {
            pipeline_file: match &git {
                Some(g) => format!("{}{name}", g.prefix),
                None => name,
            },
            pipeline_hash,
            git_commit: git.map(|g| g.commit),
            pipe_version: env!("CARGO_PKG_VERSION").to_string(),
            libtorch: distinct(|s| s.libtorch.as_ref()),
            cuda: distinct(|s| s.cuda.as_ref()),
            devices: distinct(|s| s.device.as_ref()),
        }
    }

    /// (label, value) rows for display, in a fixed order.
    pub fn rows(&self) -> Vec<(&'static str, String)> {
        let list = |v: &[String]| {
            if v.is_empty() {
                "not recorded".to_string()
            } else {
                v.join(", ")
            }
        };
        vec![
            ("pipeline file", self.pipeline_file.clone()),
            ("pipeline hash (blake3)", self.pipeline_hash.clone()),
            (
                "git commit",
                self.git_commit
                    .clone()
                    .unwrap_or_else(|| "none (not in a git work tree)".into()),
            ),
            ("pipe version", self.pipe_version.clone()),
            ("libtorch", list(&self.libtorch)),
            (
                "CUDA",
                if self.cuda.is_empty() {
                    "none recorded (CPU)".into()
                } else {
                    self.cuda.join(", ")
                },
            ),
            ("device", list(&self.devices)),
        ]
    }
}

/// What git knows of where the pipeline file lives.
struct Git {
    /// The commit checked out.
    commit: String,
    /// The file's folder relative to the work tree's root (`pipelines/`).
    prefix: String,
}

fn git(pipeline_file: &Path) -> Option<Git> {
    let dir = match pipeline_file.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => Path::new("."),
    };
    let out = Command::new("git")
        .arg("-C")
        .arg(dir)
        .args(["rev-parse", "HEAD", "--show-prefix"])
        .output()
        .ok()?;
    if !out.status.success() {
        return None;
    }
    let text = String::from_utf8(out.stdout).ok()?;
    let mut lines = text.lines();
    let commit = lines.next()?.trim().to_string();
    let prefix = lines.next().unwrap_or("").trim().to_string();
    (!commit.is_empty()).then_some(Git { commit, prefix })
}
