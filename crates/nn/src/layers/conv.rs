//! `Conv2d` and `ConvTranspose2d` layers (NCHW), with PyTorch's weight layouts
//! and default initialisation. The convolutions themselves, forward and
//! backward, are in the tensor crate (`crates/tensor/src/ops/conv.rs`).

use crate::init;
use crate::module::{Module, State, visit_weight_and_bias};
use rand::Rng;
use tensor::{Conv2dParams, ConvTranspose2dParams, Element, Result, Tensor};

/// A 2-D convolution with weight `[out, in, kh, kw]` and bias `[out]`.
pub struct Conv2d<T: Element = f32> {
    /// `[out_channels, in_channels, kernel_h, kernel_w]`.
    pub weight: Tensor<T>,
    /// `[out_channels]`, if the layer has a bias.
    pub bias: Option<Tensor<T>>,
    /// Stride, padding and dilation.
    pub params: Conv2dParams,
}

/// A 2-D transposed convolution with weight `[in, out, kh, kw]` and bias `[out]`.
pub struct ConvTranspose2d<T: Element = f32> {
    /// `[in_channels, out_channels, kernel_h, kernel_w]`.
    pub weight: Tensor<T>,
    /// `[out_channels]`, if the layer has a bias.
    pub bias: Option<Tensor<T>>,
    /// Stride, padding, output padding and dilation.
    pub params: ConvTranspose2dParams,
}

/// A weight of `shape` and a bias of `bias_len`, with PyTorch's default init.
fn default_weights<T: Element, R: Rng + ?Sized>(
    shape: [usize; 4],
    bias_len: usize,
    rng: &mut R,
) -> (Tensor<T>, Tensor<T>) {
    let weight = init::kaiming_uniform(&shape, 5f64.sqrt(), rng).expect("a 4-D shape has fans");
    let (fan_in, _) = init::fans(&shape).expect("a 4-D shape has fans");
    let bias = init::default_bias(bias_len, fan_in, rng).expect("a valid range");
    (weight.with_requires_grad(), bias.with_requires_grad())
}

impl<T: Element> Conv2d<T> {
    /// A square-kernel convolution with the given stride and padding (no dilation).
    pub fn new<R: Rng + ?Sized>(
        in_channels: usize,
        out_channels: usize,
        kernel: usize,
        stride: usize,
        padding: usize,
        rng: &mut R,
    ) -> Self {
        let (weight, bias) = default_weights([out_channels, in_channels, kernel, kernel], out_channels, rng);
        Conv2d {
            weight,
            bias: Some(bias),
            params: Conv2dParams {
                stride: [stride; 2],
                padding: [padding; 2],
                dilation: [1; 2],
            },
        }
    }

    /// Drops the bias (for layers followed by BatchNorm).
    pub fn without_bias(mut self) -> Self {
        self.bias = None;
        self
    }
}

impl<T: Element> ConvTranspose2d<T> {
    /// A square-kernel transposed convolution with the given stride and padding.
    pub fn new<R: Rng + ?Sized>(
        in_channels: usize,
        out_channels: usize,
        kernel: usize,
        stride: usize,
        padding: usize,
        rng: &mut R,
    ) -> Self {
        let (weight, bias) = default_weights([in_channels, out_channels, kernel, kernel], out_channels, rng);
        ConvTranspose2d {
            weight,
            bias: Some(bias),
            params: ConvTranspose2dParams {
                stride: [stride; 2],
                padding: [padding; 2],
                output_padding: [0; 2],
                dilation: [1; 2],
            },
        }
    }

    /// Drops the bias (for layers followed by BatchNorm).
    pub fn without_bias(mut self) -> Self {
        self.bias = None;
        self
    }
}

impl<T: Element> Module<T> for Conv2d<T> {
    fn forward(&self, input: &Tensor<T>) -> Result<Tensor<T>> {
        input.conv2d(&self.weight, self.bias.as_ref(), self.params)
    }

    fn visit(&self, visitor: &mut dyn FnMut(&str, State<'_, T>)) {
        visit_weight_and_bias(&self.weight, self.bias.as_ref(), visitor);
    }

    fn spectral_normalised(&self, rng: &mut dyn rand::RngCore) -> Option<Box<dyn Module<T>>> {
        super::spectral_norm::wrap_shared(self, rng)
    }
}

impl<T: Element> Module<T> for ConvTranspose2d<T> {
    fn forward(&self, input: &Tensor<T>) -> Result<Tensor<T>> {
        input.conv_transpose2d(&self.weight, self.bias.as_ref(), self.params)
    }

    fn visit(&self, visitor: &mut dyn FnMut(&str, State<'_, T>)) {
        visit_weight_and_bias(&self.weight, self.bias.as_ref(), visitor);
    }
}
