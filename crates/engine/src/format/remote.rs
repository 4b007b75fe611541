//! The file's `remote:` section: where the shared remote cache is.
//!
//! ```yaml
//! remote:
//!   url: s3://lab-cache/pipe
//! ```
//!
//! Only the shape is checked here (an `s3://bucket[/prefix]` string); the
//! endpoint, region and credentials come from the environment, never from
//! a file that is committed (docs/remote.md).

use crate::diagnostic::sink::{SetHint, Sink};
use crate::format::yaml::{Data, Node};

const KEYS: &[&str] = &["url"];
const HINT: &str = "write `remote:` as a mapping, e.g. `remote: {url: s3://bucket/prefix}`";

/// The URL, or `None` (with a diagnostic when something is wrong).
pub fn read(node: &Node, sink: &mut Sink) -> Option<String> {
    let Data::Map(entries) = &node.data else {
        sink.error(node.pos, format!("`remote` must be a mapping, found {}", node.describe()))
            .set_hint(HINT);
        return None;
    };
    let mut url = None;
    for (key, value) in entries {
        match key.as_scalar() {
            Some("url") => url = Some(value),
            Some(other) => {
                sink.unknown(key.pos, format!("unknown key `{other}` in `remote`"), other, KEYS.iter().copied());
            }
            None => {
                sink.error(key.pos, format!("a key must be a plain name, found {}", key.describe()))
                    .set_hint(HINT);
            }
        }
    }
    let Some(url) = url else {
        sink.error(node.pos, "`remote` has no `url`").set_hint(HINT);
        return None;
    };
    let text = url.as_scalar().unwrap_or("");
    let bucket = text.strip_prefix("s3://").map(|r| r.split('/').next().unwrap_or(""));
    if bucket.is_none_or(str::is_empty) {
        sink.error(url.pos, format!("`remote.url` must be an `s3://bucket/prefix` URL, found {}", shown(url)))
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
