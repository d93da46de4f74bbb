//! Data: MNIST and Fashion-MNIST, from the published IDX files to batches of
//! `f32` tensors.
//!
//! The pieces, in the order data flows through them:
//! * [`dataset`]: which files a dataset has, their SHA-256 checksums, the
//!   directory they are looked for in (explicit, then `MNIST_DIR` /
//!   `FASHION_MNIST_DIR`, then `data/mnist` / `data/fashion-mnist`), and
//!   [`load`], which does everything below for one split.
//! * [`download`]: verifying files and fetching missing ones from mirrors,
//!   atomically (nothing half-written is ever left under a file's name).
//! * [`idx`]: the IDX file reader (gzip or raw), which validates everything
//!   and never panics on bad input.
//! * [`synthetic`]: random MNIST-shaped images, for benchmarks and tests.
//! * [`batch`]: the images in memory as bytes ([`ImageSet`]), shuffled epochs
//!   and `[B, 1, H, W]` batches scaled to `[−1, 1]` or `[0, 1]`.
//!
//! Files that are present are verified and never overwritten: a file with a
//! wrong checksum is reported ([`Error::Checksum`]) and left for the user
//! to delete or replace, since it may be theirs. Only files that are absent
//! are downloaded.
//!
//! ```no_run
//! use datasets::{BatchOptions, Dataset, PixelRange, Split, load};
//! use rand::SeedableRng;
//!
//! let dataset = Dataset::Mnist;
//! let train = load(dataset, Split::Train, None, &dataset.downloader())?;
//! let options = BatchOptions { range: PixelRange::Symmetric, pad_to: Some(32) };
//! let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(42);
//! for batch in train.epoch(64, options, true, &mut rng)? {
//!     let batch = batch?;
//!     assert_eq!(batch.images.shape(), vec![64, 1, 32, 32]);
//! }
//! # Ok::<(), datasets::Error>(())
//! ```

pub mod batch;
pub mod dataset;
pub mod download;
mod error;
pub mod idx;
pub mod synthetic;

pub use batch::{Batch, BatchOptions, Epoch, ImageSet, NUM_CLASSES, PixelRange, epoch_order};
pub use dataset::{DataDir, DataFile, Dataset, DirOrigin, Part, Split, load, locate, locate_with};
pub use download::{Downloader, FileSpec, sha256_file, verify_file};
pub use error::{Attempt, Error, MissingFile, Result};
pub use idx::{IdxImages, parse_images, parse_labels, read_images, read_labels};
pub use synthetic::synthetic_mnist;
