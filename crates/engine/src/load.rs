//! Reading a pipeline file: bytes -> YAML tree -> [`crate::spec`] ->
//! [`crate::validate`] -> [`Pipeline`]. The entry points of the format.

use std::path::Path;

use crate::diagnostic::{Diagnostic, Severity};
use crate::error::{Error, Result};
use crate::hash::ContentHash;
use crate::kind::Registry;
use crate::pipeline::Pipeline;
use crate::validate::sink::Sink;
use crate::validate::{self, Input};
use crate::{spec, yaml};

/// Loads and validates a pipeline file. `overrides` are `KEY=VALUE` strings
/// from `--set`; each VALUE is read as YAML. Every problem found is in the
/// returned [`Error::Invalid`]; failing to read the file is [`Error::Io`].
pub fn load(file: &Path, registry: &Registry, overrides: &[String]) -> Result<Pipeline> {
    let bytes = std::fs::read(file).map_err(|e| Error::io(file, "read", e))?;
    let (pipeline, diagnostics) = load_bytes(file, &bytes, registry, overrides)?;
    match pipeline {
        Some(p) if !diagnostics.iter().any(|d| d.severity == Severity::Error) => Ok(p),
        _ => Err(Error::Invalid(diagnostics)),
    }
}

/// Every diagnostic for a file (empty when it is valid). A file that cannot
/// be read gives one diagnostic without a location.
pub fn check(file: &Path, registry: &Registry, overrides: &[String]) -> Vec<Diagnostic> {
    let result = std::fs::read(file)
        .map_err(|e| Error::io(file, "read", e))
        .and_then(|bytes| load_bytes(file, &bytes, registry, overrides));
    match result {
        Ok((_, diagnostics)) => diagnostics,
        Err(Error::Invalid(d)) => d,
        Err(e) => {
            let mut d = Diagnostic::error(e.to_string());
            d.hint = e.hint().map(str::to_string);
            vec![d]
        }
    }
}

/// Validates a file's bytes. `Ok((None, diagnostics))` when invalid.
pub fn load_bytes(
    file: &Path,
    bytes: &[u8],
    registry: &Registry,
    overrides: &[String],
) -> Result<(Option<Pipeline>, Vec<Diagnostic>)> {
    let mut sink = Sink::new(file);
    let source_hash = ContentHash::of(bytes);
    let Ok(text) = std::str::from_utf8(bytes) else {
        sink.error_unplaced(format!("`{}` is not UTF-8 text", file.display()));
        return Ok((None, sink.diagnostics));
    };
    let root = match yaml::parse(text) {
        Ok((root, errors)) => {
            for e in errors {
                report_syntax(&mut sink, e);
            }
            root
        }
        Err(e) => {
            report_syntax(&mut sink, e);
            return Ok((None, sink.diagnostics));
        }
    };
    let spec = spec::read(root.as_ref(), &mut sink);
    let dir = absolute_dir(file)?;
    let input = Input {
        file,
        dir: &dir,
        source_hash,
        registry,
        overrides,
    };
    let pipeline = validate::validate(&spec, &input, &mut sink);
    Ok((pipeline, finish(sink.diagnostics)))
}

fn report_syntax(sink: &mut Sink, e: yaml::SyntaxError) {
    let d = sink.error(e.pos, e.message);
    d.hint = e.hint;
}

/// The same problem found once per matrix entry is reported once; the rest
/// are sorted by place so the output reads top to bottom.
fn finish(mut diagnostics: Vec<Diagnostic>) -> Vec<Diagnostic> {
    let mut seen = Vec::with_capacity(diagnostics.len());
    diagnostics.retain(|d| {
        if seen.contains(d) {
            false
        } else {
            seen.push(d.clone());
            true
        }
    });
    diagnostics.sort_by_key(|d| d.span.as_ref().map(|s| (s.line, s.column)));
    diagnostics
}

fn absolute_dir(file: &Path) -> Result<std::path::PathBuf> {
    let parent = match file.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => std::path::PathBuf::from("."),
    };
    std::path::absolute(&parent)
        .map(|p| normalize(&p))
        .map_err(|e| Error::io(parent, "resolve", e))
}

/// Removes `.` components (no symlink resolution: the path is as the user sees it).
fn normalize(p: &Path) -> std::path::PathBuf {
    p.components()
        .filter(|c| !matches!(c, std::path::Component::CurDir))
        .collect()
}
