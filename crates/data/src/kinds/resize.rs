//! `kind: resize`: every split of a dataset resized (antialiased bilinear,
//! torchvision-equal; see [`crate::resize`]).
//!
//! Streams: a chunk of images is read, resized in parallel and written, so
//! peak memory is two chunks, not the split (the 13,000 STL-10 images at
//! 224 are 1.96 GB of output).

use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};

use pipe_engine::{
    Context, Declaration, Error, InputSpec, Kind, Lit, OutputSpec, ParamSpec, ParamType, Params,
    Progress, Result,
};
use rayon::prelude::*;

use crate::alloc::{product, zeroed};
use crate::dataset::Dataset;
use crate::resize::Resizer;
use crate::tensors::{Reader, Writer};

const PARAMS: &[ParamSpec] = &[ParamSpec::optional(
    "size",
    ParamType::Int,
    Lit::Int(224),
    "Output side in pixels (square).",
)];

const INPUTS: &[InputSpec] = &[InputSpec::one("data", "An `stl10` or `resize` stage.")];

const OUTPUTS: &[OutputSpec] = &[
    OutputSpec {
        name: "train.safetensors",
        doc: "The training split, resized.",
    },
    OutputSpec {
        name: "test.safetensors",
        doc: "The test split, resized.",
    },
    OutputSpec {
        name: "classes.json",
        doc: "Passed through.",
    },
];

/// Images per chunk.
const CHUNK: usize = 256;

/// Resizes the split file `input` into `output`; returns the image count.
pub fn resize_file(
    input: &Path,
    output: &Path,
    size: usize,
    progress: &Progress,
    cancel: &AtomicBool,
) -> Result<usize> {
    let mut r = Reader::open(input)?;
    let info = r.info("images", "U8", 1)?.clone();
    let &[n, c, h, w] = info.shape.as_slice() else {
        return Err(Error::bad_data(
            input,
            format!("`images` has shape {:?}; expected [N, C, H, W]", info.shape),
        ));
    };
    let (_, labels) = r.read_i64("labels")?;
    if labels.len() != n {
        return Err(Error::bad_data(
            input,
            format!("has {} labels for {n} images", labels.len()),
        ));
    }
    let resizer = Resizer::new(h, w, size, size);
    let (in_len, out_len) = (c * h * w, resizer.out_len(c));
    let mut writer = Writer::create(output, &Dataset::plan(n, c, size, size))?;
    let chunk = CHUNK.min(n.max(1));
    let mut src = zeroed(
        product(chunk, in_len, "a chunk of images")?,
        "a chunk of images",
    )?;
    let mut dst = zeroed(
        product(chunk, out_len, "a chunk of images")?,
        "resized images",
    )?;
    let mut done = 0;
    while done < n {
        if cancel.load(Ordering::Relaxed) {
            return Err(Error::Cancelled);
        }
        let k = CHUNK.min(n - done);
        r.read_bytes("images", done * in_len, &mut src[..k * in_len])?;
        dst[..k * out_len]
            .par_chunks_mut(out_len)
            .zip(src[..k * in_len].par_chunks(in_len))
            .for_each_init(Vec::new, |scratch, (d, s)| resizer.image(s, c, d, scratch));
        writer.write(&dst[..k * out_len])?;
        done += k;
        progress.inc(k as u64);
    }
    writer.write_i64(&labels)?;
    writer.finish()?;
    Ok(n)
}

/// `kind: resize`.
pub const KIND: Kind = Kind::in_process(
    Declaration {
        name: "resize",
        summary: "Resizes every split to `size`x`size` (antialiased bilinear, bit-exact with torchvision's uint8 resize).",
        params: PARAMS,
        inputs: INPUTS,
        outputs: OUTPUTS,
        check,
        ..Declaration::BASE
    },
    run,
);

/// A `resize` stage's settings.
struct ResizeSpec {
    /// The output side in pixels.
    size: usize,
}

impl ResizeSpec {
    fn from_params(p: &Params) -> Result<ResizeSpec> {
        Ok(ResizeSpec {
            size: p.usize("size")?,
        })
    }
}

fn check(params: &Params) -> Vec<(String, String)> {
    match params.i64("size") {
        Ok(s) if !(1..=4096).contains(&s) => vec![(
            "size".into(),
            format!("`size` must be between 1 and 4096 (got {s})"),
        )],
        _ => Vec::new(),
    }
}

fn run(ctx: &Context) -> Result<()> {
    let spec = ResizeSpec::from_params(ctx.params)?;
    let data = ctx.input("data")?;
    let mut total = 0u64;
    for (name, path) in &data.files {
        if name.ends_with(".safetensors") {
            total += Reader::open(path)?
                .info("images", "U8", 1)?
                .shape
                .first()
                .copied()
                .unwrap_or(0) as u64;
        }
    }
    ctx.progress.set_total(total, false);
    for (name, path) in &data.files {
        let dest = ctx.out.join(name);
        if name.ends_with(".safetensors") {
            resize_file(path, &dest, spec.size, ctx.progress, ctx.cancel)?;
        } else {
            std::fs::copy(path, &dest).map_err(|e| Error::io(&dest, "copy", e))?;
        }
    }
    Ok(())
}
