"""Lowering: an index description plus a value -> ``lax`` reads and updates.

The second stage of ``x[idx]`` / ``x[idx] = v`` (the first is
:mod:`mutjax._index`). Every function here is pure: it takes values of the
parent trace and returns new ones, and it must be called with the parent trace
current. Static basic indices lower straight to ``slice`` /
``dynamic_slice`` / ``dynamic_update_slice`` (plus ``pad`` + ``select`` for
strided writes), never to gather or scatter: that is both what an expert
writes and cheaper to trace than JAX's general indexing. A write at traced
integers is the one window scatter that ``.at[i].set`` emits; a read at
traced integers is a ``dynamic_slice``, as ``jax.numpy`` reads.
"""

from __future__ import annotations

import warnings
from typing import Any

import jax.numpy as jnp
import numpy as np
from jax import lax

from . import _checks, _compat, _ranges
from ._index import ADV, NEW, Adv, DynSlice, Index, Int, Slice, _shape_str

# --------------------------------------------------------------------------
# Values: NumPy's broadcasting and setitem casting


def _numpy_dtype(dtype: Any) -> np.dtype:
    return np.dtype(dtype)


def _target_shape(value_shape: tuple[int, ...], shape: tuple[int, ...]) -> None:
    """Raise NumPy's error unless ``value_shape`` broadcasts into ``shape``."""
    vs = value_shape
    while len(vs) > len(shape) and vs[0] == 1:
        vs = vs[1:]  # NumPy drops leading length-1 axes of the value
    ok = len(vs) <= len(shape) and all(v == s or v == 1 for v, s in zip(vs[::-1], shape[::-1]))
    if not ok:
        raise ValueError(
            f"could not broadcast input array from shape {_shape_str(value_shape)} "
            f"into shape {_shape_str(shape)}"
        )


_SEQUENCE = "setting an array element with a sequence."
# NumPy 2.4 expired the deprecation of assigning a 1-element array with
# ndim > 0 to a single element; older NumPy accepts it with a warning. We
# follow the NumPy that is installed, since NumPy is the oracle.
_SIZE1_TO_SCALAR_IS_ERROR = np.lib.NumpyVersion(np.__version__) >= "2.4.0"


def prepare_value(
    value: Any,
    shape: tuple[int, ...],
    dtype: Any,
    scalar: bool = False,
    basic: bool = True,
    mask_count: int | None = None,
) -> Any:
    """``value`` broadcast to ``shape`` and cast to ``dtype`` as NumPy's setitem does.

    Static values (Python scalars, nested lists, NumPy arrays) are cast by
    NumPy itself, so that the values NumPy refuses raise NumPy's exception.
    Traced values are cast with ``lax.convert_element_type``.

    Args:
        value: the right side of ``x[idx] = value``.
        shape: the shape of ``x[idx]``.
        dtype: ``x``'s dtype.
        scalar: the index is an integer on every axis (no value with a
            dimension is accepted, as in NumPy).
        basic: the index is basic. NumPy copies a nested list into a basic
            view with at most the view's number of dimensions, but converts
            it freely (dropping leading length-1 axes) for advanced indices.
        mask_count: for an index that is one static boolean mask over every
            axis, its count: NumPy then wants a value of at most one dimension
            with 1 or ``mask_count`` elements.

    Returns:
        A parent-trace array of ``shape`` and ``dtype``.

    Raises:
        ValueError: the value does not broadcast (NumPy's message).
        OverflowError, TypeError: a static value NumPy refuses to cast.
    """
    np_dtype = _numpy_dtype(dtype)
    if any(d < 0 for d in shape):
        raise _dynamic_slice_error()
    if scalar:
        return _scalar_value(value, np_dtype)
    if mask_count is not None:
        _check_mask_value(value, mask_count)
    vshape = tuple(np.shape(value))
    if not basic and 0 in shape and 0 in vshape:
        # NumPy's advanced assignment of an empty value into an empty
        # selection ignores the value's extra leading axes, but its trailing
        # axes must still broadcast.
        _target_shape(vshape[max(len(vshape) - len(shape), 0) :], shape)
        return lax.full(shape, 0, np_dtype)
    if isinstance(value, (bool, int, float, complex, np.generic, str, bytes)):
        cast = np.empty((), np_dtype)
        cast[()] = value
        return lax.full(shape, cast, np_dtype) if shape else jnp.asarray(cast)
    if isinstance(value, (list, tuple, np.ndarray)):
        if isinstance(value, np.ndarray):
            arr = value
        else:
            try:
                arr = np.asarray(value)
            except ValueError as e:
                raise ValueError(f"{_SEQUENCE} {e}") from None
            if basic and arr.ndim > len(shape):
                raise ValueError(
                    f"{_SEQUENCE} The requested array would exceed the maximum "
                    f"number of dimension of {len(shape)}."
                )
        _target_shape(arr.shape, shape)
        cast = np.empty(arr.shape, np_dtype)
        with warnings.catch_warnings():
            # NumPy warns (not raises) for NaN and complex arrays; so do we, once.
            cast[...] = value if not isinstance(value, np.ndarray) else arr
        cast = cast.reshape(
            cast.shape[cast.ndim - len(shape) :] if cast.ndim > len(shape) else cast.shape
        )
        return (
            jnp.broadcast_to(jnp.asarray(cast), shape) if cast.shape != shape else jnp.asarray(cast)
        )
    value = jnp.asarray(value)
    vshape = tuple(value.shape)
    _target_shape(vshape, shape)
    if jnp.iscomplexobj(value) and not jnp.issubdtype(np_dtype, jnp.complexfloating):
        warnings.warn(
            "Casting complex values to real discards the imaginary part",
            np.exceptions.ComplexWarning,
            stacklevel=4,
        )
        value = jnp.real(value)
    if value.dtype != np_dtype:
        value = lax.convert_element_type(value, np_dtype)
    if len(vshape) > len(shape):
        value = lax.reshape(value, vshape[len(vshape) - len(shape) :])
        vshape = tuple(value.shape)
    if vshape != tuple(shape):
        value = (
            lax.broadcast_in_dim(value, shape, tuple(range(len(shape) - len(vshape), len(shape))))
            if len(vshape) < len(shape) or vshape != tuple(shape)
            else value
        )
    return value


def _scalar_value(value: Any, np_dtype: np.dtype) -> Any:
    """The value of ``x[i, j, ...] = value`` (an integer on every axis)."""
    if not hasattr(value, "shape") or isinstance(value, (np.ndarray, np.generic)):
        # NumPy's element assignment has its own rules (a list into an int
        # array is a TypeError, into a bool array its truth value): use it.
        cast = np.empty((), np_dtype)
        cast[()] = value
        return jnp.asarray(cast)
    if value.ndim > 0:
        if np_dtype == np.bool_ and value.size == 1:
            return lax.reshape(value, ()) != 0
        if np_dtype.kind == "c":
            raise TypeError("only 0-dimensional arrays can be converted to Python scalars")
        if _SIZE1_TO_SCALAR_IS_ERROR or value.size != 1:
            raise ValueError(_SEQUENCE)
        warnings.warn(
            "Conversion of an array with ndim > 0 to a scalar is deprecated",
            DeprecationWarning,
            stacklevel=5,
        )
        value = lax.reshape(value, ())
    return prepare_value(value, (), np_dtype)


def _check_mask_value(value: Any, count: int) -> None:
    """NumPy's rule for ``x[m] = value`` with one mask over every axis."""
    shape = tuple(value.shape) if hasattr(value, "shape") else np.shape(value)
    if len(shape) > 1:
        raise TypeError(
            "NumPy boolean array indexing assignment requires a 0 or 1-dimensional "
            f"input, input has {len(shape)} dimensions"
        )
    size = shape[0] if shape else 1
    if size not in (1, count):
        raise ValueError(
            f"NumPy boolean array indexing assignment cannot assign {size} input "
            f"values to the {count} output values where the mask is true"
        )


# --------------------------------------------------------------------------
# Basic indices: slice / dynamic_slice / dynamic_update_slice


def _normalize_traced(i: Any, size: int) -> Any:
    # A loop index of `range(1, n - 1)`, and `i - 1` within it, are known
    # non-negative (mutjax._ranges): no normalization.
    if jnp.issubdtype(i.dtype, jnp.unsignedinteger) or _ranges.nonnegative(i):
        return i
    # `lax` directly: `i < 0` and `i + size` would go through `jax.numpy`'s
    # promotion (a `convert_element_type` per weakly typed index) and its
    # jitted ufuncs, a third of the trace time of a loop body's element reads.
    dt = np.dtype(i.dtype)
    return lax.select(lax.lt(i, np.zeros((), dt)), lax.add(i, np.asarray(size, dt)), i)


def _window(ix: Index) -> tuple[list[Any], list[int], list[int], list[int]]:
    """Per axis: the lowest position touched, window size, positive step; reversed axes."""
    starts: list[Any] = []
    sizes: list[int] = []
    steps: list[int] = []
    rev: list[int] = []
    for ax, e in enumerate(ix.entries):
        if type(e) is Int:
            starts.append(e.value)
            sizes.append(1)
            steps.append(1)
        else:
            assert type(e) is Slice
            step = e.step if e.length > 1 else 1
            if step < 0:
                starts.append(e.start + e.step * (e.length - 1))
                rev.append(ax)
                step = -step
            else:
                starts.append(e.start)
            steps.append(step)
            sizes.append((e.length - 1) * step + 1 if e.length else 0)
    return starts, sizes, steps, rev


def check_traced(ix: Index) -> None:
    """Let checkify see the traced indices of ``ix`` (free otherwise)."""
    indices: list[Any] = []
    axes: list[int] = []
    for ax, e in enumerate(ix.entries):
        if type(e) is Int and not e.static:
            indices.append(e.value)
            axes.append(ax)
    for arr, ax in zip(ix.adv, ix.adv_dims):
        if not isinstance(arr, np.ndarray):
            indices.append(arr)
            axes.append(ax)
    _checks.check_indices(indices, axes, ix.shape)


def basic_read(a: Any, ix: Index) -> Any:
    """``a[ix]`` for a basic index (ints, slices, new axes; ints may be traced)."""
    check_traced(ix)
    if 0 in ix.result_shape:
        return lax.full(ix.result_shape, 0, a.dtype)
    starts, sizes, steps, rev = _window(ix)
    shape = tuple(a.shape)
    dyn = [ax for ax, s in enumerate(starts) if not isinstance(s, int)]
    if not dyn and all(st == 1 for st in steps) and _compat.is_eager():
        # Eagerly, `lax.slice` compiles one executable per distinct window
        # (its bounds are parameters): a loop over `x[i]` would compile once
        # per `i`. `dynamic_slice` takes the starts as operands, so one
        # executable serves every position, as in `jax.numpy` indexing.
        a = lax.dynamic_slice(a, [np.int32(s) for s in starts], sizes)
    elif not dyn:
        limits = [s + z for s, z in zip(starts, sizes)]
        if any(s != 0 for s in starts) or tuple(limits) != shape or any(st != 1 for st in steps):
            a = lax.slice(a, starts, limits, steps)
    else:
        static_starts = [0 if ax in dyn else s for ax, s in enumerate(starts)]
        static_limits = [
            shape[ax] if ax in dyn else s + z for ax, (s, z) in enumerate(zip(starts, sizes))
        ]
        if (
            static_starts != [0] * len(shape)
            or tuple(static_limits) != shape
            or any(st != 1 for st in steps)
        ):
            a = lax.slice(a, static_starts, static_limits, steps)
        idx = [
            _normalize_traced(starts[ax], shape[ax]) if ax in dyn else 0 for ax in range(len(shape))
        ]
        idx = _common_index_dtype(idx)
        slice_sizes = [1 if ax in dyn else a.shape[ax] for ax in range(len(shape))]
        a = lax.dynamic_slice(a, idx, slice_sizes, allow_negative_indices=False)
    if rev:
        a = lax.rev(a, rev)
    if tuple(a.shape) != ix.result_shape:
        a = lax.reshape(a, ix.result_shape)
    return a


def _clamped(i: Any, n: int) -> Any:
    """The position a read at traced ``i`` takes on an axis of size ``n``, as int32."""
    i = _normalize_traced(i, n)
    lo, hi = np.zeros((), i.dtype), np.asarray(n - 1, i.dtype)
    return lax.clamp(lo, i, hi).astype(np.int32)


def element_read(a: Any, ix: Index, pending: list[tuple[Index, Any]]) -> Any:
    """``a[ix]`` for one element ``ix``, after the deferred element writes ``pending``.

    Reads ``a`` as it is (clamping a traced index, as every read does), then
    takes the value of each pending write, in order, that hit the same
    position: statically where the integers decide it, else with a select.
    A pending write out of bounds was dropped and never hits.
    """
    v = basic_read(a, ix)
    shape = tuple(a.shape)
    here: list[Any] = [None] * len(shape)  # the read's positions, clamped, when needed
    for wix, w in pending:
        hit: Any = True
        for ax, (p, q) in enumerate(zip(wix.entries, ix.entries)):
            p, q = p.value, q.value
            if type(p) is int and type(q) is int:
                if p != q:
                    hit = False
                    break
                continue
            n = shape[ax]
            if type(p) is int:
                ok = None
            else:
                ok = (
                    (p < n) if jnp.issubdtype(p.dtype, jnp.unsignedinteger) else (p >= -n) & (p < n)
                )
            if p is q:
                c = ok
            else:
                if here[ax] is None:
                    here[ax] = q if type(q) is int else _clamped(q, n)
                # Where ``ok`` holds, ``p`` normalized is in [0, n): int32 is exact.
                pp = p if type(p) is int else _normalize_traced(p, n).astype(np.int32)
                c = here[ax] == pp
                if ok is not None:
                    c = c & ok
            if c is not None:
                hit = c if hit is True else hit & c
        if hit is False:
            continue
        v = w if hit is True else lax.select(hit, w, v)
    return v


def _common_index_dtype(idx: list[Any]) -> list[Any]:
    """``dynamic_slice`` wants one integer dtype for all of its start indices."""
    dtypes = {np.dtype(i.dtype) for i in idx if not isinstance(i, int)}
    if len(dtypes) <= 1:
        return idx
    dt = np.result_type(*dtypes)
    return [i if isinstance(i, int) else lax.convert_element_type(i, dt) for i in idx]


def basic_write(a: Any, ix: Index, v: Any) -> Any:
    """``a`` with ``a[ix] = v``; ``v`` already has ``ix.result_shape`` and a's dtype."""
    if 0 in ix.result_shape or ix.empty_new:
        return a
    check_traced(ix)
    starts, sizes, steps, rev = _window(ix)
    shape = tuple(a.shape)
    dyn = [ax for ax, s in enumerate(starts) if not isinstance(s, int)]
    strided = any(st != 1 for st in steps)
    # A traced integer that may be out of bounds: one window scatter, which
    # drops such a write. One known in bounds (a loop index, mutjax._ranges):
    # the bare update a hand-written loop uses.
    scatter = dyn and not strided and not all(_ranges.within(starts[ax], shape[ax]) for ax in dyn)
    win = [1 if type(e) is Int else e.length for e in ix.entries]
    if rev or not scatter:  # (the scatter reshapes `v` to its own window)
        if tuple(v.shape) != tuple(win):
            v = lax.reshape(v, tuple(win))
        if rev:
            v = lax.rev(v, rev)
    if scatter:
        return _scatter_window(a, ix, v, starts, sizes)
    if dyn and not strided:
        starts = _common_index_dtype(
            [s if ax in dyn else np.int32(s) for ax, s in enumerate(starts)]
        )
        return lax.dynamic_update_slice(a, v, starts, allow_negative_indices=False)
    if not dyn and not strided:
        if all(s == 0 for s in starts) and tuple(sizes) == shape:
            return v  # the whole array is replaced
        # Static in-bounds starts: bind the primitive with int32 literals.
        # `lax.dynamic_update_slice` would stage a `convert_element_type` per
        # Python int start, a third of the trace time of an unrolled scalar
        # update.
        return lax.dynamic_update_slice_p.bind(a, v, *[np.int32(s) for s in starts])
    # A strided window: pad the value with holes, select it over the old
    # window, write the window back.
    ok = None
    if dyn:
        # A traced integer out of bounds drops the write, as `.at[].set` does.
        for ax in dyn:
            i = _normalize_traced(starts[ax], shape[ax])
            starts[ax] = i
            in_bounds = (
                (i >= 0) & (i < shape[ax])
                if not jnp.issubdtype(i.dtype, jnp.unsignedinteger)
                else i < shape[ax]
            )
            ok = in_bounds if ok is None else ok & in_bounds
        starts = _common_index_dtype(starts)
        old = lax.dynamic_slice(a, starts, sizes, allow_negative_indices=False)
    else:
        old = lax.slice(a, starts, [s + z for s, z in zip(starts, sizes)])
    cfg = [(0, 0, st - 1) for st in steps]
    padded = lax.pad(v, np.zeros((), v.dtype), cfg)
    mask = lax.pad(lax.full(v.shape, True, np.bool_), np.bool_(False), cfg)
    if ok is not None:
        mask = mask & ok
    new = lax.select(mask, padded, old)
    return lax.dynamic_update_slice(a, new, starts, allow_negative_indices=False)


def _scatter_window(a: Any, ix: Index, v: Any, starts: list[Any], sizes: list[int]) -> Any:
    """``a[ix] = v`` with traced integers in ``ix``: one window scatter, as ``.at[]`` writes.

    The traced integers (normalized once for negative values) and the static
    starts form the scatter's index vector; integer axes are inserted window
    dimensions and sliced axes are the update window. ``FILL_OR_DROP`` drops a
    write whose traced integer is out of bounds, as ``.at[].set`` does, with no
    bounds check or select of our own.
    """
    shape = tuple(a.shape)
    int_axes = tuple(ax for ax, e in enumerate(ix.entries) if type(e) is Int)
    idx_axes = tuple(
        ax for ax, s in enumerate(starts) if ax in int_axes or not isinstance(s, int) or s != 0
    )
    vals = [
        starts[ax] if isinstance(starts[ax], int) else _normalize_traced(starts[ax], shape[ax])
        for ax in idx_axes
    ]
    traced = [i for i in vals if not isinstance(i, int)]
    dt = np.result_type(*[np.dtype(i.dtype) for i in traced])
    parts: list[Any] = []
    for i in vals:
        if isinstance(i, int):
            if parts and isinstance(parts[-1], list):
                parts[-1].append(i)
            else:
                parts.append([i])
        else:
            if np.dtype(i.dtype) != dt:
                i = lax.convert_element_type(i, dt)
            parts.append(lax.broadcast(i, (1,)))
    parts = [np.asarray(p, dt) if isinstance(p, list) else p for p in parts]
    indices = parts[0] if len(parts) == 1 else lax.concatenate(parts, 0)
    window = tuple(sizes[ax] for ax in range(len(shape)) if ax not in int_axes)
    if tuple(v.shape) != window:
        v = lax.reshape(v, window)
    dnums = lax.ScatterDimensionNumbers(
        update_window_dims=tuple(range(len(window))),
        inserted_window_dims=int_axes,
        scatter_dims_to_operand_dims=idx_axes,
    )
    return lax.scatter(
        a,
        indices,
        v,
        dnums,
        indices_are_sorted=True,
        unique_indices=True,
        mode=lax.GatherScatterMode.FILL_OR_DROP,
    )


# --------------------------------------------------------------------------
# Advanced indices: gather / scatter


def _ext_operand(a: Any, ix: Index) -> Any:
    """``a`` with the length-one axes that scalar booleans index inserted."""
    if tuple(a.shape) != ix.ext_shape:
        a = lax.reshape(a, ix.ext_shape)
    return a


def _entry_index(e: Any) -> Any:
    if type(e) is Slice:
        stop = e.start + e.step * e.length
        return slice(e.start, stop if stop >= 0 else None, e.step)
    if type(e) is Int:
        return e.value
    if type(e) is Adv:
        return None  # replaced by its array
    return slice(e.start, e.stop, e.step)  # DynSlice: JAX refuses it, as it should


def _adv_layout(ix: Index) -> tuple[int, int]:
    """(where JAX puts the advanced block, where NumPy wants it), in sliced-axis counts.

    The operand index handed to JAX has no ``None``, so JAX's rule reduces to:
    contiguous advanced axes stay in place, others go to the front.
    """
    axes = sorted(ix.adv_ext)
    contiguous = axes == list(range(axes[0], axes[0] + len(axes)))
    got = sum(1 for e in ix.ext_entries[: axes[0]] if type(e) is not Adv) if contiguous else 0
    want = 0
    for o in ix.out:
        if o is ADV:
            break
        if o is not NEW:
            want += 1
    return got, want


def _move_block(x: Any, src: int, dst: int, n: int) -> Any:
    """Move ``n`` consecutive axes of ``x`` from ``src`` to ``dst``."""
    if src == dst or n == 0:
        return x
    rest = [d for d in range(x.ndim) if not src <= d < src + n]
    perm = rest[:dst] + list(range(src, src + n)) + rest[dst:]
    return lax.transpose(x, perm)


def _adv_tuple(ix: Index, adv: tuple[Any, ...]) -> tuple[Any, ...]:
    out: list[Any] = [_entry_index(e) for e in ix.ext_entries]
    for a, ax in zip(adv, ix.adv_ext):
        out[ax] = jnp.asarray(a) if isinstance(a, np.ndarray) else a
    return tuple(out)


def _static_unique(ix: Index) -> tuple[bool, bool]:
    """(unique, sorted) for a purely static advanced index."""
    if not all(isinstance(a, np.ndarray) for a in ix.adv):
        return False, False
    flat = _static_keys(ix)
    unique = len(np.unique(flat)) == flat.size
    return unique, bool(unique and np.all(np.diff(flat) > 0))


def _static_keys(ix: Index) -> np.ndarray:
    dims = [ix.ext_shape[ax] for ax in ix.adv_ext]
    if not all(dims):
        return np.zeros(0, np.intp)
    return np.ravel_multi_index([np.ravel(a) for a in ix.adv], dims)


def advanced_read(a: Any, ix: Index) -> Any:
    """``a[ix]`` for an index with integer arrays (static or traced).

    Static indices are in bounds (checked by analysis); traced ones clamp,
    as JAX's ``.at[].get`` does by default.
    """
    if 0 in ix.result_shape:
        return lax.full(ix.result_shape, 0, a.dtype)
    check_traced(ix)
    unique, ordered = _static_unique(ix)
    r = (
        _ext_operand(a, ix)
        .at[_adv_tuple(ix, ix.adv)]
        .get(
            indices_are_sorted=ordered,
            unique_indices=unique,
            mode="promise_in_bounds" if ix.is_static else "clip",
        )
    )
    got, want = _adv_layout(ix)
    r = _move_block(r, got, want, len(ix.adv_shape))
    if tuple(r.shape) != ix.result_shape:
        r = lax.reshape(r, ix.result_shape)
    return r


def _take_rows(v: Any, rows: Any) -> Any:
    """``v[rows]`` for in-bounds integer ``rows`` (1-D): one gather on axis 0."""
    dnums = lax.GatherDimensionNumbers(
        offset_dims=tuple(range(1, v.ndim)), collapsed_slice_dims=(0,), start_index_map=(0,)
    )
    return lax.gather(
        v,
        lax.broadcast_in_dim(rows, (rows.shape[0], 1), (0,)),
        dnums,
        (1,) + tuple(v.shape[1:]),
        mode=lax.GatherScatterMode.PROMISE_IN_BOUNDS,
    )


def _winner_table(ix: Index, flat: list[Any]) -> tuple[Any, Any, Any]:
    """For traced advanced indices: (key, valid, table).

    ``key`` is each update's flat position in the indexed axes' key space,
    ``valid`` whether its index is in bounds (None for one indexed axis: the
    table's scatter drops out-of-bounds keys itself), and ``table`` (one entry per key) the
    position of the last in-bounds update writing there, or -1. Built with
    one scatter-max of positions: its result does not depend on the order in
    which a backend applies the updates.
    """
    n = int(np.prod(ix.adv_shape))
    dims = [ix.ext_shape[ax] for ax in ix.adv_ext]
    table = int(np.prod(dims))
    dt = np.int64 if max(table, n) >= 2**31 else np.int32
    valid = None
    key = None
    for a, size in zip(flat, dims):
        a = jnp.asarray(a)
        unsigned = jnp.issubdtype(a.dtype, jnp.unsignedinteger)
        if np.dtype(a.dtype).itemsize > np.dtype(dt).itemsize or (
            unsigned and np.dtype(a.dtype).itemsize == np.dtype(dt).itemsize
        ):
            # Narrowing must not wrap an out-of-bounds index into bounds.
            lo = 0 if unsigned else -size - 1
            a = lax.clamp(np.asarray(lo, a.dtype), a, np.asarray(size, a.dtype))
        if np.dtype(a.dtype) != dt:
            a = lax.convert_element_type(a, dt)  # before adding: int8(-1) + 200
        if not unsigned:
            a = lax.select(a < 0, a + size, a)
        if len(dims) > 1:
            # A key mixes axes: an out-of-bounds entry could land on another
            # element, so invalid updates get key 0 and write -1 (no-op).
            ok = (a >= 0) & (a < size)
            valid = ok if valid is None else valid & ok
        key = a if key is None else key * size + a
    assert key is not None  # the callers pass at least one traced index array
    pos = lax.iota(dt, n)
    if valid is not None:
        key = lax.select(valid, key, lax.full_like(key, 0))
        pos_w = lax.select(valid, pos, lax.full_like(pos, -1))
    else:
        pos_w = pos
    dnums = lax.ScatterDimensionNumbers(
        update_window_dims=(), inserted_window_dims=(0,), scatter_dims_to_operand_dims=(0,)
    )
    winners = lax.scatter_max(
        lax.full((table,), -1, dt),
        lax.broadcast_in_dim(key, (n, 1), (0,)),
        pos_w,
        dnums,
        mode=lax.GatherScatterMode.FILL_OR_DROP,
    )
    return key, valid, winners


def _winners(ix: Index, flat: list[Any]) -> tuple[list[Any], Any, bool]:
    """Deduplicate an advanced write: NumPy keeps the last value in C order.

    Returns the flat index arrays to scatter, the positions (into the flat
    update) of the value each must write, and whether the indices are unique.
    Static indices keep only the winners (found at trace time). Traced ones
    keep every index but make each duplicate write its winner's value, read
    from the winner table: duplicates then carry equal values, so the
    scatter is deterministic in any order on any backend, and no index is
    moved out of bounds (which checkify would report).
    """
    if all(isinstance(a, np.ndarray) for a in flat):
        keys = _static_keys(ix)
        last = {k: j for j, k in enumerate(keys.tolist())}
        sel = np.sort(np.fromiter(last.values(), np.intp, len(last)))
        return [a[sel] for a in flat], sel, True
    key, valid, winners = _winner_table(ix, flat)
    if valid is None:
        valid = (key >= 0) & (key < winners.shape[0])
    pos = lax.iota(winners.dtype, key.shape[0])
    safe = lax.select(valid, key, lax.full_like(key, 0))
    src = lax.select(valid, _take_rows(winners, safe), pos)
    # Out-of-bounds indices keep their raw value: the scatter drops them.
    return list(flat), src, False


# An advanced write with traced indices over whole axes becomes a dense
# gather from the winner table when it has at least this many updates per
# indexed element; fewer, sparse updates scatter (their cost follows the
# number of updates, not the array size, and stays in place in loops).
DENSE_WRITE_RATIO = 0.25


def _dense_write(a: Any, ix: Index, v: Any, flat: list[Any]) -> Any | None:
    """``a[ix] = v`` as ``select(table >= 0, v[table], a)``, or None if not dense.

    ``v`` is flat: ``(updates,) + the other axes``. Used when every entry of
    the index besides the integer arrays is a whole axis and the updates are
    dense in the indexed key space. One scatter-max builds the winner table;
    the values then come from one gather, and no scatter of values runs at
    all, so the result is the last write wins on any backend.
    """
    ext = ix.ext_shape
    adv = tuple(ix.adv_ext)
    rest = tuple(ax for ax in range(len(ext)) if ax not in adv)
    for ax in rest:
        e = ix.ext_entries[ax]
        if type(e) is not Slice or e.start != 0 or e.step != 1 or e.length != ext[ax]:
            return None
    table = int(np.prod([ext[ax] for ax in adv]))
    if int(np.prod(ix.adv_shape)) < DENSE_WRITE_RATIO * table:
        return None
    _, _, winners = _winner_table(ix, flat)
    perm = adv + rest
    op = _ext_operand(a, ix)
    if perm != tuple(range(len(ext))):
        op = lax.transpose(op, perm)
    moved = tuple(op.shape)
    rest_shape = tuple(ext[ax] for ax in rest)
    op = lax.reshape(op, (table,) + rest_shape) if len(adv) != 1 else op
    got = _take_rows(v, lax.max(winners, lax.full_like(winners, 0)))
    hit = lax.broadcast_in_dim(winners >= 0, got.shape, (0,))
    new = lax.select(hit, got, op)
    if len(adv) != 1:
        new = lax.reshape(new, moved)
    if perm != tuple(range(len(ext))):
        new = lax.transpose(new, tuple(np.argsort(perm)))
    return lax.reshape(new, tuple(a.shape)) if tuple(new.shape) != tuple(a.shape) else new


def advanced_write(a: Any, ix: Index, v: Any) -> Any:
    """``a`` with ``a[ix] = v`` for an index with integer arrays.

    Repeated indices: last write wins (NumPy's rule), deterministically on
    every backend. Traced out-of-bounds indices drop their writes.
    """
    if 0 in ix.result_shape:
        return a
    check_traced(ix)
    unique, ordered = _static_unique(ix)
    n = int(np.prod(ix.adv_shape))
    got, want = _adv_layout(ix)
    k = len(ix.adv_shape)
    if tuple(v.shape) != _result_without_new(ix):
        v = lax.reshape(v, _result_without_new(ix))
    v = _move_block(v, want, 0, k)
    v = lax.reshape(v, (n,) + tuple(v.shape[k:]))
    flat = [
        np.ravel(np.broadcast_to(x, ix.adv_shape))
        if isinstance(x, np.ndarray)
        else jnp.ravel(jnp.broadcast_to(x, ix.adv_shape))
        for x in ix.adv
    ]
    if not unique and not all(isinstance(x, np.ndarray) for x in flat):
        dense = _dense_write(a, ix, v, flat)
        if dense is not None:
            return dense
    if not unique:
        flat, src, unique = _winners(ix, flat)
        if isinstance(src, np.ndarray):
            keys = _static_keys(ix)[src]
            ordered = bool(np.all(np.diff(keys) > 0))
        v = v.at[src].get(mode="promise_in_bounds", unique_indices=unique)
    v = _move_block(v, 0, got, 1)
    idx = _adv_tuple(ix, tuple(flat))
    new = (
        _ext_operand(a, ix)
        .at[idx]
        .set(
            v,
            indices_are_sorted=ordered,
            unique_indices=unique,
            mode="drop" if not ix.is_static else None,
        )
    )
    return lax.reshape(new, tuple(a.shape)) if tuple(new.shape) != tuple(a.shape) else new


def _result_without_new(ix: Index) -> tuple[int, ...]:
    shape: list[int] = []
    for o in ix.out:
        if o is ADV:
            shape.extend(ix.adv_shape)
        elif o is not NEW:
            e = ix.entries[o]
            shape.append(e.length)
    return tuple(shape)


def masked_write(a: Any, ix: Index, v: Any) -> Any:
    """``a`` with ``a[m] = v`` for a traced mask ``m``: a select, no dynamic shape.

    ``v`` must broadcast to the masked array without knowing its length (the
    mask's count): a value with that length raises DynamicShapeError.
    """
    m = ix.mask
    trailing = tuple(ix.shape[m.ndim :])
    vshape = tuple(np.shape(v)) if not hasattr(v, "shape") else tuple(v.shape)
    while len(vshape) > len(trailing) and vshape[0] == 1:
        vshape = vshape[1:]
    if len(vshape) > len(trailing):
        from ._errors import DynamicShapeError

        raise DynamicShapeError(
            f"mutjax: `x[m] = v` with a traced boolean mask `m` and a value of shape "
            f"{_shape_str(tuple(np.shape(v)))}: the value's length must equal the "
            "mask's count, which is known only at run time. Use "
            "`x[...] = jnp.where(m, new, x)` with `new` of x's shape, or a value "
            f"that broadcasts to {_shape_str(trailing)}."
        )
    v = prepare_value(v, trailing, a.dtype)
    full = lax.broadcast_in_dim(m, ix.shape, tuple(range(m.ndim)))
    vb = lax.broadcast_in_dim(v, ix.shape, tuple(range(m.ndim, len(ix.shape))))
    return lax.select(full, vb, a)


def _dynamic_slice_error() -> Exception:
    from ._errors import DynamicShapeError

    return DynamicShapeError(
        "mutjax: a slice with a traced start, stop or step (`x[i:i + 2]`) has a "
        "length JAX must know at trace time. Use `lax.dynamic_slice(x, (i,), (2,))` "
        "/ `lax.dynamic_update_slice`, or an integer array index `x[i + jnp.arange(2)]`."
    )


def read(a: Any, ix: Index) -> Any:
    if ix.mask is not None:
        from ._errors import DynamicShapeError

        raise DynamicShapeError(
            "mutjax: reading `x[m]` with a traced boolean mask `m` gives an "
            "array whose length is known only at run time, which JAX cannot "
            "form. Use `jnp.where(m, x, fill)` to keep the shape, or "
            "`x[jnp.nonzero(m, size=N)]` with a static bound N."
        )
    if any(type(e) is DynSlice for e in ix.entries):
        raise _dynamic_slice_error()
    if ix.is_basic:
        return basic_read(a, ix)
    return advanced_read(a, ix)


def write(a: Any, ix: Index, v: Any) -> Any:
    if ix.pending is not None:
        raise ix.pending
    if ix.mask is not None:
        return masked_write(a, ix, v)
    if any(type(e) is DynSlice for e in ix.entries):
        raise _dynamic_slice_error()
    if ix.is_basic:
        return basic_write(a, ix, v)
    return advanced_write(a, ix, v)


__all__ = ["NEW", "prepare_value", "read", "write"]
