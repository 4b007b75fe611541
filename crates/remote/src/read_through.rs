//! The hook of `pipe run --remote` and `pipe pull`: fetch every selected
//! stage that is not cached here but whose key can be computed, in waves
//! (a fetched stage makes its users' keys computable), until a wave
//! fetches nothing. Forced stages are never fetched. One function, so that
//! it can move onto a planner that hands out "must run" stages.

use std::collections::HashSet;

use pipe_engine::cache::Cache;
use pipe_engine::explain::Reason;
use pipe_engine::{lock, status, Pipeline, Result};

use crate::fetch::{fetch, Fetched};
use crate::progress::Progress;
use crate::store::Remote;

pub fn read_through(
    remote: &Remote,
    pipeline: &Pipeline,
    cache: &Cache,
    targets: &[String],
    force: &[String],
    durable: bool,
    progress: &Progress,
) -> Result<Fetched> {
    // As a run: `pipe gc` must not delete objects fetched before their
    // manifest is written.
    let _shared = lock::acquire(&cache.dir("lock"), false, |_| {
        progress.note("waiting for `pipe gc` or `pipe cache verify` to finish with the cache");
    })?;
    let mut tried = HashSet::new();
    let mut total = Fetched::default();
    loop {
        let wanted: Vec<_> = status::status(pipeline, cache, targets, force)?
            .into_iter()
            .filter(|s| !s.up_to_date() && !s.reasons.iter().any(|r| matches!(r, Reason::Forced)))
            .filter_map(|s| Some((s.name, s.key?)))
            .filter(|(_, key)| tried.insert(*key))
            .collect();
        if wanted.is_empty() {
            break;
        }
        let got = fetch(remote, cache, &wanted, durable, progress)?;
        let progressed = !got.stages.is_empty();
        total.merge(got);
        if !progressed {
            break;
        }
    }
    Ok(total)
}
