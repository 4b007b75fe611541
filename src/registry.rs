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
    #[cfg(not(feature = "torch"))]
    for kind in ["weights", "train", "evaluate"] {
        registry.add_unavailable(
            kind,
            "it needs libtorch: build with the default `torch` feature (scripts/setup.sh does)",
        );
    }
    registry
}
