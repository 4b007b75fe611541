//! A shared remote cache on S3-compatible storage, through `object_store`.
//!
//! Layout under `s3://bucket/prefix`: `objects/ab/<blake3>` holds the
//! bytes of every output file by content (as the local cache's
//! `objects/`), `keys/<stage key>.json` one [`Record`] per stage key: its
//! manifest and the environment it was made in. A push uploads objects
//! first and the record last, create-only (the first writer wins), so a
//! record is never visible before all of its objects. A fetch downloads
//! into the local cache's `tmp/`, verifies every object against its hash
//! before it enters the store, and writes the manifest last
//! (`pipe_engine::cache::import`).
//!
//! The engine stays synchronous and knows no S3: this crate owns a small
//! tokio runtime and hands the engine only verified files and manifests.

pub mod check;
pub mod config;
pub mod failure;
pub mod fetch;
pub mod progress;
pub mod push;
pub mod read_through;
pub mod record;
pub mod store;

pub use config::RemoteConfig;
pub use record::{Environment, Record};
pub use store::Remote;
