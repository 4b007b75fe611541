//! Fetching a file by URL into place, resumably, with a pinned checksum.
//!
//! HTTP and HTTPS go through `ureq` (rustls, no system TLS needed);
//! `file://` URLs and plain paths are copied. Bytes land in `<dest>.part`,
//! which survives a failed or killed attempt and is continued with a
//! `Range` request; only a file whose checksum matches is renamed to
//! `<dest>`. A mismatching download is deleted, so it is neither cached nor
//! resumed.

use std::fs::{File, OpenOptions};
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use pipe_engine::{Error, Progress, Result};

pub use crate::checksum::Checksum;

/// How to get out of an offline or unreachable source.
pub const OFFLINE_HINT: &str =
    "download it elsewhere and set `url:` to a local path or file:// URL (e.g. `url: /data/stl10_binary.tar.gz`)";

/// Attempts that made progress before failing are retried this many times.
const MAX_RESUMES: usize = 5;
const CHUNK: usize = 256 << 10;

/// Where a URL points.
#[derive(Debug, PartialEq)]
pub enum Source {
    Http(String),
    Local(PathBuf),
}

impl Source {
    pub fn parse(url: &str) -> Source {
        let lower = url.to_ascii_lowercase();
        if lower.starts_with("http://") || lower.starts_with("https://") {
            Source::Http(url.to_string())
        } else if let Some(rest) = url.strip_prefix("file://") {
            // `file:///abs/path` and `file://localhost/abs/path`.
            let rest = rest.strip_prefix("localhost").unwrap_or(rest);
            Source::Local(PathBuf::from(rest))
        } else {
            Source::Local(PathBuf::from(url))
        }
    }
}

/// The file name a URL suggests: its last path segment without query.
pub fn file_name_of(url: &str) -> Option<String> {
    let path = url.split(['?', '#']).next().unwrap_or(url);
    let name = path.rsplit(['/', '\\']).next().unwrap_or("");
    (!name.is_empty() && name != "." && name != "..").then(|| name.to_string())
}

/// Downloads `url` to `dest`, verifying `checksum` before `dest` appears.
///
/// If `dest` already exists with the right checksum nothing is fetched. A
/// partial `<dest>.part` from an earlier attempt is resumed.
pub fn fetch(
    url: &str,
    dest: &Path,
    checksum: &Checksum,
    progress: &Progress,
    cancel: &AtomicBool,
) -> Result<()> {
    if let Some(problem) = checksum.problem() {
        return Err(Error::failed(problem));
    }
    if dest.is_file() && checksum.verify(dest).is_ok() {
        return Ok(());
    }
    if let Some(dir) = dest.parent() {
        std::fs::create_dir_all(dir).map_err(|e| Error::io(dir, "create", e))?;
    }
    let part = part_path(dest);
    match Source::parse(url) {
        Source::Http(url) => http_download(&url, &part, progress, cancel)?,
        Source::Local(path) => copy_local(url, &path, &part, progress, cancel)?,
    }
    if let Err(e) = checksum.verify(&part) {
        let _ = std::fs::remove_file(&part);
        return Err(match e {
            Error::BadData { message, hint, .. } => Error::Network {
                url: url.to_string(),
                message: format!("{message}; the download was deleted"),
                hint,
            },
            e => e,
        });
    }
    std::fs::rename(&part, dest).map_err(|e| Error::io(dest, "rename into place", e))
}

/// `<dest>.part`.
pub fn part_path(dest: &Path) -> PathBuf {
    let mut name = dest
        .file_name()
        .map(|n| n.to_os_string())
        .unwrap_or_default();
    name.push(".part");
    dest.with_file_name(name)
}

fn network(url: &str, message: impl Into<String>) -> Error {
    Error::Network {
        url: url.to_string(),
        message: message.into(),
        hint: Some(OFFLINE_HINT.to_string()),
    }
}

fn copy_local(
    url: &str,
    src: &Path,
    part: &Path,
    progress: &Progress,
    cancel: &AtomicBool,
) -> Result<()> {
    let mut input = File::open(src).map_err(|e| {
        network(url, format!("cannot open `{}`: {e}", src.display()))
            .with_hint("check the path; a plain path or file:// URL must name an existing file")
    })?;
    let total = input.metadata().map(|m| m.len()).unwrap_or(0);
    progress.set_total(total, true);
    let mut out = File::create(part).map_err(|e| Error::io(part, "create", e))?;
    let mut buf = vec![0u8; CHUNK];
    let mut pos = 0u64;
    loop {
        if cancel.load(Ordering::Relaxed) {
            return Err(Error::Cancelled);
        }
        let n = input
            .read(&mut buf)
            .map_err(|e| Error::io(src, "read", e))?;
        if n == 0 {
            break;
        }
        out.write_all(&buf[..n])
            .map_err(|e| Error::io(part, "write", e))?;
        pos += n as u64;
        progress.set_position(pos);
    }
    out.flush().map_err(|e| Error::io(part, "write", e))
}

/// Why one HTTP attempt stopped.
enum Stop {
    /// Interrupted after receiving bytes: worth resuming.
    Interrupted(String),
    Fatal(Error),
}

fn http_download(url: &str, part: &Path, progress: &Progress, cancel: &AtomicBool) -> Result<()> {
    let config = ureq::Agent::config_builder()
        .timeout_connect(Some(Duration::from_secs(30)))
        .timeout_recv_response(Some(Duration::from_secs(60)))
        .build();
    let agent = ureq::Agent::new_with_config(config);
    let mut resumes = 0;
    loop {
        match attempt(&agent, url, part, progress, cancel) {
            Ok(()) => return Ok(()),
            Err(Stop::Fatal(e)) => return Err(e),
            Err(Stop::Interrupted(why)) if resumes < MAX_RESUMES => {
                resumes += 1;
                progress.log(format!("download of `{url}` interrupted ({why}); resuming"));
                std::thread::sleep(Duration::from_millis(200 * resumes as u64));
            }
            Err(Stop::Interrupted(why)) => {
                return Err(network(
                    url,
                    format!("{why} (gave up after {MAX_RESUMES} resumes; run again to continue)"),
                ))
            }
        }
    }
}

fn attempt(
    agent: &ureq::Agent,
    url: &str,
    part: &Path,
    progress: &Progress,
    cancel: &AtomicBool,
) -> Result<(), Stop> {
    let have = std::fs::metadata(part).map(|m| m.len()).unwrap_or(0);
    // `identity`: a transparently gunzipped body would not line up with byte ranges.
    let mut request = agent.get(url).header("Accept-Encoding", "identity");
    if have > 0 {
        request = request.header("Range", format!("bytes={have}-"));
    }
    let mut response = match request.call() {
        Ok(r) => r,
        // The partial file is already whole (or longer than the resource):
        // the checksum decides, and a wrong file is deleted.
        Err(ureq::Error::StatusCode(416)) if have > 0 => return Ok(()),
        Err(ureq::Error::StatusCode(code)) => {
            return Err(Stop::Fatal(network(
                url,
                format!("the server answered HTTP {code}"),
            )))
        }
        Err(e) => {
            return Err(Stop::Fatal(network(
                url,
                format!("cannot reach the server: {e}"),
            )))
        }
    };
    let header = |name: &str| {
        response
            .headers()
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::to_string)
    };
    let length: Option<u64> = header("content-length").and_then(|v| v.trim().parse().ok());
    let (start, total) = if response.status().as_u16() == 206 {
        match header("content-range")
            .as_deref()
            .and_then(parse_content_range)
        {
            Some((first, total)) if first == have => (have, total.or(length.map(|l| have + l))),
            _ => (0, None),
        }
    } else {
        (0, length)
    };
    if start == 0 && have > 0 && response.status().as_u16() == 206 {
        // A range we did not ask for: start over with a plain request.
        let _ = std::fs::remove_file(part);
        return Err(Stop::Interrupted(
            "the server answered an unexpected range".into(),
        ));
    }
    let mut out = if start > 0 {
        OpenOptions::new().append(true).open(part)
    } else {
        File::create(part)
    }
    .map_err(|e| Stop::Fatal(Error::io(part, "open", e)))?;
    progress.set_total(total.unwrap_or(0), true);
    progress.set_position(start);
    let mut reader = response.body_mut().as_reader();
    let mut buf = vec![0u8; CHUNK];
    let mut pos = start;
    loop {
        if cancel.load(Ordering::Relaxed) {
            let _ = out.flush();
            return Err(Stop::Fatal(Error::Cancelled));
        }
        let n = match reader.read(&mut buf) {
            Ok(n) => n,
            Err(e) => {
                let _ = out.flush();
                return Err(if pos > start {
                    Stop::Interrupted(format!("connection lost after {pos} bytes: {e}"))
                } else {
                    Stop::Fatal(network(url, format!("reading the response failed: {e}")))
                });
            }
        };
        if n == 0 {
            break;
        }
        out.write_all(&buf[..n])
            .map_err(|e| Stop::Fatal(Error::io(part, "write", e)))?;
        pos += n as u64;
        progress.set_position(pos);
    }
    out.flush()
        .map_err(|e| Stop::Fatal(Error::io(part, "write", e)))?;
    match total {
        Some(total) if pos < total => Err(if pos > start {
            Stop::Interrupted(format!("connection closed after {pos} of {total} bytes"))
        } else {
            Stop::Fatal(network(
                url,
                format!("connection closed after {pos} of {total} bytes"),
            ))
        }),
        _ => Ok(()),
    }
}

/// `bytes 100-199/1000` -> (100, Some(1000)); `bytes 100-199/*` -> (100, None).
fn parse_content_range(v: &str) -> Option<(u64, Option<u64>)> {
    let rest = v.trim().strip_prefix("bytes")?.trim();
    let (range, total) = rest.split_once('/')?;
    let first = range.split_once('-')?.0.trim().parse().ok()?;
    Some((first, total.trim().parse().ok()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sources_and_names() {
        assert_eq!(
            Source::parse("https://x/y.tgz"),
            Source::Http("https://x/y.tgz".into())
        );
        assert_eq!(
            Source::parse("file:///data/a.bin"),
            Source::Local("/data/a.bin".into())
        );
        assert_eq!(
            Source::parse("/data/a.bin"),
            Source::Local("/data/a.bin".into())
        );
        assert_eq!(
            file_name_of("http://h/a/stl10_binary.tar.gz?x=1").as_deref(),
            Some("stl10_binary.tar.gz")
        );
        assert_eq!(file_name_of("http://h/a/"), None);
        assert_eq!(
            parse_content_range("bytes 100-199/1000"),
            Some((100, Some(1000)))
        );
        assert_eq!(parse_content_range("bytes 5-9/*"), Some((5, None)));
    }
}
