//! Moving a stage's staging directory into the object store, and checking
//! that an object still holds the bytes its name promises.
//!
//! Only files the stage itself created are moved (renamed) into the store.
//! A file reached through a symlink, or hard-linked from elsewhere (link
//! count above 1), is someone else's: its bytes are copied and the file is
//! left exactly as it was. Nothing is ever chmodded or renamed through a
//! link, so a stage cannot make pipe adopt or move a user's files.
//!
//! Every object is *sealed*: its mtime's nanoseconds are derived from its
//! hash. Writing to the file (or copying another object over it with its
//! times) breaks the seal, so a cache hit can be checked with the `stat` it
//! needs anyway; a broken seal costs one full rehash, which either re-seals
//! the object or finds it corrupt.

use std::collections::{BTreeMap, BTreeSet};
use std::fs::{File, FileTimes};
use std::io::{Read, Write};
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use crate::error::{Error, Result};
use crate::execution::cache::manifest::FileEntry;
use crate::execution::cache::state::hash_file;
use crate::execution::cache::Cache;
use crate::execution::cache::{atomic, input_dirs};
use crate::hash::ContentHash;

/// A regular file found in the staging directory.
struct Found {
    /// Relative name, `/`-separated, valid UTF-8.
    name: String,
    path: PathBuf,
    /// Created by the stage and linked nowhere else: may be moved into the
    /// store. Otherwise its bytes are copied.
    own: bool,
}

/// Hashes every file under `staging` and puts it into `objects/` (or drops
/// it when an identical, intact object exists; a corrupt one is replaced).
/// Returns relative name -> entry. With `durable`, objects and their
/// directories are fsynced before return, so a manifest written afterwards
/// never names a missing object.
pub fn store(cache: &Cache, staging: &Path, durable: bool) -> Result<BTreeMap<String, FileEntry>> {
    let mut found = Vec::new();
    let mut ancestors = Vec::new();
    walk(staging, "", false, &mut ancestors, &mut found)?;
    // Copies first: a symlink may point at a file of the stage's own that
    // is moved away once adopted.
    found.sort_by_key(|f| f.own);
    let mut files = BTreeMap::new();
    let mut dirs = BTreeSet::new();
    for f in found {
        let (hash, size) = if f.own {
            adopt(cache, &f.path, durable, &mut dirs)?
        } else {
            copy_in(cache, staging, &f.path, durable, &mut dirs)?
        };
        files.insert(f.name, FileEntry { hash, size });
    }
    if durable {
        for dir in dirs {
            atomic::sync_dir(&dir)?;
        }
    }
    Ok(files)
}

/// Moves a file the stage created into the store under its hash.
fn adopt(
    cache: &Cache,
    src: &Path,
    durable: bool,
    dirs: &mut BTreeSet<PathBuf>,
) -> Result<(ContentHash, u64)> {
    let hash = hash_file(src)?;
    // Read-only is enough to sync and set times (`cp` of a read-only input
    // gives a read-only output).
    let file = File::open(src).map_err(|e| Error::io(src, "read", e))?;
    let size = file
        .metadata()
        .map_err(|e| Error::io(src, "read", e))?
        .len();
    let obj = cache.object_path(&hash);
    if intact(&obj, &hash, size) {
        return Ok((hash, size));
    }
    if durable {
        file.sync_all().map_err(|e| Error::io(src, "sync", e))?;
    }
    seal(&file, &hash).map_err(|e| Error::io(src, "seal", e))?;
    file.set_permissions(std::fs::Permissions::from_mode(0o444))
        .map_err(|e| Error::io(src, "make read-only", e))?;
    dirs.insert(put(cache, src, &obj)?);
    Ok((hash, size))
}

/// Copies the bytes of a file that is not the stage's own (through a
/// symlink, or hard-linked from elsewhere) into the store, hashing exactly
/// the bytes written, so a file changing meanwhile cannot give an object
/// that does not match its name. The source is only read.
fn copy_in(
    cache: &Cache,
    staging: &Path,
    src: &Path,
    durable: bool,
    dirs: &mut BTreeSet<PathBuf>,
) -> Result<(ContentHash, u64)> {
    // Beside `out/` in the stage's own staging area, which is removed with it.
    let tmp = atomic::temp_beside(staging);
    let result = (|| {
        let mut from = File::open(src).map_err(|e| Error::io(src, "read", e))?;
        let mut to = File::create(&tmp).map_err(|e| Error::io(&tmp, "create", e))?;
        let mut h = blake3::Hasher::new();
        let mut buf = vec![0u8; 64 * 1024];
        let mut size = 0u64;
        loop {
            let n = from.read(&mut buf).map_err(|e| Error::io(src, "read", e))?;
            if n == 0 {
                break;
            }
            h.update(&buf[..n]);
            to.write_all(&buf[..n])
                .map_err(|e| Error::io(&tmp, "write", e))?;
            size += n as u64;
        }
        let hash = ContentHash::from_hasher(&h);
        let obj = cache.object_path(&hash);
        if intact(&obj, &hash, size) {
            return Ok((hash, size));
        }
        if durable {
            to.sync_all().map_err(|e| Error::io(&tmp, "sync", e))?;
        }
        seal(&to, &hash).map_err(|e| Error::io(&tmp, "seal", e))?;
        to.set_permissions(std::fs::Permissions::from_mode(0o444))
            .map_err(|e| Error::io(&tmp, "make read-only", e))?;
        dirs.insert(put(cache, &tmp, &obj)?);
        Ok((hash, size))
    })();
    let _ = std::fs::remove_file(&tmp);
    result
}

/// Renames a sealed, read-only file to `obj` (over a corrupt object of that
/// name, if any); returns the directory to sync.
pub(crate) fn put(cache: &Cache, src: &Path, obj: &Path) -> Result<PathBuf> {
    let dir = obj.parent().map(Path::to_path_buf).unwrap_or_default();
    if !dir.is_dir() {
        std::fs::create_dir_all(&dir).map_err(|e| Error::io(&dir, "create", e))?;
    } else if std::fs::symlink_metadata(obj).is_ok() {
        // Replacing a corrupt object: input dirs may link the old one.
        input_dirs::distrust(cache);
    }
    std::fs::rename(src, obj).map_err(|e| Error::io(obj, "store", e))?;
    Ok(dir)
}

/// Whether `obj` exists and holds exactly the bytes named `hash`. A store
/// never keeps an existing object on trust: `--force` of a producer repairs
/// a corrupt object even when its seal was preserved.
fn intact(obj: &Path, hash: &ContentHash, size: u64) -> bool {
    match std::fs::symlink_metadata(obj) {
        Ok(m) if m.is_file() && m.len() == size => hash_file(obj).is_ok_and(|h| h == *hash),
        _ => false,
    }
}

/// The mtime nanoseconds that seal the object named `hash`.
fn seal_nanos(hash: &ContentHash) -> u32 {
    hash.seal_nanos()
}

/// Sets the file's mtime to now (whole seconds) plus the hash's seal.
pub(crate) fn seal(file: &File, hash: &ContentHash) -> std::io::Result<()> {
    let secs = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    let at = UNIX_EPOCH + Duration::new(secs, seal_nanos(hash));
    file.set_times(FileTimes::new().set_modified(at).set_accessed(at))
}

/// What a `stat` says about an object.
#[derive(Debug, PartialEq)]
pub enum Check {
    /// A regular file of the recorded size with its seal intact.
    Sealed,
    /// Missing, not a regular file, or of another size.
    Missing,
    /// Present and of the right size, but the seal is broken: rehash.
    Unsealed,
}

/// Whether `meta` (a `stat` without following links) is a regular file of
/// `entry`'s size carrying its seal: the object, or a copy of it with its
/// times.
pub fn sealed(meta: &std::fs::Metadata, entry: &FileEntry) -> bool {
    meta.is_file()
        && meta.len() == entry.size
        && u32::try_from(meta.mtime_nsec()).is_ok_and(|n| n == seal_nanos(&entry.hash))
}

/// The cheap check of a cache hit: one `stat`.
pub fn check(cache: &Cache, entry: &FileEntry) -> Check {
    match std::fs::symlink_metadata(cache.object_path(&entry.hash)) {
        Ok(m) if m.is_file() && m.len() == entry.size => {
            if sealed(&m, entry) {
                Check::Sealed
            } else {
                Check::Unsealed
            }
        }
        _ => Check::Missing,
    }
}

/// Rehashes an object whose seal is broken: re-seals it if its bytes are
/// right (a `touch`, a copy across file systems), deletes it if not.
/// Returns whether it is intact.
pub fn reverify(cache: &Cache, hash: &ContentHash) -> bool {
    let obj = cache.object_path(hash);
    let Ok(before) = std::fs::symlink_metadata(&obj) else {
        return false;
    };
    if hash_file(&obj).is_ok_and(|h| h == *hash) {
        // Best effort: a file system without sub-second times cannot hold
        // the seal, and then every hit costs a rehash.
        if let Ok(f) = File::open(&obj) {
            let _ = seal(&f, hash);
        }
        return true;
    }
    // Only the file we hashed: another pipe may have just put an intact
    // object in its place.
    if std::fs::symlink_metadata(&obj).is_ok_and(|m| m.ino() == before.ino()) {
        let _ = std::fs::remove_file(&obj);
    }
    input_dirs::distrust(cache);
    false
}

/// Regular files under `dir`. Directories are entered without following
/// anything out of them unless through a symlink, whose target is then
/// only read (`via_link`); a symlink loop is an error, as are names that
/// are not UTF-8 and special files (FIFOs, sockets, devices).
fn walk(
    dir: &Path,
    rel: &str,
    via_link: bool,
    ancestors: &mut Vec<(u64, u64)>,
    out: &mut Vec<Found>,
) -> Result<()> {
    let meta = std::fs::metadata(dir).map_err(|e| Error::io(dir, "read", e))?;
    let id = (meta.dev(), meta.ino());
    if ancestors.contains(&id) {
        return Err(output_error(
            rel,
            "is a symlink to a directory that contains it (a loop)",
        ));
    }
    ancestors.push(id);
    let entries = std::fs::read_dir(dir).map_err(|e| Error::io(dir, "read", e))?;
    for entry in entries {
        let entry = entry.map_err(|e| Error::io(dir, "read", e))?;
        let path = entry.path();
        let Ok(file_name) = entry.file_name().into_string() else {
            let lossy = entry.file_name().to_string_lossy().into_owned();
            return Err(output_error(
                &join(rel, &lossy),
                "has a name that is not valid UTF-8",
            ));
        };
        let name = join(rel, &file_name);
        let kind = entry.file_type().map_err(|e| Error::io(&path, "read", e))?;
        if kind.is_symlink() {
            // The target's content is the output; the link is not followed
            // for anything but reading.
            let target = std::fs::metadata(&path).map_err(|_| {
                output_error(&name, "is a symlink to something that does not exist")
            })?;
            if target.is_dir() {
                walk(&path, &name, true, ancestors, out)?;
            } else if target.is_file() {
                out.push(Found {
                    name,
                    path,
                    own: false,
                });
            } else {
                return Err(special(&name, &target.file_type()));
            }
        } else if kind.is_dir() {
            walk(&path, &name, via_link, ancestors, out)?;
        } else if kind.is_file() {
            let links = entry.metadata().map_or(2, |m| m.nlink());
            out.push(Found {
                name,
                path,
                own: !via_link && links == 1,
            });
        } else {
            return Err(special(&name, &kind));
        }
    }
    ancestors.pop();
    Ok(())
}

fn join(rel: &str, name: &str) -> String {
    if rel.is_empty() {
        name.to_string()
    } else {
        format!("{rel}/{name}")
    }
}

fn special(name: &str, kind: &std::fs::FileType) -> Error {
    use std::os::unix::fs::FileTypeExt;
    let what = if kind.is_fifo() {
        "a FIFO (named pipe)"
    } else if kind.is_socket() {
        "a socket"
    } else {
        "a device"
    };
    output_error(name, &format!("is {what}, not a regular file"))
}

fn output_error(name: &str, what: &str) -> Error {
    Error::failed(format!("output `{name}` {what}")).with_hint(
        "outputs are regular files and directories of them (a symlink is stored as a copy of \
         what it points to); write files into \"$PIPE_OUT\"",
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stores_nested_files_read_only_sealed_and_dedups() {
        let dir = tempfile::tempdir().unwrap();
        let cache = Cache::open(&dir.path().join("cache")).unwrap();
        let staging = dir.path().join("out");
        std::fs::create_dir_all(staging.join("sub")).unwrap();
        std::fs::write(staging.join("a"), b"same").unwrap();
        std::fs::write(staging.join("sub/b"), b"same").unwrap();
        let files = store(&cache, &staging, true).unwrap();
        assert_eq!(files.keys().collect::<Vec<_>>(), ["a", "sub/b"]);
        assert_eq!(files["a"].hash, files["sub/b"].hash);
        let obj = cache.object_path(&files["a"].hash);
        assert_eq!(std::fs::read(&obj).unwrap(), b"same");
        assert_eq!(
            std::fs::metadata(&obj).unwrap().permissions().mode() & 0o777,
            0o444
        );
        assert_eq!(check(&cache, &files["a"]), Check::Sealed);
    }
}
