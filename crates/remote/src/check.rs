//! `pipe remote check`: can we read, can we write? Each answered by a real
//! request (a GET of a probe name; a create-only PUT of a probe under
//! `tmp/`, then its DELETE), so a wrong key, a missing bucket or a
//! read-only credential shows here with the reason the server gave.

use object_store::{ObjectStore, PutMode, PutOptions, PutPayload};
use pipe_engine::Result;

use crate::failure::{self, is_missing};
use crate::store::Remote;

pub struct CheckReport {
    pub read: Result<()>,
    pub write: Result<()>,
}

pub fn check(remote: &Remote) -> CheckReport {
    remote.runtime.block_on(async {
        let probe = remote.tmp_path("pipe-check-read");
        let read = match remote.store.get(&probe).await {
            Ok(_) => Ok(()),
            Err(e) if is_missing(&e) => Ok(()),
            Err(e) => Err(failure::error(&remote.config, "read", &e)),
        };
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos());
        let probe = remote.tmp_path(&format!("pipe-check-{}-{nanos}", std::process::id()));
        let opts = PutOptions {
            mode: PutMode::Create,
            ..PutOptions::default()
        };
        let write = match remote
            .store
            .put_opts(
                &probe,
                PutPayload::from_static(b"pipe remote check\n"),
                opts,
            )
            .await
        {
            // Deleting is not needed for a cache (objects are never
            // replaced), so a credential without it still writes.
            Ok(_) => {
                let _ = remote.store.delete(&probe).await;
                Ok(())
            }
            Err(e) => Err(failure::error(&remote.config, "write", &e)),
        };
        CheckReport { read, write }
    })
}
