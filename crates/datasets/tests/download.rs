//! The download path against a small HTTP server on 127.0.0.1 run by the
//! test itself: good files, a corrupt file (rejected, nothing left behind,
//! next mirror tried), a 404 (next mirror tried), every mirror failing, and
//! offline mode (no connection at all).

mod common;

use common::{assert_mentions, dir_entries, gzip, image_file, label_file, scratch_dir};
use datasets::{Dataset, Downloader, Error, FileSpec, Split, load, read_images, read_labels};
use sha2::{Digest, Sha256};
use std::collections::HashMap;
use std::io::{BufRead, BufReader, ErrorKind, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// The most requests one test server answers, and the longest it lives.
const MAX_REQUESTS: usize = 16;
const MAX_LIFETIME: Duration = Duration::from_secs(30);

/// A one-thread HTTP server on 127.0.0.1 answering GETs from a fixed table
/// (404 for anything else), one request per connection. It records each
/// requested path and stops after [`MAX_REQUESTS`], after [`MAX_LIFETIME`],
/// or when [`Server::finish`] is called.
struct Server {
    base: String,
    stop: Arc<AtomicBool>,
    handle: JoinHandle<Vec<String>>,
}

impl Server {
    fn start(routes: HashMap<String, Vec<u8>>) -> Server {
        let listener = TcpListener::bind("127.0.0.1:0").expect("binding a loopback port");
        let base = format!("http://{}", listener.local_addr().expect("local address"));
        listener.set_nonblocking(true).expect("non-blocking accept");
        let stop = Arc::new(AtomicBool::new(false));
        let stop_flag = Arc::clone(&stop);
        let handle = std::thread::spawn(move || {
            let started = Instant::now();
            let mut log = Vec::new();
            while log.len() < MAX_REQUESTS
                && started.elapsed() < MAX_LIFETIME
                && !stop_flag.load(Ordering::SeqCst)
            {
                match listener.accept() {
                    Ok((stream, _)) => log.push(answer(stream, &routes)),
                    Err(e) if e.kind() == ErrorKind::WouldBlock => {
                        std::thread::sleep(Duration::from_millis(5));
                    }
                    Err(e) => panic!("test server accept failed: {e}"),
                }
            }
            log
        });
        Server { base, stop, handle }
    }

    /// A mirror URL on this server.
    fn mirror(&self, prefix: &str) -> String {
        format!("{}/{prefix}/", self.base)
    }

    /// Stops the server and returns the paths requested, in order.
    fn finish(self) -> Vec<String> {
        self.stop.store(true, Ordering::SeqCst);
        self.handle.join().expect("the test server thread panicked")
    }
}

/// Reads one request and answers it; returns the requested path.
fn answer(stream: TcpStream, routes: &HashMap<String, Vec<u8>>) -> String {
    stream.set_nonblocking(false).expect("blocking stream");
    stream
        .set_read_timeout(Some(Duration::from_secs(5)))
        .expect("read timeout");
    let mut reader = BufReader::new(stream);
    let mut request_line = String::new();
    reader.read_line(&mut request_line).expect("request line");
    let path = request_line.split_whitespace().nth(1).unwrap_or("").to_string();
    // Skip the headers, up to the empty line.
    let mut line = String::new();
    while reader.read_line(&mut line).map(|n| n > 0).unwrap_or(false) && line != "\r\n" {
        line.clear();
    }
    let mut stream = reader.into_inner();
    let (status, body): (&str, &[u8]) = match routes.get(&path) {
        Some(body) => ("200 OK", body),
        None => ("404 Not Found", b"not found"),
    };
    let head = format!(
        "HTTP/1.1 {status}\r\nContent-Length: {}\r\nContent-Type: application/octet-stream\r\n\
         Connection: close\r\n\r\n",
        body.len()
    );
    // The client may hang up early (e.g. on a size limit): not an error here.
    let _ = stream.write_all(head.as_bytes());
    let _ = stream.write_all(body);
    let _ = stream.flush();
    path
}

fn sha256_hex(bytes: &[u8]) -> String {
    Sha256::digest(bytes).iter().map(|b| format!("{b:02x}")).collect()
}

/// Two small files (gzip IDX images and labels) and their specs.
fn crafted_files() -> (Vec<u8>, Vec<u8>, Vec<FileSpec>) {
    let images = gzip(&image_file(4, 3, 3));
    let labels = gzip(&label_file(4));
    let specs = vec![
        FileSpec::new("imgs.gz", sha256_hex(&images)),
        FileSpec::new("lbls.gz", sha256_hex(&labels)),
    ];
    (images, labels, specs)
}

fn downloader(mirrors: Vec<String>) -> Downloader {
    Downloader::new(mirrors)
        .with_progress(false)
        .with_timeout(Duration::from_secs(5))
}

/// A loopback URL nobody listens on (connections are refused).
fn closed_port_url() -> String {
    let listener = TcpListener::bind("127.0.0.1:0").expect("binding a loopback port");
    let addr = listener.local_addr().expect("local address");
    drop(listener);
    format!("http://{addr}/closed/")
}

#[test]
fn corrupt_and_missing_files_fall_through_to_the_next_mirror() {
    let (images, labels, specs) = crafted_files();
    let mut corrupt = images.clone();
    corrupt[20] ^= 0xff;
    let routes = HashMap::from([
        ("/m1/imgs.gz".to_string(), corrupt),
        // /m1/lbls.gz is absent: 404.
        ("/m2/imgs.gz".to_string(), images.clone()),
        ("/m2/lbls.gz".to_string(), labels.clone()),
    ]);
    let server = Server::start(routes);
    let dir = scratch_dir("download-fallthrough").join("data");
    let fetcher = downloader(vec![server.mirror("m1"), server.mirror("m2")]);

    let paths = fetcher
        .ensure(&dir, &specs)
        .expect("the second mirror has both files");
    assert_eq!(paths, vec![dir.join("imgs.gz"), dir.join("lbls.gz")]);
    assert_eq!(std::fs::read(&paths[0]).expect("downloaded"), images);
    assert_eq!(std::fs::read(&paths[1]).expect("downloaded"), labels);
    // Nothing but the two verified files: no temporary left behind.
    assert_eq!(dir_entries(&dir), vec!["imgs.gz", "lbls.gz"]);
    assert_eq!(read_images(&paths[0]).expect("valid IDX").count, 4);
    assert_eq!(read_labels(&paths[1]).expect("valid IDX"), vec![0, 1, 2, 3]);

    // Present and verified: no second download.
    fetcher.ensure(&dir, &specs).expect("already there");
    let log = server.finish();
    assert_eq!(
        log,
        vec!["/m1/imgs.gz", "/m2/imgs.gz", "/m1/lbls.gz", "/m2/lbls.gz"],
        "each file: the first mirror, then the second; nothing fetched twice"
    );
}

#[test]
fn all_mirrors_failing_lists_files_directory_and_failures() {
    let (images, labels, specs) = crafted_files();
    let mut corrupt_images = images.clone();
    corrupt_images.truncate(10);
    let mut corrupt_labels = labels.clone();
    corrupt_labels.push(0);
    let routes = HashMap::from([
        ("/bad/imgs.gz".to_string(), corrupt_images),
        ("/bad/lbls.gz".to_string(), corrupt_labels),
    ]);
    let server = Server::start(routes);
    let closed = closed_port_url();
    let dir = scratch_dir("download-all-fail").join("mnist");
    let fetcher = downloader(vec![server.mirror("empty"), closed.clone(), server.mirror("bad")]);

    let err = fetcher.ensure(&dir, &specs).unwrap_err();
    let Error::Unavailable { missing, offline, .. } = &err else {
        panic!("expected Unavailable, got {err:?}");
    };
    assert!(!offline);
    assert_eq!(missing.len(), 2);
    assert!(missing.iter().all(|m| m.attempts.len() == 3));
    let msg = err.to_string();
    let dir_text = dir.display().to_string();
    assert_mentions(
        &msg,
        &[
            &dir_text,
            "imgs.gz",
            "lbls.gz",
            &specs[0].sha256,
            &format!("{}imgs.gz: HTTP status 404", server.mirror("empty")),
            &format!("{closed}lbls.gz"),
            &format!("{}imgs.gz: SHA-256 mismatch", server.mirror("bad")),
            "put these files",
        ],
    );
    // The corrupt downloads left nothing behind.
    assert_eq!(dir_entries(&dir), Vec::<String>::new());
    let log = server.finish();
    assert_eq!(
        log,
        vec!["/empty/imgs.gz", "/bad/imgs.gz", "/empty/lbls.gz", "/bad/lbls.gz"]
    );
}

#[test]
fn a_download_over_the_size_limit_is_rejected() {
    let (images, _, specs) = crafted_files();
    let server = Server::start(HashMap::from([("/m/imgs.gz".to_string(), images)]));
    let dir = scratch_dir("download-limit");
    let mut fetcher = downloader(vec![server.mirror("m")]);
    fetcher.max_bytes = 10;
    let err = fetcher.ensure(&dir, &specs[..1]).unwrap_err();
    assert_mentions(&err.to_string(), &["imgs.gz", "10-byte limit"]);
    assert_eq!(dir_entries(&dir), Vec::<String>::new());
    assert_eq!(server.finish(), vec!["/m/imgs.gz"]);
}

#[test]
fn offline_mode_makes_no_connection() {
    let listener = TcpListener::bind("127.0.0.1:0").expect("binding a loopback port");
    listener.set_nonblocking(true).expect("non-blocking");
    let mirror = format!("http://{}/m/", listener.local_addr().expect("address"));
    let (_, _, specs) = crafted_files();
    let dir = scratch_dir("download-offline");

    let fetcher = downloader(vec![mirror]).with_offline(true);
    let err = fetcher.ensure(&dir, &specs).unwrap_err();
    assert!(matches!(err, Error::Unavailable { offline: true, .. }));
    let dir_text = dir.display().to_string();
    assert_mentions(&err.to_string(), &["offline", "imgs.gz", "lbls.gz", &dir_text]);

    // Through `load`, the message also names the dataset's files and how to
    // point the loader elsewhere.
    let err = load(Dataset::Mnist, Split::Test, Some(&dir), &fetcher).unwrap_err();
    assert_mentions(
        &err.to_string(),
        &[
            "t10k-images-idx3-ubyte.gz",
            "t10k-labels-idx1-ubyte.gz",
            &dir_text,
            "offline",
            "--data-dir",
            "MNIST_DIR",
        ],
    );
    let err = load(Dataset::Fashion, Split::Train, Some(&dir), &fetcher).unwrap_err();
    assert_mentions(
        &err.to_string(),
        &["train-images-idx3-ubyte.gz", "FASHION_MNIST_DIR"],
    );

    assert_eq!(
        listener.accept().map(|_| ()).unwrap_err().kind(),
        ErrorKind::WouldBlock,
        "offline mode must not connect"
    );
}

#[test]
fn a_present_file_with_a_wrong_checksum_is_reported_not_replaced() {
    let listener = TcpListener::bind("127.0.0.1:0").expect("binding a loopback port");
    listener.set_nonblocking(true).expect("non-blocking");
    let mirror = format!("http://{}/m/", listener.local_addr().expect("address"));
    let (_, _, specs) = crafted_files();
    let dir = scratch_dir("download-user-file");
    let path = dir.join("imgs.gz");
    std::fs::write(&path, b"the user's own file").expect("writing");

    let err = downloader(vec![mirror]).ensure(&dir, &specs).unwrap_err();
    let Error::Checksum { expected, actual, .. } = &err else {
        panic!("expected Checksum, got {err:?}");
    };
    assert_eq!(expected, &specs[0].sha256);
    assert_eq!(actual, &sha256_hex(b"the user's own file"));
    assert_mentions(&err.to_string(), &["imgs.gz", expected, actual, "left untouched"]);
    assert_eq!(std::fs::read(&path).expect("still there"), b"the user's own file");
    assert_eq!(
        listener.accept().map(|_| ()).unwrap_err().kind(),
        ErrorKind::WouldBlock,
        "no download over a user's file"
    );
}
