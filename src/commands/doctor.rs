//! `pipe doctor`: prints what libtorch the `pipe-torch` worker uses, whether
//! CUDA and cuDNN work, the GPUs, and what is wrong when they do not. The
//! probing runs in the worker (`pipe-torch doctor`, from
//! `pipe_torch::doctor`), since `pipe` itself does not load libtorch.

use std::process::Command;

use pipe_engine::worker::worker_path;
use pipe_engine::{Error, Result};

use super::Config;

pub fn doctor(_config: &Config) -> Result<u8> {
    let worker = worker_path(pipe_torch_spec::WORKER)?;
    if !worker.is_file() {
        return Err(Error::Environment {
            message: format!(
                "no libtorch worker at {}: the `weights`, `train` and `evaluate` kinds cannot run",
                worker.display()
            ),
            hint: Some("build pipe with the default `torch` feature: `scripts/setup.sh` (or `cargo build --release`)".into()),
        });
    }
    let status = Command::new(&worker)
        .arg("doctor")
        .status()
        .map_err(|e| Error::Environment {
            message: format!("cannot start {}: {e}", worker.display()),
            hint: Some("rebuild pipe: `cargo build --release`".into()),
        })?;
    Ok(status.code().map_or(1, |c| c.clamp(0, 255) as u8))
}
