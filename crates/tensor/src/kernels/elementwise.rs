//! Elementwise maps over one or two arrays, with NumPy broadcasting, and the
//! sum that undoes a broadcast.
//!
//! ## Strided loops instead of `Zip`
//!
//! ndarray's `Zip` over `IxDyn` arrays walks a general n-d index for every
//! element, which is slow exactly where a network needs speed: a BatchNorm
//! statistic `[1, C, 1, 1]` against a batch `[N, C, H, W]`, or a bias `[F]`
//! against `[N, F]`. Here every operand is described by its buffer (a slice in
//! memory order) and one stride per output axis, 0 on a broadcast axis. Axes
//! are then merged wherever every operand's strides allow (`[64, 128, 7, 7]`
//! against `[1, 128, 1, 1]` becomes `[64, 128, 49]` with strides `[0, 1, 0]`),
//! so that what remains is a few outer loops around one long inner *row*, in
//! which each operand is either contiguous (stride 1) or a single repeated
//! value (stride 0). Those cases get their own plain slice loops, which the
//! compiler vectorises.
//!
//! ## Threads
//!
//! Large outputs are cut into fixed pieces of whole rows (about [`CHUNK`]
//! elements each, independent of the thread count) and the pieces run on
//! rayon's threads. Every output element is computed by one call of `f` on
//! the same inputs, so the result does not depend on the split. Sums
//! ([`sum_to_shape`]) run on one thread, in a fixed order.
//!
//! Views the loops cannot describe (negative strides, buffers with gaps) go
//! through `Zip` as before.

use super::{CHUNK, PARALLEL_THRESHOLD};
use crate::{Element, Result, TensorError};
use ndarray::{ArrayD, ArrayViewD, Dimension, IxDyn, Zip};
use rayon::prelude::*;
use std::mem::MaybeUninit;

/// An operand of a strided loop: its values in memory order, and for every
/// axis of the output the distance (in elements) between neighbours along it.
struct Operand<'a, T> {
    values: &'a [T],
    strides: Vec<usize>,
}

impl<'a, T: Element> Operand<'a, T> {
    /// `view` broadcast to `shape` (aligned from the right, as NumPy does),
    /// if its buffer is one gap-free slice walked with non-negative strides.
    /// The caller has checked that the shapes broadcast.
    fn broadcast(view: &ArrayViewD<'a, T>, shape: &[usize]) -> Option<Self> {
        if view.strides().iter().any(|&s| s < 0) {
            return None;
        }
        // With non-negative strides the first element sits at the lowest
        // address, which is where the memory-order slice starts.
        let values = view.to_slice_memory_order()?;
        let lead = shape.len() - view.ndim();
        let strides = (0..shape.len())
            .map(|axis| {
                if axis < lead || view.shape()[axis - lead] == 1 {
                    0 // broadcast: the same value all along this axis
                } else {
                    view.strides()[axis - lead] as usize
                }
            })
            .collect();
        Some(Operand { values, strides })
    }
}

/// The output's axes with those of size 1 dropped and neighbours merged
/// wherever every operand's strides allow: axis `i` and `i + 1` merge if,
/// for each operand, stepping once along `i` is the same as stepping
/// `shape[i + 1]` times along `i + 1`. Returns the merged sizes and, per
/// operand, the merged strides.
fn merge_axes<const K: usize>(shape: &[usize], strides: [&[usize]; K]) -> (Vec<usize>, [Vec<usize>; K]) {
    let mut sizes: Vec<usize> = Vec::with_capacity(shape.len());
    let mut merged: [Vec<usize>; K] = std::array::from_fn(|_| Vec::with_capacity(shape.len()));
    for (axis, &size) in shape.iter().enumerate() {
        if size == 1 {
            continue;
        }
        let joins = sizes.last().is_some()
            && (0..K).all(|k| {
                let outer = *merged[k].last().expect("same length as sizes");
                outer == strides[k][axis] * size
            });
        if joins {
            *sizes.last_mut().expect("checked above") *= size;
            for k in 0..K {
                *merged[k].last_mut().expect("checked above") = strides[k][axis];
            }
        } else {
            sizes.push(size);
            for k in 0..K {
                merged[k].push(strides[k][axis]);
            }
        }
    }
    if sizes.is_empty() {
        // A single element: one row of length 1.
        sizes.push(1);
        merged.iter_mut().for_each(|s| s.push(0));
    }
    (sizes, merged)
}

/// A new vector of `len` elements written by `fill`, which must write every
/// one of them, with no zeroing pass first: zeroing a reused heap block is a
/// whole extra pass over memory (a `memset`), about as costly as the map.
pub(crate) fn filled<T>(len: usize, fill: impl FnOnce(&mut [MaybeUninit<T>])) -> Vec<T> {
    let mut out = Vec::with_capacity(len);
    fill(&mut out.spare_capacity_mut()[..len]);
    // SAFETY: the capacity is at least `len`, and `fill` has initialised
    // the first `len` elements (the callers below write every element of
    // every row, and their rows cover the output). If it panics, the length
    // stays 0 and nothing uninitialised is ever read.
    unsafe { out.set_len(len) };
    out
}

/// Calls `row(out_row, offsets)` for every innermost row of a merged layout
/// (`sizes`, `strides` per operand), where `out_row` is the row's part of the
/// row-major `out` and `offsets[k]` is where operand `k`'s row starts. Large
/// outputs are split into fixed pieces of whole rows run in parallel.
fn for_each_row<T: Element, const K: usize>(
    sizes: &[usize],
    strides: [&[usize]; K],
    out: &mut [MaybeUninit<T>],
    row: impl Fn(&mut [MaybeUninit<T>], [usize; K]) + Sync,
) {
    let (outer, inner) = sizes.split_at(sizes.len() - 1);
    let inner = inner[0];
    if inner == 0 || out.is_empty() {
        return;
    }
    // The offsets of row `r`, from its index in the outer axes (row-major).
    let offsets_of = |mut r: usize| {
        let mut offsets = [0; K];
        for axis in (0..outer.len()).rev() {
            let i = r % outer[axis];
            r /= outer[axis];
            for k in 0..K {
                offsets[k] += i * strides[k][axis];
            }
        }
        offsets
    };
    // Rows `first..` into `piece`, stepping the outer index like an odometer.
    let run = |first: usize, piece: &mut [MaybeUninit<T>]| {
        let mut offsets = offsets_of(first);
        let mut index: Vec<usize> = {
            let mut r = first;
            let mut index = vec![0; outer.len()];
            for axis in (0..outer.len()).rev() {
                index[axis] = r % outer[axis];
                r /= outer[axis];
            }
            index
        };
        for out_row in piece.chunks_mut(inner) {
            row(out_row, offsets);
            for axis in (0..outer.len()).rev() {
                index[axis] += 1;
                for k in 0..K {
                    offsets[k] += strides[k][axis];
                }
                if index[axis] < outer[axis] {
                    break;
                }
                index[axis] = 0;
                for k in 0..K {
                    offsets[k] -= outer[axis] * strides[k][axis];
                }
            }
        }
    };
    if out.len() < PARALLEL_THRESHOLD {
        run(0, out);
    } else if inner < CHUNK {
        let rows_per_piece = CHUNK / inner;
        out.par_chunks_mut(rows_per_piece * inner)
            .enumerate()
            .for_each(|(p, piece)| run(p * rows_per_piece, piece));
    } else {
        // Long rows (a contiguous array is one row): pieces of CHUNK
        // elements within each row, each starting CHUNK inner steps further.
        out.par_chunks_mut(inner).enumerate().for_each(|(r, out_row)| {
            let start = offsets_of(r);
            out_row.par_chunks_mut(CHUNK).enumerate().for_each(|(c, piece)| {
                let offsets = std::array::from_fn(|k| start[k] + c * CHUNK * strides[k][outer.len()]);
                row(piece, offsets);
            });
        });
    }
}

/// `out[j] = f(x[offset + j·stride])` for one row.
fn map_row<T: Element>(
    out: &mut [MaybeUninit<T>],
    x: &[T],
    offset: usize,
    stride: usize,
    f: &impl Fn(T) -> T,
) {
    let n = out.len();
    match stride {
        1 => {
            for (o, &v) in out.iter_mut().zip(&x[offset..offset + n]) {
                o.write(f(v));
            }
        }
        0 => out.fill(MaybeUninit::new(f(x[offset]))),
        s => {
            for (j, o) in out.iter_mut().enumerate() {
                o.write(f(x[offset + j * s]));
            }
        }
    }
}

/// `out[j] = f(a[oa + j·sa], b[ob + j·sb])` for one row, with the common
/// cases (contiguous or repeated operands) as plain slice loops.
fn zip_row<T: Element>(
    out: &mut [MaybeUninit<T>],
    (a, oa, sa): (&[T], usize, usize),
    (b, ob, sb): (&[T], usize, usize),
    f: &impl Fn(T, T) -> T,
) {
    let n = out.len();
    match (sa, sb) {
        (1, 1) => {
            for ((o, &x), &y) in out.iter_mut().zip(&a[oa..oa + n]).zip(&b[ob..ob + n]) {
                o.write(f(x, y));
            }
        }
        (1, 0) => {
            let y = b[ob];
            for (o, &x) in out.iter_mut().zip(&a[oa..oa + n]) {
                o.write(f(x, y));
            }
        }
        (0, 1) => {
            let x = a[oa];
            for (o, &y) in out.iter_mut().zip(&b[ob..ob + n]) {
                o.write(f(x, y));
            }
        }
        _ => {
            for (j, o) in out.iter_mut().enumerate() {
                o.write(f(a[oa + j * sa], b[ob + j * sb]));
            }
        }
    }
}

/// `f` applied to every element of `x`, in a new row-major array.
pub fn map<T: Element>(x: ArrayViewD<'_, T>, f: impl Fn(T) -> T + Sync) -> ArrayD<T> {
    let shape = x.shape().to_vec();
    broadcast_map(x, &shape, f).expect("an array broadcasts to its own shape")
}

/// `f` applied to every element of `x` broadcast to `shape` (NumPy's rules),
/// in a new row-major array of that shape. With `f` the identity this
/// materialises a broadcast.
pub fn broadcast_map<T: Element>(
    x: ArrayViewD<'_, T>,
    shape: &[usize],
    f: impl Fn(T) -> T + Sync,
) -> Result<ArrayD<T>> {
    if broadcast_shape("broadcast", x.shape(), shape)? != shape {
        return Err(TensorError::shape(
            "broadcast",
            format!("{:?} cannot be broadcast to {shape:?}", x.shape()),
        ));
    }
    let out = match Operand::broadcast(&x, shape) {
        Some(op) => {
            let (sizes, [strides]) = merge_axes(shape, [&op.strides]);
            let inner = strides[strides.len() - 1];
            filled(shape.iter().product(), |out| {
                for_each_row(&sizes, [&strides], out, |row, [o]| {
                    map_row(row, op.values, o, inner, &f)
                })
            })
        }
        None => {
            let view = x.broadcast(IxDyn(shape)).expect("checked above");
            view.iter().map(|&v| f(v)).collect()
        }
    };
    Ok(ArrayD::from_shape_vec(IxDyn(shape), out).expect("sized from the shape"))
}

/// The shape two shapes broadcast to under NumPy's rules: align from the
/// right; each pair of sizes must be equal or one of them 1.
pub fn broadcast_shape(op: &'static str, a: &[usize], b: &[usize]) -> Result<Vec<usize>> {
    let rank = a.len().max(b.len());
    let mut shape = vec![0; rank];
    for i in 0..rank {
        let da = if i < rank - a.len() {
            1
        } else {
            a[i - (rank - a.len())]
        };
        let db = if i < rank - b.len() {
            1
        } else {
            b[i - (rank - b.len())]
        };
        shape[i] = match (da, db) {
            (x, y) if x == y => x,
            (1, y) => y,
            (x, 1) => x,
            _ => {
                return Err(TensorError::shape(
                    op,
                    format!(
                        "shapes {a:?} and {b:?} do not broadcast (dimension {i} from the left of the result: {da} vs {db})"
                    ),
                ));
            }
        };
    }
    Ok(shape)
}

/// `f(a, b)` elementwise over the broadcast of `a` and `b`, in a new
/// row-major array.
pub fn zip_map<T: Element>(
    op: &'static str,
    a: ArrayViewD<'_, T>,
    b: ArrayViewD<'_, T>,
    f: impl Fn(T, T) -> T + Sync,
) -> Result<ArrayD<T>> {
    let shape = broadcast_shape(op, a.shape(), b.shape())?;
    if let (Some(x), Some(y)) = (Operand::broadcast(&a, &shape), Operand::broadcast(&b, &shape)) {
        let (sizes, [sa, sb]) = merge_axes(&shape, [&x.strides, &y.strides]);
        let (ia, ib) = (sa[sa.len() - 1], sb[sb.len() - 1]);
        let out = filled(shape.iter().product(), |out| {
            for_each_row(&sizes, [&sa, &sb], out, |row, [oa, ob]| {
                zip_row(row, (x.values, oa, ia), (y.values, ob, ib), &f)
            })
        });
        return Ok(ArrayD::from_shape_vec(IxDyn(&shape), out).expect("sized from the shape"));
    }
    let shape = IxDyn(&shape);
    let a = a
        .broadcast(shape.clone())
        .expect("shape checked by broadcast_shape");
    let b = b
        .broadcast(shape.clone())
        .expect("shape checked by broadcast_shape");
    let zip = Zip::from(&a).and(&b);
    Ok(if shape.size() >= PARALLEL_THRESHOLD {
        zip.par_map_collect(|&x, &y| f(x, y))
    } else {
        zip.map_collect(|&x, &y| f(x, y))
    })
}

/// `x` summed down to `shape`, which has `x`'s rank and, on every axis, either
/// `x`'s size or 1 (the axes to sum over): the adjoint of broadcasting `shape`
/// up to `x`'s shape. Returns a row-major array of `shape`.
///
/// The order of additions is fixed (by position in `x`), so the result is
/// reproducible; each inner run that collapses to one value is summed with
/// eight interleaved accumulators, which both vectorises and rounds less than
/// one running sum.
///
/// # Panics
/// If `shape` is not such a shape (a caller's invariant).
pub fn sum_to_shape<T: Element>(x: ArrayViewD<'_, T>, shape: &[usize]) -> ArrayD<T> {
    assert!(
        shape.len() == x.ndim() && shape.iter().zip(x.shape()).all(|(&s, &d)| s == d || s == 1),
        "sum_to_shape: {:?} does not reduce to {shape:?}",
        x.shape()
    );
    let standard = x.as_standard_layout();
    let values = standard.as_slice().expect("standard layout is contiguous");
    let mut out = vec![T::zero(); shape.iter().product()];
    // Walk `x` row by row in memory order; the output is the operand, with
    // stride 0 along the summed axes.
    let mut out_strides = vec![0; shape.len()];
    let mut step = 1;
    for axis in (0..shape.len()).rev() {
        if shape[axis] != 1 {
            out_strides[axis] = step;
        }
        step *= shape[axis];
    }
    let x_strides: Vec<usize> = standard.strides().iter().map(|&s| s as usize).collect();
    let (sizes, [sx, so]) = merge_axes(x.shape(), [&x_strides, &out_strides]);
    if let Some(out) = per_channel_sums(values, &sizes, [&sx, &so]) {
        return ArrayD::from_shape_vec(IxDyn(shape), out).expect("sized from the shape");
    }
    let inner = sizes[sizes.len() - 1];
    let inner_out = so[so.len() - 1];
    let outer: usize = sizes[..sizes.len() - 1].iter().product();
    // The same odometer as the maps, but serial and reading `x` rows.
    let mut index = vec![0; sizes.len() - 1];
    let (mut ox, mut oo) = (0, 0);
    for _ in 0..outer {
        let row = &values[ox..ox + inner];
        if inner_out == 0 {
            out[oo] += sum_slice(row);
        } else {
            out[oo..oo + inner]
                .iter_mut()
                .zip(row)
                .for_each(|(o, &v)| *o += v);
        }
        for axis in (0..index.len()).rev() {
            index[axis] += 1;
            ox += sx[axis];
            oo += so[axis];
            if index[axis] < sizes[axis] {
                break;
            }
            index[axis] = 0;
            ox -= sizes[axis] * sx[axis];
            oo -= sizes[axis] * so[axis];
        }
    }
    ArrayD::from_shape_vec(IxDyn(shape), out).expect("sized from the shape")
}

/// [`sum_to_shape`] of a large `[N, C, S]` to `[C]` (after merging axes,
/// with `C > 1`): a convolution's bias gradient sums `ȳ[N, C, H, W]` so.
/// The channels are summed in parallel, each in the serial walk's order
/// (`out[c] += sum_slice(row (n, c))` for `n = 0, 1, …`), so the bits do
/// not depend on the threads. `None` for any other reduction or a small
/// input, which the serial walk handles.
fn per_channel_sums<T: Element>(values: &[T], sizes: &[usize], [sx, so]: [&[usize]; 2]) -> Option<Vec<T>> {
    let (samples, channels, plane) = match (sizes, so) {
        (&[n, c, s], &[0, 1, 0]) if c > 1 && sx[2] == 1 => (n, c, s),
        _ => return None,
    };
    if values.len() < PARALLEL_THRESHOLD || rayon::current_num_threads() == 1 {
        return None;
    }
    let (sample_stride, channel_stride) = (sx[0], sx[1]);
    let mut out = vec![T::zero(); channels];
    out.par_iter_mut()
        .enumerate()
        .with_min_len((CHUNK / (samples * plane)).max(1))
        .for_each(|(c, total)| {
            for n in 0..samples {
                let start = n * sample_stride + c * channel_stride;
                *total += sum_slice(&values[start..start + plane]);
            }
        });
    Some(out)
}

/// The sum of `values` with eight interleaved accumulators, added pairwise
/// at the end: a fixed order that the compiler can vectorise.
pub fn sum_slice<T: Element>(values: &[T]) -> T {
    let mut acc = [T::zero(); 8];
    let chunks = values.chunks_exact(8);
    let rest = chunks.remainder();
    for chunk in chunks {
        for (a, &v) in acc.iter_mut().zip(chunk) {
            *a += v;
        }
    }
    finish_sum(acc, rest.iter().copied())
}

/// The end of [`sum_slice`]'s order: the eight accumulators added pairwise,
/// then the values past the last full group of eight, one by one.
pub(crate) fn finish_sum<T: Element>(acc: [T; 8], rest: impl Iterator<Item = T>) -> T {
    let pairs = ((acc[0] + acc[4]) + (acc[1] + acc[5])) + ((acc[2] + acc[6]) + (acc[3] + acc[7]));
    rest.fold(pairs, |total, v| total + v)
}
