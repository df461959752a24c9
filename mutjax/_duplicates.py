"""Repeated indices: the last write wins, deterministically, on every backend.

NumPy's ``x[idx] = v`` with a repeated position keeps the value written last
(in C order of the index); JAX leaves it unspecified. Every writer that can
meet repeated positions resolves them here: advanced-index writes (a winner
table built by scatter-max of update positions, whose result does not
depend on the order a backend applies updates in; on CPU, many updates are
scatter-maxed in chunks), static positions
(resolved at trace time) and element writes that wait
(``mutjax._elements``: a later write of the same position replaces an
earlier one). Pure functions on parent-trace values.
"""

from __future__ import annotations

from typing import Any

import jax.numpy as jnp
import numpy as np
from jax import lax

from ._index import Index, Slice


def static_keys(ix: Index) -> np.ndarray:
    dims = [ix.ext_shape[ax] for ax in ix.adv_ext]
    if not all(dims):
        return np.zeros(0, np.intp)
    return np.ravel_multi_index([np.ravel(a) for a in ix.adv], dims)


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


def _key_dtype(ix: Index) -> np.dtype:
    n = int(np.prod(ix.adv_shape))
    table = int(np.prod([ix.ext_shape[ax] for ax in ix.adv_ext]))
    return np.dtype(np.int64 if max(table, n) >= 2**31 else np.int32)


def _keys(flat: list[Any], dims: list[int], dt: np.dtype) -> tuple[Any, Any]:
    """Flat keys of (a chunk of) the updates, and whether each is in bounds.

    ``valid`` is None for one indexed axis: the table's scatter drops
    out-of-bounds keys itself.
    """
    valid = None
    key = None
    for a, size in zip(flat, dims):
        a = jnp.asarray(a)
        unsigned = jnp.issubdtype(a.dtype, jnp.unsignedinteger)
        if np.dtype(a.dtype).itemsize > dt.itemsize or (
            unsigned and np.dtype(a.dtype).itemsize == dt.itemsize
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
    return key, valid


def _scatter_positions(winners: Any, key: Any, valid: Any, start: Any) -> Any:
    """``winners`` with the positions ``start + arange(len(key))`` scatter-maxed in at ``key``."""
    pos = lax.iota(winners.dtype, key.shape[0])
    if not (isinstance(start, int) and start == 0):
        pos = pos + lax.convert_element_type(start, winners.dtype)
    if valid is not None:
        key = lax.select(valid, key, lax.full_like(key, 0))
        pos = lax.select(valid, pos, lax.full_like(pos, -1))
    dnums = lax.ScatterDimensionNumbers(
        update_window_dims=(), inserted_window_dims=(0,), scatter_dims_to_operand_dims=(0,)
    )
    return lax.scatter_max(
        winners,
        lax.broadcast_in_dim(key, (key.shape[0], 1), (0,)),
        pos,
        dnums,
        mode=lax.GatherScatterMode.FILL_OR_DROP,
    )


def _winner_table(ix: Index, flat: list[Any]) -> tuple[Any, Any, Any]:
    """For traced advanced indices: (key, valid, table).

    ``key`` is each update's flat position in the indexed axes' key space,
    ``valid`` whether its index is in bounds (None for one indexed axis),
    and ``table`` (one entry per key) the position of the last in-bounds
    update writing there, or -1. Built with one scatter-max of positions:
    its result does not depend on the order in which a backend applies the
    updates.
    """
    dims = [ix.ext_shape[ax] for ax in ix.adv_ext]
    dt = _key_dtype(ix)
    key, valid = _keys(flat, dims, dt)
    empty = lax.full((int(np.prod(dims)),), -1, dt)
    return key, valid, _scatter_positions(empty, key, valid, 0)


# Updates per chunk of the chunked winner table (1 MiB of int32 keys).
WINNER_CHUNK = 1 << 18


def _chunked_winners(ix: Index, flat: list[Any]) -> Any:
    """The winner table of ``_winner_table``, scatter-maxed in chunks of ``WINNER_CHUNK``.

    Max is order-independent and idempotent, so the chunks give the same
    table, and the last chunk may overlap the one before it: ``n`` updates
    take ``ceil(n / WINNER_CHUNK)`` steps of one compiled body, with no
    separate remainder to compile, and the chunks are sized to share the
    updates evenly, so that fewer than 1024 a step are scatter-maxed twice.

    Why chunk: the one-scatter table needs the keys and the positions of
    all updates at once, and XLA's CPU runtime allocates such temporaries
    afresh at every call once they pass glibc's largest reused block (32 MiB): for
    4M updates (two 16 MiB arrays), first-touch page faults doubled the
    time of the whole write (measured: 2.8x a raw scatter without reuse,
    1.16x with it; ``benchmarks/duplicates_floor.py``). A loop over chunks
    keeps every temporary at 1 MiB.
    """
    dims = [ix.ext_shape[ax] for ax in ix.adv_ext]
    dt = _key_dtype(ix)
    n = int(np.prod(ix.adv_shape))
    steps = -(-n // WINNER_CHUNK)
    # An even share, rounded up to whole 4 KiB of int32 keys: unrounded
    # (246,783 for 4M + 1000 updates), the loop measured 2.5x slower.
    align = min(1024, WINNER_CHUNK)
    m = -(-n // steps // align) * align
    flat = [jnp.asarray(a) for a in flat]

    def chunk(i: Any, winners: Any) -> Any:
        # The last chunk ends at the last update: those it shares with the
        # chunk before are scatter-maxed twice, which changes nothing.
        start = lax.min(i * m, n - m)
        part = [lax.dynamic_slice_in_dim(a, start, m) for a in flat]
        return _scatter_positions(winners, *_keys(part, dims, dt), start)

    return lax.fori_loop(0, steps, chunk, lax.full((int(np.prod(dims)),), -1, dt))


def _dense_winners(ix: Index, flat: list[Any]) -> Any:
    """The winner table for a dense write: chunked on CPU for many updates, else one scatter."""
    if int(np.prod(ix.adv_shape)) < 2 * WINNER_CHUNK:
        return _winner_table(ix, flat)[2]
    return lax.platform_dependent(
        *flat,
        cpu=lambda *f: _chunked_winners(ix, list(f)),
        default=lambda *f: _winner_table(ix, list(f))[2],
    )


def last_writes(ix: Index, flat: list[Any]) -> tuple[list[Any], Any, bool]:
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
        sel = last_of_static(static_keys(ix))
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


def dense_write(a: Any, op: Any, ix: Index, v: Any, flat: list[Any]) -> Any | None:
    """``a[ix] = v`` as ``select(table >= 0, v[table], a)``, or None if not dense.

    ``op`` is ``a`` reshaped to the index's extended shape and ``v`` is flat:
    ``(updates,) + the other axes``. Used when every entry of
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
    winners = _dense_winners(ix, flat)
    perm = adv + rest
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


def last_of_static(positions: np.ndarray) -> np.ndarray:
    """The entries of static ``positions`` that win, in order: the last one at each position."""
    _, last = np.unique(positions[::-1], return_index=True)
    return np.sort(positions.size - 1 - last)


def same_position(a: Index, b: Index) -> bool:
    """True when two one-element indices are the same integers or the same traced values.

    A later waiting element write at the same position replaces an earlier
    one (mutjax._elements); traced positions that are not the same value may
    still coincide at run time, and are told apart by a select when read.
    """
    return all(
        x.value is y.value or (type(x.value) is int and type(y.value) is int and x.value == y.value)
        for x, y in zip(a.entries, b.entries)
    )
