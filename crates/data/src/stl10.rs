//! The STL-10 binary format: decoding `stl10_binary.tar.gz` into split
//! files, and the layout the synthetic source writes.
//!
//! Each `*_X.bin` holds uint8 images of 3 x S x S (S = 96 for the real data)
//! with every channel stored column-major (as MATLAB wrote it), so decoding
//! transposes each channel to row-major CHW. Each `*_y.bin` holds one byte
//! per image, classes 1..=10, which become 0..=9.

use std::collections::BTreeMap;
use std::io::Read;
use std::path::Path;
use std::sync::atomic::AtomicBool;

use pipe_engine::{Error, Progress, Result};
use rayon::prelude::*;

use crate::archive;
use crate::dataset::Dataset;
use crate::tensors::Writer;

/// The directory inside the archive.
pub const DIR: &str = "stl10_binary";
/// The image side of the real data.
pub const SIDE: usize = 96;
pub const CHANNELS: usize = 3;

/// Counts and names found while decoding.
#[derive(Clone, Debug, PartialEq)]
pub struct Summary {
    pub train: usize,
    pub test: usize,
    pub unlabeled: usize,
    pub side: usize,
    pub classes: Vec<String>,
}

/// Transposes one image's channels between column-major (file) and
/// row-major (CHW) order; the same operation both ways for square images.
pub fn transpose_image(src: &[u8], dst: &mut [u8], side: usize) {
    let plane = side * side;
    for (s, d) in src.chunks_exact(plane).zip(dst.chunks_exact_mut(plane)) {
        for x in 0..side {
            let col = &s[x * side..(x + 1) * side];
            for (y, &v) in col.iter().enumerate() {
                d[y * side + x] = v;
            }
        }
    }
}

/// Reads exactly `buf.len()` bytes of a member, naming it on failure.
fn read_member(archive: &Path, name: &str, r: &mut dyn Read, buf: &mut [u8]) -> Result<()> {
    r.read_exact(buf).map_err(|e| {
        Error::bad_data(
            archive,
            format!("member `{name}` cannot be read (truncated archive?): {e}"),
        )
        .with_hint("delete the cached download and fetch it again")
    })
}

/// Decodes the archive into `train.safetensors`, `test.safetensors` and
/// `classes.json` in `out` (plus `unlabeled.safetensors` if asked).
pub fn extract(
    archive_path: &Path,
    out: &Path,
    unlabeled: bool,
    progress: &Progress,
    cancel: &AtomicBool,
) -> Result<Summary> {
    let names = [
        "train_X.bin",
        "train_y.bin",
        "test_X.bin",
        "test_y.bin",
        "class_names.txt",
    ];
    let member = |n: &str| format!("{DIR}/{n}");
    let wanted = |name: &str| {
        names.iter().any(|n| member(n) == name) || (unlabeled && name == member("unlabeled_X.bin"))
    };
    let mut raw: BTreeMap<String, Vec<u8>> = BTreeMap::new();
    let mut unlabeled_count = 0;
    archive::read_members(
        archive_path,
        progress,
        cancel,
        &wanted,
        &mut |name, size, r| {
            if name.ends_with("unlabeled_X.bin") {
                unlabeled_count = stream_unlabeled(
                    archive_path,
                    name,
                    size,
                    r,
                    &out.join("unlabeled.safetensors"),
                )?;
                return Ok(());
            }
            let len = usize::try_from(size).map_err(|_| {
                Error::bad_data(archive_path, format!("member `{name}` is too large"))
            })?;
            let mut buf = crate::alloc::zeroed(len, &format!("member `{name}`"))?;
            read_member(archive_path, name, r, &mut buf)?;
            raw.insert(name.rsplit('/').next().unwrap_or(name).to_string(), buf);
            Ok(())
        },
    )?;
    for n in names.iter().chain(unlabeled.then_some(&"unlabeled_X.bin")) {
        if !(raw.contains_key(*n) || *n == "unlabeled_X.bin" && unlabeled_count > 0) {
            return Err(
                Error::bad_data(archive_path, format!("has no member `{}`", member(n)))
                    .with_hint("this is not the STL-10 binary archive `stl10_binary.tar.gz`"),
            );
        }
    }
    let classes: Vec<String> = String::from_utf8_lossy(&raw["class_names.txt"])
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .map(str::to_string)
        .collect();
    if classes.is_empty() {
        return Err(Error::bad_data(
            archive_path,
            format!("member `{}` lists no classes", member("class_names.txt")),
        ));
    }
    let mut side = 0;
    let mut counts = [0usize; 2];
    for (i, split) in ["train", "test"].into_iter().enumerate() {
        let x = raw.remove(&format!("{split}_X.bin")).unwrap_or_default();
        let y = raw.remove(&format!("{split}_y.bin")).unwrap_or_default();
        let data = decode_split(archive_path, split, x, &y, classes.len())?;
        if side != 0 && data.height != side {
            return Err(Error::bad_data(
                archive_path,
                format!(
                    "`{split}` images are {}x{} but train images are {side}x{side}",
                    data.height, data.width
                ),
            ));
        }
        side = data.height;
        counts[i] = data.n;
        data.save(&out.join(format!("{split}.safetensors")))?;
    }
    let json =
        serde_json::to_string_pretty(&classes).map_err(|e| Error::internal(e.to_string()))?;
    let path = out.join("classes.json");
    std::fs::write(&path, json).map_err(|e| Error::io(&path, "write", e))?;
    Ok(Summary {
        train: counts[0],
        test: counts[1],
        unlabeled: unlabeled_count,
        side,
        classes,
    })
}

/// Turns a split's raw member bytes into a dataset, checking that sizes,
/// counts and labels agree.
pub fn decode_split(
    archive: &Path,
    split: &str,
    mut x: Vec<u8>,
    y: &[u8],
    num_classes: usize,
) -> Result<Dataset> {
    let n = y.len();
    let xname = format!("{DIR}/{split}_X.bin");
    let yname = format!("{DIR}/{split}_y.bin");
    if n == 0 {
        return Err(Error::bad_data(
            archive,
            format!("member `{yname}` is empty"),
        ));
    }
    let per = x.len() / n;
    let side = ((per / CHANNELS) as f64).sqrt().round() as usize;
    if x.len().checked_rem(n) != Some(0) || per != CHANNELS * side * side || side == 0 {
        return Err(Error::bad_data(
            archive,
            format!(
                "member `{xname}` has {} bytes, not a whole number of 3x{SIDE}x{SIDE} images for the {n} labels of `{yname}` (expected {} bytes)",
                x.len(),
                n * CHANNELS * SIDE * SIDE
            ),
        )
        .with_hint("the archive is truncated or not STL-10's binary release"));
    }
    let mut labels = Vec::with_capacity(n);
    for (i, &l) in y.iter().enumerate() {
        if l == 0 || l as usize > num_classes {
            return Err(Error::bad_data(
                archive,
                format!("member `{yname}` has label {l} at image {i}; expected 1..={num_classes}"),
            ));
        }
        labels.push(i64::from(l) - 1);
    }
    x.par_chunks_mut(per).for_each_init(
        || vec![0u8; per],
        |scratch, img| {
            scratch.copy_from_slice(img);
            transpose_image(scratch, img, side);
        },
    );
    Ok(Dataset {
        images: x,
        labels,
        n,
        channels: CHANNELS,
        height: side,
        width: side,
    })
}

/// Writes the (large) unlabelled split straight from the archive stream;
/// its labels are all -1.
fn stream_unlabeled(
    archive: &Path,
    name: &str,
    size: u64,
    r: &mut dyn Read,
    dest: &Path,
) -> Result<usize> {
    let per = (CHANNELS * SIDE * SIDE) as u64;
    if size.checked_rem(per) != Some(0) {
        return Err(Error::bad_data(
            archive,
            format!(
                "member `{name}` has {size} bytes, not a whole number of 3x{SIDE}x{SIDE} images"
            ),
        ));
    }
    let n = (size / per) as usize;
    let mut w = Writer::create(dest, &Dataset::plan(n, CHANNELS, SIDE, SIDE))?;
    let mut src = vec![0u8; per as usize];
    let mut dst = vec![0u8; per as usize];
    for _ in 0..n {
        read_member(archive, name, r, &mut src)?;
        transpose_image(&src, &mut dst, SIDE);
        w.write(&dst)?;
    }
    w.write_i64(&vec![-1; n])?;
    w.finish()?;
    Ok(n)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn transpose_is_column_major_to_row_major() {
        // One 2x2 channel stored column-major: (x0,y0) (x0,y1) (x1,y0) (x1,y1).
        let src = [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12];
        let mut dst = [0u8; 12];
        transpose_image(&src, &mut dst, 2);
        assert_eq!(dst[..4], [1, 3, 2, 4]);
        let mut back = [0u8; 12];
        transpose_image(&dst, &mut back, 2);
        assert_eq!(back, src);
    }
}
