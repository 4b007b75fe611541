//! Where the remote is and who we are there: `PIPE_REMOTE=s3://bucket/prefix`
//! (or the pipeline file's `remote:`), `PIPE_REMOTE_ENDPOINT` for a server
//! other than AWS, the region, and credentials from the usual AWS
//! variables or a profile in `~/.aws/credentials`.

use std::path::PathBuf;

use pipe_engine::{Error, Result};

/// A resolved remote: every setting known, nothing contacted yet.
#[derive(Clone, Debug)]
pub struct RemoteConfig {
    /// `s3://bucket/prefix` as given.
    pub url: String,
    pub bucket: String,
    /// Without leading or trailing `/`; may be empty.
    pub prefix: String,
    /// `http://127.0.0.1:9000`: another S3-compatible server than AWS.
    pub endpoint: Option<String>,
    pub region: String,
    pub credentials: Option<Credentials>,
}

#[derive(Clone)]
pub struct Credentials {
    pub key_id: String,
    pub secret: String,
    pub token: Option<String>,
    /// Where they came from, for messages (`AWS_ACCESS_KEY_ID`, `profile `ci``).
    pub source: String,
}

impl std::fmt::Debug for Credentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Credentials({} from {})", self.key_id, self.source)
    }
}

const HINT: &str = "set PIPE_REMOTE=s3://bucket/prefix (and PIPE_REMOTE_ENDPOINT=http://host:port \
                    for an S3-compatible server other than AWS), or `remote:` in the pipeline file";

impl RemoteConfig {
    /// The remote from the environment, or else `from_file` (the pipeline
    /// file's `remote:`); `None` when neither names one.
    pub fn resolve(from_file: Option<&str>) -> Result<Option<RemoteConfig>> {
        let var = |name: &str| std::env::var(name).ok().filter(|v| !v.is_empty());
        let Some(url) = var("PIPE_REMOTE").or_else(|| from_file.map(str::to_string)) else {
            return Ok(None);
        };
        let (bucket, prefix) = parse_url(&url)?;
        Ok(Some(RemoteConfig {
            bucket,
            prefix,
            endpoint: var("PIPE_REMOTE_ENDPOINT")
                .or_else(|| var("AWS_ENDPOINT_URL_S3"))
                .or_else(|| var("AWS_ENDPOINT_URL")),
            region: var("PIPE_REMOTE_REGION")
                .or_else(|| var("AWS_REGION"))
                .or_else(|| var("AWS_DEFAULT_REGION"))
                .unwrap_or_else(|| "us-east-1".into()),
            credentials: credentials()?,
            url,
        }))
    }

    /// [`RemoteConfig::resolve`], failing with a hint when no remote is named.
    pub fn required(from_file: Option<&str>) -> Result<RemoteConfig> {
        Self::resolve(from_file)?
            .ok_or_else(|| Error::environment("no remote cache is configured").with_hint(HINT))
    }
}

/// `s3://bucket/a/b/` -> (`bucket`, `a/b`).
pub fn parse_url(url: &str) -> Result<(String, String)> {
    let bad =
        |what: &str| Err(Error::environment(format!("the remote `{url}` {what}")).with_hint(HINT));
    let Some(rest) = url.strip_prefix("s3://") else {
        return bad("is not an `s3://bucket/prefix` URL");
    };
    let (bucket, prefix) = rest.split_once('/').unwrap_or((rest, ""));
    if bucket.is_empty() {
        return bad("names no bucket");
    }
    let prefix = prefix.trim_matches('/');
    if prefix.split('/').any(|p| p == "." || p == "..") || prefix.contains("//") {
        return bad("has `.`, `..` or an empty part in its prefix");
    }
    Ok((bucket.to_string(), prefix.to_string()))
}

/// `AWS_ACCESS_KEY_ID` + `AWS_SECRET_ACCESS_KEY` (+ `AWS_SESSION_TOKEN`),
/// else the profile `AWS_PROFILE` (default `default`) of the shared
/// credentials file. `None` when neither exists: the request is then
/// refused by the server, and the refusal says what to set.
fn credentials() -> Result<Option<Credentials>> {
    let var = |name: &str| std::env::var(name).ok().filter(|v| !v.is_empty());
    if let (Some(key_id), Some(secret)) = (var("AWS_ACCESS_KEY_ID"), var("AWS_SECRET_ACCESS_KEY")) {
        return Ok(Some(Credentials {
            key_id,
            secret,
            token: var("AWS_SESSION_TOKEN"),
            source: "AWS_ACCESS_KEY_ID".into(),
        }));
    }
    let file = var("AWS_SHARED_CREDENTIALS_FILE")
        .map(PathBuf::from)
        .or_else(|| {
            std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".aws").join("credentials"))
        });
    let Some(file) = file else {
        return Ok(None);
    };
    let Ok(text) = std::fs::read_to_string(&file) else {
        return Ok(None);
    };
    let profile = var("AWS_PROFILE").unwrap_or_else(|| "default".into());
    let fields = profile_fields(&text, &profile);
    let get = |k: &str| fields.iter().find(|(n, _)| n == k).map(|(_, v)| v.clone());
    match (get("aws_access_key_id"), get("aws_secret_access_key")) {
        (Some(key_id), Some(secret)) => Ok(Some(Credentials {
            key_id,
            secret,
            token: get("aws_session_token"),
            source: format!("profile `{profile}` in {}", file.display()),
        })),
        _ if var("AWS_PROFILE").is_some() => Err(Error::environment(format!(
            "AWS_PROFILE names `{profile}`, which has no aws_access_key_id and aws_secret_access_key in {}",
            file.display()
        ))),
        _ => Ok(None),
    }
}

/// The `key = value` lines of `[profile]` in an INI file.
fn profile_fields(text: &str, profile: &str) -> Vec<(String, String)> {
    let mut inside = false;
    let mut out = Vec::new();
    for line in text.lines().map(str::trim) {
        if let Some(name) = line.strip_prefix('[').and_then(|l| l.strip_suffix(']')) {
            let name = name.trim();
            inside = name == profile || name.strip_prefix("profile ") == Some(profile);
        } else if inside {
            if let Some((k, v)) = line.split_once('=') {
                out.push((k.trim().to_string(), v.trim().to_string()));
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls() {
        assert_eq!(parse_url("s3://b").unwrap(), ("b".into(), String::new()));
        assert_eq!(
            parse_url("s3://b/a/c/").unwrap(),
            ("b".into(), "a/c".into())
        );
        for bad in ["b/a", "s3://", "s3:///a", "s3://b/a/../c", "gs://b"] {
            assert!(parse_url(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn profiles() {
        let text = "[default]\naws_access_key_id = A\n[profile ci]\naws_access_key_id=B\n";
        assert_eq!(profile_fields(text, "default")[0].1, "A");
        assert_eq!(profile_fields(text, "ci")[0].1, "B");
        assert!(profile_fields(text, "x").is_empty());
    }
}
