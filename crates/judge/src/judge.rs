//! The judge: a small convolutional classifier, trained by this engine on
//! the real training images (`judge_train.rs`), whose verdicts and
//! penultimate features measure what a generator draws.
//!
//! ```text
//! [1, 28, 28] in [−1, 1]
//!   → Conv(1→32, k5) → [32, 24, 24] → ReLU → MaxPool 2 → [32, 12, 12]
//!   → Conv(32→64, k5) → [64, 8, 8]  → ReLU → MaxPool 2 → [64, 4, 4]
//!   → flatten [1024] → Linear → [128] → ReLU     ← the features
//!   → Linear → [10]                              ← the logits
//! ```
//!
//! 185k parameters (740 kB as `f32`). No BatchNorm and no dropout, so
//! training and evaluation mode compute the same function, and a verdict
//! never depends on the other images of a batch.
//!
//! The weights trained by `gan-mnist classifier train` are committed as
//! `crates/judge/assets/judge-{mnist,fashion}.safetensors` and built into the
//! library ([`Judge::pretrained`]), so evaluation works from any folder and
//! needs no training.

use datasets::{Dataset, PixelRange};
use nn::module::visit_child;
use nn::{Conv2d, Linear, Module, State};
use rand::Rng;
use tensor::{Result, Tensor, TensorError};

/// The judge's feature dimension (its penultimate layer).
pub const FEATURES: usize = 128;

/// The number of classes the judge tells apart.
pub const CLASSES: usize = 10;

/// The side of the images the judge takes.
pub const SIDE: usize = 28;

/// The committed MNIST judge (see [`Judge::pretrained`]).
const MNIST_WEIGHTS: &[u8] = include_bytes!("../assets/judge-mnist.safetensors");

/// The committed Fashion-MNIST judge.
const FASHION_WEIGHTS: &[u8] = include_bytes!("../assets/judge-fashion.safetensors");

/// The classifier. Its parameters are named `conv1.weight`, …, `fc2.bias`.
pub struct Judge {
    conv1: Conv2d,
    conv2: Conv2d,
    fc1: Linear,
    fc2: Linear,
}

/// What the judge makes of a batch.
#[derive(Debug, Clone)]
pub struct JudgeOutput {
    /// The penultimate layer, `[B, FEATURES]`.
    pub features: Tensor,
    /// The class logits, `[B, CLASSES]`.
    pub logits: Tensor,
}

impl Judge {
    /// An untrained judge, weights drawn from `rng` (PyTorch's default
    /// initialisation of each layer).
    pub fn new<R: Rng + ?Sized>(rng: &mut R) -> Judge {
        Judge {
            conv1: Conv2d::new(1, 32, 5, 1, 0, rng),
            conv2: Conv2d::new(32, 64, 5, 1, 0, rng),
            fc1: Linear::new(64 * 4 * 4, FEATURES, rng),
            fc2: Linear::new(FEATURES, CLASSES, rng),
        }
    }

    /// The committed judge for `dataset`, built into the library.
    ///
    /// ```
    /// use datasets::Dataset;
    /// use judge::judge::Judge;
    /// use nn::Module;
    /// let judge = Judge::pretrained(Dataset::Mnist).unwrap();
    /// assert_eq!(judge.parameter_count(), 184_586);
    /// ```
    pub fn pretrained(dataset: Dataset) -> crate::Result<Judge> {
        let (bytes, name) = match dataset {
            Dataset::Mnist => (MNIST_WEIGHTS, "assets/judge-mnist.safetensors"),
            Dataset::Fashion => (FASHION_WEIGHTS, "assets/judge-fashion.safetensors"),
        };
        // The seed is irrelevant: every weight is replaced by the file's.
        let judge = Judge::new(&mut gan::streams::stream_rng(0, 0));
        nn::checkpoint::load_module_from_bytes(&judge, bytes, std::path::Path::new(name))
            .map_err(crate::Error::Weights)?;
        Ok(judge)
    }

    /// Features and logits of images `[B, 1, 28, 28]` scaled to `[−1, 1]`
    /// (see [`to_judge_input`]).
    pub fn run(&self, images: &Tensor) -> Result<JudgeOutput> {
        // y = maxpool(relu(conv(x))): a pool of a ReLU equals a ReLU of a pool,
        // and pooling first makes the ReLU four times cheaper.
        let x = self
            .conv1
            .forward(images)?
            .max_pool2d([2, 2], [2, 2], [0, 0])?
            .relu();
        let x = self.conv2.forward(&x)?.max_pool2d([2, 2], [2, 2], [0, 0])?.relu();
        let x = x.flatten(1, 3)?;
        let features = self.fc1.forward(&x)?.relu();
        let logits = self.fc2.forward(&features)?;
        Ok(JudgeOutput { features, logits })
    }
}

impl Module for Judge {
    /// The logits.
    fn forward(&self, input: &Tensor) -> Result<Tensor> {
        Ok(self.run(input)?.logits)
    }

    fn visit(&self, visitor: &mut dyn FnMut(&str, State<'_, f32>)) {
        visit_child("conv1", &self.conv1, visitor);
        visit_child("conv2", &self.conv2, visitor);
        visit_child("fc1", &self.fc1, visitor);
        visit_child("fc2", &self.fc2, visitor);
    }
}

/// Generated (or real) images as the judge takes them: `[B, 1, 28, 28]` in
/// `[−1, 1]`. Images of a `[0, 1]` generator are mapped by `2x − 1`; images
/// padded to a larger square (the `tutorial` model's 32×32) are cropped to
/// their centre, which is where the padding put the 28×28 digit.
pub fn to_judge_input(images: &Tensor, range: PixelRange) -> Result<Tensor> {
    let shape = images.shape();
    let (h, w) = match shape.as_slice() {
        [_, 1, h, w] if *h >= SIDE && *w >= SIDE => (*h, *w),
        _ => {
            return Err(TensorError::shape(
                "judge input",
                format!("expected images [B, 1, H, W] with H, W ≥ {SIDE}, got {shape:?}"),
            ));
        }
    };
    let mut x = images.clone();
    if (h, w) != (SIDE, SIDE) {
        x = x
            .narrow(2, (h - SIDE) / 2, SIDE)?
            .narrow(3, (w - SIDE) / 2, SIDE)?;
    }
    Ok(match range {
        PixelRange::Symmetric => x,
        PixelRange::Unit => x.mul_scalar(2.0).add_scalar(-1.0),
    })
}
