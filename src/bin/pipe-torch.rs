//! `pipe-torch`: the worker program that runs pipe's libtorch stage kinds
//! (`weights`, `train`, `evaluate`) for `pipe`, which starts it once per
//! such stage. `pipe` itself never loads libtorch (it costs most of a
//! second at every start); see `pipe_engine::worker`.
//!
//! pipe-torch serve    run the job `pipe` writes on stdin, events on stdout
//! pipe-torch doctor   what `pipe doctor` prints: libtorch, CUDA, cuDNN, GPUs
//! pipe-torch --version

use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, Ordering};

use pipe_engine::Registry;

static CANCEL: AtomicBool = AtomicBool::new(false);

fn main() -> ExitCode {
    match std::env::args().nth(1).as_deref() {
        Some("serve") => {
            // Ctrl-C reaches the whole process group: stop between steps,
            // as `pipe` does, rather than die mid-write.
            let _ = ctrlc::set_handler(|| CANCEL.store(true, Ordering::Relaxed));
            let mut registry = Registry::new();
            pipe_torch::register(&mut registry);
            if pipe_engine::worker::serve(&registry, &CANCEL) {
                ExitCode::SUCCESS
            } else {
                ExitCode::FAILURE
            }
        }
        // Started at all, it found its libraries: the SLURM executor's
        // check that a node can run it.
        Some("--version") => {
            println!("pipe-torch {}", env!("CARGO_PKG_VERSION"));
            ExitCode::SUCCESS
        }
        Some("doctor") => {
            // `pipe doctor | head`: a closed stdout ends the report quietly.
            let text = pipe_torch::doctor::report().render();
            let _ = std::io::Write::write_all(&mut std::io::stdout().lock(), text.as_bytes());
            ExitCode::SUCCESS
        }
        _ => {
            eprintln!(
                "pipe-torch is the worker that runs pipe's libtorch kinds; `pipe` starts it."
            );
            eprintln!("usage: pipe-torch serve | doctor | --version");
            ExitCode::from(2)
        }
    }
}
