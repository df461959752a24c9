"""Lowering: an index description plus a value -> ``lax`` reads and updates.

The second stage of ``x[idx]`` / ``x[idx] = v`` (the first is
``mutjax._index``). Every function here is pure: it takes values of the
parent trace and returns new ones, and it must be called with the parent trace
current. Static basic indices lower straight to ``slice`` /
``dynamic_slice`` / ``dynamic_update_slice`` (plus ``pad`` + ``select`` for
strided writes), never to gather or scatter: that is both what an expert
writes and cheaper to trace than JAX's general indexing. A write at traced
integers is the one window scatter that ``.at[i].set`` emits; a read at
traced integers is a ``dynamic_slice``, as ``jax.numpy`` reads.
"""

from __future__ import annotations

from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
from jax import lax

from . import _checks, _compat, _duplicates, _errors, _values
from ._index import ADV, NEW, Adv, DynSlice, Index, Int, Slice, _shape_str

# --------------------------------------------------------------------------
# Values: NumPy's broadcasting and setitem casting


# --------------------------------------------------------------------------
# Basic indices: slice / dynamic_slice / dynamic_update_slice


def normalize_traced(i: Any, size: int, known: tuple[int, int] | None = None) -> Any:
    """Traced index ``i`` on an axis of ``size`` made non-negative (``i + size`` where < 0).

    ``known``: a static interval holding ``i`` (``Int.known``). A loop index
    of ``range(1, n - 1)``, and ``i - 1`` within it, are known non-negative:
    no normalization.
    """
    i = fit_index(i, size)
    if jnp.issubdtype(i.dtype, jnp.unsignedinteger) or (known is not None and known[0] >= 0):
        return i
    # `lax` directly: `i < 0` and `i + size` would go through `jax.numpy`'s
    # promotion (a `convert_element_type` per weakly typed index) and its
    # jitted ufuncs, a third of the trace time of a loop body's element reads.
    dt = np.dtype(i.dtype)
    return lax.select(lax.lt(i, np.zeros((), dt)), lax.add(i, np.asarray(size, dt)), i)


def _default_int() -> np.dtype:
    # JAX's default integer: int64 with `jax_enable_x64`, else int32.
    return np.dtype(jax.dtypes.canonicalize_dtype(np.int64))


def _fits(dt: np.dtype, lo: int, hi: int) -> bool:
    info = np.iinfo(dt)
    return info.min <= lo and hi <= info.max


def fit_index(i: Any, bound: int) -> Any:
    """Traced integer ``i`` in a dtype that holds ``-bound .. bound`` (JAX's default int if not).

    An int8 index on an axis of 300 is valid, but neither ``i + 300`` nor a
    start of 300 exists in int8.
    """
    dt = np.dtype(i.dtype)
    if _fits(dt, 0 if dt.kind == "u" else -bound, bound):
        return i
    return lax.convert_element_type(i, _default_int())


def index_vector(idx: list[Any]) -> list[Any]:
    """Start indices (Python ints and traced integers) all of one integer dtype.

    ``dynamic_slice``, ``dynamic_update_slice`` and ``scatter`` want one
    dtype for all of them (``index arguments to dynamic_slice must be
    integers of the same type``), and a Python int becomes JAX's default
    integer there: int64 with x64, next to an int32 loop index. One traced
    dtype is kept where it holds the static starts; anything else (mixed
    dtypes, uint64 beside a signed one, which NumPy would promote to float)
    becomes JAX's default integer.
    """
    dtypes = {np.dtype(i.dtype) for i in idx if not isinstance(i, (int, np.integer))}
    if not dtypes:
        return idx
    static = [int(i) for i in idx if isinstance(i, (int, np.integer))] or [0]
    dt = dtypes.pop() if len(dtypes) == 1 else _default_int()
    if not _fits(dt, min(static), max(static)):
        dt = _default_int()
    return [
        np.asarray(i, dt)
        if isinstance(i, (int, np.integer))
        else i
        if np.dtype(i.dtype) == dt
        else lax.convert_element_type(i, dt)
        for i in idx
    ]


def _within(known: tuple[int, int] | None, size: int) -> bool:
    """True when an interval ``known`` (or None) lies in ``[0, size)``."""
    return known is not None and known[0] >= 0 and known[1] < size


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


def _slice_if_needed(a: Any, starts: list[int], limits: list[int], steps: list[int]) -> Any:
    """``lax.slice``, or ``a`` itself when the window is the whole array."""
    whole = all(s == 0 for s in starts) and tuple(limits) == tuple(a.shape)
    if whole and all(st == 1 for st in steps):
        return a
    return lax.slice(a, starts, limits, steps)


def _static_window(a: Any, starts: list[int], sizes: list[int], steps: list[int]) -> Any:
    if all(st == 1 for st in steps) and _compat.is_eager():
        # Eagerly, `lax.slice` compiles one executable per distinct window
        # (its bounds are parameters): a loop over `x[i]` would compile once
        # per `i`. `dynamic_slice` takes the starts as operands, so one
        # executable serves every position, as in `jax.numpy` indexing.
        return lax.dynamic_slice(a, [np.int32(s) for s in starts], sizes)
    return _slice_if_needed(a, starts, [s + z for s, z in zip(starts, sizes)], steps)


def _dynamic_window(
    a: Any, ix: Index, starts: list[Any], sizes: list[int], steps: list[int], dyn: list[int]
) -> Any:
    """The window at traced integers ``dyn``: static slicing first, then one dynamic_slice."""
    shape = tuple(a.shape)
    static_starts = [0 if ax in dyn else s for ax, s in enumerate(starts)]
    static_limits = [
        shape[ax] if ax in dyn else s + z for ax, (s, z) in enumerate(zip(starts, sizes))
    ]
    a = _slice_if_needed(a, static_starts, static_limits, steps)
    idx = [
        normalize_traced(starts[ax], shape[ax], ix.entries[ax].known) if ax in dyn else 0
        for ax in range(len(shape))
    ]
    idx = index_vector(idx)
    slice_sizes = [1 if ax in dyn else a.shape[ax] for ax in range(len(shape))]
    return lax.dynamic_slice(a, idx, slice_sizes, allow_negative_indices=False)


def basic_read(a: Any, ix: Index, check: bool = True) -> Any:
    """``a[ix]`` for a basic index (ints, slices, new axes; ints may be traced).

    ``check``: record the bounds check of ``ix``'s traced integers. A view
    chain passes False: its composed index is in the base's terms, and the
    index the user wrote was checked when it was applied to the view.
    """
    if check:
        check_traced(ix)
    if 0 in ix.result_shape:
        return lax.full(ix.result_shape, 0, a.dtype)
    starts, sizes, steps, rev = _window(ix)
    dyn = [ax for ax, s in enumerate(starts) if not isinstance(s, int)]
    if dyn:
        a = _dynamic_window(a, ix, starts, sizes, steps, dyn)
    else:
        a = _static_window(a, starts, sizes, steps)
    if rev:
        a = lax.rev(a, rev)
    if tuple(a.shape) != ix.result_shape:
        a = lax.reshape(a, ix.result_shape)
    return a


def basic_write(a: Any, ix: Index, v: Any, check: bool = True) -> Any:
    """``a`` with ``a[ix] = v``; ``v`` already has ``ix.result_shape`` and a's dtype.

    ``check``: as for :func:`basic_read`.
    """
    if 0 in ix.result_shape or ix.empty_new:
        return a
    if check:
        check_traced(ix)
    starts, sizes, steps, rev = _window(ix)
    shape = tuple(a.shape)
    dyn = [ax for ax, s in enumerate(starts) if not isinstance(s, int)]
    strided = any(st != 1 for st in steps)
    # A traced integer that may be out of bounds: one window scatter, which
    # drops such a write. One known in bounds (a loop index, mutjax._ranges):
    # the bare update a hand-written loop uses.
    scatter = (
        dyn and not strided and not all(_within(ix.entries[ax].known, shape[ax]) for ax in dyn)
    )
    win = [1 if type(e) is Int else e.length for e in ix.entries]
    if rev or not scatter:  # (the scatter reshapes `v` to its own window)
        if tuple(v.shape) != tuple(win):
            v = lax.reshape(v, tuple(win))
        if rev:
            v = lax.rev(v, rev)
    if scatter:
        return _scatter_window(a, ix, v, starts, sizes)
    if strided:
        return _strided_write(a, ix, v, starts, sizes, steps, dyn)
    if dyn:
        return lax.dynamic_update_slice(a, v, index_vector(starts), allow_negative_indices=False)
    if all(s == 0 for s in starts) and tuple(sizes) == shape:
        return v  # the whole array is replaced
    return _static_update(a, v, starts)


def _static_update(a: Any, v: Any, starts: list[int]) -> Any:
    """``dynamic_update_slice`` at static in-bounds ``starts``, bound with int32 literals.

    `lax.dynamic_update_slice` would stage a `convert_element_type` per
    Python int start, a third of the trace time of an unrolled scalar
    update. Not on values that vary over mesh axes (inside `shard_map`):
    there every operand must vary over the same axes, which `lax` arranges.
    """
    literal = [np.int32(s) for s in starts]
    if _compat.varying_axes(_compat.typeof(a)) or _compat.varying_axes(_compat.typeof(v)):
        return lax.dynamic_update_slice(a, v, literal)
    return lax.dynamic_update_slice_p.bind(a, v, *literal)


def _strided_write(
    a: Any,
    ix: Index,
    v: Any,
    starts: list[Any],
    sizes: list[int],
    steps: list[int],
    dyn: list[int],
) -> Any:
    """A strided window: pad the value with holes, select it over the old window, write back."""
    shape = tuple(a.shape)
    ok = None
    if dyn:
        # A traced integer out of bounds drops the write, as `.at[].set` does.
        for ax in dyn:
            i = normalize_traced(starts[ax], shape[ax], ix.entries[ax].known)
            starts[ax] = i
            in_bounds = (
                (i >= 0) & (i < shape[ax])
                if not jnp.issubdtype(i.dtype, jnp.unsignedinteger)
                else i < shape[ax]
            )
            ok = in_bounds if ok is None else ok & in_bounds
        starts = index_vector(starts)
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


def _scatter_window(
    a: Any, ix: Index, v: Any, starts: list[Any], sizes: list[int], scatter: Any = lax.scatter
) -> Any:
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
        starts[ax]
        if isinstance(starts[ax], int)
        else normalize_traced(starts[ax], shape[ax], ix.entries[ax].known)
        for ax in idx_axes
    ]
    # Runs of static starts become one constant each, the traced ones a
    # length-1 vector each.
    parts: list[Any] = []
    for i in index_vector(vals):
        if isinstance(i, (int, np.integer)):
            i = np.asarray(i, np.int32)  # all static (a combining scatter): one constant
        if isinstance(i, np.ndarray):
            if parts and isinstance(parts[-1], list):
                parts[-1].append(i)
            else:
                parts.append([i])
        else:
            parts.append(lax.broadcast(i, (1,)))
    parts = [np.stack(p) if isinstance(p, list) else p for p in parts]
    indices = parts[0] if len(parts) == 1 else lax.concatenate(parts, 0)
    window = tuple(sizes[ax] for ax in range(len(shape)) if ax not in int_axes)
    if tuple(v.shape) != window:
        v = lax.reshape(v, window)
    dnums = lax.ScatterDimensionNumbers(
        update_window_dims=tuple(range(len(window))),
        inserted_window_dims=int_axes,
        scatter_dims_to_operand_dims=idx_axes,
    )
    return scatter(
        a,
        indices,
        v,
        dnums,
        indices_are_sorted=True,
        unique_indices=True,
        mode=lax.GatherScatterMode.FILL_OR_DROP,
    )


# `x[i] op= v` of one element or row: the scatter that combines the old
# elements with `v`, as `.at[i].add(v)` / `.subtract` / `.multiply` emit.
SCATTERS: dict[str, Any] = {"add": lax.scatter_add, "sub": lax.scatter_sub, "mul": lax.scatter_mul}


def combinable(ix: Index) -> bool:
    """Whether ``a[ix] op= v`` can be one combining scatter (see :func:`combine`).

    An integer on at least one axis (one element, a row, a column: what an
    update of one position at a time writes) and contiguous forward slices
    elsewhere. A window of slices only stays a slice, the operation and a
    ``dynamic_update_slice``, no larger than the scatter and cheaper to run.
    """
    entries = ix.entries
    if not entries or ix.empty_new or NEW in ix.out or 0 in ix.result_shape:
        return False
    if not any(type(e) is Int for e in entries):
        return False
    return all(
        type(e) is Int or (type(e) is Slice and (e.step == 1 or e.length <= 1)) for e in entries
    )


def combine(a: Any, ix: Index, v: Any, op: str, check: bool = True) -> Any:
    """``a`` with ``a[ix] = a[ix] op v`` for a :func:`combinable` basic index.

    One scatter with the combining ``op`` (a key of ``SCATTERS``) instead of a
    read, the operation and a write, as ``.at[ix].add(v)`` emits: the same
    elements either way (``x - v`` is one IEEE operation in both), and a
    traced position out of bounds changes nothing either way (the read
    clamps, the write drops). ``v`` has ``ix.result_shape`` and ``a``'s dtype.
    ``check``: as for :func:`basic_read`.
    """
    if check:
        check_traced(ix)
    starts, sizes, _, _ = _window(ix)
    return _scatter_window(a, ix, v, starts, sizes, SCATTERS[op])


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
    flat = _duplicates.static_keys(ix)
    unique = len(np.unique(flat)) == flat.size
    return unique, bool(unique and np.all(np.diff(flat) > 0))


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
        dense = _duplicates.dense_write(a, _ext_operand(a, ix), ix, v, flat)
        if dense is not None:
            return dense
    if not unique:
        flat, src, unique = _duplicates.last_writes(ix, flat)
        if isinstance(src, np.ndarray):
            keys = _duplicates.static_keys(ix)[src]
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
        raise _errors.DynamicShapeError(
            f"mutjax: `x[m] = v` with a traced boolean mask `m` and a value of shape "
            f"{_shape_str(tuple(np.shape(v)))}: the value's length must equal the "
            "mask's count, which is known only at run time. Use "
            "`x[...] = jnp.where(m, new, x)` with `new` of x's shape, or a value "
            f"that broadcasts to {_shape_str(trailing)}."
        )
    v = _values.prepare_value(v, trailing, a.dtype)
    full = lax.broadcast_in_dim(m, ix.shape, tuple(range(m.ndim)))
    vb = lax.broadcast_in_dim(v, ix.shape, tuple(range(m.ndim, len(ix.shape))))
    return lax.select(full, vb, a)


def read(a: Any, ix: Index) -> Any:
    if ix.mask is not None:
        raise _errors.DynamicShapeError(
            "mutjax: reading `x[m]` with a traced boolean mask `m` gives an "
            "array whose length is known only at run time, which JAX cannot "
            "form. Use `jnp.where(m, x, fill)` to keep the shape, or "
            "`x[jnp.nonzero(m, size=N)]` with a static bound N."
        )
    if any(type(e) is DynSlice for e in ix.entries):
        raise _errors.dynamic_slice_error()
    if ix.is_basic:
        return basic_read(a, ix)
    return advanced_read(a, ix)


def write(a: Any, ix: Index, v: Any) -> Any:
    if ix.pending is not None:
        raise ix.pending
    if ix.mask is not None:
        return masked_write(a, ix, v)
    if any(type(e) is DynSlice for e in ix.entries):
        raise _errors.dynamic_slice_error()
    if ix.is_basic:
        return basic_write(a, ix, v)
    return advanced_write(a, ix, v)


__all__ = ["NEW", "read", "write"]
