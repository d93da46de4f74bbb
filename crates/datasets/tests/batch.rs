//! Batches (values, shape, padding, labels) and epoch order (a permutation,
//! deterministic for a seed).

use datasets::{BatchOptions, Error, ImageSet, PixelRange, epoch_order};
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;

/// `count` images of `rows × cols` whose pixel values are all distinct
/// within an image (pixel (r, c) of image i is `(i·7 + r·cols + c) mod 256`),
/// labelled `i mod 10`.
fn pattern_set(count: usize, rows: usize, cols: usize) -> ImageSet {
    let pixels = (0..count)
        .flat_map(|i| (0..rows * cols).map(move |k| ((i * 7 + k) % 256) as u8))
        .collect();
    let labels = (0..count).map(|i| (i % 10) as u8).collect();
    ImageSet::from_raw(pixels, labels, rows, cols).expect("a consistent image set")
}

#[test]
fn values_shape_and_labels() {
    let set =
        ImageSet::from_raw(vec![0, 51, 102, 255, 255, 0, 0, 255], vec![4, 9], 2, 2).expect("two 2×2 images");
    let symmetric = set
        .batch(&[1, 0], BatchOptions::default())
        .expect("a valid batch");
    assert_eq!(symmetric.images.shape(), vec![2, 1, 2, 2]);
    assert_eq!(symmetric.labels, vec![9, 4]);
    let expected: Vec<f32> = [255u8, 0, 0, 255, 0, 51, 102, 255]
        .iter()
        .map(|&x| f32::from(x) / 127.5 - 1.0)
        .collect();
    assert_eq!(symmetric.images.to_vec(), expected);
    assert_eq!(symmetric.images.to_vec()[..4], [1.0, -1.0, -1.0, 1.0]);

    let unit = BatchOptions {
        range: PixelRange::Unit,
        pad_to: None,
    };
    let batch = set.batch(&[0], unit).expect("a valid batch");
    assert_eq!(batch.images.to_vec(), vec![0.0, 0.2, 0.4, 1.0]);
    // A batch tensor is data, not a parameter.
    assert!(!batch.images.requires_grad());
}

#[test]
fn every_value_is_in_range() {
    let set = pattern_set(4, 16, 16); // covers all 256 byte values
    for (range, lo, hi) in [(PixelRange::Symmetric, -1.0, 1.0), (PixelRange::Unit, 0.0, 1.0)] {
        let options = BatchOptions {
            range,
            pad_to: Some(20),
        };
        let values = set.batch(&[0, 1, 2, 3], options).expect("batch").images.to_vec();
        assert!(values.iter().all(|v| (lo..=hi).contains(v)), "{range:?}");
        assert!(values.contains(&lo) && values.contains(&hi), "{range:?}");
    }
}

#[test]
fn padding_to_32_centres_the_image_on_the_background() {
    let set = pattern_set(3, 28, 28);
    for (range, background) in [(PixelRange::Symmetric, -1.0f32), (PixelRange::Unit, 0.0)] {
        let options = BatchOptions {
            range,
            pad_to: Some(32),
        };
        let batch = set.batch(&[2, 0], options).expect("a padded batch");
        assert_eq!(batch.images.shape(), vec![2, 1, 32, 32]);
        let values = batch.images.to_vec();
        for (b, &index) in [2usize, 0].iter().enumerate() {
            let image = set.image(index).expect("in range");
            for y in 0..32 {
                for x in 0..32 {
                    let got = values[b * 1024 + y * 32 + x];
                    let inside = (2..30).contains(&y) && (2..30).contains(&x);
                    let want = if inside {
                        range.scale(image[(y - 2) * 28 + (x - 2)])
                    } else {
                        background
                    };
                    assert_eq!(got, want, "{range:?} image {index} at ({y}, {x})");
                }
            }
        }
    }
}

#[test]
fn odd_padding_puts_the_extra_pixel_after() {
    let set = ImageSet::from_raw(vec![255; 9], vec![0], 3, 3).expect("one 3×3 image");
    let options = BatchOptions {
        range: PixelRange::Unit,
        pad_to: Some(6),
    };
    let values = set.batch(&[0], options).expect("batch").images.to_vec();
    // Rows and columns 1..4 hold the image: one pixel before, two after.
    for y in 0..6 {
        for x in 0..6 {
            let inside = (1..4).contains(&y) && (1..4).contains(&x);
            assert_eq!(values[y * 6 + x], if inside { 1.0 } else { 0.0 }, "({y}, {x})");
        }
    }
}

#[test]
fn bad_arguments_are_errors() {
    let set = pattern_set(5, 4, 4);
    let err = set.batch(&[0, 5], BatchOptions::default()).unwrap_err();
    assert!(matches!(err, Error::Argument { .. }));
    assert!(
        err.to_string().contains("index 5 is out of range for 5 images"),
        "{err}"
    );
    let err = set.batch(&[], BatchOptions::default()).unwrap_err();
    assert!(err.to_string().contains("no indices"), "{err}");
    let small = BatchOptions {
        range: PixelRange::Symmetric,
        pad_to: Some(3),
    };
    let err = set.batch(&[0], small).unwrap_err();
    assert!(err.to_string().contains("cannot pad 4×4 images to 3×3"), "{err}");
    let mut rng = ChaCha8Rng::seed_from_u64(0);
    let err = set
        .epoch(0, BatchOptions::default(), false, &mut rng)
        .unwrap_err();
    assert!(err.to_string().contains("batch_size"), "{err}");
    assert!(set.epoch(2, small, false, &mut rng).is_err());
    // Inconsistent raw data.
    assert!(ImageSet::from_raw(vec![0; 15], vec![0, 1], 2, 4).is_err());
    assert!(ImageSet::from_raw(vec![], vec![0], 0, 4).is_err());
}

#[test]
fn epoch_order_is_a_seeded_permutation() {
    let a = epoch_order(1000, &mut ChaCha8Rng::seed_from_u64(42));
    let b = epoch_order(1000, &mut ChaCha8Rng::seed_from_u64(42));
    let c = epoch_order(1000, &mut ChaCha8Rng::seed_from_u64(43));
    assert_eq!(a, b, "the same seed must give the same order");
    assert_ne!(a, c, "another seed should give another order");
    assert_ne!(a, (0..1000).collect::<Vec<_>>(), "the order must be shuffled");
    let mut sorted = a.clone();
    sorted.sort_unstable();
    assert_eq!(sorted, (0..1000).collect::<Vec<_>>(), "a permutation");
    // Successive epochs from one generator differ.
    let mut rng = ChaCha8Rng::seed_from_u64(42);
    let first = epoch_order(1000, &mut rng);
    let second = epoch_order(1000, &mut rng);
    assert_eq!(first, a);
    assert_ne!(first, second);
}

#[test]
fn an_epoch_covers_every_image_once() {
    let set = pattern_set(10, 2, 3);
    let mut rng = ChaCha8Rng::seed_from_u64(5);
    let epoch = set
        .epoch(4, BatchOptions::default(), false, &mut rng)
        .expect("an epoch");
    assert_eq!(epoch.num_batches(), 3);
    let order = epoch.order().to_vec();
    assert_eq!(order, epoch_order(10, &mut ChaCha8Rng::seed_from_u64(5)));
    let batches: Vec<_> = epoch.collect::<Result<_, _>>().expect("valid batches");
    let sizes: Vec<usize> = batches.iter().map(|b| b.labels.len()).collect();
    assert_eq!(sizes, vec![4, 4, 2]);
    for (batch, chunk) in batches.iter().zip(order.chunks(4)) {
        let direct = set.batch(chunk, BatchOptions::default()).expect("batch");
        assert_eq!(batch.images.to_vec(), direct.images.to_vec());
        assert_eq!(batch.labels, direct.labels);
        assert_eq!(batch.images.shape(), vec![chunk.len(), 1, 2, 3]);
    }

    let epoch = set
        .epoch(4, BatchOptions::default(), true, &mut rng)
        .expect("an epoch");
    assert_eq!(epoch.num_batches(), 2);
    let sizes: Vec<usize> = epoch.map(|b| b.expect("batch").labels.len()).collect();
    assert_eq!(sizes, vec![4, 4], "drop_last skips the short batch");
}
