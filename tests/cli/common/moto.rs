//! A real S3-protocol server for the remote-cache tests: `moto_server`
//! (PyPI `moto[server]`) on a free port, one per test, killed at drop.
//!
//! The server starts open (any key is accepted) with the bucket `cache`;
//! [`Moto::enforce_auth`] then creates two IAM users, a writer and a
//! reader (`s3:GetObject`/`s3:ListBucket` only), and from there on every
//! request must be signed by one of them. The test's own view of the
//! bucket ([`Moto::list`], [`Moto::get`], [`Moto::put`]) goes through
//! boto3 in the Python that has moto, not through pipe.

use std::io::Write;
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

pub const BUCKET: &str = "cache";

pub struct Moto {
    child: Child,
    pub endpoint: String,
    log: tempfile::NamedTempFile,
    /// The key the test's own requests sign with.
    admin: Key,
}

#[derive(Clone, Debug)]
pub struct Key {
    pub id: String,
    pub secret: String,
}

impl Key {
    fn any() -> Key {
        Key {
            id: "test".into(),
            secret: "test".into(),
        }
    }
}

/// A Python that can `import moto`: `PIPE_MOTO_PYTHON`, the venv
/// scripts/test.sh makes, or the first `python3` on PATH that has it.
pub fn python() -> &'static Path {
    static PYTHON: OnceLock<PathBuf> = OnceLock::new();
    PYTHON.get_or_init(|| {
        let home = std::env::var_os("HOME").map(PathBuf::from).unwrap_or_default();
        let mut candidates: Vec<PathBuf> = std::env::var_os("PIPE_MOTO_PYTHON").map(PathBuf::from).into_iter().collect();
        candidates.push(home.join(".local/share/pipe/moto-venv/bin/python"));
        if let Some(path) = std::env::var_os("PATH") {
            candidates.extend(std::env::split_paths(&path).map(|d| d.join("python3")));
        }
        candidates
            .into_iter()
            .find(|p| {
                p.is_file()
                    && Command::new(p)
                        .args(["-c", "import moto.server, boto3"])
                        .stderr(Stdio::null())
                        .status()
                        .is_ok_and(|s| s.success())
            })
            .expect("no Python with moto[server]: run scripts/test.sh (it makes ~/.local/share/pipe/moto-venv) or `pip install \"moto[server]\"`")
    })
}

impl Moto {
    /// Starts a server with the bucket `cache`, accepting any key.
    pub fn start() -> Moto {
        let port = TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let log = tempfile::NamedTempFile::new().unwrap();
        let child = Command::new(python())
            .args([
                "-m",
                "moto.server",
                "-H",
                "127.0.0.1",
                "-p",
                &port.to_string(),
            ])
            .stdout(Stdio::null())
            .stderr(log.reopen().unwrap())
            .spawn()
            .expect("start moto_server");
        let mut moto = Moto {
            child,
            endpoint: format!("http://127.0.0.1:{port}"),
            log,
            admin: Key::any(),
        };
        let deadline = Instant::now() + Duration::from_secs(30);
        while TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(
                Instant::now() < deadline,
                "moto_server did not start: {}",
                moto.log_text()
            );
            assert!(
                moto.child.try_wait().unwrap().is_none(),
                "moto_server exited: {}",
                moto.log_text()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
        moto.boto(&format!("s3.create_bucket(Bucket='{BUCKET}')"));
        moto
    }

    /// From now on every request must be signed by a known user. Returns
    /// (writer, reader): the reader may get and list, nothing else.
    pub fn enforce_auth(&mut self) -> (Key, Key) {
        // Six unauthenticated actions: the two users' creation below.
        self.boto(
            "import urllib.request\n\
             urllib.request.urlopen(urllib.request.Request(ep + '/moto-api/reset-auth', data=b'6', method='POST', headers={'Content-Type': 'text/plain'}))",
        );
        let out = self.boto(
            r#"iam = boto3.client("iam", **kw)
keys = []
for user, actions in [("writer", ["s3:*"]), ("reader", ["s3:GetObject", "s3:ListBucket"])]:
    iam.create_user(UserName=user)
    policy = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": actions, "Resource": "*"}]}
    iam.put_user_policy(UserName=user, PolicyName="p", PolicyDocument=json.dumps(policy))
    k = iam.create_access_key(UserName=user)["AccessKey"]
    keys += [k["AccessKeyId"], k["SecretAccessKey"]]
print(" ".join(keys))"#,
        );
        let k: Vec<&str> = out.split_whitespace().collect();
        let key = |i: usize| Key {
            id: k[i].to_string(),
            secret: k[i + 1].to_string(),
        };
        self.admin = key(0);
        (key(0), key(2))
    }

    /// The variables that point `pipe` at `s3://cache/team` on this server
    /// with `key` (any key while auth is not enforced).
    pub fn env(&self, key: Option<&Key>) -> Vec<(String, String)> {
        let key = key.cloned().unwrap_or_else(Key::any);
        vec![
            ("PIPE_REMOTE".into(), format!("s3://{BUCKET}/team")),
            ("PIPE_REMOTE_ENDPOINT".into(), self.endpoint.clone()),
            ("AWS_ACCESS_KEY_ID".into(), key.id),
            ("AWS_SECRET_ACCESS_KEY".into(), key.secret),
        ]
    }

    /// (key, size) of every object under `prefix` in the bucket.
    pub fn list(&self, prefix: &str) -> Vec<(String, u64)> {
        let out = self.boto(&format!(
            "for page in s3.get_paginator('list_objects_v2').paginate(Bucket='{BUCKET}', Prefix='{prefix}'):\n    for o in page.get('Contents', []): print(o['Key'], o['Size'])"
        ));
        out.lines()
            .map(|l| {
                let (k, s) = l.rsplit_once(' ').unwrap();
                (k.to_string(), s.parse().unwrap())
            })
            .collect()
    }

    pub fn get(&self, key: &str) -> Vec<u8> {
        let out = self.boto(&format!(
            "sys.stdout.write(s3.get_object(Bucket='{BUCKET}', Key='{key}')['Body'].read().hex())"
        ));
        (0..out.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&out[i..i + 2], 16).unwrap())
            .collect()
    }

    pub fn put(&self, key: &str, bytes: &[u8]) {
        let hex: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
        self.boto(&format!(
            "s3.put_object(Bucket='{BUCKET}', Key='{key}', Body=bytes.fromhex('{hex}'))"
        ));
    }

    /// The server's request log (one line per request, written after it
    /// was answered).
    pub fn log_text(&self) -> String {
        std::fs::read_to_string(self.log.path()).unwrap_or_default()
    }

    /// Runs `code` with `boto3`, `json`, `sys`, `ep`, `kw` and `s3` defined;
    /// returns its stdout.
    fn boto(&self, code: &str) -> String {
        let prelude = format!(
            "import boto3, json, sys\nep = '{}'\nkw = dict(endpoint_url=ep, region_name='us-east-1', aws_access_key_id='{}', aws_secret_access_key='{}')\ns3 = boto3.client('s3', **kw)\n",
            self.endpoint, self.admin.id, self.admin.secret
        );
        let mut child = Command::new(python())
            .arg("-")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        child
            .stdin
            .take()
            .unwrap()
            .write_all(format!("{prelude}{code}\n").as_bytes())
            .unwrap();
        let out = child.wait_with_output().unwrap();
        assert!(
            out.status.success(),
            "boto3 failed: {}\n{code}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).unwrap()
    }
}

impl Drop for Moto {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
