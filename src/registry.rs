//! The one place that names every stage kind.

use pipe_engine::worker::OutOfProcess;
use pipe_engine::{Kind, Registry};

/// Why the libtorch worker may be missing, and the fix.
const WORKER_HINT: &str = "it is built beside `pipe` with the default `torch` feature: run `scripts/setup.sh` (or `cargo build --release`)";

/// The libtorch worker, beside `pipe`.
const TORCH_WORKER: OutOfProcess =
    OutOfProcess::new(pipe_torch_spec::WORKER, WORKER_HINT).with_env(WORKER_ENV);

/// The worker's environment defaults. With OpenMP's default spin-waiting,
/// two workers side by side (or one beside its augmentation threads) burn
/// the cores their teams wait on: three augmented trainings of
/// pipelines/quick.yaml at `-j 2` took 91 s with it and 30 s without,
/// while one stage alone is as fast either way.
const WORKER_ENV: &[(&str, &str)] = &[("OMP_WAIT_POLICY", "PASSIVE")];

/// Every stage kind `pipe` knows. The libtorch kinds (`weights`, `train`,
/// `evaluate`) are declared here and run in the `pipe-torch` worker, so
/// that `pipe` never loads libtorch (see `pipe_engine::worker`).
pub fn registry() -> Registry {
    let mut registry = Registry::new();
    // What `key_includes_environment: true` adds to every stage key.
    registry.set_environment(pipe_remote::Environment::current().describe());
    pipe_engine::register(&mut registry);
    pipe_data::register(&mut registry);
    pipe_report::register(&mut registry);
    for declaration in pipe_torch_spec::DECLARATIONS {
        registry.add(Kind::in_worker(*declaration, TORCH_WORKER));
    }
    registry
}
