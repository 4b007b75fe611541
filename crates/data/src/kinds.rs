//! The stage kinds of this crate, one file each, and [`KINDS`], the list
//! `register` in `lib.rs` adds to the registry.

pub mod augment;
pub mod download;
pub mod resize;
pub mod stl10;
pub mod synthetic;

use std::path::Path;

use pipe_engine::{Artifact, Error, Kind, Result};

/// Every kind of this crate.
pub const KINDS: &[Kind] = &[
    download::KIND,
    synthetic::KIND,
    stl10::KIND,
    resize::KIND,
    augment::KIND,
];

/// The one file of an upstream artifact, or the one named `preferred`.
pub(crate) fn single_file<'a>(artifact: &'a Artifact, preferred: &str) -> Result<&'a Path> {
    if let Some(p) = artifact.files.get(preferred) {
        return Ok(p);
    }
    let mut files = artifact.files.values();
    match (files.next(), files.next()) {
        (Some(p), None) => Ok(p),
        _ => artifact.file(preferred),
    }
}

/// Moves a finished file into the output directory (copies across devices).
pub(crate) fn move_into(from: &Path, to: &Path) -> Result<()> {
    if std::fs::rename(from, to).is_ok() {
        return Ok(());
    }
    std::fs::copy(from, to).map_err(|e| Error::io(to, "copy into place", e))?;
    let _ = std::fs::remove_file(from);
    Ok(())
}
