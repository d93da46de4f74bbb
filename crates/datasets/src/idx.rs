//! A reader for the IDX files in which MNIST and Fashion-MNIST are published.
//!
//! An IDX file is a big-endian header followed by the raw values:
//!
//! | file   | magic        | then                                  | then                       |
//! |--------|--------------|---------------------------------------|----------------------------|
//! | images | `0x00000803` | count, rows, cols (three `u32`)       | count·rows·cols `u8` pixels, row-major |
//! | labels | `0x00000801` | count (one `u32`)                     | count `u8` labels          |
//!
//! (The magic's third byte, `0x08`, says "unsigned byte"; its fourth the
//! number of dimensions.) Files may be gzip-compressed, as published: that is
//! recognised by the gzip magic `1f 8b` at the start, not by the file name.
//!
//! The reader trusts nothing in the file: the magic, every dimension and the
//! exact length are checked, sizes are computed with overflow checks, memory
//! is reserved only as data actually arrives (a lying header cannot make it
//! allocate gigabytes), and every problem is an error naming the file, never
//! a panic. The tests with crafted bad files are in
//! `crates/gan/tests/data_idx.rs`.

use crate::error::{Error, Result};
use flate2::bufread::MultiGzDecoder;
use std::fs::File;
use std::io::{self, BufRead, BufReader, Read};
use std::path::Path;

/// The magic number of an IDX file of unsigned bytes with 3 dimensions (images).
pub const IMAGE_MAGIC: u32 = 0x0000_0803;
/// The magic number of an IDX file of unsigned bytes with 1 dimension (labels).
pub const LABEL_MAGIC: u32 = 0x0000_0801;
/// The largest image side accepted. Far above MNIST's 28; a larger value means
/// a corrupt header, not a real dataset of this family.
pub const MAX_SIDE: usize = 4096;
/// The largest payload (pixels or labels) accepted, in bytes: 2 GiB, about
/// 45 times MNIST's training images.
pub const MAX_PAYLOAD: u64 = 1 << 31;

/// The gzip magic bytes.
const GZIP_MAGIC: [u8; 2] = [0x1f, 0x8b];
/// Memory reserved up front for the payload; beyond this it grows as data
/// arrives, so that a header that lies about the count costs nothing.
const INITIAL_RESERVE: u64 = 1 << 24;
/// How many trailing bytes are counted, at most, to report their number.
const TRAILING_COUNT_LIMIT: u64 = 1 << 26;

/// The images of an IDX image file: `count` images of `rows × cols` pixels,
/// stored one after another, each row-major, one byte per pixel.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IdxImages {
    /// The number of images.
    pub count: usize,
    /// The height of each image.
    pub rows: usize,
    /// The width of each image.
    pub cols: usize,
    /// `count · rows · cols` pixels (0 = background for MNIST).
    pub pixels: Vec<u8>,
}

/// Reads an IDX image file (gzip-compressed or raw).
///
/// Fails, naming the file and the problem, if the file cannot be read, is
/// corrupt gzip, has the wrong magic, zero or absurd dimensions, or is not
/// exactly as long as its header says.
pub fn read_images(path: &Path) -> Result<IdxImages> {
    let (dims, pixels) = read_file(path, Kind::Images)?;
    Ok(IdxImages {
        count: dims[0],
        rows: dims[1],
        cols: dims[2],
        pixels,
    })
}

/// Reads an IDX label file (gzip-compressed or raw): one byte per example.
///
/// Fails like [`read_images`] does.
pub fn read_labels(path: &Path) -> Result<Vec<u8>> {
    read_file(path, Kind::Labels).map(|(_, labels)| labels)
}

/// Parses the bytes of an IDX image file (gzip-compressed or raw) held in
/// memory. `name` is used only in error messages.
///
/// ```
/// use datasets::idx::parse_images;
/// use std::path::Path;
/// // Two 1×2 images: a header (magic, count, rows, cols) then 4 pixels.
/// let mut bytes = vec![0, 0, 8, 3, 0, 0, 0, 2, 0, 0, 0, 1, 0, 0, 0, 2];
/// bytes.extend([0, 255, 10, 20]);
/// let images = parse_images(Path::new("tiny"), &bytes)?;
/// assert_eq!((images.count, images.rows, images.cols), (2, 1, 2));
/// assert_eq!(images.pixels, vec![0, 255, 10, 20]);
///
/// bytes.pop(); // one pixel short
/// let err = parse_images(Path::new("tiny"), &bytes).unwrap_err();
/// assert!(err.to_string().contains("truncated"));
/// # Ok::<(), datasets::Error>(())
/// ```
pub fn parse_images(name: &Path, bytes: &[u8]) -> Result<IdxImages> {
    let (dims, pixels) = decode(name, bytes, Kind::Images)?;
    Ok(IdxImages {
        count: dims[0],
        rows: dims[1],
        cols: dims[2],
        pixels,
    })
}

/// Parses the bytes of an IDX label file (gzip-compressed or raw) held in
/// memory. `name` is used only in error messages.
pub fn parse_labels(name: &Path, bytes: &[u8]) -> Result<Vec<u8>> {
    decode(name, bytes, Kind::Labels).map(|(_, labels)| labels)
}

/// Which of the two IDX file types is expected.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Images,
    Labels,
}

impl Kind {
    fn magic(self) -> u32 {
        match self {
            Kind::Images => IMAGE_MAGIC,
            Kind::Labels => LABEL_MAGIC,
        }
    }

    /// Header bytes: the magic plus one `u32` per dimension.
    fn header_len(self) -> usize {
        match self {
            Kind::Images => 16,
            Kind::Labels => 8,
        }
    }

    fn noun(self) -> &'static str {
        match self {
            Kind::Images => "image",
            Kind::Labels => "label",
        }
    }
}

/// Opens `path` and decodes it, streaming (a compressed file is never held in
/// memory beside its decompressed contents).
fn read_file(path: &Path, kind: Kind) -> Result<(Vec<usize>, Vec<u8>)> {
    let file = File::open(path).map_err(|e| Error::io(path, "opening", e))?;
    decode(path, BufReader::with_capacity(1 << 16, file), kind)
}

/// Detects gzip by its magic and decodes the (decompressed) stream.
fn decode(path: &Path, mut input: impl BufRead, kind: Kind) -> Result<(Vec<usize>, Vec<u8>)> {
    let start = input.fill_buf().map_err(|e| Error::io(path, "reading", e))?;
    if start.starts_with(&GZIP_MAGIC) {
        decode_stream(path, MultiGzDecoder::new(input), true, kind)
    } else {
        decode_stream(path, input, false, kind)
    }
}

/// Parses the header, checks it, reads exactly the payload it announces and
/// checks that nothing follows. `compressed` only changes error wording: an
/// error from a gzip decoder means a corrupt stream, not a failing disk.
fn decode_stream(
    path: &Path,
    mut reader: impl Read,
    compressed: bool,
    kind: Kind,
) -> Result<(Vec<usize>, Vec<u8>)> {
    let read_error = |e: io::Error| {
        if compressed {
            Error::format(path, format!("corrupt or truncated gzip stream: {e}"))
        } else {
            Error::io(path, "reading", e)
        }
    };
    let after = if compressed { " after decompression" } else { "" };
    let noun = kind.noun();

    // The header.
    let header_len = kind.header_len();
    let mut header = [0u8; 16];
    let got = read_full(&mut reader, &mut header[..header_len]).map_err(read_error)?;
    if got == 0 {
        return Err(Error::format(
            path,
            format!(
                "empty{}: an IDX {noun} file starts with a {header_len}-byte header",
                if compressed {
                    " after decompression"
                } else {
                    " file"
                }
            ),
        ));
    }
    // The magic first, even in a short header: "this is a label file" says
    // more than "the header is short".
    let word = |i: usize| {
        u32::from_be_bytes([
            header[4 * i],
            header[4 * i + 1],
            header[4 * i + 2],
            header[4 * i + 3],
        ])
    };
    if got >= 4 {
        check_magic(path, word(0), kind)?;
    }
    if got < header_len {
        return Err(Error::format(
            path,
            format!(
                "truncated header: {got} bytes{after}, but an IDX {noun} file's header \
                 is {header_len} bytes"
            ),
        ));
    }
    // u32 → usize is lossless on every platform this crate builds for (≥ 32 bits).
    let dims: Vec<usize> = (1..header_len / 4).map(|i| word(i) as usize).collect();
    let payload = check_dims(path, &dims, kind)?;
    let describe = describe(&dims, kind);

    // The payload, plus one byte more to detect trailing data.
    let reserve = payload.min(INITIAL_RESERVE) as usize;
    let mut data = Vec::with_capacity(reserve);
    (&mut reader)
        .take(payload + 1)
        .read_to_end(&mut data)
        .map_err(read_error)?;
    let expected_total = header_len as u64 + payload;
    let got_payload = data.len() as u64;
    if got_payload < payload {
        return Err(Error::format(
            path,
            format!(
                "expected {expected_total} bytes{after} for {describe}, got {} (truncated?)",
                header_len as u64 + got_payload
            ),
        ));
    }
    if got_payload > payload {
        // Count the rest to report it; a corrupt tail only makes the count a
        // lower bound.
        let rest = io::copy(&mut reader.take(TRAILING_COUNT_LIMIT), &mut io::sink()).unwrap_or(0);
        let extra = 1 + rest;
        let more = if rest == TRAILING_COUNT_LIMIT {
            "at least "
        } else {
            ""
        };
        return Err(Error::format(
            path,
            format!(
                "expected {expected_total} bytes{after} for {describe}, got {more}{} \
                 ({more}{extra} trailing bytes after the last {noun})",
                expected_total + extra
            ),
        ));
    }
    Ok((dims, data))
}

/// Checks the magic number, explaining the likely mix-up when it is wrong.
fn check_magic(path: &Path, magic: u32, kind: Kind) -> Result<()> {
    if magic == kind.magic() {
        return Ok(());
    }
    let expected = kind.magic();
    let noun = kind.noun();
    let detail = match (kind, magic) {
        (Kind::Images, LABEL_MAGIC) | (Kind::Labels, IMAGE_MAGIC) => {
            let other = if kind == Kind::Images { "label" } else { "image" };
            format!(
                "wrong magic number 0x{magic:08x}, which marks an IDX {other} file; expected \
                 0x{expected:08x} for an {noun} file (were the image and label files swapped?)"
            )
        }
        _ => format!(
            "wrong magic number 0x{magic:08x}, expected 0x{expected:08x}: not an IDX {noun} \
             file of unsigned bytes"
        ),
    };
    Err(Error::format(path, detail))
}

/// Checks that the dimensions are non-zero and sane; returns the payload size
/// in bytes.
fn check_dims(path: &Path, dims: &[usize], kind: Kind) -> Result<u64> {
    let noun = kind.noun();
    if dims[0] == 0 {
        return Err(Error::format(
            path,
            format!("the header says the file holds 0 {noun}s"),
        ));
    }
    if kind == Kind::Images {
        let (rows, cols) = (dims[1], dims[2]);
        if rows == 0 || cols == 0 {
            return Err(Error::format(
                path,
                format!("zero image dimensions in the header: {rows}×{cols} pixels"),
            ));
        }
        if rows > MAX_SIDE || cols > MAX_SIDE {
            return Err(Error::format(
                path,
                format!(
                    "images of {rows}×{cols} pixels exceed the {MAX_SIDE}×{MAX_SIDE} limit \
                     (corrupt header?)"
                ),
            ));
        }
    }
    // Each factor is below 2^32 and the sides are capped, so this cannot
    // overflow a u64; checked anyway to keep the reasoning local.
    let payload = dims
        .iter()
        .try_fold(1u64, |acc, &d| acc.checked_mul(d as u64))
        .filter(|&p| p <= MAX_PAYLOAD);
    payload.ok_or_else(|| {
        Error::format(
            path,
            format!(
                "the header announces {}, more than the {MAX_PAYLOAD}-byte limit (corrupt header?)",
                describe(dims, kind)
            ),
        )
    })
}

/// "60000 images of 28×28" or "60000 labels".
fn describe(dims: &[usize], kind: Kind) -> String {
    match kind {
        Kind::Images => format!("{} images of {}×{}", dims[0], dims[1], dims[2]),
        Kind::Labels => format!("{} labels", dims[0]),
    }
}

/// Reads until `buf` is full or the input ends; returns how many bytes were
/// read (fewer than `buf.len()` only at end of input).
fn read_full(reader: &mut impl Read, buf: &mut [u8]) -> io::Result<usize> {
    let mut filled = 0;
    while filled < buf.len() {
        match reader.read(&mut buf[filled..]) {
            Ok(0) => break,
            Ok(n) => filled += n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        }
    }
    Ok(filled)
}
