"""Indexing a masked value: ``[::-1]`` and ``flip``, integers, ``None`` and ``...``.

What keeps the run-time axes intact works: reversing the valid elements,
dropping a static or front-packed axis with an integer (a negative one counts
from the run-time end), inserting axes. Anything else (a slice, an array
index) is refused. A masked *copy* (``m = x[x > 3]``) also takes writes at an
integer position of its one run-time axis (``setitem``), as NumPy's copy
does.
"""

from __future__ import annotations

from typing import Any

import jax.numpy as jnp
import numpy as np
from jax import lax

from .. import _compat
from .._scope import Handle
from ._base import MaskedBase
from ._layout import i32, shift


def flip(m: Any, axis: Any = None) -> Any:
    """NumPy's ``flip`` of a masked value: reverse the valid elements of each axis."""
    if not isinstance(m, MaskedBase):
        return jnp.flip(m, axis)
    axes = range(m.ndim) if axis is None else (axis,) if isinstance(axis, int) else axis
    m = m.compacted()
    data = m.data
    for ax in axes:
        ax = ax % m.ndim
        data = lax.rev(data, (ax,))
        a = m.axes[ax]
        if a is not None:
            # rev puts element k at n-1-k; NumPy's flip of the valid part puts it at
            # length-1-k: shift by the run-time count of masked positions.
            data = shift(data, data.shape[ax] - a.length, ax, (0, data.shape[ax]))
    return m._with(data, m.axes, clean=m.clean)


def getitem(m: MaskedBase, idx: Any) -> Any:
    """``m[idx]`` for an index of integers, ``None``, ``...``, ``:`` and ``::-1``."""
    out, drop, new_axes = _walk(m, _expanded(m, idx))
    if not drop and not new_axes:
        return out
    out = out.compacted() if drop else out
    data = out.data
    axes = list(out.axes)
    for ax, i in sorted(drop, reverse=True):
        a = axes[ax]
        if not -data.shape[ax] <= i < data.shape[ax]:
            raise IndexError(f"index {i} is out of bounds for axis {ax} with size {data.shape[ax]}")
        if i < 0 and a is not None:
            # Counted from the run-time end; one past the front (NumPy's
            # IndexError) cannot raise under jit: it reads the first element.
            at = lax.max(i32(a.length) + np.int32(i), np.int32(0))
            data = lax.dynamic_index_in_dim(data, at, ax, keepdims=False)
        else:
            data = lax.index_in_dim(data, i % data.shape[ax], ax, keepdims=False)
        del axes[ax]
    for pos in new_axes:
        data = lax.expand_dims(data, (pos,))
        axes.insert(pos, None)
    return out._with(data, tuple(axes), clean=out.clean)


def _expanded(m: MaskedBase, idx: Any) -> list[Any]:
    """The index as a list with one entry per axis of ``m`` (plus its ``None``s)."""
    items = list(idx if type(idx) is tuple else (idx,))
    real = [it for it in items if it is not None and it is not Ellipsis]
    ell = [i for i, it in enumerate(items) if it is Ellipsis]
    if len(ell) > 1 or len(real) > m.ndim:
        m._refuse("this index")
    fill = [slice(None)] * (m.ndim - len(real))
    return items[: ell[0]] + fill + items[ell[0] + 1 :] if ell else items + fill


def _walk(m: MaskedBase, items: list[Any]) -> tuple[Any, list[tuple[int, int]], list[int]]:
    """``m`` with the ``::-1`` entries applied, the (axis, integer) entries to drop,
    and the output positions of the axes ``None`` inserts."""
    out: Any = m
    drop: list[tuple[int, int]] = []
    new_axes: list[int] = []
    ax = 0
    for it in items:
        if it is None:
            new_axes.append(ax - len(drop) + len(new_axes))
            continue
        if isinstance(it, slice) and it == slice(None, None, -1):
            out = flip(out, ax)
        elif isinstance(it, (int, np.integer)) and _droppable(m.axes[ax]):
            drop.append((ax, int(it)))
        elif not (isinstance(it, slice) and it == slice(None)):
            m._refuse("this index")
        ax += 1
    return out, drop, new_axes


def _droppable(a: Any) -> bool:
    """Whether an integer can index an axis of this layout (static, or a slice's)."""
    return a is None or a.kind in ("front", "place")


def setitem(m: MaskedBase, idx: Any, value: Any) -> None:
    """``m[k, ...] = value`` for a masked copy ``m``: the ``k``-th valid element changes.

    ``k`` is an integer (static or traced) on ``m``'s one run-time axis, the
    first; the rest of the index is any index of the static axes. NumPy's
    IndexError for a static ``k`` beyond the maximal length; under ``jit`` a
    ``k`` beyond the run-time length cannot raise: that write is dropped.
    """
    items = idx if type(idx) is tuple else (idx,)
    first, rest = (items[0], items[1:]) if items else (Ellipsis, ())
    if m.ndim == 0 or m.axes[0] is None or any(a is not None for a in m.axes[1:]):
        m._refuse("assignment into a value with a run-time length on an axis other than the first")
    if not isinstance(first, (int, np.integer, _compat.Tracer)) or isinstance(first, bool):
        m._refuse(
            "assignment into a slice, array or mask of a masked value (assign one "
            "element, `m[k] = v`, or write into the array it was read from)"
        )
    out = m.compacted()
    data: Any = out.data
    a0 = out.axes[0]
    if not isinstance(out.data, Handle) or a0 is None:
        m._refuse("assignment into this masked value")
    n = data.shape[0]
    length = a0.length
    if not isinstance(first, _compat.Tracer):
        k = int(first)
        if not -n <= k < n:
            raise IndexError(f"index {k} is out of bounds for axis 0 with size {n}")
        # A position past the run-time length is masked: the write is invisible.
        pos: Any = k if k >= 0 else i32(length) + np.int32(k)
    else:
        k32 = i32(first)
        pos = lax.select(k32 < 0, i32(length) + k32, k32)
    if not isinstance(pos, int):
        pos = lax.select(pos < 0, np.int32(n), pos)  # before the front: dropped
    new = data.copy()
    new[(pos,) + tuple(rest)] = value
    m._data, m.axes, m.clean = new, out.axes, False
