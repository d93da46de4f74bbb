//! A dataset in memory ([`ImageSet`]) and the batches the training loop
//! consumes.
//!
//! Images stay as bytes in memory (47 MB for MNIST's training set, a quarter
//! of what `f32` would take); a batch is converted when it is built, into one
//! `Vec<f32>` that becomes a `[B, 1, H, W]` tensor. The conversion goes
//! through a 256-entry table, so building a batch is a copy, not arithmetic.
//!
//! Pixel scaling ([`PixelRange`]):
//! * [`PixelRange::Symmetric`]: `x / 127.5 − 1`, in `[−1, 1]`, matching a
//!   generator ending in `tanh`;
//! * [`PixelRange::Unit`]: `x / 255`, in `[0, 1]`, matching a `sigmoid`.
//!
//! Padding ([`BatchOptions::pad_to`]) centres each image on a larger square
//! filled with the *scaled value of pixel 0* (the background: −1 or 0), so a
//! padded image looks like the original with a wider margin. 28 → 32 (the
//! usual choice, for power-of-two convolution stacks) adds 2 pixels on each
//! side. Tests: `crates/gan/tests/data_batch.rs`.

use crate::error::{Error, Result};
use crate::idx::IdxImages;
use rand::Rng;
use rand::seq::SliceRandom;
use std::path::Path;
use tensor::Tensor;

/// The number of classes of both datasets; every label is below it.
pub const NUM_CLASSES: usize = 10;

/// How pixel bytes are scaled to `f32`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum PixelRange {
    /// `x / 127.5 − 1`: 0 ↦ −1, 255 ↦ 1.
    #[default]
    Symmetric,
    /// `x / 255`: 0 ↦ 0, 255 ↦ 1.
    Unit,
}

impl PixelRange {
    /// The value of pixel byte `x`.
    ///
    /// ```
    /// use datasets::PixelRange;
    /// assert_eq!(PixelRange::Symmetric.scale(0), -1.0);
    /// assert_eq!(PixelRange::Symmetric.scale(255), 1.0);
    /// assert_eq!(PixelRange::Unit.scale(51), 0.2);
    /// ```
    pub fn scale(self, x: u8) -> f32 {
        match self {
            PixelRange::Symmetric => f32::from(x) / 127.5 - 1.0,
            PixelRange::Unit => f32::from(x) / 255.0,
        }
    }
}

/// How a batch is built.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct BatchOptions {
    /// The scaling of pixel values.
    pub range: PixelRange,
    /// If `Some(side)`, each image is centred on a `side × side` square
    /// filled with the background value (see the module docs); `side` must
    /// be at least the image's height and width. `None` keeps the images as
    /// they are.
    pub pad_to: Option<usize>,
}

/// A batch: images `[B, 1, H, W]` and their labels.
#[derive(Debug, Clone)]
pub struct Batch {
    /// The images, shape `[B, 1, H, W]` (H and W after padding).
    pub images: Tensor<f32>,
    /// The label of each image, in `0..NUM_CLASSES`.
    pub labels: Vec<usize>,
}

/// Labelled greyscale images in memory, one byte per pixel.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImageSet {
    pixels: Vec<u8>,
    labels: Vec<u8>,
    rows: usize,
    cols: usize,
}

impl ImageSet {
    /// Pairs the images of an IDX image file with the labels of an IDX label
    /// file. The paths are used in error messages: the files must hold the
    /// same number of examples, and every label must be below
    /// [`NUM_CLASSES`].
    pub fn new(images: IdxImages, labels: Vec<u8>, images_path: &Path, labels_path: &Path) -> Result<Self> {
        if images.rows == 0 || images.cols == 0 {
            return Err(Error::format(
                images_path,
                format!("zero-sized images: {}×{}", images.rows, images.cols),
            ));
        }
        let expected = images
            .rows
            .checked_mul(images.cols)
            .and_then(|size| size.checked_mul(images.count));
        if expected != Some(images.pixels.len()) {
            return Err(Error::format(
                images_path,
                format!(
                    "{} pixels do not make {} images of {}×{}",
                    images.pixels.len(),
                    images.count,
                    images.rows,
                    images.cols
                ),
            ));
        }
        if labels.len() != images.count {
            return Err(Error::format(
                labels_path,
                format!(
                    "holds {} labels, but {} holds {} images; the two files must come \
                     from the same split",
                    labels.len(),
                    images_path.display(),
                    images.count
                ),
            ));
        }
        if let Some((index, label)) = labels
            .iter()
            .enumerate()
            .find(|&(_, &label)| usize::from(label) >= NUM_CLASSES)
        {
            return Err(Error::format(
                labels_path,
                format!("label {label} at index {index} is not a class (0..{NUM_CLASSES})"),
            ));
        }
        Ok(ImageSet {
            pixels: images.pixels,
            labels,
            rows: images.rows,
            cols: images.cols,
        })
    }

    /// An image set from pixels and labels already in memory (synthetic data,
    /// tests): `labels.len()` images of `rows × cols`, row-major, one after
    /// another.
    ///
    /// ```
    /// use datasets::{BatchOptions, ImageSet};
    /// let set = ImageSet::from_raw(vec![0, 255, 255, 0], vec![3, 7], 1, 2)?;
    /// let batch = set.batch(&[1], BatchOptions::default())?;
    /// assert_eq!(batch.images.shape(), vec![1, 1, 1, 2]);
    /// assert_eq!(batch.images.to_vec(), vec![1.0, -1.0]);
    /// assert_eq!(batch.labels, vec![7]);
    /// # Ok::<(), datasets::Error>(())
    /// ```
    pub fn from_raw(pixels: Vec<u8>, labels: Vec<u8>, rows: usize, cols: usize) -> Result<Self> {
        let images = IdxImages {
            count: labels.len(),
            rows,
            cols,
            pixels,
        };
        let name = Path::new("<in memory>");
        ImageSet::new(images, labels, name, name)
    }

    /// The number of images.
    pub fn len(&self) -> usize {
        self.labels.len()
    }

    /// Whether there are no images.
    pub fn is_empty(&self) -> bool {
        self.labels.is_empty()
    }

    /// The height of each image.
    pub fn rows(&self) -> usize {
        self.rows
    }

    /// The width of each image.
    pub fn cols(&self) -> usize {
        self.cols
    }

    /// The pixels of image `index` (row-major), or `None` past the end.
    pub fn image(&self, index: usize) -> Option<&[u8]> {
        let size = self.rows * self.cols;
        let start = index.checked_mul(size)?;
        self.pixels.get(start..start.checked_add(size)?)
    }

    /// The label of image `index`, or `None` past the end.
    pub fn label(&self, index: usize) -> Option<usize> {
        self.labels.get(index).map(|&l| usize::from(l))
    }

    /// All pixels, image after image.
    pub fn pixels(&self) -> &[u8] {
        &self.pixels
    }

    /// All labels.
    pub fn labels(&self) -> &[u8] {
        &self.labels
    }

    /// The side lengths `(H, W)` of a batch built with `options`, checking
    /// that the padding fits.
    pub fn batch_image_size(&self, options: BatchOptions) -> Result<(usize, usize)> {
        match options.pad_to {
            None => Ok((self.rows, self.cols)),
            Some(side) if side >= self.rows && side >= self.cols => Ok((side, side)),
            Some(side) => Err(Error::argument(
                "batch",
                format!(
                    "cannot pad {}×{} images to {side}×{side}: the padded side must be at \
                     least the image's",
                    self.rows, self.cols
                ),
            )),
        }
    }

    /// The images at `indices` as a `[B, 1, H, W]` tensor, scaled and padded
    /// as `options` say, with their labels.
    ///
    /// Fails if `indices` is empty or holds an index past the end, or if the
    /// padding is smaller than the images.
    pub fn batch(&self, indices: &[usize], options: BatchOptions) -> Result<Batch> {
        let (height, width) = self.batch_image_size(options)?;
        if indices.is_empty() {
            return Err(Error::argument(
                "batch",
                "no indices: a batch needs at least one image",
            ));
        }
        if let Some(&bad) = indices.iter().find(|&&i| i >= self.len()) {
            return Err(Error::argument(
                "batch",
                format!("index {bad} is out of range for {} images", self.len()),
            ));
        }
        // One table lookup per pixel instead of a division.
        let table: [f32; 256] = std::array::from_fn(|x| options.range.scale(x as u8));
        let (top, left) = ((height - self.rows) / 2, (width - self.cols) / 2);
        let plane = height * width;
        // Filled with the background first, so padding needs no second pass.
        let mut values = vec![table[0]; indices.len() * plane];
        let size = self.rows * self.cols;
        for (dst, &index) in values.chunks_exact_mut(plane).zip(indices) {
            let src = &self.pixels[index * size..(index + 1) * size];
            for (row, src_row) in src.chunks_exact(self.cols).enumerate() {
                let start = (top + row) * width + left;
                for (d, &s) in dst[start..start + self.cols].iter_mut().zip(src_row) {
                    *d = table[usize::from(s)];
                }
            }
        }
        let images = Tensor::from_vec(values, &[indices.len(), 1, height, width])?;
        let labels = indices.iter().map(|&i| usize::from(self.labels[i])).collect();
        Ok(Batch { images, labels })
    }

    /// One pass over the data in a fresh random order (see [`epoch_order`]),
    /// as batches of `batch_size`. If `drop_last`, a final batch smaller
    /// than `batch_size` is skipped (useful with batch statistics).
    ///
    /// ```
    /// use datasets::{BatchOptions, ImageSet};
    /// use rand::SeedableRng;
    /// let set = ImageSet::from_raw(vec![0; 5 * 4], vec![0, 1, 2, 3, 4], 2, 2)?;
    /// let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(0);
    /// let epoch = set.epoch(2, BatchOptions::default(), false, &mut rng)?;
    /// let sizes: Vec<usize> = epoch.map(|b| b.map(|b| b.labels.len())).collect::<Result<_, _>>()?;
    /// assert_eq!(sizes, vec![2, 2, 1]);
    /// # Ok::<(), datasets::Error>(())
    /// ```
    pub fn epoch<R: Rng + ?Sized>(
        &self,
        batch_size: usize,
        options: BatchOptions,
        drop_last: bool,
        rng: &mut R,
    ) -> Result<Epoch<'_>> {
        if batch_size == 0 {
            return Err(Error::argument("epoch", "batch_size must be at least 1"));
        }
        self.batch_image_size(options)?;
        Ok(Epoch {
            set: self,
            order: epoch_order(self.len(), rng),
            batch_size,
            options,
            drop_last,
            next: 0,
        })
    }
}

/// The indices `0..len` in a random order drawn from `rng` (a Fisher–Yates
/// shuffle): the same seed gives the same order.
pub fn epoch_order<R: Rng + ?Sized>(len: usize, rng: &mut R) -> Vec<usize> {
    let mut order: Vec<usize> = (0..len).collect();
    order.shuffle(rng);
    order
}

/// The batches of one epoch, made by [`ImageSet::epoch`].
#[derive(Debug, Clone)]
pub struct Epoch<'a> {
    set: &'a ImageSet,
    order: Vec<usize>,
    batch_size: usize,
    options: BatchOptions,
    drop_last: bool,
    next: usize,
}

impl Epoch<'_> {
    /// The order of the whole epoch.
    pub fn order(&self) -> &[usize] {
        &self.order
    }

    /// The number of batches the epoch yields in all.
    pub fn num_batches(&self) -> usize {
        if self.drop_last {
            self.order.len() / self.batch_size
        } else {
            self.order.len().div_ceil(self.batch_size)
        }
    }
}

impl Iterator for Epoch<'_> {
    type Item = Result<Batch>;

    fn next(&mut self) -> Option<Result<Batch>> {
        let remaining = self.order.len() - self.next;
        if remaining == 0 || (self.drop_last && remaining < self.batch_size) {
            return None;
        }
        let end = self.next + remaining.min(self.batch_size);
        let indices = &self.order[self.next..end];
        self.next = end;
        Some(self.set.batch(indices, self.options))
    }
}
