//! 2-D convolution (NCHW), transposed convolution, and convolution's weight
//! gradient: three ops, each the others' derivative.
//!
//! ## Three bilinear maps
//!
//! For one geometry (stride `s`, padding `p`, dilation `d`, sizes fixed), let
//!
//! ```text
//! C(x, w)[n,o,i,j] = Σ_{c,a,b} w[o,c,a,b] · x[n, c, i·s−p+a·d, j·s−p+b·d]      (conv2d)
//! ```
//!
//! with `x[N,C,H,W]`, `w[O,C,KH,KW]`, and out-of-image reads equal to 0. `C`
//! is linear in `x` and in `w` separately, so each has an adjoint, defined by
//!
//! ```text
//! ⟨C(x, w), g⟩ = ⟨x, Cxᵀ(g, w)⟩ = ⟨w, Cwᵀ(x, g)⟩      for all x, w, g[N,O,OH,OW]
//! ```
//!
//! All three sides are the same triple sum `Σ g[n,o,i,j]·w[o,c,a,b]·x[n,c,…]`,
//! grouped differently:
//! * `Cxᵀ(g, w)` (*transposed convolution*): per sample, `cols = Wᵀ · g_n`
//!   then col2im adds each column entry back onto the pixel it was read from;
//! * `Cwᵀ(x, g)` (*weight gradient*): `Σ_n g_n · cols_nᵀ`, with `cols_n` the
//!   im2col matrix of sample `n`.
//!
//! ## Backward rules
//!
//! The gradient of a bilinear map in one argument is its adjoint in that
//! argument applied to the output's gradient. For `y = C(x, w)`, the change
//! of `⟨ȳ, y⟩` is `⟨ȳ, C(δx, w)⟩ + ⟨ȳ, C(x, δw)⟩ = ⟨Cxᵀ(ȳ, w), δx⟩ + ⟨Cwᵀ(x, ȳ), δw⟩`:
//!
//! ```text
//! y = C(x, w)     ⇒  x̄ = Cxᵀ(ȳ, w)     w̄ = Cwᵀ(x, ȳ)
//! z = Cxᵀ(g, w)   ⇒  ḡ = C(z̄, w)       w̄ = Cwᵀ(z̄, g)     since ⟨z̄, Cxᵀ(g,w)⟩ = ⟨C(z̄,w), g⟩ = ⟨w, Cwᵀ(z̄,g)⟩
//! v = Cwᵀ(x, g)   ⇒  x̄ = Cxᵀ(g, v̄)     ḡ = C(x, v̄)       since ⟨v̄, Cwᵀ(x,g)⟩ = ⟨C(x,v̄), g⟩ = ⟨x, Cxᵀ(g,v̄)⟩
//! ```
//!
//! Every backward is made of the same three ops, so gradients of gradients
//! (to any order) are exact. A bias `b[O]` added to every pixel has
//! `b̄ = Σ_{n,i,j} ȳ[n,·,i,j]`.
//!
//! PyTorch's `conv_transpose2d(g, weight[Cin, Cout, KH, KW])` is `Cxᵀ` with
//! the conv weight layout `[O = Cin, C = Cout]`, and output size
//! `H = (H_in − 1)·s − 2p + d·(K − 1) + output_padding + 1`.
//!
//! Kernels: `kernels/im2col.rs`. Gradient checks: `crates/tensor/tests/gradcheck_conv.rs`;
//! values against direct loops: `crates/tensor/tests/conv_reference.rs`; speed: `benches/conv.rs`.

use crate::kernels::im2col::{self, ConvGeometry};
use crate::{Element, Result, Tensor, TensorError};
use ndarray::{ArrayD, IxDyn};

/// Stride, zero padding and dilation of a 2-D convolution, as
/// `[height, width]` pairs (they need not be equal).
///
/// ```
/// use tensor::Conv2dParams;
/// let p = Conv2dParams::new(2, 1).with_dilation(2);
/// assert_eq!((p.stride, p.padding, p.dilation), ([2, 2], [1, 1], [2, 2]));
/// assert_eq!(Conv2dParams::default(), Conv2dParams::new(1, 0));
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Conv2dParams {
    /// Step between neighbouring windows, in input pixels.
    pub stride: [usize; 2],
    /// Zeros added on both sides of the input.
    pub padding: [usize; 2],
    /// Spacing between kernel taps (1 = adjacent pixels).
    pub dilation: [usize; 2],
}

impl Default for Conv2dParams {
    fn default() -> Self {
        Conv2dParams {
            stride: [1, 1],
            padding: [0, 0],
            dilation: [1, 1],
        }
    }
}

impl Conv2dParams {
    /// The same stride and padding on both axes, dilation 1.
    pub fn new(stride: usize, padding: usize) -> Self {
        Conv2dParams {
            stride: [stride, stride],
            padding: [padding, padding],
            dilation: [1, 1],
        }
    }

    /// These parameters with the same dilation on both axes.
    pub fn with_dilation(self, dilation: usize) -> Self {
        Conv2dParams {
            dilation: [dilation, dilation],
            ..self
        }
    }
}

/// Stride, padding, output padding and dilation of a 2-D transposed
/// convolution (PyTorch's `ConvTranspose2d`), as `[height, width]` pairs.
///
/// `padding` is the padding of the convolution this op is the adjoint of;
/// `output_padding` adds rows/columns at the bottom/right of the output to
/// pick one of the several output sizes that convolution maps to the same
/// input size (it must be smaller than the stride or the dilation).
///
/// ```
/// use tensor::ConvTranspose2dParams;
/// let p = ConvTranspose2dParams::new(2, 1).with_output_padding(1);
/// assert_eq!((p.stride, p.padding, p.output_padding, p.dilation), ([2, 2], [1, 1], [1, 1], [1, 1]));
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct ConvTranspose2dParams {
    /// Stride of the adjoint convolution (the upsampling factor).
    pub stride: [usize; 2],
    /// Padding of the adjoint convolution (removed from the output's borders).
    pub padding: [usize; 2],
    /// Extra rows/columns at the bottom/right of the output.
    pub output_padding: [usize; 2],
    /// Spacing between kernel taps.
    pub dilation: [usize; 2],
}

impl Default for ConvTranspose2dParams {
    fn default() -> Self {
        ConvTranspose2dParams {
            stride: [1, 1],
            padding: [0, 0],
            output_padding: [0, 0],
            dilation: [1, 1],
        }
    }
}

impl ConvTranspose2dParams {
    /// The same stride and padding on both axes, no output padding, dilation 1.
    pub fn new(stride: usize, padding: usize) -> Self {
        ConvTranspose2dParams {
            stride: [stride, stride],
            padding: [padding, padding],
            ..Self::default()
        }
    }

    /// These parameters with the same output padding on both axes.
    pub fn with_output_padding(self, output_padding: usize) -> Self {
        ConvTranspose2dParams {
            output_padding: [output_padding, output_padding],
            ..self
        }
    }

    /// These parameters with the same dilation on both axes.
    pub fn with_dilation(self, dilation: usize) -> Self {
        ConvTranspose2dParams {
            dilation: [dilation, dilation],
            ..self
        }
    }
}

/// Runs `f` on the values of `t` as one row-major slice (copying only if `t`
/// is a non-contiguous view).
fn with_slice<T: Element, R>(t: &Tensor<T>, f: impl FnOnce(&[T]) -> R) -> R {
    let data = t.read();
    let standard = data.as_standard_layout();
    f(standard.as_slice().expect("standard layout is contiguous"))
}

/// Wraps kernel output as an array of `shape`.
fn shaped<T: Element>(values: Vec<T>, shape: &[usize]) -> ArrayD<T> {
    ArrayD::from_shape_vec(IxDyn(shape), values).expect("kernel output matches the geometry")
}

fn x_shape(geo: &ConvGeometry) -> [usize; 4] {
    [geo.batch, geo.in_channels, geo.in_size[0], geo.in_size[1]]
}

fn y_shape(geo: &ConvGeometry) -> [usize; 4] {
    [geo.batch, geo.out_channels, geo.out_size[0], geo.out_size[1]]
}

fn w_shape(geo: &ConvGeometry) -> [usize; 4] {
    [geo.out_channels, geo.in_channels, geo.kernel[0], geo.kernel[1]]
}

/// The gradient of a per-channel bias: `ȳ` summed over samples and pixels.
fn bias_grad<T: Element>(ctx: &crate::BackwardCtx<'_, T>) -> Result<Option<Tensor<T>>> {
    if ctx.inputs.len() < 3 || !ctx.needs(2) {
        return Ok(None);
    }
    // b̄[c] = Σ_{n,i,j} ȳ[n,c,i,j]
    Ok(Some(ctx.grad.sum_axes(&[0, 2, 3], false)?))
}

/// `y = C(x, w) + b`, recorded.
fn conv<T: Element>(x: &Tensor<T>, w: &Tensor<T>, bias: Option<&Tensor<T>>, geo: ConvGeometry) -> Tensor<T> {
    let out = with_slice(x, |xs| {
        with_slice(w, |ws| match bias {
            Some(b) => with_slice(b, |bs| im2col::conv2d_forward(&geo, xs, ws, Some(bs))),
            None => im2col::conv2d_forward(&geo, xs, ws, None),
        })
    });
    let mut inputs = vec![x, w];
    inputs.extend(bias);
    Tensor::from_op("conv2d", &inputs, shaped(out, &y_shape(&geo)), move |ctx| {
        let (x, w) = (ctx.input(0), ctx.input(1));
        // x̄ = Cxᵀ(ȳ, w),  w̄ = Cwᵀ(x, ȳ),  b̄ = Σ_{n,i,j} ȳ
        let gx = ctx.needs(0).then(|| conv_x_adjoint(ctx.grad, w, None, geo));
        let gw = ctx.needs(1).then(|| conv_w_adjoint(x, ctx.grad, geo));
        let mut grads = vec![gx, gw];
        if ctx.inputs.len() == 3 {
            grads.push(bias_grad(ctx)?);
        }
        Ok(grads)
    })
}

/// `z = Cxᵀ(g, w) + b` (a transposed convolution), recorded.
fn conv_x_adjoint<T: Element>(
    g: &Tensor<T>,
    w: &Tensor<T>,
    bias: Option<&Tensor<T>>,
    geo: ConvGeometry,
) -> Tensor<T> {
    let out = with_slice(g, |gs| {
        with_slice(w, |ws| match bias {
            Some(b) => with_slice(b, |bs| im2col::conv2d_input_grad(&geo, gs, ws, Some(bs))),
            None => im2col::conv2d_input_grad(&geo, gs, ws, None),
        })
    });
    let mut inputs = vec![g, w];
    inputs.extend(bias);
    Tensor::from_op(
        "conv_transpose2d",
        &inputs,
        shaped(out, &x_shape(&geo)),
        move |ctx| {
            let (g, w) = (ctx.input(0), ctx.input(1));
            // ḡ = C(z̄, w),  w̄ = Cwᵀ(z̄, g),  b̄ = Σ_{n,i,j} z̄
            let gg = ctx.needs(0).then(|| conv(ctx.grad, w, None, geo));
            let gw = ctx.needs(1).then(|| conv_w_adjoint(ctx.grad, g, geo));
            let mut grads = vec![gg, gw];
            if ctx.inputs.len() == 3 {
                grads.push(bias_grad(ctx)?);
            }
            Ok(grads)
        },
    )
}

/// `v = Cwᵀ(x, g)` (convolution's weight gradient), recorded.
fn conv_w_adjoint<T: Element>(x: &Tensor<T>, g: &Tensor<T>, geo: ConvGeometry) -> Tensor<T> {
    let out = with_slice(x, |xs| {
        with_slice(g, |gs| im2col::conv2d_weight_grad(&geo, xs, gs))
    });
    Tensor::from_op(
        "conv2d_weight_grad",
        &[x, g],
        shaped(out, &w_shape(&geo)),
        move |ctx| {
            let (x, g) = (ctx.input(0), ctx.input(1));
            // x̄ = Cxᵀ(g, v̄),  ḡ = C(x, v̄)
            let gx = ctx.needs(0).then(|| conv_x_adjoint(g, ctx.grad, None, geo));
            let gg = ctx.needs(1).then(|| conv(x, ctx.grad, None, geo));
            Ok(vec![gx, gg])
        },
    )
}

/// Checks that `shape` is 4-D, naming `what` in the error.
fn rank4(op: &'static str, what: &str, shape: &[usize]) -> Result<[usize; 4]> {
    <[usize; 4]>::try_from(shape)
        .map_err(|_| TensorError::shape(op, format!("{what} must be 4-D, got shape {shape:?}")))
}

/// Checks that every entry of every named pair is positive.
fn positive(op: &'static str, pairs: &[(&str, [usize; 2])]) -> Result<()> {
    for (name, pair) in pairs {
        if pair.contains(&0) {
            return Err(TensorError::argument(
                op,
                format!("{name} must be positive, got {pair:?}"),
            ));
        }
    }
    Ok(())
}

/// Checks that a bias has shape `[channels]`.
fn check_bias<T: Element>(op: &'static str, bias: Option<&Tensor<T>>, channels: usize) -> Result<()> {
    match bias.map(Tensor::shape) {
        Some(shape) if shape != [channels] => Err(TensorError::shape(
            op,
            format!("bias must have shape [{channels}] (one value per output channel), got {shape:?}"),
        )),
        _ => Ok(()),
    }
}

/// The geometry of `conv2d(x, w)`, or an error naming `op`.
fn conv2d_geometry(
    op: &'static str,
    x: &[usize],
    w: &[usize],
    params: &Conv2dParams,
) -> Result<ConvGeometry> {
    let [n, c, h, wd] = rank4(op, "input [N, C, H, W]", x)?;
    let [o, cw, kh, kw] = rank4(op, "weight [O, C, KH, KW]", w)?;
    positive(
        op,
        &[
            ("stride", params.stride),
            ("dilation", params.dilation),
            ("kernel size", [kh, kw]),
        ],
    )?;
    if c != cw {
        return Err(TensorError::shape(
            op,
            format!("input {x:?} has {c} channels but weight {w:?} expects {cw}"),
        ));
    }
    let mut out = [0; 2];
    for axis in 0..2 {
        let (size, k) = ([h, wd][axis], [kh, kw][axis]);
        let span = params.dilation[axis] * (k - 1) + 1;
        let padded = size + 2 * params.padding[axis];
        if span > padded {
            return Err(TensorError::shape(
                op,
                format!(
                    "kernel {:?} (dilation {:?}) spans {span} pixels on axis {axis}, more than the padded input \
                     ({size} + 2·{}) of input {x:?}",
                    [kh, kw],
                    params.dilation,
                    params.padding[axis]
                ),
            ));
        }
        out[axis] = (padded - span) / params.stride[axis] + 1;
    }
    Ok(ConvGeometry {
        batch: n,
        in_channels: c,
        out_channels: o,
        in_size: [h, wd],
        out_size: out,
        kernel: [kh, kw],
        stride: params.stride,
        padding: params.padding,
        dilation: params.dilation,
    })
}

impl<T: Element> Tensor<T> {
    /// 2-D convolution (really cross-correlation, as in every framework) of
    /// `self` `[N, C, H, W]` with `weight` `[O, C, KH, KW]`, plus an optional
    /// `bias` `[O]`: the result is `[N, O, OH, OW]` with
    /// `OH = (H + 2·padding − dilation·(KH − 1) − 1) / stride + 1` (rounded
    /// down), likewise `OW`.
    ///
    /// ```
    /// use tensor::Tensor;
    /// use tensor::Conv2dParams;
    /// let x = Tensor::<f32>::ones(&[1, 1, 4, 4]);
    /// let w = Tensor::<f32>::ones(&[1, 1, 3, 3]);
    /// let y = x.conv2d(&w, None, Conv2dParams::new(1, 1))?;
    /// assert_eq!(y.shape(), vec![1, 1, 4, 4]);
    /// // A corner sees 4 of the 9 taps inside the image, the centre all 9.
    /// assert_eq!(y.to_vec()[0], 4.0);
    /// assert_eq!(y.to_vec()[5], 9.0);
    /// # Ok::<(), tensor::TensorError>(())
    /// ```
    pub fn conv2d(
        &self,
        weight: &Tensor<T>,
        bias: Option<&Tensor<T>>,
        params: Conv2dParams,
    ) -> Result<Tensor<T>> {
        let geo = conv2d_geometry("conv2d", &self.shape(), &weight.shape(), &params)?;
        check_bias("conv2d", bias, geo.out_channels)?;
        Ok(conv(self, weight, bias, geo))
    }

    /// 2-D transposed convolution (PyTorch's `conv_transpose2d`) of `self`
    /// `[N, Cin, H, W]` with `weight` `[Cin, Cout, KH, KW]`, plus an optional
    /// `bias` `[Cout]`: the adjoint of `conv2d` with the same weight, giving
    /// `[N, Cout, OH, OW]` with
    /// `OH = (H − 1)·stride − 2·padding + dilation·(KH − 1) + output_padding + 1`.
    ///
    /// ```
    /// use tensor::Tensor;
    /// use tensor::ConvTranspose2dParams;
    /// // Stride 2, kernel 4, padding 1 doubles the size (the DCGAN upsampler).
    /// let x = Tensor::<f32>::ones(&[2, 8, 7, 7]);
    /// let w = Tensor::<f32>::ones(&[8, 3, 4, 4]);
    /// let y = x.conv_transpose2d(&w, None, ConvTranspose2dParams::new(2, 1))?;
    /// assert_eq!(y.shape(), vec![2, 3, 14, 14]);
    /// # Ok::<(), tensor::TensorError>(())
    /// ```
    pub fn conv_transpose2d(
        &self,
        weight: &Tensor<T>,
        bias: Option<&Tensor<T>>,
        params: ConvTranspose2dParams,
    ) -> Result<Tensor<T>> {
        const OP: &str = "conv_transpose2d";
        let (xs, ws) = (self.shape(), weight.shape());
        let [n, cin, h, wd] = rank4(OP, "input [N, Cin, H, W]", &xs)?;
        let [wcin, cout, kh, kw] = rank4(OP, "weight [Cin, Cout, KH, KW]", &ws)?;
        positive(
            OP,
            &[
                ("stride", params.stride),
                ("dilation", params.dilation),
                ("kernel size", [kh, kw]),
            ],
        )?;
        positive(OP, &[("input size", [h, wd])])?;
        if cin != wcin {
            return Err(TensorError::shape(
                OP,
                format!("input {xs:?} has {cin} channels but weight {ws:?} expects {wcin}"),
            ));
        }
        let mut out = [0; 2];
        for axis in 0..2 {
            let (s, p, op, d) = (
                params.stride[axis],
                params.padding[axis],
                params.output_padding[axis],
                params.dilation[axis],
            );
            if op >= s && op >= d {
                return Err(TensorError::argument(
                    OP,
                    format!(
                        "output_padding {:?} must be smaller than the stride {:?} or the dilation {:?}",
                        params.output_padding, params.stride, params.dilation
                    ),
                ));
            }
            let full = ([h, wd][axis] - 1) * s + d * ([kh, kw][axis] - 1) + op + 1;
            if full <= 2 * p {
                return Err(TensorError::shape(
                    OP,
                    format!(
                        "padding {:?} removes the whole output on axis {axis} for input {xs:?} and weight {ws:?}",
                        params.padding
                    ),
                ));
            }
            out[axis] = full - 2 * p;
        }
        check_bias(OP, bias, cout)?;
        // The convolution this op is the adjoint of maps [N, Cout, out] to [N, Cin, H, W].
        let geo = ConvGeometry {
            batch: n,
            in_channels: cout,
            out_channels: cin,
            in_size: out,
            out_size: [h, wd],
            kernel: [kh, kw],
            stride: params.stride,
            padding: params.padding,
            dilation: params.dilation,
        };
        Ok(conv_x_adjoint(self, weight, bias, geo))
    }

    /// The gradient of `conv2d(self, w)` with respect to `w`, for
    /// `grad_output` the gradient of its `[N, O, OH, OW]` result: a tensor of
    /// shape `[O, C, kernel[0], kernel[1]]`,
    /// `Σ_{n,i,j} grad_output[n,o,i,j] · x[n, c, i·s−p+a·d, j·s−p+b·d]`.
    /// Differentiable in both arguments (it is what `conv2d`'s backward uses).
    /// PyTorch's `torch.nn.grad.conv2d_weight(x, weight_shape, grad_output, …)`.
    ///
    /// ```
    /// use tensor::Tensor;
    /// use tensor::Conv2dParams;
    /// let x = Tensor::<f64>::ones(&[2, 1, 3, 3]);
    /// let g = Tensor::<f64>::ones(&[2, 4, 2, 2]);
    /// let w_grad = x.conv2d_weight_grad(&g, [2, 2], Conv2dParams::default())?;
    /// assert_eq!(w_grad.shape(), vec![4, 1, 2, 2]);
    /// assert_eq!(w_grad.to_vec()[0], 8.0); // 2 samples × 4 output pixels
    /// # Ok::<(), tensor::TensorError>(())
    /// ```
    pub fn conv2d_weight_grad(
        &self,
        grad_output: &Tensor<T>,
        kernel: [usize; 2],
        params: Conv2dParams,
    ) -> Result<Tensor<T>> {
        const OP: &str = "conv2d_weight_grad";
        let (xs, gs) = (self.shape(), grad_output.shape());
        let [n, c, ..] = rank4(OP, "input [N, C, H, W]", &xs)?;
        let [gn, o, gh, gw] = rank4(OP, "grad_output [N, O, OH, OW]", &gs)?;
        let geo = conv2d_geometry(OP, &xs, &[o, c, kernel[0], kernel[1]], &params)?;
        if [gn, gh, gw] != [n, geo.out_size[0], geo.out_size[1]] {
            return Err(TensorError::shape(
                OP,
                format!(
                    "grad_output {gs:?} does not match the convolution output {:?} of input {xs:?}",
                    y_shape(&geo)
                ),
            ));
        }
        Ok(conv_w_adjoint(self, grad_output, geo))
    }
}
