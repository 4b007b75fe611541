//! `pipe cache verify` and `pipe gc`: both take the cache lock exclusively,
//! so they wait for running `pipe run`s and block new ones meanwhile.

use std::collections::HashSet;
use std::path::PathBuf;

use pipe_engine::cache::{gc, verify, Cache};
use pipe_engine::{lock, Result};

use super::output::{err, out};
use super::Config;
use crate::cli::{CacheCommand, GcArgs};

fn exclusive(config: &Config, cache: &Cache) -> Result<lock::Lock> {
    let quiet = config.quiet;
    lock::acquire(&cache.dir("lock"), true, |_| {
        if !quiet {
            err("waiting for other `pipe` processes to finish with the cache\n");
        }
    })
}

pub fn cache(config: &Config, cmd: CacheCommand) -> Result<u8> {
    match cmd {
        CacheCommand::Verify { dry_run } => {
            let dir = config.cache_dir(None);
            // A dry run reads only: it creates no cache and takes no lock.
            let (cache, _held) = if dry_run {
                (Cache::existing(&dir)?, None)
            } else {
                let cache = Cache::open(&dir)?;
                let held = exclusive(config, &cache)?;
                (cache, Some(held))
            };
            let r = verify::verify_with(&cache, dry_run)?;
            let derived = if r.derived_manifests > 0 {
                format!(
                    "{} of them computed from a dropped result; ",
                    r.derived_manifests
                )
            } else {
                String::new()
            };
            let (deleted, dropped, then) = if dry_run {
                (
                    "would be deleted",
                    "would be dropped",
                    "they would be recomputed",
                )
            } else {
                ("deleted", "dropped", "they will be recomputed")
            };
            out(&format!(
                "checked {} objects ({}) and {} results: {} corrupt object{} {deleted}, {} result{} {dropped} ({derived}{then})\n",
                r.objects,
                bytes(r.bytes),
                r.manifests,
                r.corrupt_objects,
                if r.corrupt_objects == 1 { "" } else { "s" },
                r.dropped_manifests,
                if r.dropped_manifests == 1 { "" } else { "s" },
            ))?;
            Ok(0)
        }
    }
}

pub fn gc(config: &Config, args: GcArgs) -> Result<u8> {
    let registry = crate::registry::registry();
    let dir = config.cache_dir(args.files.first().map(PathBuf::as_path));
    let (cache, _held) = if args.dry_run {
        (Cache::existing(&dir)?, None)
    } else {
        let cache = Cache::open(&dir)?;
        let held = exclusive(config, &cache)?;
        (cache, Some(held))
    };
    let mut keep = HashSet::new();
    for file in &args.files {
        let pipeline = pipe_engine::load(file, &registry, &[])?;
        let statuses = pipe_engine::status::status(&pipeline, &cache, &[], &[])?;
        keep.extend(statuses.iter().filter_map(|s| s.key));
    }
    let r = gc::gc(&cache, &keep, args.dry_run)?;
    for left in &r.left {
        err(&format!("warning: left in place: {left}\n"));
    }
    let (verb, freed) = if args.dry_run {
        ("would delete", "would be freed")
    } else {
        ("deleted", "freed")
    };
    out(&format!(
        "{verb} {} result{} and {} object{}, {} {freed}; kept {} results and {} objects\n",
        r.deleted_manifests,
        if r.deleted_manifests == 1 { "" } else { "s" },
        r.deleted_objects,
        if r.deleted_objects == 1 { "" } else { "s" },
        bytes(r.bytes_freed),
        r.kept_manifests,
        r.kept_objects,
    ))?;
    Ok(0)
}

/// `1.2 MB`.
fn bytes(n: u64) -> String {
    let units = ["B", "kB", "MB", "GB", "TB"];
    let mut v = n as f64;
    let mut i = 0;
    while v >= 1000.0 && i + 1 < units.len() {
        v /= 1000.0;
        i += 1;
    }
    if i == 0 {
        format!("{n} B")
    } else {
        format!("{v:.1} {}", units[i])
    }
}
