"""Reading a mutable array through a dynamic index into the parts of a masked value.

``x[m]`` keeps the elements in place, valid where the traced mask ``m`` is
true; ``x[a:b:s]`` with a traced part reads its static window and packs the
selected elements to the front. Either way masked positions are set to 0.
Runs under the parent trace and returns plain arrays; the caller wraps them.
"""

from __future__ import annotations

from typing import Any

import jax.numpy as jnp
import numpy as np
from jax import lax

from .. import _index, _lower
from ._dynamic import check_supported, slice_bounds, static_part
from ._layout import all_along, bcast_axis, in_slice, iota, prefix, runs_to_end, select, shift, take
from ._origin import user_line


def read(value: Any, ix: _index.Index) -> tuple[Any, list[Any], str, Any]:
    """``value[ix]`` for a dynamic index, as (data, per-axis layout parts, origin, raw).

    ``raw``: a slice read's data before its masked positions were zeroed (None for a mask).

    The layout parts are, per result axis, None or ``(kind, valid, length, key)``
    (see mutjax._masked._layout).
    """
    origin = user_line()
    if ix.mask is not None:
        return (*_read_mask(value, ix), origin, None)
    check_supported(ix, origin)
    static, dyn = static_part(ix)
    data = _lower.basic_read(value, static)
    parts: list[Any] = [None] * data.ndim
    for ax, d in dyn:
        n = data.shape[ax]
        start, step, length = slice_bounds(d, n)
        if isinstance(step, int) and step == 1 and not (isinstance(start, int) and start == 0):
            # Kept in place: a write back to the same slice moves nothing.
            valid = in_slice(n, start, length, runs_to_end(d.stop, n))
            parts[ax] = ("place", valid, length, start)
            continue
        data = _to_front(data, ax, start, step)
        parts[ax] = ("front", prefix(n, length), length, None)
    valid = all_along([(ax, p[1]) for ax, p in enumerate(parts) if p is not None], data.ndim)
    return select(valid, data, np.zeros((), data.dtype)), parts, origin, data


def _read_mask(value: Any, ix: _index.Index) -> tuple[Any, list[Any]]:
    """``value[m]``: the mask's axes flattened into one, elements kept in place."""
    m = ix.mask
    trailing = tuple(ix.shape[m.ndim :])
    data = lax.reshape(value, (int(np.prod(m.shape, dtype=np.int64)),) + trailing)
    valid = lax.reshape(m, (data.shape[0],))
    length = jnp.sum(valid, dtype=np.int32)
    # Masked positions hold the filler: see mutjax._masked._base.
    data = select(bcast_axis(valid, data.ndim, 0), data, np.zeros((), data.dtype))
    return data, [("mask", valid, length, m)] + [None] * len(trailing)


def _to_front(data: Any, ax: int, start: Any, step: Any) -> Any:
    """``data`` with element ``start + k * step`` of axis ``ax`` moved to position ``k``."""
    n = data.shape[ax]
    if not (isinstance(step, int) and abs(step) == 1):
        return take(data, start + step * iota(n), ax)
    if step == 1:
        # `slice.indices` puts the start in [0, n], and in [-1, n - 1] for a step of -1.
        return data if isinstance(start, int) and start == 0 else shift(data, start, ax, (0, n))
    data = lax.rev(data, (ax,))
    if isinstance(start, int) and start == n - 1:
        return data
    return shift(data, n - 1 - start, ax, (0, n))
