//! The record of one stage key on the remote: the manifest (the key's
//! parts and the objects of its output) plus the environment it was made
//! in, so that `pipe remote ls` can say where a result came from.

use serde::{Deserialize, Serialize};

use pipe_engine::cache::Manifest;

/// Bumped if the record layout changes incompatibly.
pub const FORMAT: u32 = 1;

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Record {
    pub format: u32,
    pub manifest: Manifest,
    pub environment: Environment,
}

/// Where a result was made. Not part of the stage key unless the pipeline
/// says `key_includes_environment: true` (docs/remote.md).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Environment {
    pub pipe_version: String,
    /// `linux-x86_64`.
    pub platform: String,
    /// The libtorch version the worker links, when known.
    #[serde(default)]
    pub libtorch: Option<String>,
    /// The CUDA version libtorch was built with, when known.
    #[serde(default)]
    pub cuda: Option<String>,
}

impl Environment {
    /// This machine's, from what is cheap to know without loading libtorch:
    /// `PIPE_LIBTORCH_VERSION`/`PIPE_CUDA_VERSION` when set, else the
    /// `torch/version.py` of the Python environment `PIPE_PYTHON` names.
    pub fn current() -> Environment {
        let var = |n: &str| std::env::var(n).ok().filter(|v| !v.is_empty());
        let (torch, cuda) = torch_version_py();
        Environment {
            pipe_version: env!("CARGO_PKG_VERSION").to_string(),
            platform: format!("{}-{}", std::env::consts::OS, std::env::consts::ARCH),
            libtorch: var("PIPE_LIBTORCH_VERSION").or(torch),
            cuda: var("PIPE_CUDA_VERSION").or(cuda),
        }
    }

    /// `pipe 0.1.0, linux-x86_64, libtorch 2.11.0, CUDA 12.8`.
    pub fn describe(&self) -> String {
        let mut s = format!("pipe {}, {}", self.pipe_version, self.platform);
        if let Some(t) = &self.libtorch {
            s.push_str(&format!(", libtorch {t}"));
            s.push_str(&match &self.cuda {
                Some(c) => format!(", CUDA {c}"),
                None => ", CPU".into(),
            });
        }
        s
    }
}

/// `__version__` and `cuda` from `torch/version.py` beside `PIPE_PYTHON`.
fn torch_version_py() -> (Option<String>, Option<String>) {
    let Some(python) = std::env::var_os("PIPE_PYTHON") else {
        return (None, None);
    };
    let Some(env) = std::path::Path::new(&python)
        .parent()
        .and_then(|b| b.parent())
    else {
        return (None, None);
    };
    let Ok(libs) = std::fs::read_dir(env.join("lib")) else {
        return (None, None);
    };
    for lib in libs.flatten() {
        let file = lib.path().join("site-packages/torch/version.py");
        if let Ok(text) = std::fs::read_to_string(&file) {
            let field = |name: &str| {
                text.lines()
                    .find_map(|l| l.strip_prefix(name)?.trim_start().strip_prefix('='))
                    .map(|v| {
                        v.split('#')
                            .next()
                            .unwrap_or("")
                            .trim()
                            .trim_matches(['\'', '"'])
                            .to_string()
                    })
                    .filter(|v| !v.is_empty() && v != "None")
            };
            return (field("__version__"), field("cuda"));
        }
    }
    (None, None)
}
