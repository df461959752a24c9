"""Writing a value back through a dynamic index: only the valid positions change.

``x[m] = v`` with a traced mask is a ``select``; the value is a scalar (or
broadcasts to one element), or a masked value spread over the mask's true
positions. ``x[a:b:s] = v`` with a traced part places ``v`` in the static
window and selects the positions the slice hits. Runs under the parent trace.
"""

from __future__ import annotations

from typing import Any

import jax.numpy as jnp
import numpy as np
from jax import lax

from .. import _errors, _index, _lower, _values
from . import _lengths
from ._base import MaskedBase, runtime_axes
from ._dynamic import check_supported, slice_bounds, static_part
from ._layout import (
    all_along,
    broadcast_unit,
    in_slice,
    iota,
    resize,
    runs_to_end,
    same_value,
    select,
    shift,
    take,
)
from ._origin import dynamic_shape_error, user_line


def same_index(a: Any, b: Any) -> bool:
    """Whether two raw indices are the same, traced parts compared by identity."""
    if type(a) is not type(b):
        return False
    if isinstance(a, tuple):
        return len(a) == len(b) and all(same_index(x, y) for x, y in zip(a, b))
    if isinstance(a, slice):
        return all(
            same_index(x, y) for x, y in zip((a.start, a.stop, a.step), (b.start, b.stop, b.step))
        )
    if a is None or isinstance(a, (int, np.integer, type(Ellipsis))):
        return a == b
    return a is b


def write(value: Any, ix: _index.Index, v: Any, dtype: Any) -> Any:
    """``value`` with ``value[ix] = v`` for a dynamic index.

    ``v`` is a masked value (its arrays already unwrapped to the parent
    trace) or an ordinary value; only the valid positions are written.
    """
    origin = user_line()
    if ix.mask is not None:
        return _write_mask(value, ix, v, dtype, origin)
    check_supported(ix, origin)
    static, dyn = static_part(ix)
    window = _lower.basic_read(value, static)
    wshape = tuple(window.shape)
    bounds = {ax: slice_bounds(d, wshape[ax]) for ax, d in dyn}
    if type(v) in (list, tuple):
        v = _sequence_value(v, len(wshape), dtype)
    aligned = _aligned(v, wshape, bounds)
    if isinstance(v, MaskedBase) and not aligned:
        _check_value_length(v, wshape, bounds)
    vdata = _window_value(v, wshape, bounds, dtype, bool(aligned))
    hits = []
    for ax, d in dyn:
        unit = d.step is None or (isinstance(d.step, int) and d.step == 1)
        end = unit and runs_to_end(d.stop, wshape[ax])
        vdata, h = _place(vdata, ax, bounds[ax], wshape[ax], ax in aligned, end)
        hits.append((ax, h))
    hit = all_along(hits, len(wshape))
    return _lower.basic_write(value, static, select(hit, vdata, window))


def _sequence_value(v: list[Any] | tuple[Any, ...], ndim: int, dtype: Any) -> Any:
    """A list or tuple value as the array NumPy converts it to, of the target's dtype.

    NumPy's ``x[:k] = [1, 2, 3]`` converts the sequence, then assigns it as
    that array: it fits where ``k`` is 3 (a 1-element one broadcasts), which
    only the run time tells, as for an array value (see ``_fitted``)."""
    try:
        shape = np.shape(v)
    except ValueError:
        return v  # ragged: NumPy's error, from the assignment itself
    except TypeError:  # traced elements: JAX converts the sequence
        return jnp.asarray(v).astype(dtype)
    if len(shape) > ndim:  # NumPy copies a sequence into a view of as many axes at most
        raise ValueError(
            "setting an array element with a sequence. The requested array would "
            f"exceed the maximum number of dimension of {ndim}."
        )
    return _values.prepare_value(v, shape, dtype)


def _check_value_length(
    v: MaskedBase, wshape: tuple[int, ...], bounds: dict[int, tuple[Any, Any, Any]]
) -> None:
    """Let checkify see a value whose run-time length may differ from its target's
    (NumPy raises unless the value's is 1)."""
    target = tuple(bounds[ax][2] if ax in bounds else d for ax, d in enumerate(wshape))
    value = _lengths.operand_shape(v)
    if _lengths.undecided([value, target]):
        _lengths.check_lengths("assign", [value, target])


def _write_mask(value: Any, ix: _index.Index, v: Any, dtype: Any, origin: str) -> Any:
    """``value[m] = v`` for a traced boolean mask ``m``."""
    m = ix.mask
    trailing = tuple(ix.shape[m.ndim :])
    if type(v) in (list, tuple):
        # NumPy converts the sequence, then broadcasts it (`x[m] = [7]`), as
        # it would an array: not the element-wise rule of a scalar position.
        v = np.asarray(v)
    if not isinstance(v, MaskedBase):
        _check_one_element(v, trailing, origin)
        return _lower.masked_write(value, ix, v)
    flat_valid = lax.reshape(m, (int(np.prod(m.shape, dtype=np.int64)),))
    a0 = v.axes[0] if v.ndim else None
    if v.ndim != 1 + len(trailing) or a0 is None or any(a is not None for a in v.axes[1:]):
        raise dynamic_shape_error("assigning a value of another shape into `x[m]`", v.origin)
    if a0.kind == "mask" and a0.key is m:
        data = v.data
    else:
        count = jnp.count_nonzero(flat_valid).astype(np.int32)
        _lengths.check_lengths("mask_assign", [_lengths.operand_shape(v), (count, *trailing)])
        data = _to_mask_layout(v, flat_valid)
    data = _values.prepare_value(data, (flat_valid.shape[0],) + trailing, dtype)
    data = lax.reshape(data, tuple(ix.shape))
    full = lax.broadcast_in_dim(m, tuple(ix.shape), tuple(range(m.ndim)))
    return lax.select(full, data, value)


def _check_one_element(v: Any, trailing: tuple[int, ...], origin: str) -> None:
    """Refuse an ordinary value whose length would have to be the mask's count."""
    vshape = tuple(np.shape(v))
    while len(vshape) > len(trailing) and vshape[0] == 1:
        vshape = vshape[1:]
    if len(vshape) > len(trailing):
        raise _errors.DynamicShapeError(
            f"mutjax: `x[m] = v` with a traced boolean mask `m` and a value of "
            f"shape {vshape} (at {origin}): the value's length must equal the "
            "mask's count, which is known only at run time. Assign a value "
            "read with the same mask (`x[m] = y[m] * 10`), a scalar or a value "
            "that broadcasts to one element, or use `jnp.where(m, new, x)`, or "
            "`x[jnp.nonzero(m, size=N)] = v` with a static bound N."
        )


def _to_mask_layout(v: MaskedBase, mask_valid: Any) -> Any:
    """Data of a front-packed axis 0 spread over the true positions of ``mask_valid``.

    A value of run-time length 1 fills every true position, as NumPy's
    ``x[m] = y[:k]`` does where ``k`` is 1."""
    v = v.compacted()
    a0 = v.axes[0]
    assert a0 is not None  # the caller's condition
    src = jnp.cumsum(mask_valid.astype(np.int32)) - 1
    src = lax.select(a0.length == 1, jnp.zeros_like(src), src)
    data = resize(v.data, 0, mask_valid.shape[0])
    return take(data, src, 0)


def _aligned(v: Any, wshape: tuple[int, ...], bounds: dict[int, tuple[Any, Any, Any]]) -> set[int]:
    """The window axes where masked ``v`` already holds its elements where the
    slice puts them: every run-time axis of ``v`` read in place (``"place"``)
    at the same start and length as the slice it is written to, or none."""
    if not isinstance(v, MaskedBase) or v.ndim > len(wshape):
        return set()
    off = len(wshape) - v.ndim
    out = set()
    for ax, a in runtime_axes(v):
        b = bounds.get(off + ax)
        if a.kind != "place" or b is None or not (isinstance(b[1], int) and b[1] == 1):
            return set()
        if not (same_value(a.key, b[0]) and same_value(a.length, b[2])):
            return set()
        out.add(off + ax)
    return out


def _window_value(
    v: Any,
    wshape: tuple[int, ...],
    bounds: dict[int, tuple[Any, Any, Any]],
    dtype: Any,
    aligned: bool,
) -> Any:
    """``v`` cast and broadcast to the window, its run-time axes front-packed
    there (left in place where ``aligned``).

    A run-time axis of ``v`` whose length is 1 at run time broadcasts over
    the target's slice, as NumPy's assignment does (``z[2 * i:2 * i + 2] =
    y[i + 7:i + 9]`` where the read clamps to one element); where the lengths
    are known equal nothing is selected."""
    if not isinstance(v, MaskedBase):
        # An ordinary value broadcasts against the run-time axes (length 1 there).
        return _values.prepare_value(_fitted(v, wshape, bounds), wshape, dtype)
    v = v if aligned else v.compacted()
    if v.ndim > len(wshape):
        raise dynamic_shape_error("assigning a value with more axes than the target", v.origin)
    off = len(wshape) - v.ndim
    data = v.data
    for ax, a in enumerate(v.axes):
        if a is None:
            continue
        if off + ax not in bounds:
            raise dynamic_shape_error(
                "assigning a value of run-time length into an axis of fixed length", v.origin
            )
        data = resize(data, ax, wshape[off + ax])
        if not aligned and not same_value(a.length, bounds[off + ax][2]):
            data = broadcast_unit(data, ax, a.length)
    return _values.prepare_value(data, wshape, dtype)


def _fitted(v: Any, wshape: tuple[int, ...], bounds: dict[int, tuple[Any, Any, Any]]) -> Any:
    """An ordinary array ``v`` whose length on a traced slice's axis is not 1,
    front-packed into the window there (zeros after it).

    NumPy requires that length to be the slice's run-time length: a check
    that checkify reports (``x[:k] = y[:3]`` where ``k`` is not 3)."""
    shape = tuple(np.shape(v)) if hasattr(v, "shape") else ()
    while len(shape) > len(wshape) and shape[0] == 1:  # NumPy drops them
        shape = shape[1:]
        v = v.reshape(shape)
    off = len(wshape) - len(shape)
    fit = [(ax, d) for ax, d in enumerate(shape) if off + ax in bounds and d != 1]
    if off < 0 or not fit or any(d > wshape[off + ax] for ax, d in fit):
        return v  # broadcasts, or NumPy's error at trace time
    target = tuple(bounds[ax][2] if ax in bounds else d for ax, d in enumerate(wshape))
    if _lengths.undecided([shape, target]):
        _lengths.check_lengths("assign", [shape, target])
    for ax, d in fit:
        pad = [(0, 0)] * len(shape)
        pad[ax] = (0, wshape[off + ax] - d)
        v = np.pad(v, pad) if isinstance(v, np.ndarray) else resize(v, ax, wshape[off + ax])
    return v


def _place(
    vdata: Any, ax: int, bounds: tuple[Any, Any, Any], n: int, aligned: bool, to_end: bool
) -> tuple[Any, Any]:
    """``vdata`` moved along ``ax`` to the positions a traced slice of
    ``bounds`` (start, step, length) hits, and those positions (a bool vector
    of size ``n``); ``aligned``: ``vdata`` is there already; ``to_end``: the
    slice runs to the end of the axis."""
    start, step, length = bounds
    t = iota(n)
    if isinstance(step, int) and step == 1:
        hit = in_slice(n, start, length, to_end)
        if aligned or (isinstance(start, int) and start == 0):
            return vdata, hit
        return shift(vdata, -start, ax, (-n, 0)), hit
    if isinstance(step, int) and step == -1:
        # target t holds element start - t
        return take(vdata, start - t, ax), (t <= start) & (t > start - length)
    safe = step if isinstance(step, int) else lax.select(step == 0, np.int32(1), step)
    k = (t - start) // safe
    return take(vdata, k, ax), ((t - start) % safe == 0) & (k >= 0) & (k < length)
