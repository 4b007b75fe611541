//! `kind: download`: a file from a URL (or a local path), checksum-pinned.
//!
//! The cache key is the URL and the checksums (the parameters), so a cached
//! download is reused offline without touching the network. The partial
//! file lives in the stage's work directory, so a killed run resumes.

use pipe_engine::{
    Context, Declaration, Error, Kind, Lit, OutputSpec, ParamSpec, ParamType, Params, Result,
};

use crate::checksum::Checksum;
use crate::download::{fetch, file_name_of};

const PARAMS: &[ParamSpec] = &[
    ParamSpec::required(
        "url",
        ParamType::Str,
        "An http(s):// or file:// URL, or a plain (absolute) path.",
    ),
    ParamSpec::optional("md5", ParamType::Str, Lit::Null, "Expected md5 hex digest."),
    ParamSpec::optional(
        "sha256",
        ParamType::Str,
        Lit::Null,
        "Expected sha256 hex digest (or a prefix of at least 8 digits).",
    ),
    ParamSpec::optional(
        "blake3",
        ParamType::Str,
        Lit::Null,
        "Expected blake3 hex digest.",
    ),
    ParamSpec::optional(
        "filename",
        ParamType::Str,
        Lit::Null,
        "Output file name; default: the URL's last path segment.",
    ),
];

const OUTPUTS: &[OutputSpec] = &[OutputSpec {
    name: "<filename>",
    doc: "The downloaded file, verified.",
}];

/// The checksums given in `params` (at least one is enforced by `check`).
pub fn checksums(params: &Params) -> Result<Vec<Checksum>> {
    let mut out = Vec::new();
    if let Some(h) = params.opt_str("sha256")? {
        out.push(Checksum::Sha256(h.to_string()));
    }
    if let Some(h) = params.opt_str("blake3")? {
        out.push(Checksum::Blake3(h.to_string()));
    }
    if let Some(h) = params.opt_str("md5")? {
        out.push(Checksum::Md5(h.to_string()));
    }
    Ok(out)
}

fn file_name(params: &Params) -> Result<Option<String>> {
    Ok(match params.opt_str("filename")? {
        Some(f) => Some(f.to_string()),
        None => file_name_of(params.str("url")?),
    })
}

/// Why `name` cannot be the name of the output file, if it cannot: the
/// file is written into the stage's work and output directories, so only
/// a plain name may be used (no `/`, no `..`, not empty).
fn name_problem(name: &str) -> Option<String> {
    let what = match name {
        "" => "an empty file name",
        "." | ".." => "a directory, not a file name",
        _ if name.contains(['/', '\\']) => "a path, not a plain file name",
        _ if name.contains('\0') => "a file name with a NUL byte",
        _ => return None,
    };
    Some(format!("`filename: {name:?}` is {what}"))
}

const NAME_HINT: &str = "give the downloaded file a plain name, e.g. `filename: data.tar.gz`";

/// `kind: download`.
pub const KIND: Kind = Kind::in_process(
    Declaration {
        name: "download",
        summary: "Downloads a file (resumable, progress, pinned md5/sha256/blake3 verified before caching).",
        params: PARAMS,
        outputs: OUTPUTS,
        check,
        ..Declaration::BASE
    },
    run,
);

/// A `download` stage's settings.
struct DownloadSpec {
    url: String,
    /// The pinned checksums; the first is verified while downloading.
    sums: Vec<Checksum>,
    /// `None`: neither `filename` nor the URL gives one.
    file_name: Option<String>,
}

impl DownloadSpec {
    fn from_params(p: &Params) -> Result<DownloadSpec> {
        Ok(DownloadSpec {
            url: p.string("url")?,
            sums: checksums(p)?,
            file_name: file_name(p)?,
        })
    }
}

fn check(params: &Params) -> Vec<(String, String)> {
    let mut problems = Vec::new();
    match checksums(params) {
        Ok(sums) if sums.is_empty() => problems.push((
            "url".to_string(),
            "a download needs a pinned checksum: give `md5`, `sha256` or `blake3`".to_string(),
        )),
        Ok(sums) => {
            for s in sums {
                if let Some(p) = s.problem() {
                    problems.push((s.algorithm().to_string(), p));
                }
            }
        }
        Err(e) => problems.push(("url".to_string(), e.to_string())),
    }
    match file_name(params) {
        Ok(Some(name)) => {
            if let Some(problem) = name_problem(&name) {
                problems.push((
                    "filename".to_string(),
                    format!("{problem}\nhint: {NAME_HINT}"),
                ));
            }
        }
        Ok(None) => problems.push((
            "filename".to_string(),
            "the URL ends without a file name; set `filename`".to_string(),
        )),
        _ => {}
    }
    problems
}

fn run(ctx: &Context) -> Result<()> {
    let spec = DownloadSpec::from_params(ctx.params)?;
    let Some(primary) = spec.sums.first() else {
        return Err(Error::failed("no checksum given").with_hint("set `md5`, `sha256` or `blake3`"));
    };
    let name = spec
        .file_name
        .ok_or_else(|| Error::failed("no file name").with_hint("set `filename`"))?;
    if let Some(problem) = name_problem(&name) {
        return Err(Error::failed(problem).with_hint(NAME_HINT));
    }
    let staged = ctx.work.join(&name);
    ctx.progress.message(name.clone());
    fetch(&spec.url, &staged, primary, ctx.progress, ctx.cancel)?;
    for other in &spec.sums[1..] {
        if let Err(e) = other.verify(&staged) {
            let _ = std::fs::remove_file(&staged);
            return Err(e);
        }
    }
    super::move_into(&staged, &ctx.out.join(&name))
}
