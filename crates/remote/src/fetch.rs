//! Fetching results from the remote into the local cache.
//!
//! For each wanted stage key: GET its record (a missing one is a miss; a
//! refusal is an error, never a miss), download the objects this cache
//! lacks into temp files beside their objects, and hand each to the engine, which rehashes it and
//! only then moves it into the store (`cache::import::adopt`). A record
//! whose objects all arrived intact becomes a local manifest, written
//! last; one with a corrupt, truncated or missing object is reported and
//! not used, so that stage runs locally.

use std::collections::BTreeMap;
use std::io::Write;

use futures::stream::{self, StreamExt, TryStreamExt};
use object_store::ObjectStore;
use pipe_engine::cache::{import, Cache, StageHash};
use pipe_engine::{ContentHash, Error, Result};

use crate::failure::{self, is_missing};
use crate::progress::Progress;
use crate::record::Record;
use crate::store::Remote;

/// What a fetch did.
#[derive(Debug, Default)]
pub struct Fetched {
    /// Stages now cached locally, with the environment they were made in.
    pub stages: Vec<(String, String)>,
    /// Stages the remote does not have.
    pub missing: usize,
    /// Stages whose remote result could not be used, and why.
    pub unusable: Vec<(String, String)>,
    pub objects: usize,
    pub bytes: u64,
    /// Objects already in the local cache.
    pub objects_present: usize,
}

impl Fetched {
    pub fn merge(&mut self, other: Fetched) {
        self.stages.extend(other.stages);
        self.missing += other.missing;
        self.unusable.extend(other.unusable);
        self.objects += other.objects;
        self.bytes += other.bytes;
        self.objects_present += other.objects_present;
    }
}

/// Fetches what the remote has of `wanted` (stage name, key).
pub fn fetch(
    remote: &Remote,
    cache: &Cache,
    wanted: &[(String, StageHash)],
    durable: bool,
    progress: &Progress,
) -> Result<Fetched> {
    remote.runtime.block_on(async {
        let mut fetched = Fetched::default();
        let records: Vec<(&String, &StageHash, Option<Record>)> =
            stream::iter(wanted)
                .map(|(name, key)| async move {
                    Ok::<_, Error>((name, key, get_record(remote, key).await?))
                })
                .buffer_unordered(remote.jobs)
                .try_collect()
                .await?;
        let mut needed: BTreeMap<ContentHash, u64> = BTreeMap::new();
        for (_, _, record) in &records {
            for entry in record.iter().flat_map(|r| r.manifest.files.values()) {
                if import::has_object(cache, &entry.hash, entry.size) {
                    fetched.objects_present += 1;
                } else {
                    needed.insert(entry.hash, entry.size);
                }
            }
        }
        progress.add_total(needed.values().sum());
        // Hash -> why it could not be used.
        let bad: BTreeMap<ContentHash, String> = stream::iter(&needed)
            .map(|(hash, size)| async move {
                Ok::<_, Error>(
                    download(remote, cache, *hash, *size, durable, progress)
                        .await?
                        .map(|why| (*hash, why)),
                )
            })
            .buffer_unordered(remote.jobs)
            .try_filter_map(|bad| async move { Ok(bad) })
            .try_collect()
            .await?;
        fetched.objects = needed.len() - bad.len();
        fetched.bytes = needed
            .iter()
            .filter(|(h, _)| !bad.contains_key(h))
            .map(|(_, s)| s)
            .sum();
        for (name, key, record) in records {
            let Some(record) = record else {
                fetched.missing += 1;
                continue;
            };
            let broken = record
                .manifest
                .files
                .iter()
                .find_map(|(file, e)| bad.get(&e.hash).map(|why| format!("`{file}`: {why}")));
            let outcome = match broken {
                Some(why) => Err(why),
                None => {
                    import::manifest(cache, key, &record.manifest, durable).map_err(|e| e.to_string())
                }
            };
            match outcome {
                Ok(()) => fetched
                    .stages
                    .push((name.clone(), record.environment.describe())),
                Err(why) => {
                    progress.note(&format!(
                        "warning: the remote's result of `{name}` is not used: {why}; the stage runs here"
                    ));
                    fetched.unusable.push((name.clone(), why));
                }
            }
        }
        Ok(fetched)
    })
}

/// The record of `key`, `None` when the remote has none.
pub(crate) async fn get_record(remote: &Remote, key: &StageHash) -> Result<Option<Record>> {
    let path = remote.record_path(key);
    let fail =
        |e: &object_store::Error| failure::error(&remote.config, &format!("read `{path}`"), e);
    let bytes = match remote.store.get(&path).await {
        Ok(got) => got.bytes().await.map_err(|e| fail(&e))?,
        Err(e) if is_missing(&e) => return Ok(None),
        Err(e) => return Err(fail(&e)),
    };
    match serde_json::from_slice::<Record>(&bytes) {
        Ok(r) if r.format == crate::record::FORMAT => Ok(Some(r)),
        // Written by another version of pipe, or damaged: not ours to use.
        _ => Ok(None),
    }
}

/// Downloads one object into the store. `Ok(Some(why))`: the remote's
/// object is missing or does not match its hash (not used);
/// `Err`: the remote or the local disk failed.
async fn download(
    remote: &Remote,
    cache: &Cache,
    hash: ContentHash,
    size: u64,
    durable: bool,
    progress: &Progress,
) -> Result<Option<String>> {
    let path = remote.object_path(&hash);
    let fail =
        |e: &object_store::Error| failure::error(&remote.config, &format!("download `{path}`"), e);
    let got = match remote.store.get(&path).await {
        Ok(got) => got,
        Err(e) if is_missing(&e) => {
            return Ok(Some(format!("the object {} is missing", hash.short())))
        }
        Err(e) => return Err(fail(&e)),
    };
    let tmp = import::temp_path(cache, &hash)?;
    let written = async {
        let mut file = std::fs::File::create(&tmp).map_err(|e| Error::io(&tmp, "create", e))?;
        let mut stream = got.into_stream();
        let mut n = 0u64;
        while let Some(chunk) = stream.next().await {
            let chunk = chunk.map_err(|e| fail(&e))?;
            // More than the record promises is not this object.
            n += chunk.len() as u64;
            if n > size {
                break;
            }
            file.write_all(&chunk)
                .map_err(|e| Error::io(&tmp, "write", e))?;
            progress.advance(chunk.len() as u64);
        }
        Ok::<_, Error>(())
    }
    .await;
    if let Err(e) = written {
        let _ = std::fs::remove_file(&tmp);
        return Err(e);
    }
    match import::adopt(cache, &tmp, &hash, durable) {
        Ok(()) => {
            progress.object_done();
            Ok(None)
        }
        Err(Error::BadData { message, .. }) => Ok(Some(format!(
            "the object {} is corrupt ({message})",
            hash.short()
        ))),
        Err(e) => Err(e),
    }
}

/// The records the remote has of `keys` (stage name, key), by stage name.
pub fn records(
    remote: &Remote,
    keys: &[(String, StageHash)],
) -> Result<std::collections::HashMap<String, Record>> {
    remote.runtime.block_on(async {
        stream::iter(keys)
            .map(|(name, key)| async move {
                Ok::<_, Error>((name.clone(), get_record(remote, key).await?))
            })
            .buffer_unordered(remote.jobs)
            .try_filter_map(|(name, r)| async move { Ok(r.map(|r| (name, r))) })
            .try_collect()
            .await
    })
}
