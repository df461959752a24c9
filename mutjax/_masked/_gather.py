"""Gathering through an integer index of run-time length: ``x[indices[a:b]]``.

A CSR row reads its column indices as a traced slice, a masked value, and
then gathers ``x`` at them. The result is masked the same way: it has the
index's run-time axes (with their layouts) where NumPy puts the index's axes,
and ``x``'s other axes as they are. Masked positions of the index hold the
filler 0; they gather a clipped position and are then set to the filler, so
the result is clean.
"""

from __future__ import annotations

from typing import Any

import jax.numpy as jnp
import numpy as np

from ._base import MaskedBase, runtime_axes
from ._layout import all_along, select, take


def gather(x: Any, idx: MaskedBase, axis: int = 0) -> Any:
    """``np.take(x, idx, axis)`` for a masked integer ``idx``: a masked copy.

    Indices are taken as NumPy takes them (a negative one counts from the
    end); under ``jit`` an out-of-range one cannot raise NumPy's IndexError
    and reads the nearest element, as mutjax's traced integer indices do.
    """
    if not np.issubdtype(np.dtype(idx.dtype), np.integer):
        idx._refuse("a non-integer value of run-time length as an index")
    ndim = len(x.shape)
    if not -ndim <= axis < ndim:
        raise np.exceptions.AxisError(axis, ndim)
    axis %= ndim
    n = x.shape[axis]
    i = idx.filled(0)
    if np.issubdtype(np.dtype(i.dtype), np.signedinteger):
        i = jnp.where(i < 0, i + n, i)
    data = take(x, i, axis)
    axes = (None,) * axis + idx.axes + (None,) * (ndim - axis - 1)
    valid = all_along([(axis + ax, a.valid) for ax, a in runtime_axes(idx)], data.ndim)
    if valid is not None:
        data = select(valid, data, np.zeros((), data.dtype))
    return idx._with(data, axes, clean=True)


def take_function(
    a: Any, indices: Any, axis: Any = None, out: Any = None, mode: str = "raise"
) -> Any:
    """``np.take`` with a masked ``indices`` (``a`` itself is not masked)."""
    if isinstance(a, MaskedBase) or not isinstance(indices, MaskedBase):
        base = a if isinstance(a, MaskedBase) else indices
        return base._refuse("`np.take` of a value of run-time length")
    if out is not None:
        return indices._refuse("`np.take(..., out=)` with an index of run-time length")
    if axis is None:
        return gather(jnp.ravel(a), indices, 0)
    return gather(a, indices, int(axis))
