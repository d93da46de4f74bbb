//! The engine's side of the reference suite: each case's `op` and `attrs`
//! mapped onto the engine's API. An op or attribute that is not known here is
//! an error (the case fails), never a skip.

use nn::loss::{self, Reduction};
use nn::{
    BatchNorm1d, BatchNorm2d, Conv2d, ConvTranspose2d, Embedding, Flatten, LeakyReLU, Linear, Module, ReLU,
    Reshape, Sequential, Tanh,
};
use serde_json::Value;
use std::sync::Arc;
use tensor::{Conv2dParams, ConvTranspose2dParams, Tensor};

type Outcome = Result<Tensor<f64>, String>;
type Plain = fn(&Tensor<f64>) -> Tensor<f64>;
type Binary = fn(&Tensor<f64>, &Tensor<f64>) -> tensor::Result<Tensor<f64>>;
type Scalar = fn(&Tensor<f64>, f64) -> Tensor<f64>;

/// A list of non-negative integers.
pub fn usize_list(value: &Value) -> Result<Vec<usize>, String> {
    value
        .as_array()
        .ok_or_else(|| format!("expected a list of integers, got {value}"))?
        .iter()
        .map(|v| {
            v.as_u64()
                .map(|n| n as usize)
                .ok_or_else(|| format!("{v} is not an integer ≥ 0"))
        })
        .collect()
}

fn attr<'a>(attrs: &'a Value, key: &str) -> Result<&'a Value, String> {
    attrs
        .get(key)
        .ok_or_else(|| format!("attribute `{key}` is missing"))
}

fn number(attrs: &Value, key: &str) -> Result<f64, String> {
    attr(attrs, key)?
        .as_f64()
        .ok_or_else(|| format!("attribute `{key}` is not a number"))
}

fn index(attrs: &Value, key: &str) -> Result<usize, String> {
    attr(attrs, key)?
        .as_u64()
        .map(|n| n as usize)
        .ok_or_else(|| format!("attribute `{key}` is not an integer ≥ 0"))
}

/// A dimension index, which may be negative (counted from the back).
fn dim(attrs: &Value, key: &str) -> Result<i64, String> {
    attr(attrs, key)?
        .as_i64()
        .ok_or_else(|| format!("attribute `{key}` is not an integer"))
}

/// A list of dimension indices, which may be negative.
fn dims(attrs: &Value, key: &str) -> Result<Vec<i64>, String> {
    attr(attrs, key)?
        .as_array()
        .ok_or_else(|| format!("attribute `{key}` is not a list"))?
        .iter()
        .map(|v| {
            v.as_i64()
                .ok_or_else(|| format!("attribute `{key}`: {v} is not an integer"))
        })
        .collect()
}

fn flag(attrs: &Value, key: &str) -> Result<bool, String> {
    attr(attrs, key)?
        .as_bool()
        .ok_or_else(|| format!("attribute `{key}` is not a boolean"))
}

fn list(attrs: &Value, key: &str) -> Result<Vec<usize>, String> {
    usize_list(attr(attrs, key)?).map_err(|e| format!("attribute `{key}`: {e}"))
}

fn pair(attrs: &Value, key: &str) -> Result<[usize; 2], String> {
    <[usize; 2]>::try_from(list(attrs, key)?).map_err(|v| format!("attribute `{key}` = {v:?} is not a pair"))
}

fn reduction(attrs: &Value) -> Result<Reduction, String> {
    match attr(attrs, "reduction")?.as_str() {
        Some("mean") => Ok(Reduction::Mean),
        Some("sum") => Ok(Reduction::Sum),
        Some("none") => Ok(Reduction::None),
        other => Err(format!("unknown reduction {other:?}")),
    }
}

/// Exactly `n` inputs.
fn take<const N: usize>(op: &str, inputs: &[Tensor<f64>]) -> Result<[Tensor<f64>; N], String> {
    <[Tensor<f64>; N]>::try_from(inputs.to_vec())
        .map_err(|_| format!("`{op}` takes {N} inputs, got {}", inputs.len()))
}

/// Runs the engine's version of `op` on `inputs`.
pub fn run(op: &str, attrs: &Value, inputs: &[Tensor<f64>]) -> Outcome {
    let engine = |r: tensor::Result<Tensor<f64>>| r.map_err(|e| e.to_string());
    if let Some(out) = unary(op, attrs, inputs)? {
        return Ok(out);
    }
    if let Some(out) = structural(op, attrs, inputs)? {
        return Ok(out);
    }
    if let Some(out) = spatial(op, attrs, inputs)? {
        return Ok(out);
    }
    match op {
        "batch_norm" => {
            let [x, w, b] = take(op, inputs)?;
            let layer: Box<dyn Module<f64>> = if x.ndim() == 4 {
                Box::new(BatchNorm2d::with_affine(w, b).map_err(|e| e.to_string())?)
            } else {
                Box::new(BatchNorm1d::with_affine(w, b).map_err(|e| e.to_string())?)
            };
            engine(layer.forward(&x))
        }
        "embedding" => {
            // Through the layer's forward, which takes the indices as a
            // float tensor of any shape, as nn.Embedding does.
            let [weight] = take(op, inputs)?;
            let indices: Vec<f64> = list(attrs, "indices")?.into_iter().map(|i| i as f64).collect();
            let indices =
                Tensor::from_vec(indices, &list(attrs, "index_shape")?).map_err(|e| e.to_string())?;
            engine(Embedding { weight }.forward(&indices))
        }
        "binary_cross_entropy" | "binary_cross_entropy_with_logits" => {
            let (p, y, w) = match inputs {
                [p, y] => (p, y, None),
                [p, y, w] => (p, y, Some(w)),
                _ => return Err(format!("`{op}` takes 2 or 3 inputs")),
            };
            let loss = if op == "binary_cross_entropy" {
                loss::binary_cross_entropy
            } else {
                loss::binary_cross_entropy_with_logits
            };
            engine(loss(p, y, w, reduction(attrs)?))
        }
        "mse" => {
            let [p, y] = take(op, inputs)?;
            engine(loss::mse(&p, &y, reduction(attrs)?))
        }
        "cross_entropy" => {
            let [logits] = take(op, inputs)?;
            engine(loss::cross_entropy(
                &logits,
                &list(attrs, "targets")?,
                reduction(attrs)?,
            ))
        }
        "hinge_discriminator" => {
            let [real, fake] = take(op, inputs)?;
            engine(loss::hinge_discriminator(&real, &fake))
        }
        "hinge_generator" => {
            let [fake] = take(op, inputs)?;
            Ok(loss::hinge_generator(&fake))
        }
        "mlp" | "dcgan_generator" | "dcgan_discriminator" | "wgan_gp_penalty" => {
            engine(composite(op, inputs))
        }
        _ => Err(format!("the replay does not know op `{op}`")),
    }
}

/// Elementwise ops, binary ops and reductions; `None` if `op` is not one.
fn unary(op: &str, attrs: &Value, inputs: &[Tensor<f64>]) -> Result<Option<Tensor<f64>>, String> {
    let engine = |r: tensor::Result<Tensor<f64>>| r.map(Some).map_err(|e| e.to_string());
    let plain: Option<Plain> = match op {
        "neg" => Some(Tensor::neg),
        "exp" => Some(Tensor::exp),
        "log" => Some(Tensor::log),
        "sqrt" => Some(Tensor::sqrt),
        "square" => Some(Tensor::square),
        "abs" => Some(Tensor::abs),
        "relu" => Some(Tensor::relu),
        "sigmoid" => Some(Tensor::sigmoid),
        "tanh" => Some(Tensor::tanh),
        "softplus" => Some(Tensor::softplus),
        "log_sigmoid" => Some(Tensor::log_sigmoid),
        "sum" => Some(Tensor::sum),
        "mean" => Some(Tensor::mean),
        "max" => Some(Tensor::max),
        "min" => Some(Tensor::min),
        _ => None,
    };
    if let Some(f) = plain {
        let [x] = take(op, inputs)?;
        return Ok(Some(f(&x)));
    }
    let binary: Option<Binary> = match op {
        "add" => Some(Tensor::add),
        "sub" => Some(Tensor::sub),
        "mul" => Some(Tensor::mul),
        "div" => Some(Tensor::div),
        "maximum" => Some(Tensor::maximum),
        "minimum" => Some(Tensor::minimum),
        "matmul" => Some(Tensor::matmul),
        "pow" => Some(Tensor::pow),
        _ => None,
    };
    if let Some(f) = binary {
        let [a, b] = take(op, inputs)?;
        return engine(f(&a, &b));
    }
    let scalar: Option<Scalar> = match op {
        "add_scalar" => Some(Tensor::add_scalar),
        "sub_scalar" => Some(Tensor::sub_scalar),
        "rsub_scalar" => Some(Tensor::rsub_scalar),
        "mul_scalar" => Some(Tensor::mul_scalar),
        "div_scalar" => Some(Tensor::div_scalar),
        "rdiv_scalar" => Some(Tensor::rdiv_scalar),
        _ => None,
    };
    if let Some(f) = scalar {
        let [x] = take(op, inputs)?;
        return Ok(Some(f(&x, number(attrs, "c")?)));
    }
    if !matches!(
        op,
        "powf"
            | "leaky_relu"
            | "softplus_with"
            | "clamp"
            | "clamp_min"
            | "clamp_max"
            | "softmax"
            | "log_softmax"
            | "var"
            | "sum_axes"
            | "mean_axes"
            | "var_axes"
            | "max_axis"
            | "min_axis"
    ) {
        return Ok(None);
    }
    let [x] = take(op, inputs)?;
    match op {
        "powf" => Ok(Some(x.powf(number(attrs, "p")?))),
        "leaky_relu" => Ok(Some(x.leaky_relu(number(attrs, "alpha")?))),
        "softplus_with" => Ok(Some(
            x.softplus_with(number(attrs, "beta")?, number(attrs, "threshold")?),
        )),
        "clamp" => engine(x.clamp(number(attrs, "min")?, number(attrs, "max")?)),
        "clamp_min" => engine(x.clamp_min(number(attrs, "min")?)),
        "clamp_max" => engine(x.clamp_max(number(attrs, "max")?)),
        "softmax" => engine(x.softmax(dim(attrs, "axis")?)),
        "log_softmax" => engine(x.log_softmax(dim(attrs, "axis")?)),
        "var" => engine(x.var(index(attrs, "correction")?)),
        "sum_axes" => engine(x.sum_axes(&dims(attrs, "axes")?, flag(attrs, "keepdim")?)),
        "mean_axes" => engine(x.mean_axes(&dims(attrs, "axes")?, flag(attrs, "keepdim")?)),
        "var_axes" => engine(x.var_axes(
            &dims(attrs, "axes")?,
            flag(attrs, "keepdim")?,
            index(attrs, "correction")?,
        )),
        "max_axis" => engine(x.max_axis(dim(attrs, "axis")?, flag(attrs, "keepdim")?)),
        _ => engine(x.min_axis(dim(attrs, "axis")?, flag(attrs, "keepdim")?)),
    }
}

/// Shape ops, selection and joins; `None` if `op` is not one.
fn structural(op: &str, attrs: &Value, inputs: &[Tensor<f64>]) -> Result<Option<Tensor<f64>>, String> {
    let engine = |r: tensor::Result<Tensor<f64>>| r.map(Some).map_err(|e| e.to_string());
    match op {
        "concat" | "stack" => {
            let refs: Vec<&Tensor<f64>> = inputs.iter().collect();
            let axis = dim(attrs, "axis")?;
            return engine(if op == "concat" {
                Tensor::concat(&refs, axis)
            } else {
                Tensor::stack(&refs, axis)
            });
        }
        "linear" => {
            return match inputs {
                [x, w] => engine(x.linear(w, None)),
                [x, w, b] => engine(x.linear(w, Some(b))),
                _ => Err("`linear` takes 2 or 3 inputs".into()),
            };
        }
        _ => {}
    }
    let known = [
        "broadcast_to",
        "sum_to",
        "reshape",
        "permute",
        "transpose",
        "t",
        "flatten",
        "squeeze",
        "unsqueeze",
        "narrow",
        "slice",
        "index_select",
        "index_add_rows",
        "pad",
        "gather_flat",
        "scatter_add_flat",
    ];
    if !known.contains(&op) {
        return Ok(None);
    }
    let [x] = take(op, inputs)?;
    engine(match op {
        "broadcast_to" => x.broadcast_to(&list(attrs, "shape")?),
        "sum_to" => x.sum_to(&list(attrs, "shape")?),
        "reshape" => x.reshape(&list(attrs, "shape")?),
        "permute" => x.permute(&dims(attrs, "axes")?),
        "transpose" => x.transpose(dim(attrs, "a")?, dim(attrs, "b")?),
        "t" => x.t(),
        "flatten" => x.flatten(dim(attrs, "start")?, dim(attrs, "end")?),
        "squeeze" => x.squeeze(dim(attrs, "axis")?),
        "unsqueeze" => x.unsqueeze(dim(attrs, "axis")?),
        "narrow" => x.narrow(dim(attrs, "axis")?, index(attrs, "start")?, index(attrs, "len")?),
        "slice" => x.slice(
            dim(attrs, "axis")?,
            index(attrs, "start")?,
            index(attrs, "end")?,
            index(attrs, "step")?,
        ),
        "index_select" => x.index_select(dim(attrs, "axis")?, &list(attrs, "indices")?),
        "index_add_rows" => x.index_add_rows(&list(attrs, "indices")?, index(attrs, "rows")?),
        "pad" => {
            let pairs = attr(attrs, "padding")?
                .as_array()
                .ok_or("attribute `padding` is not a list")?
                .iter()
                .map(|p| {
                    let p = usize_list(p)?;
                    match p[..] {
                        [before, after] => Ok((before, after)),
                        _ => Err(format!("padding entry {p:?} is not a pair")),
                    }
                })
                .collect::<Result<Vec<_>, String>>()?;
            x.pad(&pairs)
        }
        "gather_flat" => x.gather_flat(Arc::from(list(attrs, "indices")?), &list(attrs, "shape")?),
        _ => x.scatter_add_flat(Arc::from(list(attrs, "indices")?), &list(attrs, "shape")?),
    })
}

/// Convolutions and pools; `None` if `op` is not one.
fn spatial(op: &str, attrs: &Value, inputs: &[Tensor<f64>]) -> Result<Option<Tensor<f64>>, String> {
    let engine = |r: tensor::Result<Tensor<f64>>| r.map(Some).map_err(|e| e.to_string());
    match op {
        "conv2d" | "conv_transpose2d" => {
            let (x, w, b) = match inputs {
                [x, w] => (x, w, None),
                [x, w, b] => (x, w, Some(b)),
                _ => return Err(format!("`{op}` takes 2 or 3 inputs")),
            };
            let (stride, padding, dilation) = (
                pair(attrs, "stride")?,
                pair(attrs, "padding")?,
                pair(attrs, "dilation")?,
            );
            engine(if op == "conv2d" {
                x.conv2d(
                    w,
                    b,
                    Conv2dParams {
                        stride,
                        padding,
                        dilation,
                    },
                )
            } else {
                let output_padding = pair(attrs, "output_padding")?;
                let params = ConvTranspose2dParams {
                    stride,
                    padding,
                    output_padding,
                    dilation,
                };
                x.conv_transpose2d(w, b, params)
            })
        }
        "conv2d_weight_grad" => {
            let [x, g] = take(op, inputs)?;
            let params = Conv2dParams {
                stride: pair(attrs, "stride")?,
                padding: pair(attrs, "padding")?,
                dilation: pair(attrs, "dilation")?,
            };
            engine(x.conv2d_weight_grad(&g, pair(attrs, "kernel")?, params))
        }
        "avg_pool2d" | "max_pool2d" => {
            let [x] = take(op, inputs)?;
            let (kernel, stride, padding) = (
                pair(attrs, "kernel")?,
                pair(attrs, "stride")?,
                pair(attrs, "padding")?,
            );
            engine(if op == "avg_pool2d" {
                match attrs.get("count_include_pad") {
                    None => x.avg_pool2d(kernel, stride, padding),
                    Some(_) => x.avg_pool2d_with(kernel, stride, padding, flag(attrs, "count_include_pad")?),
                }
            } else {
                x.max_pool2d(kernel, stride, padding)
            })
        }
        "upsample_nearest2d" => {
            let [x] = take(op, inputs)?;
            engine(x.upsample_nearest2d(pair(attrs, "scale")?))
        }
        _ => Ok(None),
    }
}

/// The small networks of the suite, built from the engine's layers (the
/// same networks as `make_cases.py` writes in PyTorch).
fn composite(op: &str, inputs: &[Tensor<f64>]) -> tensor::Result<Tensor<f64>> {
    let p = |i: usize| inputs[i].clone();
    let conv = |w: usize, b: Option<usize>| Conv2d {
        weight: p(w),
        bias: b.map(p),
        params: Conv2dParams::new(2, 1),
    };
    let conv_t = |w: usize| ConvTranspose2d {
        weight: p(w),
        bias: None,
        params: ConvTranspose2dParams::new(2, 1),
    };
    match op {
        // x → Linear → LeakyReLU(0.2) → Linear → tanh
        "mlp" => Sequential::new()
            .push(Linear::from_tensors(p(1), Some(p(2)))?)
            .push(LeakyReLU::new(0.2))
            .push(Linear::from_tensors(p(3), Some(p(4)))?)
            .push(Tanh)
            .forward(&p(0)),
        // z → Linear → [4, 2, 2] → BN → ReLU → ConvT(k4 s2 p1) → BN → ReLU → ConvT(k4 s2 p1) → tanh
        "dcgan_generator" => Sequential::new()
            .push(Linear::from_tensors(p(1), Some(p(2)))?)
            .push(Reshape::new(&[4, 2, 2]))
            .push(BatchNorm2d::with_affine(p(3), p(4))?)
            .push(ReLU)
            .push(conv_t(5))
            .push(BatchNorm2d::with_affine(p(6), p(7))?)
            .push(ReLU)
            .push(conv_t(8))
            .push(Tanh)
            .forward(&p(0)),
        // x → Conv(k4 s2 p1) → LeakyReLU → Conv(k4 s2 p1) → BN → LeakyReLU → flatten → Linear
        "dcgan_discriminator" => Sequential::new()
            .push(conv(1, Some(2)))
            .push(LeakyReLU::new(0.2))
            .push(conv(3, Some(4)))
            .push(BatchNorm2d::with_affine(p(5), p(6))?)
            .push(LeakyReLU::new(0.2))
            .push(Flatten)
            .push(Linear::from_tensors(p(7), Some(p(8)))?)
            .forward(&p(0)),
        // The WGAN-GP penalty of a critic x → Conv(k3 s2 p1) → LeakyReLU → flatten → Linear.
        _ => {
            let critic = Sequential::new()
                .push(conv(0, Some(1)))
                .push(LeakyReLU::new(0.2))
                .push(Flatten)
                .push(Linear::from_tensors(p(2), Some(p(3)))?);
            gan::wasserstein::gradient_penalty(|x| critic.forward(x), &p(4), &p(5), &p(6))
        }
    }
}
