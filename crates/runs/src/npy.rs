//! NumPy's `.npy` format (version 1.0), written by hand: the format is small
//! and documented (<https://numpy.org/doc/stable/reference/generated/numpy.lib.format.html>).
//!
//! ```text
//! bytes 0–5   \x93NUMPY                       the magic string
//! bytes 6–7   1, 0                            format version 1.0
//! bytes 8–9   header length L, u16 little-endian
//! L bytes     {'descr': '<f4', 'fortran_order': False, 'shape': (n, 1, 28, 28), }
//!             an ASCII Python dict, padded with spaces and ended by '\n'
//!             so that 10 + L is a multiple of 64
//! then        the values, float32 little-endian, in row-major (C) order
//! ```
//!
//! `numpy.load("x.npy")` reads it as an array of that shape and dtype.

use std::path::Path;

/// The bytes of a `.npy` file holding `values` as a float32 array of
/// `shape` (row-major). Fails if the value count does not match the shape.
///
/// ```
/// let bytes = runs::npy::npy_bytes(&[1.0, -0.5], &[2, 1])?;
/// assert_eq!(&bytes[..8], b"\x93NUMPY\x01\x00");
/// assert_eq!(bytes.len(), 128 + 8); // the padded header, then 2 × 4 bytes
/// assert_eq!(&bytes[128..132], &1.0f32.to_le_bytes());
/// # Ok::<(), String>(())
/// ```
pub fn npy_bytes(values: &[f32], shape: &[usize]) -> Result<Vec<u8>, String> {
    let count: usize = shape.iter().product();
    if count != values.len() {
        return Err(format!(
            "{} values do not fill an array of shape {shape:?} ({count} values)",
            values.len()
        ));
    }
    // Python's tuple syntax: a 1-tuple needs its trailing comma.
    let dims: Vec<String> = shape.iter().map(usize::to_string).collect();
    let shape = match dims.len() {
        1 => format!("({},)", dims[0]),
        _ => format!("({})", dims.join(", ")),
    };
    let mut header = format!("{{'descr': '<f4', 'fortran_order': False, 'shape': {shape}, }}");
    // Spaces, then '\n', up to a multiple of 64 bytes with the 10-byte preamble.
    let unpadded = 10 + header.len() + 1;
    header.push_str(&" ".repeat(unpadded.next_multiple_of(64) - unpadded));
    header.push('\n');
    let header_len =
        u16::try_from(header.len()).map_err(|_| format!("shape {shape} is too long for a .npy header"))?;
    let mut bytes = Vec::with_capacity(10 + header.len() + 4 * values.len());
    bytes.extend_from_slice(b"\x93NUMPY\x01\x00");
    bytes.extend_from_slice(&header_len.to_le_bytes());
    bytes.extend_from_slice(header.as_bytes());
    for v in values {
        bytes.extend_from_slice(&v.to_le_bytes());
    }
    Ok(bytes)
}

/// Writes `values` as a float32 `.npy` array of `shape` to `path`. Errors
/// name the file.
pub fn write_npy(path: &Path, values: &[f32], shape: &[usize]) -> Result<(), String> {
    let bytes = npy_bytes(values, shape).map_err(|e| format!("{}: {e}", path.display()))?;
    std::fs::write(path, bytes).map_err(|e| format!("{}: {e}", path.display()))
}
