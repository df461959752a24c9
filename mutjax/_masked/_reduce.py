"""Reductions of masked values: the valid elements only, masked ones as the identity.

Masked positions contribute the reduction's identity (``-inf`` for ``max`` of
floats, the smallest integer for ints), selected before the reduction so that
neither their values nor their gradients reach the result.
"""

from __future__ import annotations

from typing import Any

import jax.numpy as jnp
import numpy as np

from ._base import MaskedBase, origin_of
from ._elementwise import elementwise
from ._layout import select
from ._origin import dynamic_shape_error

# NumPy's `ufunc.reduce` spellings of the reductions below.
UFUNC_REDUCTIONS = {
    "add": "sum",
    "multiply": "prod",
    "maximum": "max",
    "minimum": "min",
    "logical_and": "all",
    "logical_or": "any",
}


def _identity(name: str, dtype: Any) -> Any:
    dtype = np.dtype(dtype)
    if name in ("sum", "mean", "any"):
        return np.zeros((), dtype)
    if name in ("prod", "all"):
        return np.ones((), dtype)
    big = name == "min"
    if dtype == np.bool_:
        return np.bool_(big)
    if np.issubdtype(dtype, np.inexact):
        return np.array(np.inf if big else -np.inf, dtype)
    info = np.iinfo(dtype)
    return np.array(info.max if big else info.min, dtype)


def _norm_axes(axis: Any, ndim: int) -> tuple[int, ...]:
    if axis is None:
        return tuple(range(ndim))
    axes = (axis,) if isinstance(axis, (int, np.integer)) else tuple(axis)
    out = []
    for a in axes:
        a = int(a)
        if not -ndim <= a < ndim:
            raise np.exceptions.AxisError(a, ndim)
        out.append(a % ndim)
    return tuple(out)


def reduce(
    name: str, m: Any, axis: Any = None, dtype: Any = None, keepdims: bool = False, **kw: Any
) -> Any:
    """``sum`` / ``prod`` / ``max`` / ``min`` / ``mean`` / ``any`` / ``all`` of a masked value.

    NumPy refuses ``max`` / ``min`` of an empty selection; under ``jit`` that
    cannot raise, so it gives the identity. ``mean`` of an empty selection is
    NaN, as in NumPy.
    """
    if kw.get("initial") is not None or kw.get("where") is not None:
        raise dynamic_shape_error(f"`{name}` with initial= or where=", origin_of(m))
    if not isinstance(m, MaskedBase):
        return getattr(jnp, name)(m, axis=axis, keepdims=keepdims)
    axes = _norm_axes(axis, m.ndim)
    base = "sum" if name == "mean" else name
    with_dtype = dtype is not None and name in ("sum", "prod", "mean")
    kwargs: dict[str, Any] = {"dtype": dtype} if with_dtype else {}
    filled = _filled(base, m)
    out = getattr(jnp, base)(filled, axis=axes, keepdims=keepdims, **kwargs)
    if name == "mean":
        out = _divide_by_count(out, m, axes)
    if keepdims:
        return m._with(out, tuple(None if ax in axes else a for ax, a in enumerate(m.axes)))
    return m._with(out, tuple(a for ax, a in enumerate(m.axes) if ax not in axes))


def _filled(name: str, m: MaskedBase) -> Any:
    """``m``'s data with its masked positions set to the identity of ``name``."""
    data = m.data.astype(bool) if name in ("any", "all") else m.data
    if m.clean and name == "sum":
        return data
    # Double where: masked positions are replaced before the reduction, so
    # neither their values nor their gradients reach the result.
    return select(m.valid(), data, _identity(name, data.dtype))


def _divide_by_count(total: Any, m: MaskedBase, axes: tuple[int, ...]) -> Any:
    """``total`` divided by the number of valid elements over ``axes`` (a float)."""
    count = None
    for ax in axes:
        a = m.axes[ax]
        c = a.length if a is not None else m.data.shape[ax]
        count = c if count is None else count * c
    if count is None:
        count = 1
    if not jnp.issubdtype(total.dtype, jnp.inexact):
        total = total.astype(jnp.result_type(float))
    return total / jnp.asarray(count).astype(total.dtype)


def argreduce(name: str, m: Any, axis: Any = None) -> Any:
    """``argmax`` / ``argmin`` of a masked value, as indices into the valid elements."""
    if not isinstance(m, MaskedBase):
        return getattr(jnp, name)(m, axis=axis)
    m = m.compacted()
    fill = _identity("max" if name == "argmax" else "min", m.dtype)
    filled = jnp.where(m.valid(), m.data, fill)
    if axis is not None:
        (ax,) = _norm_axes(axis, m.ndim)
        out = getattr(jnp, name)(filled, axis=ax)
        return m._with(out, tuple(a for i, a in enumerate(m.axes) if i != ax))
    flat = getattr(jnp, name)(filled)
    if m.ndim == 1:
        return flat
    # Index into the flattened *valid* array: re-ravel with the run-time lengths.
    coords = jnp.unravel_index(flat, m.data.shape)
    out = jnp.zeros((), flat.dtype)
    for ax, c in enumerate(coords):
        a = m.axes[ax]
        extent = a.length if a is not None else m.data.shape[ax]
        out = out * jnp.asarray(extent).astype(flat.dtype) + c
    return out


def _absolute(d: Any) -> Any:
    # NumPy's norm computes in floating point: integers and bools become floats.
    if not jnp.issubdtype(d.dtype, jnp.inexact):
        d = d.astype(jnp.result_type(float))
    return jnp.abs(d)


def norm(m: Any, ord: Any = None, axis: Any = None, keepdims: bool = False) -> Any:
    """NumPy's vector norm (``np.linalg.norm``) of a masked value, over its valid elements.

    ``axis`` None flattens (the 2-norm of every element, as NumPy's default
    and ``'fro'``); an int or a tuple of axes takes vector norms of any
    ``ord``. Matrix norms of other orders need the exact shape: refused.
    """
    if not isinstance(m, MaskedBase):
        return jnp.linalg.norm(m, ord=ord, axis=axis, keepdims=keepdims)
    matrix = (axis is None and m.ndim == 2) or (isinstance(axis, tuple) and len(axis) == 2)
    if matrix and ord not in (None, "fro"):
        raise dynamic_shape_error(f"`np.linalg.norm(..., ord={ord!r})`, a matrix norm,", m.origin)
    if isinstance(ord, str) and not matrix:
        raise ValueError(f"Invalid norm order '{ord}' for vectors")
    a = elementwise(_absolute, m)
    if ord in (None, "fro", 2):
        total = reduce("sum", elementwise(lambda d: d * d, a), axis, keepdims=keepdims)
        return elementwise(jnp.sqrt, total)
    if ord == np.inf:
        return reduce("max", a, axis, keepdims=keepdims)
    if ord == -np.inf:
        return reduce("min", a, axis, keepdims=keepdims)
    if ord == 0:
        nonzero = elementwise(lambda d: (d != 0).astype(d.dtype), a)
        return reduce("sum", nonzero, axis, keepdims=keepdims)
    if ord == 1:
        return reduce("sum", a, axis, keepdims=keepdims)
    p = float(ord)
    total = reduce("sum", elementwise(lambda d: d**p, a), axis, keepdims=keepdims)
    return elementwise(lambda t: t ** (1.0 / p), total)
