//! Pooling and nearest-neighbour upsampling over the last two axes of an
//! NCHW tensor: avg_pool2d, max_pool2d, upsample_nearest2d.
//!
//! * **Average pooling** is linear: each channel is convolved with a constant
//!   `KH×KW` kernel of `1/(KH·KW)` (zeros of the padding count, as in
//!   PyTorch's default `count_include_pad = true`; with `false`, each output
//!   is rescaled by the constant `KH·KW / (positions inside the image)`). It is computed as exactly
//!   that, a one-channel [`conv2d`](crate::Tensor::conv2d) over the `N·C`
//!   planes, so its backward is the transposed convolution and every higher
//!   derivative comes for free:
//!   `y = C(x, k)  ⇒  x̄ = Cxᵀ(ȳ, k)` (`k` constant).
//! * **Max pooling** picks, per window, the input at the arg-max `m(i)`
//!   (padding never wins): `y[i] = x[m(i)]`. Around inputs without ties the
//!   arg-max is locally constant, so the op *is* [`gather_flat`](crate::Tensor::gather_flat)
//!   with the indices found in the forward pass, and
//!   `x̄ = scatter_add_flat(ȳ, m)`; the second derivative is again a gather.
//! * **Nearest upsampling** by `(sh, sw)` copies each pixel into an `sh×sw`
//!   block: `y[h·sh + a, w·sw + b] = x[h, w]`. Its adjoint adds each block back:
//!   `x̄[h, w] = Σ_{a,b} ȳ[h·sh + a, w·sw + b]`, a sum pool, computed as a
//!   stride-`(sh, sw)` convolution with a kernel of ones (differentiable, whose
//!   own backward is the upsampling again).
//!
//! Gradient checks: `crates/tensor/tests/gradcheck_conv.rs` and (for the PyTorch forms) `crates/tensor/tests/gradcheck_pytorch_semantics.rs`; values: `crates/tensor/tests/conv_reference.rs`.

use crate::Conv2dParams;
use crate::kernels::PARALLEL_THRESHOLD;
use crate::{Element, Result, Tensor, TensorError};
use ndarray::{ArrayD, IxDyn};
use rayon::prelude::*;
use std::sync::Arc;

/// Checks a pooling op's arguments against the input shape; returns
/// `[N, C, H, W]` and the output size `[OH, OW]`.
fn pool_geometry(
    op: &'static str,
    shape: &[usize],
    kernel: [usize; 2],
    stride: [usize; 2],
    padding: [usize; 2],
) -> Result<([usize; 4], [usize; 2])> {
    let dims = <[usize; 4]>::try_from(shape).map_err(|_| {
        TensorError::shape(op, format!("input must be 4-D [N, C, H, W], got shape {shape:?}"))
    })?;
    if kernel.contains(&0) || stride.contains(&0) {
        return Err(TensorError::argument(
            op,
            format!("kernel {kernel:?} and stride {stride:?} must be positive"),
        ));
    }
    let mut out = [0; 2];
    for axis in 0..2 {
        // PyTorch's rule; it also guarantees every window overlaps the image.
        if 2 * padding[axis] > kernel[axis] {
            return Err(TensorError::argument(
                op,
                format!("padding {padding:?} must be at most half the kernel {kernel:?}"),
            ));
        }
        let padded = dims[2 + axis] + 2 * padding[axis];
        if kernel[axis] > padded {
            return Err(TensorError::shape(
                op,
                format!(
                    "kernel {kernel:?} is larger than the padded input (input {shape:?}, padding {padding:?})"
                ),
            ));
        }
        out[axis] = (padded - kernel[axis]) / stride[axis] + 1;
    }
    Ok((dims, out))
}

impl<T: Element> Tensor<T> {
    /// Each channel plane convolved with a constant kernel of `value`:
    /// `[N, C, H, W] → [N, C, OH, OW]`. Differentiable (it is a conv2d).
    fn constant_window_conv(
        &self,
        [n, c, h, w]: [usize; 4],
        out: [usize; 2],
        kernel: [usize; 2],
        params: Conv2dParams,
        value: T,
    ) -> Result<Tensor<T>> {
        let weight = Tensor::full(&[1, 1, kernel[0], kernel[1]], value);
        self.reshape(&[n * c, 1, h, w])?
            .conv2d(&weight, None, params)?
            .reshape(&[n, c, out[0], out[1]])
    }

    /// Average pooling over `kernel`-sized windows of `self` `[N, C, H, W]`,
    /// `stride` apart, with zero `padding` (at most half the kernel) counted in
    /// the average. The result is `[N, C, OH, OW]` with
    /// `OH = (H + 2·padding − KH) / stride + 1`.
    ///
    /// ```
    /// use tensor::Tensor;
    /// let x = Tensor::<f64>::from_vec((0..16).map(f64::from).collect(), &[1, 1, 4, 4])?;
    /// let y = x.avg_pool2d([2, 2], [2, 2], [0, 0])?;
    /// assert_eq!(y.to_vec(), vec![2.5, 4.5, 10.5, 12.5]);
    /// # Ok::<(), tensor::TensorError>(())
    /// ```
    pub fn avg_pool2d(
        &self,
        kernel: [usize; 2],
        stride: [usize; 2],
        padding: [usize; 2],
    ) -> Result<Tensor<T>> {
        let (dims, out) = pool_geometry("avg_pool2d", &self.shape(), kernel, stride, padding)?;
        let params = Conv2dParams {
            stride,
            padding,
            dilation: [1, 1],
        };
        // y = C(x, k) with k ≡ 1/(KH·KW)  ⇒  x̄ = Cxᵀ(ȳ, k), through conv2d's backward.
        let value = T::one() / T::from_f64((kernel[0] * kernel[1]) as f64);
        self.constant_window_conv(dims, out, kernel, params, value)
    }

    /// Average pooling with PyTorch's `count_include_pad` choice
    /// (`F.avg_pool2d(x, kernel, stride, padding, count_include_pad=...)`):
    /// `true` is [`avg_pool2d`](Self::avg_pool2d); with `false` each window is
    /// averaged over its positions inside the image only, so a border value
    /// is not pulled towards the zeros of the padding.
    ///
    /// ```
    /// use tensor::Tensor;
    /// let x = Tensor::<f64>::ones(&[1, 1, 2, 2]);
    /// let y = x.avg_pool2d_with([2, 2], [1, 1], [1, 1], false)?;
    /// assert_eq!(y.to_vec(), vec![1.0; 9]); // a corner window holds 1 real value, not 1/4
    /// assert_eq!(x.avg_pool2d([2, 2], [1, 1], [1, 1])?.to_vec()[0], 0.25);
    /// # Ok::<(), tensor::TensorError>(())
    /// ```
    pub fn avg_pool2d_with(
        &self,
        kernel: [usize; 2],
        stride: [usize; 2],
        padding: [usize; 2],
        count_include_pad: bool,
    ) -> Result<Tensor<T>> {
        let with_pad = self.avg_pool2d(kernel, stride, padding)?;
        if count_include_pad || padding == [0, 0] {
            return Ok(with_pad);
        }
        // y = avg_incl(x) ⊙ r with the constant r[i, j] = KH·KW / count(i, j),
        // count(i, j) the window's positions inside the image; so
        // x̄ = avg_inclᵀ(ȳ ⊙ r), through the mul and conv2d backwards.
        let shape = self.shape();
        let ([oh, ow], [h, w]) = ([with_pad.shape()[2], with_pad.shape()[3]], [shape[2], shape[3]]);
        let inside = |i: usize, axis: usize, size: usize| {
            let start = (i * stride[axis]) as isize - padding[axis] as isize;
            let end = start + kernel[axis] as isize;
            (end.min(size as isize) - start.max(0)) as usize
        };
        let full = (kernel[0] * kernel[1]) as f64;
        let ratios: Vec<T> = (0..oh)
            .flat_map(|i| (0..ow).map(move |j| (i, j)))
            .map(|(i, j)| T::from_f64(full / (inside(i, 0, h) * inside(j, 1, w)) as f64))
            .collect();
        with_pad.mul(&Tensor::from_vec(ratios, &[1, 1, oh, ow])?)
    }

    /// Max pooling over `kernel`-sized windows of `self` `[N, C, H, W]`,
    /// `stride` apart. `padding` (at most half the kernel) widens the windows
    /// but padded positions never win. The gradient goes to the arg-max of
    /// each window (the first one, at a tie).
    ///
    /// ```
    /// use tensor::Tensor;
    /// let x = Tensor::<f64>::from_vec(vec![1.0, 5.0, 3.0, 2.0], &[1, 1, 2, 2])?.with_requires_grad();
    /// let y = x.max_pool2d([2, 2], [2, 2], [0, 0])?;
    /// assert_eq!(y.to_vec(), vec![5.0]);
    /// y.sum().backward()?;
    /// assert_eq!(x.grad().unwrap().to_vec(), vec![0.0, 1.0, 0.0, 0.0]);
    /// # Ok::<(), tensor::TensorError>(())
    /// ```
    pub fn max_pool2d(
        &self,
        kernel: [usize; 2],
        stride: [usize; 2],
        padding: [usize; 2],
    ) -> Result<Tensor<T>> {
        let ([n, c, h, w], [oh, ow]) = pool_geometry("max_pool2d", &self.shape(), kernel, stride, padding)?;
        let mut indices = vec![0usize; n * c * oh * ow];
        {
            let data = self.read();
            let x = data.as_standard_layout();
            let x = x.as_slice().expect("standard layout is contiguous");
            // The arg-max of each window of plane `p`, as a flat index into x.
            let plane = |p: usize, out: &mut [usize]| {
                let base = p * h * w;
                for i in 0..oh {
                    let rows = (i * stride[0]).saturating_sub(padding[0])
                        ..(i * stride[0] + kernel[0] - padding[0]).min(h);
                    for j in 0..ow {
                        let cols = (j * stride[1]).saturating_sub(padding[1])
                            ..(j * stride[1] + kernel[1] - padding[1]).min(w);
                        let mut best = base + rows.start * w + cols.start;
                        for r in rows.clone() {
                            for k in base + r * w + cols.start..base + r * w + cols.end {
                                if x[k] > x[best] {
                                    best = k;
                                }
                            }
                        }
                        out[i * ow + j] = best;
                    }
                }
            };
            if indices.len() >= PARALLEL_THRESHOLD {
                indices
                    .par_chunks_mut((oh * ow).max(1))
                    .enumerate()
                    .for_each(|(p, out)| plane(p, out));
            } else {
                indices
                    .chunks_mut((oh * ow).max(1))
                    .enumerate()
                    .for_each(|(p, out)| plane(p, out));
            }
        }
        // y = G(x) with the arg-max indices m  ⇒  x̄ = S(ȳ, m), via gather_flat's backward.
        Ok(self.gather_unchecked(Arc::from(indices), &[n, c, oh, ow]))
    }

    /// Nearest-neighbour upsampling of `self` `[N, C, H, W]` by integer
    /// factors: every pixel becomes a `scale[0]×scale[1]` block, giving
    /// `[N, C, H·scale[0], W·scale[1]]`. PyTorch's
    /// `F.interpolate(x, scale_factor=scale, mode="nearest")`.
    ///
    /// ```
    /// use tensor::Tensor;
    /// let x = Tensor::<f64>::from_vec(vec![1.0, 2.0], &[1, 1, 1, 2])?;
    /// let y = x.upsample_nearest2d([2, 2])?;
    /// assert_eq!(y.to_vec(), vec![1.0, 1.0, 2.0, 2.0, 1.0, 1.0, 2.0, 2.0]);
    /// # Ok::<(), tensor::TensorError>(())
    /// ```
    pub fn upsample_nearest2d(&self, scale: [usize; 2]) -> Result<Tensor<T>> {
        let shape = self.shape();
        let [n, c, h, w] = <[usize; 4]>::try_from(&shape[..]).map_err(|_| {
            TensorError::shape(
                "upsample_nearest2d",
                format!("input must be 4-D [N, C, H, W], got shape {shape:?}"),
            )
        })?;
        if scale.contains(&0) {
            return Err(TensorError::argument(
                "upsample_nearest2d",
                format!("scale {scale:?} must be positive"),
            ));
        }
        let [sh, sw] = scale;
        let (uh, uw) = (h * sh, w * sw);
        let mut out = vec![T::zero(); n * c * uh * uw];
        {
            let data = self.read();
            let x = data.as_standard_layout();
            let x = x.as_slice().expect("standard layout is contiguous");
            // Each input row becomes one widened row, copied sh times.
            for (src, dst) in x.chunks(w.max(1)).zip(out.chunks_mut((sh * uw).max(1))) {
                let (first, rest) = dst.split_at_mut(uw);
                for (block, &v) in first.chunks_mut(sw).zip(src) {
                    block.fill(v);
                }
                for row in rest.chunks_mut(uw) {
                    row.copy_from_slice(first);
                }
            }
        }
        let out = ArrayD::from_shape_vec(IxDyn(&[n, c, uh, uw]), out).expect("sized above");
        Ok(Tensor::from_op("upsample_nearest2d", &[self], out, move |ctx| {
            // x̄[h, w] = Σ_{a<sh, b<sw} ȳ[h·sh + a, w·sw + b]: a stride-scale convolution with ones.
            let params = Conv2dParams {
                stride: scale,
                padding: [0, 0],
                dilation: [1, 1],
            };
            Ok(vec![Some(ctx.grad.constant_window_conv(
                [n, c, uh, uw],
                [h, w],
                scale,
                params,
                T::one(),
            )?)])
        }))
    }
}
