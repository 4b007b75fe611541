//! `pipe push`: objects first, records last.
//!
//! One LIST of `keys/` shows which stage keys the remote has (a push with
//! nothing new stops there); one LIST per object shard (`objects/ab/`)
//! shows which objects of the others it has. Missing objects are uploaded
//! (`--jobs` at once, each rehashed while read so that a damaged local
//! object is never published); only when all of them are up does each
//! record go up, create-only: the first writer wins, and a push that
//! finds an identical record already there has succeeded. A push killed
//! midway leaves objects without a record, never a record without its
//! objects; the next push skips the objects already there.

use std::collections::{BTreeMap, BTreeSet, HashSet};
use std::io::Read;

use futures::stream::{self, StreamExt, TryStreamExt};
use object_store::{ObjectStore, PutMode, PutOptions, PutPayload, WriteMultipart};
use pipe_engine::cache::{Cache, Manifest, StageHash};
use pipe_engine::{ContentHash, Error, Result};

use crate::failure::{self, is_taken};
use crate::fetch::get_record;
use crate::progress::Progress;
use crate::record::{Environment, Record, FORMAT};
use crate::store::Remote;

/// Files up to this size go up in one request; larger ones in parts.
const MULTIPART_FROM: u64 = 64 << 20;
const PART: usize = 16 << 20;

/// Cached results to push: (stage name, key, manifest).
pub type Results = Vec<(String, StageHash, Manifest)>;

/// What a push did.
#[derive(Debug, Default)]
pub struct Pushed {
    /// Records written.
    pub records: usize,
    /// Stage keys the remote already had.
    pub records_present: usize,
    pub objects: usize,
    pub bytes: u64,
    /// Objects the remote already had.
    pub objects_present: usize,
    /// Stages whose key the remote holds with another output (a
    /// non-deterministic stage pushed from elsewhere first): kept.
    pub differing: Vec<String>,
}

/// Pushes the results `(stage name, key, manifest)` to `remote`.
pub fn push(
    remote: &Remote,
    cache: &Cache,
    results: &[(String, StageHash, Manifest)],
    progress: &Progress,
) -> Result<Pushed> {
    remote.runtime.block_on(async {
        let mut pushed = Pushed::default();
        let present_records = list_names(remote, &remote.keys_path(), "list `keys/`").await?;
        let mut seen = HashSet::new();
        let todo: Vec<_> = results
            .iter()
            .filter(|(_, key, _)| seen.insert(*key))
            .filter(|(_, key, _)| {
                let there = present_records.contains_key(&format!("{}.json", key.0.to_hex()));
                pushed.records_present += usize::from(there);
                !there
            })
            .collect();
        if todo.is_empty() {
            return Ok(pushed);
        }
        let mut objects: BTreeMap<ContentHash, u64> = BTreeMap::new();
        for (_, _, manifest) in &todo {
            for entry in manifest.files.values() {
                objects.insert(entry.hash, entry.size);
            }
        }
        let shards: BTreeSet<String> = objects
            .keys()
            .map(|h| h.to_hex()[..2].to_string())
            .collect();
        let listed: Vec<BTreeMap<String, u64>> = stream::iter(shards)
            .map(|shard| async move {
                list_names(remote, &remote.shard_path(&shard), "list `objects/`").await
            })
            .buffer_unordered(remote.jobs)
            .try_collect()
            .await?;
        let present: BTreeMap<String, u64> = listed.into_iter().flatten().collect();
        let missing: Vec<(ContentHash, u64)> = objects
            .into_iter()
            .filter(|(hash, size)| present.get(&hash.to_hex()) != Some(size))
            .collect();
        pushed.objects_present = todo
            .iter()
            .flat_map(|(_, _, m)| m.files.values())
            .map(|e| e.hash)
            .collect::<BTreeSet<_>>()
            .len()
            - missing.len();
        progress.add_total(missing.iter().map(|(_, size)| size).sum());
        stream::iter(&missing)
            .map(|(hash, size)| upload(remote, cache, *hash, *size, progress))
            .buffer_unordered(remote.jobs)
            .try_collect::<Vec<()>>()
            .await?;
        pushed.objects = missing.len();
        pushed.bytes = missing.iter().map(|(_, size)| size).sum();
        let environment = Environment::current();
        let outcomes: Vec<(String, Outcome)> =
            stream::iter(todo)
                .map(|(name, key, manifest)| {
                    let record = Record {
                        format: FORMAT,
                        manifest: manifest.clone(),
                        environment: environment.clone(),
                    };
                    async move {
                        Ok::<_, Error>((name.clone(), put_record(remote, key, &record).await?))
                    }
                })
                .buffer_unordered(remote.jobs)
                .try_collect()
                .await?;
        for (name, outcome) in outcomes {
            match outcome {
                Outcome::Written => pushed.records += 1,
                Outcome::Identical => pushed.records_present += 1,
                Outcome::Differs => pushed.differing.push(name),
            }
        }
        Ok(pushed)
    })
}

enum Outcome {
    Written,
    Identical,
    Differs,
}

/// Writes `record` create-only. Someone else's record for the key is
/// success when it holds the same output.
async fn put_record(remote: &Remote, key: &StageHash, record: &Record) -> Result<Outcome> {
    let path = remote.record_path(key);
    let bytes = serde_json::to_vec_pretty(record)
        .map_err(|e| Error::internal(format!("cannot encode a remote record: {e}")))?;
    let opts = PutOptions {
        mode: PutMode::Create,
        ..PutOptions::default()
    };
    match remote
        .store
        .put_opts(&path, PutPayload::from(bytes), opts)
        .await
    {
        Ok(_) => Ok(Outcome::Written),
        Err(e) if is_taken(&e) => match get_record(remote, key).await? {
            Some(theirs) if theirs.manifest.output == record.manifest.output => {
                Ok(Outcome::Identical)
            }
            Some(_) => Ok(Outcome::Differs),
            None => Err(Error::environment(format!(
                "the remote `{}` refused `{path}` as existing but does not serve it",
                remote.config.url
            ))),
        },
        Err(e) => Err(failure::error(
            &remote.config,
            &format!("write `{path}`"),
            &e,
        )),
    }
}

/// Uploads one local object, hashing what is read: a local object that no
/// longer matches its name is never published.
async fn upload(
    remote: &Remote,
    cache: &Cache,
    hash: ContentHash,
    size: u64,
    progress: &Progress,
) -> Result<()> {
    let local = cache.object_path(&hash);
    let dest = remote.object_path(&hash);
    let fail =
        |e: object_store::Error| failure::error(&remote.config, &format!("upload `{dest}`"), &e);
    let damaged = || {
        Error::bad_data(&local, "the cached object no longer matches its hash")
            .with_hint("`pipe cache verify` drops it and what was made from it; the stage reruns")
    };
    let mut file = std::fs::File::open(&local).map_err(|e| Error::io(&local, "read", e))?;
    let mut hasher = blake3::Hasher::new();
    if size < MULTIPART_FROM {
        let mut bytes = Vec::with_capacity(usize::try_from(size).unwrap_or(0));
        file.read_to_end(&mut bytes)
            .map_err(|e| Error::io(&local, "read", e))?;
        hasher.update(&bytes);
        if ContentHash::from_hasher(&hasher) != hash {
            return Err(damaged());
        }
        remote
            .store
            .put(&dest, PutPayload::from(bytes))
            .await
            .map_err(fail)?;
        progress.advance(size);
    } else {
        // Parts become the object only when the upload completes: a killed
        // push leaves no partial object behind a name.
        let upload = remote.store.put_multipart(&dest).await.map_err(fail)?;
        let mut writer = WriteMultipart::new_with_chunk_size(upload, PART);
        let mut buf = vec![0u8; PART];
        loop {
            let n = file
                .read(&mut buf)
                .map_err(|e| Error::io(&local, "read", e))?;
            if n == 0 {
                break;
            }
            hasher.update(&buf[..n]);
            writer
                .wait_for_capacity(remote.jobs.min(4))
                .await
                .map_err(fail)?;
            writer.write(&buf[..n]);
            progress.advance(n as u64);
        }
        if ContentHash::from_hasher(&hasher) != hash {
            let _ = writer.abort().await;
            return Err(damaged());
        }
        writer.finish().await.map_err(fail)?;
    }
    progress.object_done();
    Ok(())
}

/// File name -> size of every object under `prefix` (all pages).
pub(crate) async fn list_names(
    remote: &Remote,
    prefix: &object_store::path::Path,
    action: &str,
) -> Result<BTreeMap<String, u64>> {
    remote
        .store
        .list(Some(prefix))
        .map_err(|e| failure::error(&remote.config, action, &e))
        .try_fold(BTreeMap::new(), |mut names, meta| async move {
            if let Some(name) = meta.location.filename() {
                names.insert(name.to_string(), meta.size);
            }
            Ok(names)
        })
        .await
}
