//! The pipeline format: text in, a resolved [`Pipeline`](pipeline::Pipeline) out.
//!
//! In pipeline order: `yaml` (a YAML tree that remembers where every node was
//! written), `spec` (the only types mirroring the file), `validate` (+
//! `matrix`, `interp`) and `load` (the entry point). `pipeline` (the
//! resolved form) and `pattern` (stage-name globs over it) are this layer's
//! product, the only parts of it the execution layer may see; `resources`
//! is the typed request a stage makes of a cluster, carried on each stage.
//! `schema` and `drawing` describe the format and a pipeline.
//! Must not know: the cache, how stages run.

pub mod drawing;
pub mod interp;
pub mod load;
pub mod matrix;
pub mod pattern;
pub mod pipeline;
pub mod remote;
pub mod resources;
pub mod schema;
pub mod spec;
pub mod validate;
pub mod yaml;
