//! The one place that names every stage kind.

use pipe_engine::Registry;

/// Every stage kind this build of `pipe` knows.
pub fn registry() -> Registry {
    let mut registry = Registry::new();
    pipe_engine::register(&mut registry);
    pipe_data::register(&mut registry);
    pipe_report::register(&mut registry);
    #[cfg(feature = "torch")]
    pipe_torch::register(&mut registry);
    registry
}
