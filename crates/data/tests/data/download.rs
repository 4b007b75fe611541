//! `download` and `fetch` against a local HTTP server started by the test:
//! Range resumes after a cut connection and after a killed run, a wrong
//! checksum caches nothing, an unreachable URL says what to do, file:// and
//! plain paths, a slow server's trickle verifies with progress advancing.

use std::io::{BufRead, BufReader, Write};
use std::net::{TcpListener, TcpStream};
use std::path::Path;
use std::sync::atomic::AtomicBool;
use std::sync::{Arc, Mutex};

use pipe_data::checksum::{Checksum, Hasher};
use pipe_data::download::{fetch, part_path};
use pipe_data::kinds::download::KIND as Download;
use pipe_engine::progress::Update;
use pipe_engine::{Error, Progress};

use super::support::{params, run, s};

/// How the server misbehaves.
#[derive(Clone, Copy)]
enum Mode {
    Good,
    /// The first response announces the whole body but stops after this
    /// many bytes and closes the connection.
    CutFirstAfter(usize),
    /// Ignores `Range` and always sends the whole file with 200.
    NoRanges,
    /// Sends the body in chunks of this many bytes, 20 ms apart.
    Trickle(usize),
}

struct Server {
    url: String,
    /// The `Range` header of each request ("" when absent).
    ranges: Arc<Mutex<Vec<String>>>,
}

fn serve(data: Vec<u8>, mode: Mode) -> Server {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}/files/blob.bin", listener.local_addr().unwrap());
    let ranges = Arc::new(Mutex::new(Vec::new()));
    let log = Arc::clone(&ranges);
    std::thread::spawn(move || {
        for (i, stream) in listener.incoming().enumerate() {
            let Ok(stream) = stream else { return };
            handle(stream, &data, mode, i, &log);
        }
    });
    Server { url, ranges }
}

fn handle(mut stream: TcpStream, data: &[u8], mode: Mode, i: usize, log: &Mutex<Vec<String>>) {
    let mut reader = BufReader::new(stream.try_clone().unwrap());
    let mut request_line = String::new();
    reader.read_line(&mut request_line).unwrap();
    let mut range = String::new();
    loop {
        let mut line = String::new();
        if reader.read_line(&mut line).unwrap_or(0) == 0 || line.trim().is_empty() {
            break;
        }
        if let Some((k, v)) = line.split_once(':') {
            if k.eq_ignore_ascii_case("range") {
                range = v.trim().to_string();
            }
        }
    }
    log.lock().unwrap().push(range.clone());
    if !request_line.contains("/files/blob.bin") {
        let _ = stream
            .write_all(b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\nConnection: close\r\n\r\n");
        return;
    }
    let start: usize = match mode {
        Mode::NoRanges => 0,
        _ => range
            .strip_prefix("bytes=")
            .and_then(|r| r.trim_end_matches('-').parse().ok())
            .unwrap_or(0),
    };
    let body = &data[start.min(data.len())..];
    let head = if start > 0 {
        format!(
            "HTTP/1.1 206 Partial Content\r\nContent-Length: {}\r\nContent-Range: bytes {start}-{}/{}\r\nConnection: close\r\n\r\n",
            body.len(),
            data.len() - 1,
            data.len()
        )
    } else {
        format!(
            "HTTP/1.1 200 OK\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
            body.len()
        )
    };
    let _ = stream.write_all(head.as_bytes());
    let send = match mode {
        Mode::CutFirstAfter(n) if i == 0 => &body[..n],
        _ => body,
    };
    if let Mode::Trickle(chunk) = mode {
        for part in send.chunks(chunk) {
            let _ = stream.write_all(part);
            let _ = stream.flush();
            std::thread::sleep(std::time::Duration::from_millis(20));
        }
    } else {
        let _ = stream.write_all(send);
    }
    let _ = stream.flush();
    let _ = stream.shutdown(std::net::Shutdown::Both);
}

fn blob(n: usize) -> Vec<u8> {
    (0..n).map(|i| (i * 31 % 251) as u8).collect()
}

fn sha256(bytes: &[u8]) -> Checksum {
    let mut h = Hasher::new(&Checksum::Sha256(String::new()));
    h.update(bytes);
    Checksum::Sha256(h.finish())
}

fn get(url: &str, dest: &Path, sum: &Checksum) -> Result<(), Error> {
    fetch(url, dest, sum, &Progress::hidden(), &AtomicBool::new(false))
}

#[test]
fn downloads_and_verifies() {
    let data = blob(300_000);
    let server = serve(data.clone(), Mode::Good);
    let dir = tempfile::tempdir().unwrap();
    let dest = dir.path().join("blob.bin");
    get(&server.url, &dest, &sha256(&data)).unwrap();
    assert_eq!(std::fs::read(&dest).unwrap(), data);
    assert!(!part_path(&dest).exists());
    // A second fetch finds the verified file and asks nothing.
    get(&server.url, &dest, &sha256(&data)).unwrap();
    assert_eq!(server.ranges.lock().unwrap().len(), 1);
}

#[test]
fn a_cut_connection_resumes_with_a_range_request() {
    let data = blob(1_000_000);
    let server = serve(data.clone(), Mode::CutFirstAfter(123_457));
    let dir = tempfile::tempdir().unwrap();
    let dest = dir.path().join("blob.bin");
    get(&server.url, &dest, &sha256(&data)).unwrap();
    assert_eq!(std::fs::read(&dest).unwrap(), data);
    let ranges = server.ranges.lock().unwrap().clone();
    assert_eq!(ranges, ["", "bytes=123457-"]);
}

#[test]
fn a_killed_run_resumes_from_its_partial_file() {
    let data = blob(200_000);
    let server = serve(data.clone(), Mode::Good);
    let dir = tempfile::tempdir().unwrap();
    let dest = dir.path().join("blob.bin");
    std::fs::write(part_path(&dest), &data[..50_000]).unwrap();
    get(&server.url, &dest, &sha256(&data)).unwrap();
    assert_eq!(std::fs::read(&dest).unwrap(), data);
    assert_eq!(server.ranges.lock().unwrap().clone(), ["bytes=50000-"]);
}

#[test]
fn a_server_ignoring_ranges_restarts_cleanly() {
    let data = blob(100_000);
    let server = serve(data.clone(), Mode::NoRanges);
    let dir = tempfile::tempdir().unwrap();
    let dest = dir.path().join("blob.bin");
    std::fs::write(part_path(&dest), &data[..10_000]).unwrap();
    get(&server.url, &dest, &sha256(&data)).unwrap();
    assert_eq!(std::fs::read(&dest).unwrap(), data);
}

#[test]
fn a_wrong_checksum_caches_nothing() {
    let data = blob(10_000);
    let server = serve(data.clone(), Mode::Good);
    let dir = tempfile::tempdir().unwrap();
    let wrong = "0".repeat(64);
    let err = run(
        &Download,
        &[("url", s(&server.url)), ("sha256", s(&wrong))],
        &[],
        dir.path(),
    )
    .unwrap_err();
    let text = err.to_string();
    assert!(
        text.contains(&wrong) && text.contains(sha256(&data).expected()),
        "{text}"
    );
    assert!(text.contains("mismatch"), "{text}");
    assert_eq!(
        std::fs::read_dir(dir.path().join("out")).unwrap().count(),
        0,
        "nothing in the output"
    );
    assert!(
        !dir.path().join("work/blob.bin").exists()
            && !dir.path().join("work/blob.bin.part").exists()
    );
}

#[test]
fn the_kind_writes_the_file_under_its_name() {
    let data = blob(10_000);
    let server = serve(data.clone(), Mode::Good);
    let dir = tempfile::tempdir().unwrap();
    let mut md5 = Hasher::new(&Checksum::Md5(String::new()));
    md5.update(&data);
    let md5 = md5.finish();
    let out = run(
        &Download,
        &[
            ("url", s(&server.url)),
            ("md5", s(&md5)),
            ("filename", s("x.bin")),
        ],
        &[],
        dir.path(),
    )
    .unwrap();
    assert_eq!(std::fs::read(out.file("x.bin").unwrap()).unwrap(), data);
}

#[test]
fn an_unreachable_url_names_it_and_the_way_out() {
    // A port that was just free: nothing listens there.
    let port = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let url = format!("http://127.0.0.1:{port}/stl10_binary.tar.gz");
    let dir = tempfile::tempdir().unwrap();
    let err = get(
        &url,
        &dir.path().join("a"),
        &Checksum::Md5("91f7769df0f17e558f3565bffb0c7dfb".into()),
    )
    .unwrap_err();
    assert!(matches!(err, Error::Network { .. }), "{err:?}");
    assert!(err.to_string().contains(&url), "{err}");
    assert!(
        err.hint().unwrap_or("").contains("file://"),
        "{:?}",
        err.hint()
    );
}

#[test]
fn a_missing_page_is_an_error_with_the_status() {
    let server = serve(blob(10), Mode::Good);
    let url = server.url.replace("blob.bin", "other.bin");
    let dir = tempfile::tempdir().unwrap();
    let err = get(&url, &dir.path().join("a"), &sha256(b"")).unwrap_err();
    assert!(err.to_string().contains("404"), "{err}");
}

#[test]
fn file_urls_and_plain_paths() {
    let data = blob(5_000);
    let dir = tempfile::tempdir().unwrap();
    let src = dir.path().join("local.bin");
    std::fs::write(&src, &data).unwrap();
    let sum = sha256(&data);
    for (i, url) in [
        format!("file://{}", src.display()),
        src.display().to_string(),
    ]
    .iter()
    .enumerate()
    {
        let dest = dir.path().join(format!("copy{i}.bin"));
        get(url, &dest, &sum).unwrap();
        assert_eq!(std::fs::read(&dest).unwrap(), data);
    }
    let err = get(
        &format!("{}.missing", src.display()),
        &dir.path().join("c"),
        &sum,
    )
    .unwrap_err();
    assert!(err.to_string().contains("local.bin.missing"), "{err}");
}

#[test]
fn check_wants_a_well_formed_checksum() {
    let p = params(&Download, &[("url", s("http://x/a.tgz"))]);
    assert!(Download
        .check(&p)
        .iter()
        .any(|(_, m)| m.contains("checksum")));
    let p = params(
        &Download,
        &[("url", s("http://x/a.tgz")), ("sha256", s("abc"))],
    );
    assert!(!Download.check(&p).is_empty());
    let p = params(
        &Download,
        &[("url", s("http://x/a.tgz")), ("sha256", s("11ad3fa6"))],
    );
    assert!(Download.check(&p).is_empty());
    let p = params(
        &Download,
        &[
            ("url", s("http://x/")),
            ("md5", s("91f7769df0f17e558f3565bffb0c7dfb")),
        ],
    );
    assert!(Download.check(&p).iter().any(|(k, _)| k == "filename"));
}

#[test]
fn a_slow_server_trickling_small_chunks_verifies_and_progress_advances() {
    let data = blob(64 * 1024);
    let server = serve(data.clone(), Mode::Trickle(4096));
    let dir = tempfile::tempdir().unwrap();
    let dest = dir.path().join("blob.bin");
    let positions = Arc::new(Mutex::new(Vec::new()));
    let seen = Arc::clone(&positions);
    let progress = Progress::forwarding(move |update| {
        if let Update::Position(pos) = update {
            seen.lock().unwrap().push(pos);
        }
    });
    fetch(
        &server.url,
        &dest,
        &sha256(&data),
        &progress,
        &AtomicBool::new(false),
    )
    .unwrap();
    assert_eq!(std::fs::read(&dest).unwrap(), data);
    // One request: pauses between chunks are not a cut connection.
    assert_eq!(server.ranges.lock().unwrap().clone(), [""]);
    let positions = positions.lock().unwrap().clone();
    let total = data.len() as u64;
    assert_eq!(positions.last(), Some(&total), "{positions:?}");
    assert!(
        positions.windows(2).all(|w| w[0] <= w[1]),
        "progress went back: {positions:?}"
    );
    let between = positions.iter().filter(|&&p| p > 0 && p < total).count();
    assert!(
        between >= 8,
        "progress must advance as the 16 chunks arrive, not only at the end: {positions:?}"
    );
}
