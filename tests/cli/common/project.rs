//! A throwaway project directory and a runner for the real `pipe` binary.
//!
//! `Project::new()` makes a temp dir; `write` puts files in it; `pipe(args)`
//! runs the binary there (default `./cache` and `./results`, no colour, no
//! inherited GPU settings) and returns an [`Out`] whose `ran()`/`cached()`
//! parse the stable outcome lines `pipe run` prints.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

pub struct Project {
    dir: tempfile::TempDir,
}

impl Project {
    pub fn new() -> Project {
        Project {
            dir: tempfile::tempdir().expect("temp dir"),
        }
    }

    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    pub fn join(&self, rel: &str) -> PathBuf {
        self.dir.path().join(rel)
    }

    /// Writes `text` to `rel` (creating directories).
    pub fn write(&self, rel: &str, text: &str) -> &Project {
        let path = self.join(rel);
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent).unwrap();
        }
        std::fs::write(path, text).unwrap();
        self
    }

    pub fn read(&self, rel: &str) -> String {
        std::fs::read_to_string(self.join(rel)).unwrap_or_else(|e| panic!("cannot read {rel}: {e}"))
    }

    /// A `pipe` command set up to run in the project.
    pub fn command(&self, args: &[&str]) -> Command {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_pipe"));
        cmd.args(args)
            .current_dir(self.path())
            .env("NO_COLOR", "1")
            .env_remove("PIPE_CACHE_DIR")
            .env_remove("PIPE_FAKE_GPUS")
            .env_remove("CUDA_VISIBLE_DEVICES")
            .env_remove("PIPE_NO_FSYNC");
        cmd
    }

    pub fn pipe(&self, args: &[&str]) -> Out {
        Out::from(self.command(args).output().expect("pipe runs"))
    }

    pub fn pipe_env(&self, args: &[&str], env: &[(&str, &str)]) -> Out {
        let mut cmd = self.command(args);
        for (k, v) in env {
            cmd.env(k, v);
        }
        Out::from(cmd.output().expect("pipe runs"))
    }
}

/// What a `pipe` invocation did.
pub struct Out {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

impl From<Output> for Out {
    fn from(o: Output) -> Out {
        Out {
            code: o.status.code().unwrap_or(-1),
            stdout: String::from_utf8_lossy(&o.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&o.stderr).into_owned(),
        }
    }
}

impl Out {
    /// Stage names of the outcome lines starting with `word` (`ran`,
    /// `cached`, `failed`), sorted.
    pub fn stages(&self, word: &str) -> Vec<String> {
        let prefix = format!("{word} ");
        let mut names: Vec<String> = self
            .stderr
            .lines()
            .filter(|l| !is_summary(l))
            .filter_map(|l| l.strip_prefix(&prefix))
            .map(|rest| match word {
                // `ran NAME 1.2s`
                "ran" => rest.rsplit_once(' ').map_or(rest, |(n, _)| n).to_string(),
                _ => rest.to_string(),
            })
            .collect();
        names.sort();
        names
    }

    pub fn ran(&self) -> Vec<String> {
        self.stages("ran")
    }

    pub fn cached(&self) -> Vec<String> {
        self.stages("cached")
    }

    pub fn failed(&self) -> Vec<String> {
        self.stages("failed")
    }

    /// Panics with the whole output unless the exit code is `code`.
    pub fn expect_code(&self, code: i32) -> &Out {
        assert_eq!(
            self.code, code,
            "exit code\n--- stdout\n{}\n--- stderr\n{}",
            self.stdout, self.stderr
        );
        self
    }

    pub fn ok(&self) -> &Out {
        self.expect_code(0)
    }

    /// Standard output read as JSON (`--format json`); panics with it if
    /// it is not.
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.stdout)
            .unwrap_or_else(|e| panic!("stdout is not JSON ({e}):\n{}", self.stdout))
    }
}

/// `ran 3, cached 2, failed 0 in 0.1s`
fn is_summary(line: &str) -> bool {
    line.starts_with("ran ") && line.contains(", cached ") && line.contains(", failed ")
}

/// `["a", "b"]` as owned, sorted strings, for comparing with `ran()`.
pub fn names(list: &[&str]) -> Vec<String> {
    let mut v: Vec<String> = list.iter().map(|s| (*s).to_string()).collect();
    v.sort();
    v
}

/// A tiny STL-10-shaped data set as pipeline stages (`archive` -> `decoded`
/// -> `data`, 32x32): what training tests put their `train` stage on.
pub const TINY_DATA_STAGES: &str = r#"  archive:
    kind: synthetic
    params: {seed: 1, train_per_class: 2, test_per_class: 1}
  decoded:
    kind: stl10
    inputs: {archive: archive}
  data:
    kind: resize
    inputs: {data: decoded}
    params: {size: 32}
"#;
