"""Indexing a masked value: ``[::-1]`` and :func:`flip`, integers, ``None`` and ``...``.

What keeps the run-time axes intact works: reversing the valid elements,
dropping a static or front-packed axis with an integer, inserting axes.
Anything else (a slice, an array index) is refused.
"""

from __future__ import annotations

from typing import Any

import jax.numpy as jnp
import numpy as np
from jax import lax

from ._base import MaskedBase
from ._layout import shift


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
            data = shift(data, data.shape[ax] - a.length, ax)
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
        if i < 0:
            if axes[ax] is not None:
                m._refuse("a negative index")
            i += data.shape[ax]
        data = lax.index_in_dim(data, i, ax, keepdims=False)
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
    """Whether an integer can index an axis of this layout (static or front-packed)."""
    return a is None or a.kind == "front"
