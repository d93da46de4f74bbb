#!/usr/bin/env python3
"""Writes the PyTorch reference suite that `tests/torch_reference.rs` replays.

Run by hand, not by CI (it needs `pip install torch`):

    python tools/torch_reference/make_cases.py

It writes `tests/torch_reference/cases.json` and, beside it,
`tests/torch_reference/torch_version.txt`. Every case is computed by PyTorch
in float64:

* the inputs (random, rounded to 4 decimals so that they print short and
  parse to the same f64 in Python and in Rust), and which of them are
  differentiated;
* the op's output;
* the vector-Jacobian product `Jᵀv` for a random cotangent `v` (what
  `backward` computes);
* the Hessian-vector product: for `L(x) = ⟨f(x), v⟩` and a random direction
  `u` (one tensor per differentiated input), `H·u = ∇ₓ⟨∇ₓL, u⟩`, which is what
  a double backward computes. Piecewise-linear ops (relu, max, pooling...)
  have `H·u = 0` almost everywhere, and that is checked too.

A case names the engine's op (`op`) and its attributes (`attrs`); the Rust
test maps the pair onto the engine's API. Inputs avoid the points where an op
is not differentiable (ties of max/min, 0 for relu/abs, clamp's bounds), where
PyTorch and the engine are both right but may pick different subgradients.

Outputs are printed with 13 significant digits (a relative rounding error of
5e-14, far below the test's rtol of 1e-9), which keeps the file small.
"""

import json
import pathlib

import torch
import torch.nn.functional as F

torch.set_default_dtype(torch.float64)
GEN = torch.Generator().manual_seed(16)
CASES = []


def randn(*shape, scale=1.0, shift=0.0):
    """Normal values rounded to 4 decimals (exact in the JSON)."""
    values = torch.randn(tuple(shape), generator=GEN) * scale + shift
    return torch.round(values * 1e4) / 1e4


def uniform(*shape, low=0.0, high=1.0):
    values = torch.rand(tuple(shape), generator=GEN) * (high - low) + low
    return torch.round(values * 1e4) / 1e4


def away(*shape, margin=0.1):
    """Normal values at least `margin` away from 0."""
    values = randn(*shape)
    return torch.where(values >= 0, values + margin, values - margin)


def distinct(*shape, step=0.37):
    """Distinct, well-separated values in a random order (no ties)."""
    n = 1
    for s in shape:
        n *= s
    perm = torch.randperm(n, generator=GEN).to(torch.float64)
    values = (perm - n / 2) * step
    return (torch.round(values * 1e4) / 1e4).reshape(shape)


def short(value):
    return float(f"{value:.13g}")


def flat(t):
    """A computed tensor's values, to 13 significant digits."""
    t = t.detach()
    if t._is_zerotensor():  # autograd's unallocated zeros (e.g. abs's second derivative)
        t = torch.zeros(t.shape)
    return [short(v) for v in t.reshape(-1).tolist()]


def exact(t):
    """A given tensor's values, exactly (Python's shortest round-trip repr)."""
    return t.detach().reshape(-1).tolist()


def tensor_json(t, values=flat):
    return {"shape": list(t.shape), "data": values(t)}


def case(name, op, fn, inputs, attrs=None, grad=None, hvp=True):
    """Records one case: `fn(*inputs)` computed by PyTorch, its VJP and HVP.

    `grad[i]` says whether input `i` is differentiated (all by default).
    """
    grad = grad or [True] * len(inputs)
    xs = [x.clone().requires_grad_(g) for x, g in zip(inputs, grad)]
    out = fn(*xs)
    wrt = [x for x in xs if x.requires_grad]
    cot = randn(*out.shape)
    # A forward-only case (no input differentiated) has empty gradient lists.
    grads = torch.autograd.grad(out, wrt, cot, create_graph=True, allow_unused=True) if wrt else []
    grads = [torch.zeros_like(x) if g is None else g for x, g in zip(wrt, grads)]
    direction = [randn(*x.shape) for x in wrt]
    hvp_values = None
    if hvp:
        pairs = [(g, u) for g, u in zip(grads, direction) if g.requires_grad]
        if pairs:
            second = torch.autograd.grad(
                [g for g, _ in pairs], wrt, [u for _, u in pairs], allow_unused=True
            )
            hvp_values = [torch.zeros_like(x) if h is None else h for x, h in zip(wrt, second)]
        else:
            hvp_values = [torch.zeros_like(x) for x in wrt]
    CASES.append(
        {
            "name": name,
            "op": op,
            "attrs": attrs or {},
            "inputs": [dict(tensor_json(x, exact), grad=g) for x, g in zip(inputs, grad)],
            "output": tensor_json(out),
            "cotangent": exact(cot),
            "vjp": [flat(g) for g in grads],
            "direction": [exact(u) for u in direction],
            "hvp": None if hvp_values is None else [flat(h) for h in hvp_values],
        }
    )


# ---------------------------------------------------------------- elementwise


def elementwise():
    shapes = [[], [5], [2, 3], [2, 1, 3]]
    for shape in shapes:
        tag = "x".join(map(str, shape)) or "0d"
        x = randn(*shape)
        pos = uniform(*shape, low=0.2, high=2.0)
        nz = away(*shape)
        case(f"neg/{tag}", "neg", lambda a: -a, [x])
        case(f"exp/{tag}", "exp", torch.exp, [x])
        case(f"log/{tag}", "log", torch.log, [pos])
        case(f"sqrt/{tag}", "sqrt", torch.sqrt, [pos])
        case(f"square/{tag}", "square", torch.square, [x])
        case(f"abs/{tag}", "abs", torch.abs, [nz])
        case(f"relu/{tag}", "relu", torch.relu, [nz])
        case(f"sigmoid/{tag}", "sigmoid", torch.sigmoid, [x])
        case(f"tanh/{tag}", "tanh", torch.tanh, [x])
        case(f"softplus/{tag}", "softplus", F.softplus, [x])
        case(f"log_sigmoid/{tag}", "log_sigmoid", F.logsigmoid, [x])
    x = randn(2, 3)
    for c in [2.5, -0.75]:
        case(f"add_scalar/{c}", "add_scalar", lambda a: a + c, [x], {"c": c})
        case(f"sub_scalar/{c}", "sub_scalar", lambda a: a - c, [x], {"c": c})
        case(f"rsub_scalar/{c}", "rsub_scalar", lambda a: c - a, [x], {"c": c})
        case(f"mul_scalar/{c}", "mul_scalar", lambda a: a * c, [x], {"c": c})
        case(f"div_scalar/{c}", "div_scalar", lambda a: a / c, [x], {"c": c})
    pos = uniform(2, 3, low=0.2, high=2.0)
    for p in [2.0, 3.0, 0.5, -1.5, 0.0]:
        case(f"powf/{p}", "powf", lambda a: torch.pow(a, p), [pos], {"p": p})
    case("powf/integer_negative_base", "powf", lambda a: torch.pow(a, 3.0), [randn(4)], {"p": 3.0})
    for alpha in [0.2, 0.01]:
        case(f"leaky_relu/{alpha}", "leaky_relu", lambda a: F.leaky_relu(a, alpha), [away(2, 3)], {"alpha": alpha})
    case("clamp/both", "clamp", lambda a: torch.clamp(a, -0.5, 0.75), [randn(3, 4) * 1.3 + 0.013], {"min": -0.5, "max": 0.75})
    extreme = torch.tensor([-800.0, -100.0, -30.0, -1e-5, 0.0, 1e-5, 30.0, 100.0, 800.0])
    for name, fn in [("sigmoid", torch.sigmoid), ("softplus", F.softplus), ("log_sigmoid", F.logsigmoid), ("tanh", torch.tanh)]:
        if name == "softplus":
            # PyTorch's softplus returns x itself above its threshold (20);
            # those values get their own cases with the threshold attribute.
            values = torch.tensor([-800.0, -100.0, -30.0, -1e-5, 0.0, 1e-5, 15.0])
        else:
            values = extreme
        case(f"{name}/extreme", name, fn, [values])
    for axis, shape in [(0, [3]), (1, [2, 4]), (0, [3, 2]), (1, [2, 3, 2])]:
        x = randn(*shape, scale=2.0)
        case(f"softmax/{shape}/axis{axis}", "softmax", lambda a: torch.softmax(a, axis), [x], {"axis": axis})
        case(f"log_softmax/{shape}/axis{axis}", "log_softmax", lambda a: torch.log_softmax(a, axis), [x], {"axis": axis})
    case("log_softmax/extreme", "log_softmax", lambda a: torch.log_softmax(a, 1), [torch.tensor([[-500.0, 0.0, 500.0], [1.0, 2.0, 3.0]])], {"axis": 1})


def binary():
    pairs = [([2, 3], [2, 3]), ([3, 1], [1, 4]), ([2, 1, 3], [2, 4, 1]), ([4], [2, 3, 4]), ([], [2, 3]), ([2, 3], [])]
    for a_shape, b_shape in pairs:
        tag = f"{a_shape}{b_shape}".replace(" ", "")
        a, b = randn(*a_shape), away(*b_shape, margin=0.5)
        case(f"add/{tag}", "add", torch.add, [a, b])
        case(f"sub/{tag}", "sub", torch.sub, [a, b])
        case(f"mul/{tag}", "mul", torch.mul, [a, b])
        case(f"div/{tag}", "div", torch.div, [a, b])
        # Distinct multiples of 0.25, and of 0.25 plus 0.125: never tied
        # (at a tie PyTorch splits the gradient, the engine gives it to `a`).
        a, b = distinct(*a_shape, step=0.5), distinct(*b_shape, step=0.5) + 0.125
        case(f"maximum/{tag}", "maximum", torch.maximum, [a, b])
        case(f"minimum/{tag}", "minimum", torch.minimum, [a, b])
    x = randn(3, 1)
    case("broadcast_to/3x1_to_2x3x4", "broadcast_to", lambda a: torch.broadcast_to(a, (2, 3, 4)), [x], {"shape": [2, 3, 4]})
    case("sum_to/2x3x4_to_3x1", "sum_to", lambda a: a.sum_to_size(3, 1), [randn(2, 3, 4)], {"shape": [3, 1]})


# ----------------------------------------------------------------- reductions


def reductions():
    for shape in [[5], [2, 3], [2, 3, 4]]:
        tag = "x".join(map(str, shape))
        x = randn(*shape)
        case(f"sum/{tag}", "sum", torch.sum, [x])
        case(f"mean/{tag}", "mean", torch.mean, [x])
        for correction in [0, 1]:
            case(f"var/{tag}/c{correction}", "var", lambda a: torch.var(a, correction=correction), [x], {"correction": correction})
        d = distinct(*shape)
        case(f"max/{tag}", "max", torch.max, [d])
        case(f"min/{tag}", "min", torch.min, [d])
    x = randn(2, 3, 4)
    d = distinct(2, 3, 4)
    for axes in [[0], [2], [0, 2], [0, 1, 2]]:
        for keepdim in [False, True]:
            tag = f"{axes}/keep{int(keepdim)}".replace(" ", "")
            a = {"axes": axes, "keepdim": keepdim}
            case(f"sum_axes/{tag}", "sum_axes", lambda t: torch.sum(t, axes, keepdim=keepdim), [x], a)
            case(f"mean_axes/{tag}", "mean_axes", lambda t: torch.mean(t, axes, keepdim=keepdim), [x], a)
            case(f"var_axes/{tag}", "var_axes", lambda t: torch.var(t, axes, keepdim=keepdim, correction=1), [x], dict(a, correction=1))
    for axis in [0, 1, 2]:
        for keepdim in [False, True]:
            a = {"axis": axis, "keepdim": keepdim}
            case(f"max_axis/{axis}/keep{int(keepdim)}", "max_axis", lambda t: torch.amax(t, axis, keepdim=keepdim), [d], a)
            case(f"min_axis/{axis}/keep{int(keepdim)}", "min_axis", lambda t: torch.amin(t, axis, keepdim=keepdim), [d], a)


# --------------------------------------------------------------------- linear


def linear_algebra():
    case("matmul/2d", "matmul", torch.matmul, [randn(3, 4), randn(4, 2)])
    case("matmul/2d_row", "matmul", torch.matmul, [randn(1, 4), randn(4, 3)])
    case("matmul/3d", "matmul", torch.matmul, [randn(2, 3, 4), randn(2, 4, 5)])
    x, w, b = randn(4, 3), randn(5, 3), randn(5)
    case("linear/bias", "linear", F.linear, [x, w, b])
    case("linear/no_bias", "linear", F.linear, [x, w])


# ---------------------------------------------------------------------- shape


def shapes():
    x = randn(2, 3, 4)
    case("reshape/2x3x4_to_4x6", "reshape", lambda a: a.reshape(4, 6), [x], {"shape": [4, 6]})
    case("reshape/to_0d", "reshape", lambda a: a.reshape(()), [randn(1, 1)], {"shape": []})
    case("permute/201", "permute", lambda a: a.permute(2, 0, 1), [x], {"axes": [2, 0, 1]})
    case("transpose/0_2", "transpose", lambda a: a.transpose(0, 2), [x], {"a": 0, "b": 2})
    case("t/2d", "t", lambda a: a.t(), [randn(3, 4)])
    case("flatten/1_2", "flatten", lambda a: a.flatten(1, 2), [x], {"start": 1, "end": 2})
    case("squeeze/1", "squeeze", lambda a: a.squeeze(1), [randn(2, 1, 3)], {"axis": 1})
    case("unsqueeze/2", "unsqueeze", lambda a: a.unsqueeze(2), [randn(2, 3)], {"axis": 2})
    case("concat/axis1", "concat", lambda a, b, c: torch.cat([a, b, c], 1), [randn(2, 1, 3), randn(2, 2, 3), randn(2, 3, 3)], {"axis": 1})
    case("stack/axis1", "stack", lambda a, b: torch.stack([a, b], 1), [randn(2, 3), randn(2, 3)], {"axis": 1})
    case("narrow/axis1", "narrow", lambda a: a.narrow(1, 1, 2), [x], {"axis": 1, "start": 1, "len": 2})
    case("index_select/repeats", "index_select", lambda a: a.index_select(0, torch.tensor([2, 0, 2, 1])), [randn(3, 2)], {"axis": 0, "indices": [2, 0, 2, 1]})
    case(
        "index_add_rows/repeats",
        "index_add_rows",
        lambda a: torch.zeros(3, 2).index_add(0, torch.tensor([1, 0, 1]), a),
        [randn(3, 2)],
        {"indices": [1, 0, 1], "rows": 3},
    )
    case("pad/2d", "pad", lambda a: F.pad(a, (2, 0, 0, 1)), [randn(2, 3)], {"padding": [[0, 1], [2, 0]]})
    idx = [5, 0, 5, 3]
    case("gather_flat/repeats", "gather_flat", lambda a: a.reshape(-1)[torch.tensor(idx)].reshape(2, 2), [randn(2, 3)], {"indices": idx, "shape": [2, 2]})
    case(
        "scatter_add_flat/repeats",
        "scatter_add_flat",
        lambda a: torch.zeros(6).index_add(0, torch.tensor(idx), a.reshape(-1)).reshape(2, 3),
        [randn(2, 2)],
        {"indices": idx, "shape": [2, 3]},
    )


# --------------------------------------------------------------- convolution


def convolutions():
    for name, (stride, padding, dilation, bias) in {
        "k3_s1_p0": (1, 0, 1, True),
        "k3_s2_p1": (2, 1, 1, True),
        "k3_s1_p2_d2": (1, 2, 2, False),
        "k3_s2x1_p1x0": ((2, 1), (1, 0), 1, True),
    }.items():
        x, w, b = randn(2, 2, 5, 5), randn(3, 2, 3, 3), randn(3)
        attrs = {"stride": pair(stride), "padding": pair(padding), "dilation": pair(dilation)}
        inputs = [x, w, b] if bias else [x, w]
        case(f"conv2d/{name}", "conv2d", lambda *a: F.conv2d(*a, stride=stride, padding=padding, dilation=dilation), inputs, attrs)
    for name, (stride, padding, out_pad, dilation, bias) in {
        "k4_s2_p1": (2, 1, 0, 1, True),
        "k3_s2_p1_op1": (2, 1, 1, 1, True),
        "k3_s1_p0": (1, 0, 0, 1, False),
        "k3_s2_p1_d2": (2, 1, 0, 2, True),
    }.items():
        kernel = 4 if name.startswith("k4") else 3
        # Weight layout (Cin, Cout, kH, kW), as in PyTorch.
        x, w, b = randn(2, 3, 3, 3), randn(3, 2, kernel, kernel), randn(2)
        attrs = {"stride": pair(stride), "padding": pair(padding), "output_padding": pair(out_pad), "dilation": pair(dilation)}
        inputs = [x, w, b] if bias else [x, w]
        case(
            f"conv_transpose2d/{name}",
            "conv_transpose2d",
            lambda *a: F.conv_transpose2d(*a, stride=stride, padding=padding, output_padding=out_pad, dilation=dilation),
            inputs,
            attrs,
        )
    x, g = randn(2, 2, 5, 5), randn(2, 3, 3, 3)
    case(
        "conv2d_weight_grad/k3_s2_p1",
        "conv2d_weight_grad",
        lambda a, b: torch.nn.grad.conv2d_weight(a, (3, 2, 3, 3), b, stride=2, padding=1),
        [x, g],
        {"kernel": [3, 3], "stride": [2, 2], "padding": [1, 1], "dilation": [1, 1]},
    )


def pair(v):
    return list(v) if isinstance(v, tuple) else [v, v]


def pools():
    for name, (k, s, p) in {"k2_s2": (2, 2, 0), "k3_s2_p1": (3, 2, 1), "k3_s1_p1": (3, 1, 1)}.items():
        attrs = {"kernel": [k, k], "stride": [s, s], "padding": [p, p]}
        x = randn(2, 2, 5, 5)
        case(f"avg_pool2d/{name}", "avg_pool2d", lambda a: F.avg_pool2d(a, k, s, p), [x], attrs)
        case(f"max_pool2d/{name}", "max_pool2d", lambda a: F.max_pool2d(a, k, s, p), [distinct(2, 2, 5, 5)], attrs)
    case("upsample_nearest2d/2x3", "upsample_nearest2d", lambda a: F.interpolate(a, scale_factor=(2, 3), mode="nearest"), [randn(1, 2, 2, 3)], {"scale": [2, 3]})


# ----------------------------------------------------------------------- nn


def batch_norm(x, w, b):
    return F.batch_norm(x, None, None, w, b, training=True, eps=1e-5)


def nn_layers():
    for shape in [[4, 3], [3, 2, 4], [2, 3, 2, 2]]:
        channels = shape[1]
        tag = "x".join(map(str, shape))
        x = randn(*shape, scale=2.0, shift=0.5)
        case(f"batch_norm/{tag}", "batch_norm", batch_norm, [x, uniform(channels, low=0.5, high=1.5), randn(channels)])
    weight = randn(5, 3)
    case("embedding/flat", "embedding", lambda w: F.embedding(torch.tensor([4, 0, 4, 2]), w), [weight], {"indices": [4, 0, 4, 2], "index_shape": [4]})


# ---------------------------------------------------------------------- losses


REDUCTIONS = ["mean", "sum", "none"]


def losses():
    p, y = uniform(2, 3, low=0.05, high=0.95), uniform(2, 3)
    weights = uniform(2, 3, low=0.5, high=2.0)
    for reduction in REDUCTIONS:
        a = {"reduction": reduction}
        x = randn(2, 3, scale=2.0)
        for op, fn, first in [("binary_cross_entropy", F.binary_cross_entropy, p), ("binary_cross_entropy_with_logits", F.binary_cross_entropy_with_logits, x)]:
            case(f"{op}/{reduction}", op, lambda u, v: fn(u, v, reduction=reduction), [first, y], a, grad=[True, False])
            case(
                f"{op}/weighted_{reduction}",
                op,
                lambda u, v, w: fn(u, v, weight=w, reduction=reduction),
                [first, y, weights],
                a,
                grad=[True, False, False],
            )
        case(f"mse/{reduction}", "mse", lambda a, b: F.mse_loss(a, b, reduction=reduction), [randn(2, 3), randn(2, 3)], a)
        logits, targets = randn(4, 3, scale=2.0), [2, 0, 1, 2]
        case(
            f"cross_entropy/{reduction}",
            "cross_entropy",
            lambda z: F.cross_entropy(z, torch.tensor(targets), reduction=reduction),
            [logits],
            dict(a, targets=targets),
        )
    extreme = torch.tensor([[-100.0, -30.0, 0.0, 30.0, 100.0], [100.0, 30.0, 0.0, -30.0, -100.0]])
    ones = torch.tensor([[1.0] * 5, [0.0] * 5])
    case(
        "binary_cross_entropy_with_logits/extreme",
        "binary_cross_entropy_with_logits",
        lambda x, y: F.binary_cross_entropy_with_logits(x, y, reduction="none"),
        [extreme, ones],
        {"reduction": "none"},
        grad=[True, False],
    )
    saturated = torch.tensor([0.0, 1e-50, 0.3, 1.0])
    case(
        "binary_cross_entropy/saturated_forward",
        "binary_cross_entropy",
        lambda p, y: F.binary_cross_entropy(p, y, reduction="none"),
        [saturated, torch.tensor([1.0, 1.0, 0.5, 0.0])],
        {"reduction": "none"},
        grad=[False, False],
    )
    real, fake = away(3, 1, margin=0.2), away(4, 1, margin=0.2)
    case("hinge_discriminator", "hinge_discriminator", lambda r, f: torch.relu(1 - r).mean() + torch.relu(1 + f).mean(), [real * 1.5, fake * 1.5])
    case("hinge_generator", "hinge_generator", lambda f: -f.mean(), [fake])


# ----------------------------------------- PyTorch semantics (issue 16)


def pytorch_semantics():
    """Reverse scalar ops, one-bound clamps, softplus's beta and threshold,
    tensor exponents, count_include_pad, strided slices, index_select on any
    dim, torch.matmul's broadcasting and vectors, linear on (..., in),
    embeddings of any index shape, and negative dims."""
    x = away(2, 3, margin=0.3)
    for c in [2.5, -0.75]:
        case(f"rdiv_scalar/{c}", "rdiv_scalar", lambda a: c / a, [x], {"c": c})
    x = randn(3, 4) * 1.3 + 0.013
    case("clamp_min/0.2", "clamp_min", lambda a: torch.clamp(a, min=0.2), [x], {"min": 0.2})
    case("clamp_max/-0.1", "clamp_max", lambda a: torch.clamp(a, max=-0.1), [x], {"max": -0.1})
    wide = torch.tensor([-30.0, -2.5, -0.3, 0.0, 0.7, 4.0, 9.5, 10.5, 25.0, 40.0])
    for beta, threshold in [(1.0, 20.0), (2.0, 20.0), (0.5, 5.0), (3.0, 1.0)]:
        case(
            f"softplus_with/beta{beta}_threshold{threshold}",
            "softplus_with",
            lambda a: F.softplus(a, beta, threshold),
            [wide],
            {"beta": beta, "threshold": threshold},
        )
    case("softplus/above_threshold", "softplus", F.softplus, [torch.tensor([19.5, 20.5, 25.0, 60.0])])
    for a_shape, b_shape in [([2, 3], [2, 3]), ([2, 3], [3]), ([3, 1], [1, 4]), ([2, 3], []), ([], [4])]:
        tag = f"{a_shape}{b_shape}".replace(" ", "")
        case(f"pow/{tag}", "pow", torch.pow, [uniform(*a_shape, low=0.3, high=2.0), randn(*b_shape)])
    # PyTorch's special cases at a zero base (first derivatives finite);
    # its own second derivative there is NaN, so no HVP is compared.
    case("pow/zero_base", "pow", torch.pow, [torch.tensor([0.0, 0.0, 0.5, 2.0]), torch.tensor([2.0, 3.0, 0.5, -1.5])], hvp=False)
    case(
        "pow/negative_base_integer_exponent",
        "pow",
        torch.pow,
        [torch.tensor([-1.5, -0.5, 2.0]), torch.tensor([2.0, 3.0, -2.0])],
        grad=[True, False],
    )
    for name, (k, s, p) in {"k3_s2_p1": (3, 2, 1), "k3_s1_p1": (3, 1, 1), "k2_s2_p1": (2, 2, 1), "k2x3_s1_p1": ((2, 3), 1, (1, 1))}.items():
        attrs = {"kernel": pair(k), "stride": pair(s), "padding": pair(p), "count_include_pad": False}
        case(f"avg_pool2d/exclude_pad_{name}", "avg_pool2d", lambda a: F.avg_pool2d(a, k, s, p, count_include_pad=False), [randn(2, 2, 5, 4)], attrs)
    x = randn(2, 8, 3)
    for axis, start, end, step in [(1, 1, 7, 2), (-2, 0, 8, 3), (1, 2, 100, 4), (0, 1, 2, 2), (-1, 0, 3, 2), (1, 7, 8, 5)]:
        sl = [slice(None)] * 3
        sl[axis] = slice(start, end, step)
        case(
            f"slice/{axis}_{start}_{end}_{step}",
            "slice",
            lambda a: a[tuple(sl)],
            [x],
            {"axis": axis, "start": start, "end": end, "step": step},
        )
    for axis, idx in [(1, [2, 0, 2]), (-1, [1, 1, 0]), (2, [])]:
        case(
            f"index_select/axis{axis}_{len(idx)}",
            "index_select",
            lambda a: a.index_select(axis, torch.tensor(idx, dtype=torch.long)),
            [randn(2, 3, 2)],
            {"axis": axis, "indices": idx},
        )
    for a_shape, b_shape in [
        ([2, 3, 4], [4, 5]),
        ([2, 1, 3, 4], [3, 4, 2]),
        ([1, 3, 4], [2, 4, 5]),
        ([5, 7], [7]),
        ([7], [7, 5]),
        ([4], [4]),
        ([3], [2, 3, 4]),
        ([2, 3, 4], [4]),
        ([3, 4], [2, 4, 2]),
    ]:
        tag = f"{a_shape}{b_shape}".replace(" ", "")
        case(f"matmul/broadcast_{tag}", "matmul", torch.matmul, [randn(*a_shape), randn(*b_shape)])
    w, b = randn(5, 3), randn(5)
    case("linear/3d_input", "linear", F.linear, [randn(2, 4, 3), w, b])
    case("linear/1d_input", "linear", F.linear, [randn(3), w, b])
    case("linear/4d_input_no_bias", "linear", F.linear, [randn(2, 1, 2, 3), w])
    weight = randn(5, 3)
    for tag, idx in {"2d": [[4, 0, 4], [1, 2, 0]], "0d": 3}.items():
        t = torch.tensor(idx)
        case(
            f"embedding/{tag}",
            "embedding",
            lambda w: F.embedding(t, w),
            [weight],
            {"indices": t.reshape(-1).tolist(), "index_shape": list(t.shape)},
        )
    negative_dims()


def negative_dims():
    x = randn(2, 3, 4)
    d = distinct(2, 3, 4)
    case("softmax/dim-1", "softmax", lambda a: torch.softmax(a, -1), [x], {"axis": -1})
    case("log_softmax/dim-2", "log_softmax", lambda a: torch.log_softmax(a, -2), [x], {"axis": -2})
    case("sum_axes/dims0,-1", "sum_axes", lambda a: a.sum((0, -1)), [x], {"axes": [0, -1], "keepdim": False})
    case("mean_axes/dim-2_keep", "mean_axes", lambda a: a.mean(-2, keepdim=True), [x], {"axes": [-2], "keepdim": True})
    case("var_axes/dim-1", "var_axes", lambda a: a.var(-1, correction=1), [x], {"axes": [-1], "keepdim": False, "correction": 1})
    case("max_axis/dim-1", "max_axis", lambda a: torch.amax(a, -1), [d], {"axis": -1, "keepdim": False})
    case("min_axis/dim-3_keep", "min_axis", lambda a: torch.amin(a, -3, keepdim=True), [d], {"axis": -3, "keepdim": True})
    case("transpose/-1_0", "transpose", lambda a: a.transpose(-1, 0), [x], {"a": -1, "b": 0})
    case("permute/-1_0_1", "permute", lambda a: a.permute(-1, 0, 1), [x], {"axes": [-1, 0, 1]})
    case("flatten/-2_-1", "flatten", lambda a: a.flatten(-2, -1), [x], {"start": -2, "end": -1})
    case("squeeze/-2", "squeeze", lambda a: a.squeeze(-2), [randn(2, 1, 3)], {"axis": -2})
    case("unsqueeze/-1", "unsqueeze", lambda a: a.unsqueeze(-1), [randn(2, 3)], {"axis": -1})
    case("unsqueeze/-3", "unsqueeze", lambda a: a.unsqueeze(-3), [randn(2, 3)], {"axis": -3})
    case("concat/dim-1", "concat", lambda a, b: torch.cat([a, b], -1), [randn(2, 3), randn(2, 2)], {"axis": -1})
    case("stack/dim-1", "stack", lambda a, b: torch.stack([a, b], -1), [randn(2, 3), randn(2, 3)], {"axis": -1})
    case("narrow/dim-1", "narrow", lambda a: a.narrow(-1, 1, 2), [x], {"axis": -1, "start": 1, "len": 2})


# ------------------------------------------------------------------ composites


def mlp(x, w1, b1, w2, b2):
    return torch.tanh(F.linear(F.leaky_relu(F.linear(x, w1, b1), 0.2), w2, b2))


def dcgan_generator(z, lw, lb, g1, b1, t1, g2, b2, t2):
    h = F.linear(z, lw, lb).reshape(z.shape[0], 4, 2, 2)
    h = torch.relu(batch_norm(h, g1, b1))
    h = F.conv_transpose2d(h, t1, stride=2, padding=1)
    h = torch.relu(batch_norm(h, g2, b2))
    return torch.tanh(F.conv_transpose2d(h, t2, stride=2, padding=1))


def dcgan_discriminator(x, c1, c1b, c2, c2b, g, b, lw, lb):
    h = F.leaky_relu(F.conv2d(x, c1, c1b, stride=2, padding=1), 0.2)
    h = F.conv2d(h, c2, c2b, stride=2, padding=1)
    h = F.leaky_relu(batch_norm(h, g, b), 0.2)
    return F.linear(h.flatten(1), lw, lb)


def wgan_gp_penalty(c, cb, lw, lb, real, fake, eps):
    """`gan::wasserstein::gradient_penalty` of a conv critic without BatchNorm."""

    def critic(x):
        h = F.leaky_relu(F.conv2d(x, c, cb, stride=2, padding=1), 0.2)
        return F.linear(h.flatten(1), lw, lb)

    x_hat = (fake + eps.reshape(-1, 1, 1, 1) * (real - fake)).detach().requires_grad_(True)
    (g,) = torch.autograd.grad(critic(x_hat).sum(), x_hat, create_graph=True)
    norms = torch.sqrt(g.square().sum((1, 2, 3)) + 1e-12)
    return (norms - 1).square().mean()


def composites():
    case("mlp", "mlp", mlp, [randn(4, 3), randn(5, 3) * 0.5, randn(5), randn(2, 5) * 0.5, randn(2)])
    gen = [randn(2, 3), randn(16, 3) * 0.5, randn(16), uniform(4, low=0.5, high=1.5), randn(4), randn(4, 2, 4, 4) * 0.3, uniform(2, low=0.5, high=1.5), randn(2), randn(2, 1, 4, 4) * 0.3]
    case("dcgan_generator", "dcgan_generator", dcgan_generator, gen)
    disc = [randn(2, 1, 8, 8), randn(2, 1, 4, 4) * 0.3, randn(2), randn(4, 2, 4, 4) * 0.3, randn(4), uniform(4, low=0.5, high=1.5), randn(4), randn(1, 16) * 0.5, randn(1)]
    case("dcgan_discriminator", "dcgan_discriminator", dcgan_discriminator, disc)
    gp = [randn(2, 1, 3, 3) * 0.5, randn(2), randn(1, 18) * 0.5, randn(1), randn(3, 1, 6, 6), randn(3, 1, 6, 6), uniform(3)]
    case("wgan_gp_penalty", "wgan_gp_penalty", wgan_gp_penalty, gp, grad=[True, True, True, True, False, False, False])


def main():
    elementwise()
    binary()
    reductions()
    linear_algebra()
    shapes()
    convolutions()
    pools()
    nn_layers()
    losses()
    composites()
    pytorch_semantics()
    names = [c["name"] for c in CASES]
    duplicates = {n for n in names if names.count(n) > 1}
    assert not duplicates, f"duplicate case names: {duplicates}"
    out_dir = pathlib.Path(__file__).resolve().parents[2] / "tests" / "torch_reference"
    out_dir.mkdir(parents=True, exist_ok=True)
    document = {"torch_version": torch.__version__, "cases": CASES}
    text = json.dumps(document, separators=(",", ":"), allow_nan=False)
    (out_dir / "cases.json").write_text(text + "\n")
    (out_dir / "torch_version.txt").write_text(
        f"cases.json was written by tools/torch_reference/make_cases.py with torch {torch.__version__}\n"
    )
    print(f"{len(CASES)} cases, {len(text) / 1000:.0f} kB, torch {torch.__version__}")


if __name__ == "__main__":
    main()
