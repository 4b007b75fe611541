//! The file's `remote:` section: where the shared remote cache is, and
//! whether stage keys include the environment.
//!
//! ```yaml
//! remote:
//!   url: s3://lab-cache/pipe
//!   key_includes_environment: true   # default false
//! ```
//!
//! Only the shape is checked here (`url` an `s3://bucket[/prefix]` string,
//! the flag a boolean); the endpoint, region and credentials come from the
//! environment, never from a file that is committed (docs/remote.md).

use crate::diagnostic::sink::{SetHint, Sink};
use crate::format::yaml::{Data, Node};

const KEYS: &[&str] = &["url", "key_includes_environment"];
const HINT: &str = "write `remote:` as a mapping, e.g. `remote: {url: s3://bucket/prefix}`";

/// The section as validated; what was wrong is reported and left out.
#[derive(Debug, Default)]
pub struct RemoteSection {
    pub url: Option<String>,
    pub key_includes_environment: bool,
}

pub fn read(node: &Node, sink: &mut Sink) -> RemoteSection {
    let mut section = RemoteSection::default();
    let Data::Map(entries) = &node.data else {
        sink.error(
            node.pos,
            format!("`remote` must be a mapping, found {}", node.describe()),
        )
        .set_hint(HINT);
        return section;
    };
    for (key, value) in entries {
        match key.as_scalar() {
            Some("url") => section.url = url(value, sink),
            Some("key_includes_environment") => match value.as_scalar() {
                Some("true") => section.key_includes_environment = true,
                Some("false") => {}
                _ => {
                    sink.error(
                        value.pos,
                        format!("`remote.key_includes_environment` must be `true` or `false`, found {}", shown(value)),
                    )
                    .set_hint("`true` makes the environment (pipe, libtorch and CUDA versions) part of every stage key");
                }
            },
            Some(other) => {
                sink.unknown(
                    key.pos,
                    format!("unknown key `{other}` in `remote`"),
                    other,
                    KEYS.iter().copied(),
                );
            }
            None => {
                sink.error(
                    key.pos,
                    format!("a key must be a plain name, found {}", key.describe()),
                )
                .set_hint(HINT);
            }
        }
    }
    section
}

fn url(node: &Node, sink: &mut Sink) -> Option<String> {
    let text = node.as_scalar().unwrap_or("");
    let bucket = text
        .strip_prefix("s3://")
        .map(|r| r.split('/').next().unwrap_or(""));
    if bucket.is_none_or(str::is_empty) {
        sink.error(node.pos, format!("`remote.url` must be an `s3://bucket/prefix` URL, found {}", shown(node)))
            .set_hint("e.g. `url: s3://lab-cache/pipe`; the endpoint of a server other than AWS goes in PIPE_REMOTE_ENDPOINT");
        return None;
    }
    Some(text.to_string())
}

fn shown(node: &Node) -> String {
    match node.as_scalar() {
        Some(s) => format!("`{s}`"),
        None => node.describe().to_string(),
    }
}
