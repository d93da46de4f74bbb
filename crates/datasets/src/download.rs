//! Making sure dataset files are present and are the published originals:
//! SHA-256 verification, and downloading from a list of mirrors.
//!
//! A download is written atomically: the bytes go to a hidden temporary file
//! in the destination directory while their SHA-256 is computed; only if the
//! checksum matches is the file flushed to disk (`fsync`) and renamed to its
//! final name. A rename within one directory is atomic, so the final name
//! either does not exist or holds the complete, verified file; a failed or
//! corrupt download leaves nothing behind (the temporary file is removed even
//! on an early return).
//!
//! A file that is already present is verified and never overwritten, even if
//! its checksum is wrong: it may be the user's own file, and deleting it
//! silently would be worse than a clear error (see [`Error::Checksum`]).
//!
//! The mirror list is plain data in [`Downloader`], so the tests
//! (`crates/gan/tests/data_download.rs`) point it at a server on 127.0.0.1.

use crate::error::{Attempt, Error, MissingFile, Result};
use indicatif::{ProgressBar, ProgressStyle};
use sha2::{Digest, Sha256};
use std::fs::{self, File, OpenOptions};
use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};
use std::time::Duration;

/// A file to make present: its name and published SHA-256.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileSpec {
    /// The file name, both on disk and on the mirrors, e.g.
    /// `train-images-idx3-ubyte.gz`.
    pub name: String,
    /// The published SHA-256 of the file, lower-case hex.
    pub sha256: String,
}

impl FileSpec {
    /// A file named `name` whose SHA-256 must be `sha256` (hex, any case).
    pub fn new(name: impl Into<String>, sha256: impl Into<String>) -> Self {
        FileSpec {
            name: name.into(),
            sha256: sha256.into().to_ascii_lowercase(),
        }
    }
}

/// Where and how missing files are downloaded.
///
/// ```
/// use datasets::{Downloader, FileSpec};
/// // Offline: a missing file is an error that says where to put it, and no
/// // connection is attempted.
/// let dir = std::env::temp_dir().join("gan-doc-offline-example");
/// let files = [FileSpec::new("a.gz", "00")];
/// let err = Downloader::offline().ensure(&dir, &files).unwrap_err();
/// assert!(err.to_string().contains("a.gz"));
/// assert!(err.to_string().contains("offline"));
/// ```
#[derive(Debug, Clone)]
pub struct Downloader {
    /// Base URLs tried in order; a file's URL is the base, a `/`, and the file
    /// name.
    pub mirrors: Vec<String>,
    /// If `true`, never touch the network: a missing file is an error at once.
    pub offline: bool,
    /// Whether to draw a progress bar on stderr (indicatif draws nothing when
    /// stderr is not a terminal anyway).
    pub progress: bool,
    /// The longest wait for any one network step (name lookup, connecting,
    /// the response, each read of the body). Not a limit on the whole
    /// download, which on a slow line may legitimately take minutes.
    pub timeout: Duration,
    /// The largest file accepted, in bytes; a mirror that sends more is
    /// treated as failing (a guard against filling the disk).
    pub max_bytes: u64,
}

impl Downloader {
    /// The default network timeout: 30 seconds.
    pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(30);
    /// The default size limit: 64 MiB, above the largest file of the two
    /// datasets (Fashion-MNIST's 26 MB training images).
    pub const DEFAULT_MAX_BYTES: u64 = 64 << 20;

    /// Downloads from `mirrors` (tried in order), with a progress bar and the
    /// default timeout and size limit.
    pub fn new(mirrors: Vec<String>) -> Self {
        Downloader {
            mirrors,
            offline: false,
            progress: true,
            timeout: Self::DEFAULT_TIMEOUT,
            max_bytes: Self::DEFAULT_MAX_BYTES,
        }
    }

    /// Never downloads: missing files are an error.
    pub fn offline() -> Self {
        Downloader {
            offline: true,
            ..Downloader::new(Vec::new())
        }
    }

    /// This downloader, offline or not.
    pub fn with_offline(mut self, offline: bool) -> Self {
        self.offline = offline;
        self
    }

    /// This downloader, with or without a progress bar.
    pub fn with_progress(mut self, progress: bool) -> Self {
        self.progress = progress;
        self
    }

    /// This downloader, with another network timeout.
    pub fn with_timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// Makes sure every file of `files` is in `dir` and has its published
    /// SHA-256; returns their paths, in order.
    ///
    /// Present files are verified (a mismatch is a [`Error::Checksum`] and
    /// the file is left alone). Missing files are downloaded, unless offline,
    /// trying each mirror in turn; `dir` is created if needed. If some files
    /// stay missing, the error is a [`Error::Unavailable`] listing every
    /// one of them, the directory, and each mirror's failure.
    pub fn ensure(&self, dir: &Path, files: &[FileSpec]) -> Result<Vec<PathBuf>> {
        let mut paths = Vec::with_capacity(files.len());
        let mut missing = Vec::new();
        for spec in files {
            let path = dir.join(&spec.name);
            if path.exists() {
                verify_file(&path, &spec.sha256)?;
                paths.push(path);
                continue;
            }
            if self.offline {
                missing.push(MissingFile {
                    name: spec.name.clone(),
                    sha256: spec.sha256.clone(),
                    attempts: Vec::new(),
                });
                continue;
            }
            match self.download(dir, spec)? {
                Ok(path) => paths.push(path),
                Err(attempts) => missing.push(MissingFile {
                    name: spec.name.clone(),
                    sha256: spec.sha256.clone(),
                    attempts,
                }),
            }
        }
        if missing.is_empty() {
            Ok(paths)
        } else {
            Err(Error::Unavailable {
                dir: dir.to_path_buf(),
                missing,
                offline: self.offline,
                hint: String::new(),
            })
        }
    }

    /// Tries each mirror for one file. The outer error is a local failure
    /// (the directory cannot be created); the inner one lists each mirror's
    /// failure.
    fn download(&self, dir: &Path, spec: &FileSpec) -> Result<std::result::Result<PathBuf, Vec<Attempt>>> {
        fs::create_dir_all(dir).map_err(|e| Error::io(dir, "creating the directory", e))?;
        let agent: ureq::Agent = ureq::Agent::config_builder()
            .timeout_resolve(Some(self.timeout))
            .timeout_connect(Some(self.timeout))
            .timeout_recv_response(Some(self.timeout))
            .timeout_per_read(Some(self.timeout))
            .user_agent("gan-from-scratch dataset downloader")
            .build()
            .new_agent();
        let mut attempts = Vec::new();
        for mirror in &self.mirrors {
            let url = format!("{}/{}", mirror.trim_end_matches('/'), spec.name);
            match self.fetch(&agent, &url, dir, spec) {
                Ok(path) => return Ok(Ok(path)),
                Err(error) => attempts.push(Attempt { url, error }),
            }
        }
        Ok(Err(attempts))
    }

    /// Downloads `url` into `dir/spec.name` atomically, verifying the
    /// checksum; the error says why this mirror failed.
    fn fetch(
        &self,
        agent: &ureq::Agent,
        url: &str,
        dir: &Path,
        spec: &FileSpec,
    ) -> std::result::Result<PathBuf, String> {
        let response = agent.get(url).call().map_err(|e| match e {
            ureq::Error::StatusCode(code) => format!("HTTP status {code}"),
            other => other.to_string(),
        })?;
        let body = response.into_body();
        let length = body.content_length();
        if let Some(length) = length.filter(|&l| l > self.max_bytes) {
            return Err(format!(
                "the server announces {length} bytes, more than the {}-byte limit",
                self.max_bytes
            ));
        }
        let bar = self.progress_bar(length, &spec.name);
        let mut reader = body.into_reader().take(self.max_bytes + 1);

        let mut part = PartFile::create(dir, &spec.name)?;
        let mut hasher = Sha256::new();
        let mut buffer = vec![0u8; 1 << 16];
        let mut total: u64 = 0;
        loop {
            let n = match reader.read(&mut buffer) {
                Ok(0) => break,
                Ok(n) => n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(format!("reading the response failed after {total} bytes: {e}")),
            };
            hasher.update(&buffer[..n]);
            part.file
                .write_all(&buffer[..n])
                .map_err(|e| format!("writing {} failed: {e}", part.path.display()))?;
            total += n as u64;
            bar.inc(n as u64);
        }
        bar.finish_and_clear();
        if total > self.max_bytes {
            return Err(format!(
                "the server sent more than the {}-byte limit",
                self.max_bytes
            ));
        }
        let actual = hex(&hasher.finalize());
        if actual != spec.sha256 {
            return Err(format!(
                "SHA-256 mismatch: the {total} bytes received hash to {actual}, expected {} \
                 (download discarded)",
                spec.sha256
            ));
        }
        part.commit(&dir.join(&spec.name))
    }

    fn progress_bar(&self, length: Option<u64>, name: &str) -> ProgressBar {
        if !self.progress {
            return ProgressBar::hidden();
        }
        let bar = match length {
            Some(length) => ProgressBar::new(length).with_style(
                ProgressStyle::with_template(
                    "{msg} [{bar:30}] {bytes}/{total_bytes} ({bytes_per_sec}, {eta})",
                )
                .map(|style| style.progress_chars("=> "))
                .unwrap_or_else(|_| ProgressStyle::default_bar()),
            ),
            None => ProgressBar::new_spinner(),
        };
        bar.with_message(format!("downloading {name}"))
    }
}

/// A temporary file beside the destination, removed on drop unless committed.
struct PartFile {
    path: PathBuf,
    file: File,
    committed: bool,
}

impl PartFile {
    /// Creates `dir/.name.<pid>.part`. The process id keeps two processes
    /// downloading into one directory from writing the same temporary file.
    fn create(dir: &Path, name: &str) -> std::result::Result<Self, String> {
        let path = dir.join(format!(".{name}.{}.part", std::process::id()));
        let file = OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .open(&path)
            .map_err(|e| format!("creating {} failed: {e}", path.display()))?;
        Ok(PartFile {
            path,
            file,
            committed: false,
        })
    }

    /// Flushes the data to disk, then renames the file to `dest`.
    fn commit(mut self, dest: &Path) -> std::result::Result<PathBuf, String> {
        // fsync before the rename: otherwise a crash could leave the final
        // name pointing at a file whose data never reached the disk.
        self.file
            .sync_all()
            .map_err(|e| format!("flushing {} failed: {e}", self.path.display()))?;
        fs::rename(&self.path, dest).map_err(|e| {
            format!(
                "renaming {} to {} failed: {e}",
                self.path.display(),
                dest.display()
            )
        })?;
        self.committed = true;
        // Make the rename itself durable. Best effort: not every platform
        // can open a directory for syncing, and the file is complete anyway.
        if let Some(dir) = dest.parent() {
            if let Ok(dir) = File::open(dir) {
                let _ = dir.sync_all();
            }
        }
        Ok(dest.to_path_buf())
    }
}

impl Drop for PartFile {
    fn drop(&mut self) {
        if !self.committed {
            // Nothing useful can be done if this fails; the name is hidden
            // and never read.
            let _ = fs::remove_file(&self.path);
        }
    }
}

/// The SHA-256 of a file, lower-case hex.
pub fn sha256_file(path: &Path) -> Result<String> {
    let mut file = File::open(path).map_err(|e| Error::io(path, "opening", e))?;
    let mut hasher = Sha256::new();
    io::copy(&mut file, &mut hasher).map_err(|e| Error::io(path, "reading", e))?;
    Ok(hex(&hasher.finalize()))
}

/// Checks that the file at `path` has the SHA-256 `expected` (hex, any case).
pub fn verify_file(path: &Path, expected: &str) -> Result<()> {
    let actual = sha256_file(path)?;
    let expected = expected.to_ascii_lowercase();
    if actual == expected {
        Ok(())
    } else {
        Err(Error::Checksum {
            path: path.to_path_buf(),
            expected,
            actual,
        })
    }
}

/// Lower-case hex of a digest.
fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}
