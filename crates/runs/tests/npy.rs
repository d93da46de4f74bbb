//! The `.npy` writer: the header NumPy's format 1.0 asks for, byte by byte,
//! and the values after it.

use runs::npy::npy_bytes;

/// The header text and the data bytes of a `.npy` file, checking the
/// preamble and the padding rule on the way.
fn split(bytes: &[u8]) -> (String, &[u8]) {
    assert_eq!(&bytes[..8], b"\x93NUMPY\x01\x00", "magic and version 1.0");
    let header_len = u16::from_le_bytes([bytes[8], bytes[9]]) as usize;
    assert_eq!((10 + header_len) % 64, 0, "the data starts 64-byte aligned");
    let header = std::str::from_utf8(&bytes[10..10 + header_len]).unwrap();
    assert!(header.is_ascii() && header.ends_with('\n'));
    (header.trim_end().to_string(), &bytes[10 + header_len..])
}

#[test]
fn the_header_names_dtype_order_and_shape() {
    let values: Vec<f32> = (0..2 * 3 * 4 * 5).map(|i| i as f32 * 0.25 - 7.0).collect();
    let bytes = npy_bytes(&values, &[2, 3, 4, 5]).unwrap();
    let (header, data) = split(&bytes);
    assert_eq!(
        header,
        "{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3, 4, 5), }"
    );
    let read: Vec<f32> = data
        .chunks_exact(4)
        .map(|b| f32::from_le_bytes(b.try_into().unwrap()))
        .collect();
    assert_eq!(read, values);

    // A 1-tuple keeps Python's trailing comma; a long shape pads to 128.
    let bytes = npy_bytes(&[1.5], &[1]).unwrap();
    let (header, data) = split(&bytes);
    assert!(header.ends_with("'shape': (1,), }"), "{header}");
    assert_eq!(data, 1.5f32.to_le_bytes());
    let bytes = npy_bytes(&[], &[10_000_000, 0, 10_000_000, 10_000_000, 7]).unwrap();
    assert_eq!(bytes.len(), 128);
}

#[test]
fn a_count_that_does_not_fill_the_shape_is_refused() {
    let err = npy_bytes(&[0.0; 5], &[2, 3]).unwrap_err();
    assert!(
        err.contains("5 values do not fill an array of shape [2, 3]"),
        "{err}"
    );
}
