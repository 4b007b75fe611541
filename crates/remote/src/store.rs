//! The connection to a remote: the S3 client, the runtime it runs on, and
//! where things live under the prefix.

use std::sync::Arc;
use std::time::Duration;

use object_store::aws::AmazonS3Builder;
use object_store::path::Path;
use object_store::{BackoffConfig, ClientOptions, ObjectStore, RetryConfig};
use pipe_engine::cache::StageHash;
use pipe_engine::{ContentHash, Error, Result};

use crate::config::RemoteConfig;

/// An opened remote. Requests run on its own runtime; callers stay
/// synchronous.
pub struct Remote {
    pub config: RemoteConfig,
    pub(crate) store: Arc<dyn ObjectStore>,
    pub(crate) runtime: tokio::runtime::Runtime,
    /// Transfers at once.
    pub jobs: usize,
}

impl Remote {
    /// Builds the client; contacts nothing.
    pub fn open(config: RemoteConfig, jobs: usize) -> Result<Remote> {
        let jobs = jobs.max(1);
        // A wrong endpoint or a refusal must surface in seconds, not after
        // the default three minutes of retries.
        let retry = RetryConfig {
            backoff: BackoffConfig::default(),
            max_retries: 3,
            retry_timeout: Duration::from_secs(30),
        };
        let mut builder = AmazonS3Builder::new()
            .with_bucket_name(&config.bucket)
            .with_region(&config.region)
            .with_retry(retry)
            .with_client_options(
                ClientOptions::new()
                    .with_connect_timeout(Duration::from_secs(10))
                    .with_timeout(Duration::from_secs(300)),
            );
        if let Some(endpoint) = &config.endpoint {
            builder = builder
                .with_endpoint(endpoint)
                .with_allow_http(endpoint.starts_with("http://"));
        }
        match &config.credentials {
            Some(c) => {
                builder = builder
                    .with_access_key_id(&c.key_id)
                    .with_secret_access_key(&c.secret);
                if let Some(token) = &c.token {
                    builder = builder.with_token(token);
                }
            }
            // Without credentials the client would ask the EC2 metadata
            // service; say what is missing instead.
            None => {
                return Err(Error::environment(format!(
                    "no credentials for the remote `{}`",
                    config.url
                ))
                .with_hint(
                    "set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, or AWS_PROFILE with a \
                     profile in ~/.aws/credentials",
                ))
            }
        }
        let store = builder.build().map_err(|e| {
            Error::environment(format!("cannot use the remote `{}`: {e}", config.url))
        })?;
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(jobs.min(16))
            .enable_all()
            .build()
            .map_err(|e| Error::environment(format!("cannot start the transfer threads: {e}")))?;
        Ok(Remote {
            config,
            store: Arc::new(store),
            runtime,
            jobs,
        })
    }

    fn path(&self, rel: &str) -> Path {
        if self.config.prefix.is_empty() {
            Path::from(rel)
        } else {
            Path::from(format!("{}/{rel}", self.config.prefix))
        }
    }

    /// `<prefix>/objects/ab/<hash>`.
    pub fn object_path(&self, hash: &ContentHash) -> Path {
        let hex = hash.to_hex();
        self.path(&format!("objects/{}/{hex}", &hex[..2]))
    }

    /// `<prefix>/objects/ab`: one LIST shows which objects of that shard exist.
    pub(crate) fn shard_path(&self, shard: &str) -> Path {
        self.path(&format!("objects/{shard}"))
    }

    /// `<prefix>/keys/<key>.json`.
    pub fn record_path(&self, key: &StageHash) -> Path {
        self.path(&format!("keys/{}.json", key.0.to_hex()))
    }

    pub(crate) fn keys_path(&self) -> Path {
        self.path("keys")
    }

    /// `<prefix>/tmp/<name>`: where `pipe remote check` writes its probe.
    pub(crate) fn tmp_path(&self, name: &str) -> Path {
        self.path(&format!("tmp/{name}"))
    }
}
