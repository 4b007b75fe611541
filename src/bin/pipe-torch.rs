//! `pipe-torch`: the worker program that runs pipe's libtorch stage kinds
//! (`weights`, `train`, `evaluate`) for `pipe`, which starts it once per
//! such stage. `pipe` itself never loads libtorch (it costs most of a
//! second at every start); see `pipe_engine::worker`.
//!
//! pipe-torch serve    run the job `pipe` writes on stdin, events on stdout
//! pipe-torch doctor   what `pipe doctor` prints: libtorch, CUDA, cuDNN, GPUs

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
            eprintln!("usage: pipe-torch serve | doctor");
            ExitCode::from(2)
        }
    }
}
