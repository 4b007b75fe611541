//! Safe, streaming reading of tar archives (gzip-compressed or not).
//!
//! Every member's path is checked before anything is read: absolute paths,
//! `..` components and links (symbolic or hard) make the whole archive
//! refused, whether or not the member is wanted, because an archive that
//! carries them is not the one we pinned. Wanted members are handed to the
//! caller as a stream; nothing is written to disk here.

use std::fs::File;
use std::io::{BufReader, Read};
use std::path::{Component, Path};
use std::sync::atomic::{AtomicBool, Ordering};

use pipe_engine::{Error, Progress, Result};

/// A reader that reports how far into the compressed file it is.
struct Counting<'a, R> {
    inner: R,
    pos: u64,
    progress: &'a Progress,
}

impl<R: Read> Read for Counting<'_, R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.pos += n as u64;
        self.progress.set_position(self.pos);
        Ok(n)
    }
}

/// The normalised member path (`./a/b` -> `a/b`), or why it is refused.
pub fn member_path(raw: &[u8]) -> std::result::Result<String, String> {
    let text = String::from_utf8_lossy(raw).to_string();
    let path = Path::new(&text);
    let mut parts = Vec::new();
    for c in path.components() {
        match c {
            Component::Normal(p) => parts.push(p.to_string_lossy().to_string()),
            Component::CurDir => {}
            Component::ParentDir => {
                return Err(format!("member `{text}` points outside the archive (`..`)"))
            }
            Component::RootDir | Component::Prefix(_) => {
                return Err(format!("member `{text}` has an absolute path"))
            }
        }
    }
    Ok(parts.join("/"))
}

/// Calls `f(name, size, stream)` for each member whose normalised name
/// `wanted` accepts, in archive order. Returns every member name seen.
pub fn read_members(
    archive: &Path,
    progress: &Progress,
    cancel: &AtomicBool,
    wanted: &dyn Fn(&str) -> bool,
    f: &mut dyn FnMut(&str, u64, &mut dyn Read) -> Result<()>,
) -> Result<Vec<String>> {
    let mut file = File::open(archive).map_err(|e| Error::io(archive, "open", e))?;
    let total = file.metadata().map(|m| m.len()).unwrap_or(0);
    let mut magic = [0u8; 2];
    let got = file
        .read(&mut magic)
        .map_err(|e| Error::io(archive, "read", e))?;
    let file = File::open(archive).map_err(|e| Error::io(archive, "open", e))?;
    progress.set_total(total, true);
    let counting = Counting {
        inner: BufReader::with_capacity(1 << 20, file),
        pos: 0,
        progress,
    };
    let stream: Box<dyn Read> = if got == 2 && magic == [0x1f, 0x8b] {
        Box::new(flate2::read::GzDecoder::new(counting))
    } else {
        Box::new(counting)
    };
    let corrupt = |e: std::io::Error| {
        Error::bad_data(archive, format!("is not a readable tar archive (truncated or corrupt?): {e}"))
            .with_hint("delete the cached download and fetch it again, or check that `url:` points at the right file")
    };
    let mut tar = tar::Archive::new(stream);
    let mut seen = Vec::new();
    for entry in tar.entries().map_err(corrupt)? {
        if cancel.load(Ordering::Relaxed) {
            return Err(Error::Cancelled);
        }
        let mut entry = entry.map_err(corrupt)?;
        let name = member_path(&entry.path_bytes()).map_err(|m| refused(archive, m))?;
        let ty = entry.header().entry_type();
        if ty.is_symlink() || ty.is_hard_link() {
            return Err(refused(archive, format!("member `{name}` is a link")));
        }
        if !wanted(&name) {
            seen.push(name);
            continue;
        }
        if !ty.is_file() {
            return Err(refused(
                archive,
                format!("member `{name}` is not a regular file"),
            ));
        }
        let size = entry.size();
        // `f` names the member in its own read errors (a truncated archive
        // surfaces there as an unexpected end of file).
        f(&name, size, &mut entry)?;
        seen.push(name);
    }
    if seen.is_empty() {
        return Err(
            Error::bad_data(archive, "is not a tar archive (no members found)")
                .with_hint("check that `url:` points at `stl10_binary.tar.gz`"),
        );
    }
    Ok(seen)
}

fn refused(archive: &Path, message: String) -> Error {
    Error::bad_data(archive, format!("refused: {message}")).with_hint(
        "this is not the pinned archive; only regular files inside the archive are extracted",
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn member_paths() {
        assert_eq!(
            member_path(b"./stl10_binary/train_X.bin").unwrap(),
            "stl10_binary/train_X.bin"
        );
        assert!(member_path(b"../etc/passwd").is_err());
        assert!(member_path(b"a/../../b").is_err());
        assert!(member_path(b"/etc/passwd").is_err());
    }
}
