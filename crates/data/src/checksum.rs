//! Pinned checksums of downloaded files: which algorithm, which digest, and
//! checking a file against it.
//!
//! A digest may be the full hex string or a prefix of at least eight hex
//! digits, because torchvision's checkpoint names carry only the first
//! eight digits of their sha256 (`resnet50-11ad3fa6.pth`).

use std::fmt;
use std::fs::File;
use std::io::Read;
use std::path::Path;

use md5::Digest as _;
use pipe_engine::{Error, Result};

/// The shortest digest prefix accepted.
pub const MIN_PREFIX: usize = 8;

/// An expected digest of a file.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Checksum {
    Md5(String),
    /// Full hex or a prefix of at least [`MIN_PREFIX`] hex digits.
    Sha256(String),
    Blake3(String),
}

impl Checksum {
    /// The algorithm's name as written in pipeline files (`md5`, ...).
    pub fn algorithm(&self) -> &'static str {
        match self {
            Checksum::Md5(_) => "md5",
            Checksum::Sha256(_) => "sha256",
            Checksum::Blake3(_) => "blake3",
        }
    }

    /// The expected digest, as given.
    pub fn expected(&self) -> &str {
        match self {
            Checksum::Md5(h) | Checksum::Sha256(h) | Checksum::Blake3(h) => h,
        }
    }

    fn full_len(&self) -> usize {
        match self {
            Checksum::Md5(_) => 32,
            Checksum::Sha256(_) | Checksum::Blake3(_) => 64,
        }
    }

    /// Why this digest is malformed, if it is (for `Kind::check`).
    pub fn problem(&self) -> Option<String> {
        let h = self.expected();
        if !h.chars().all(|c| c.is_ascii_hexdigit()) {
            return Some(format!(
                "{} digest `{h}` is not hexadecimal",
                self.algorithm()
            ));
        }
        if h.len() < MIN_PREFIX || h.len() > self.full_len() {
            return Some(format!(
                "{} digest `{h}` has {} hex digits; expected {} (or a prefix of at least {MIN_PREFIX})",
                self.algorithm(),
                h.len(),
                self.full_len()
            ));
        }
        None
    }

    /// The full hex digest of `path` with this algorithm.
    pub fn digest_of(&self, path: &Path) -> Result<String> {
        let mut file = File::open(path).map_err(|e| Error::io(path, "open", e))?;
        let mut buf = vec![0u8; 1 << 20];
        let mut hasher = Hasher::new(self);
        loop {
            let n = file
                .read(&mut buf)
                .map_err(|e| Error::io(path, "read", e))?;
            if n == 0 {
                break;
            }
            hasher.update(&buf[..n]);
        }
        Ok(hasher.finish())
    }

    /// Whether a full hex digest matches this (possibly shortened) one.
    pub fn matches(&self, actual: &str) -> bool {
        let expected = self.expected().to_ascii_lowercase();
        expected.len() >= MIN_PREFIX && actual.to_ascii_lowercase().starts_with(&expected)
    }

    /// `Ok` when the file has this digest; otherwise a [`Error::BadData`]
    /// naming the file, the expected and the actual digest.
    pub fn verify(&self, path: &Path) -> Result<()> {
        if let Some(problem) = self.problem() {
            return Err(Error::failed(problem));
        }
        let actual = self.digest_of(path)?;
        if self.matches(&actual) {
            Ok(())
        } else {
            Err(Error::bad_data(
                path,
                format!(
                    "{} checksum mismatch: expected `{}`, found `{actual}`",
                    self.algorithm(),
                    self.expected()
                ),
            )
            .with_hint("the file is corrupt or not the one pinned; check the URL, or update the pinned checksum if the source really changed"))
        }
    }
}

impl fmt::Display for Checksum {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.algorithm(), self.expected())
    }
}

/// A streaming hasher for one of the algorithms.
pub enum Hasher {
    Md5(md5::Md5),
    Sha256(sha2::Sha256),
    Blake3(Box<blake3::Hasher>),
}

impl Hasher {
    pub fn new(kind: &Checksum) -> Hasher {
        match kind {
            Checksum::Md5(_) => Hasher::Md5(md5::Md5::new()),
            Checksum::Sha256(_) => Hasher::Sha256(sha2::Sha256::new()),
            Checksum::Blake3(_) => Hasher::Blake3(Box::new(blake3::Hasher::new())),
        }
    }

    pub fn update(&mut self, bytes: &[u8]) {
        match self {
            Hasher::Md5(h) => h.update(bytes),
            Hasher::Sha256(h) => h.update(bytes),
            Hasher::Blake3(h) => {
                h.update(bytes);
            }
        }
    }

    /// The lower-case hex digest.
    pub fn finish(self) -> String {
        match self {
            Hasher::Md5(h) => hex(&h.finalize()),
            Hasher::Sha256(h) => hex(&h.finalize()),
            Hasher::Blake3(h) => h.finalize().to_hex().to_string(),
        }
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn digest(c: &Checksum, bytes: &[u8]) -> String {
        let mut h = Hasher::new(c);
        h.update(bytes);
        h.finish()
    }

    #[test]
    fn known_digests_of_abc() {
        let md5 = Checksum::Md5(String::new());
        assert_eq!(digest(&md5, b"abc"), "900150983cd24fb0d6963f7d28e17f72");
        let sha = Checksum::Sha256(String::new());
        assert_eq!(
            digest(&sha, b"abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
    }

    #[test]
    fn prefixes_match_but_short_ones_do_not() {
        let full = "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad";
        assert!(Checksum::Sha256("ba7816bf".into()).matches(full));
        assert!(Checksum::Sha256("BA7816BF8F".into()).matches(full));
        assert!(!Checksum::Sha256("ba7816b".into()).matches(full));
        assert!(!Checksum::Sha256("ba7816be".into()).matches(full));
        assert!(Checksum::Sha256("ba7816b".into()).problem().is_some());
        assert!(Checksum::Md5("zz".repeat(16)).problem().is_some());
        assert!(Checksum::Md5("91f7769df0f17e558f3565bffb0c7dfb".into())
            .problem()
            .is_none());
    }
}
