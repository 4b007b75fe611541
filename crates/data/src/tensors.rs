//! Reading and writing the safetensors files that carry image datasets
//! between stages (`images` uint8 [N,C,H,W], `labels` int64 [N]).
//!
//! Written by hand rather than through the `safetensors` crate so that a
//! large split streams to disk chunk by chunk (the header is known up front)
//! and is read straight into its final buffer, never held twice. The files
//! are standard safetensors: Python's `safetensors.torch.load_file` reads
//! them unchanged (the fixture script checks this).

use std::collections::BTreeMap;
use std::fs::File;
use std::io::{BufWriter, Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

use pipe_engine::{Error, Result};
use serde_json::json;

/// One tensor's place in a file.
#[derive(Clone, Debug, PartialEq)]
pub struct TensorInfo {
    pub dtype: String,
    pub shape: Vec<usize>,
    /// Byte range within the data section.
    pub start: usize,
    pub end: usize,
}

/// A safetensors file opened for reading; tensors are read on demand.
pub struct Reader {
    path: PathBuf,
    file: File,
    data_start: u64,
    pub tensors: BTreeMap<String, TensorInfo>,
}

impl Reader {
    pub fn open(path: &Path) -> Result<Reader> {
        let mut file = File::open(path).map_err(|e| Error::io(path, "open", e))?;
        let len = file
            .metadata()
            .map_err(|e| Error::io(path, "read", e))?
            .len();
        let bad = |m: String| {
            Error::bad_data(path, m)
                .with_hint("this is not a safetensors file written by `stl10` or `resize`")
        };
        let mut n = [0u8; 8];
        file.read_exact(&mut n)
            .map_err(|_| bad("shorter than a safetensors header".into()))?;
        let header_len = u64::from_le_bytes(n);
        if header_len > 100 << 20 || 8 + header_len > len {
            return Err(bad(format!(
                "header length {header_len} does not fit the file of {len} bytes"
            )));
        }
        let mut header = vec![0u8; header_len as usize];
        file.read_exact(&mut header)
            .map_err(|e| Error::io(path, "read", e))?;
        let json: serde_json::Value =
            serde_json::from_slice(&header).map_err(|e| bad(format!("header is not JSON: {e}")))?;
        let obj = json
            .as_object()
            .ok_or_else(|| bad("header is not a JSON object".into()))?;
        let mut tensors = BTreeMap::new();
        for (name, v) in obj {
            if name == "__metadata__" {
                continue;
            }
            let dtype = v["dtype"].as_str().unwrap_or("").to_string();
            let shape: Option<Vec<usize>> = v["shape"].as_array().map(|a| {
                a.iter()
                    .filter_map(|d| d.as_u64().map(|d| d as usize))
                    .collect()
            });
            let offsets: Option<Vec<usize>> = v["data_offsets"].as_array().map(|a| {
                a.iter()
                    .filter_map(|d| d.as_u64().map(|d| d as usize))
                    .collect()
            });
            match (shape, offsets.as_deref()) {
                (Some(shape), Some(&[start, end])) if start <= end => {
                    tensors.insert(
                        name.clone(),
                        TensorInfo {
                            dtype,
                            shape,
                            start,
                            end,
                        },
                    );
                }
                _ => return Err(bad(format!("tensor `{name}` has a malformed entry"))),
            }
        }
        let data_start = 8 + header_len;
        let data_len = len - data_start;
        for (name, t) in &tensors {
            if t.end as u64 > data_len {
                return Err(bad(format!(
                    "tensor `{name}` ends at byte {} but the data section has {data_len} bytes (truncated file?)",
                    t.end
                )));
            }
        }
        Ok(Reader {
            path: path.to_path_buf(),
            file,
            data_start,
            tensors,
        })
    }

    /// The tensor's info, checked for dtype and element size.
    pub fn info(&self, name: &str, dtype: &str, elem: usize) -> Result<&TensorInfo> {
        let t = self
            .tensors
            .get(name)
            .ok_or_else(|| Error::bad_data(&self.path, format!("has no tensor `{name}`")))?;
        let count: usize = t.shape.iter().product();
        if t.dtype != dtype || count * elem != t.end - t.start {
            return Err(Error::bad_data(
                &self.path,
                format!(
                    "tensor `{name}` is {} {:?} over {} bytes; expected {dtype}",
                    t.dtype,
                    t.shape,
                    t.end - t.start
                ),
            ));
        }
        Ok(t)
    }

    /// Reads `len` bytes at `offset` within tensor `name`'s data.
    pub fn read_bytes(&mut self, name: &str, offset: usize, out: &mut [u8]) -> Result<()> {
        let t = self
            .tensors
            .get(name)
            .ok_or_else(|| Error::internal(format!("no tensor `{name}`")))?;
        if offset + out.len() > t.end - t.start {
            return Err(Error::internal(format!("read past tensor `{name}`")));
        }
        let pos = self.data_start + (t.start + offset) as u64;
        self.file
            .seek(SeekFrom::Start(pos))
            .map_err(|e| Error::io(&self.path, "read", e))?;
        self.file
            .read_exact(out)
            .map_err(|e| Error::io(&self.path, "read", e))
    }

    pub fn read_u8(&mut self, name: &str) -> Result<(Vec<usize>, Vec<u8>)> {
        let t = self.info(name, "U8", 1)?.clone();
        let mut out = vec![0u8; t.end - t.start];
        self.read_bytes(name, 0, &mut out)?;
        Ok((t.shape, out))
    }

    pub fn read_i64(&mut self, name: &str) -> Result<(Vec<usize>, Vec<i64>)> {
        let t = self.info(name, "I64", 8)?.clone();
        let mut raw = vec![0u8; t.end - t.start];
        self.read_bytes(name, 0, &mut raw)?;
        let v = raw
            .chunks_exact(8)
            .map(|c| i64::from_le_bytes(c.try_into().unwrap_or([0; 8])))
            .collect();
        Ok((t.shape, v))
    }
}

/// A tensor to be written: name, dtype, shape (the bytes come later).
pub struct Planned {
    pub name: String,
    pub dtype: &'static str,
    pub shape: Vec<usize>,
    pub elem: usize,
}

/// Writes a safetensors file whose tensors' bytes are appended in the
/// planned order, possibly in many chunks.
pub struct Writer {
    path: PathBuf,
    out: BufWriter<File>,
    remaining: Vec<usize>,
    current: usize,
}

impl Writer {
    pub fn create(path: &Path, tensors: &[Planned]) -> Result<Writer> {
        let mut header = serde_json::Map::new();
        let mut offset = 0usize;
        let mut sizes = Vec::new();
        for t in tensors {
            let size = t.shape.iter().product::<usize>() * t.elem;
            header.insert(
                t.name.clone(),
                json!({"dtype": t.dtype, "shape": t.shape, "data_offsets": [offset, offset + size]}),
            );
            offset += size;
            sizes.push(size);
        }
        let mut text = serde_json::to_vec(&serde_json::Value::Object(header))
            .map_err(|e| Error::internal(format!("cannot encode a safetensors header: {e}")))?;
        // The data section starts 8-byte aligned, as the reference writer does.
        while (8 + text.len()) % 8 != 0 {
            text.push(b' ');
        }
        let file = File::create(path).map_err(|e| Error::io(path, "create", e))?;
        let mut out = BufWriter::with_capacity(1 << 20, file);
        let w = |e| Error::io(path, "write", e);
        out.write_all(&(text.len() as u64).to_le_bytes())
            .map_err(w)?;
        out.write_all(&text).map_err(w)?;
        Ok(Writer {
            path: path.to_path_buf(),
            out,
            remaining: sizes,
            current: 0,
        })
    }

    /// Appends bytes to the current tensor (moving on to the next when full).
    pub fn write(&mut self, mut bytes: &[u8]) -> Result<()> {
        while !bytes.is_empty() {
            let Some(left) = self.remaining.get_mut(self.current) else {
                return Err(Error::internal(format!(
                    "too many bytes for `{}`",
                    self.path.display()
                )));
            };
            let n = (*left).min(bytes.len());
            self.out
                .write_all(&bytes[..n])
                .map_err(|e| Error::io(&self.path, "write", e))?;
            *left -= n;
            bytes = &bytes[n..];
            if *left == 0 {
                self.current += 1;
            }
        }
        while self.remaining.get(self.current) == Some(&0) {
            self.current += 1;
        }
        Ok(())
    }

    pub fn write_i64(&mut self, values: &[i64]) -> Result<()> {
        let bytes: Vec<u8> = values.iter().flat_map(|v| v.to_le_bytes()).collect();
        self.write(&bytes)
    }

    /// Flushes; an error if fewer bytes were written than planned.
    pub fn finish(mut self) -> Result<()> {
        if self.remaining.iter().any(|r| *r != 0) {
            return Err(Error::internal(format!(
                "`{}` was not completely written",
                self.path.display()
            )));
        }
        self.out
            .flush()
            .map_err(|e| Error::io(&self.path, "write", e))
    }
}
