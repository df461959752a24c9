"""Products of masked values: ``dot``, ``matmul``, ``vdot``, ``inner``, ``outer``.

A contracted run-time axis is summed over its valid positions only: both
operands are zeroed there and cut to the same static size, so no dynamic
shape is formed.
"""

from __future__ import annotations

from typing import Any

import jax.numpy as jnp
import numpy as np

from ._base import MaskedBase, origin_of
from ._elementwise import elementwise
from ._layout import Axis, resize
from ._origin import dynamic_shape_error
from ._reduce import reduce


def _zeroed(x: Any) -> Any:
    return x.filled(0) if isinstance(x, MaskedBase) else x


def _ndim(x: Any) -> int:
    return x.ndim if isinstance(x, MaskedBase) else np.ndim(x)


def _axes(x: Any) -> list[Axis | None]:
    return list(x.axes) if isinstance(x, MaskedBase) else [None] * np.ndim(x)


def _contract(a: Any, b: Any, ax_a: int, ax_b: int, fn: Any) -> Any:
    """``fn(a, b)`` contracting axis ``ax_a`` of ``a`` with ``ax_b`` of ``b``."""
    la, lb = _axes(a)[ax_a], _axes(b)[ax_b]
    if (la is None) != (lb is None):
        d = (b if la is not None else a).shape
        raise dynamic_shape_error(
            f"a product with an operand of fixed length {d[ax_b if la is not None else ax_a]} "
            "on the contracted axis (NumPy requires equal lengths; slice it with the same "
            "traced bound)",
            origin_of(a, b),
        )
    # lb is not None whenever la is not (checked above); the test only tells mypy.
    if la is not None and lb is not None and not la.same_layout(lb):
        a, b = a.compacted(), b.compacted()
    da, db = _zeroed(a), _zeroed(b)
    if la is not None:
        n = min(da.shape[ax_a], db.shape[ax_b])
        da, db = resize(da, ax_a, n), resize(db, ax_b, n)
    out = fn(da, db)
    axes_a, axes_b = _axes(a), _axes(b)
    del axes_a[ax_a]
    del axes_b[ax_b]
    owner = a if isinstance(a, MaskedBase) else b
    return owner._with(out, tuple(axes_a + axes_b)) if isinstance(owner, MaskedBase) else out


def dot(a: Any, b: Any, out: Any = None) -> Any:
    """NumPy's ``dot`` where either operand may be masked."""
    if out is not None:
        raise dynamic_shape_error("`np.dot(..., out=)`", origin_of(a, b))
    na, nb = _ndim(a), _ndim(b)
    if na == 0 or nb == 0:
        return elementwise(jnp.multiply, a, b)
    if na > 2 or nb > 2:
        raise dynamic_shape_error("`dot` of arrays with more than two axes", origin_of(a, b))
    return _contract(a, b, na - 1, 0 if nb == 1 else nb - 2, jnp.dot)


def matmul(a: Any, b: Any) -> Any:
    """NumPy's ``matmul`` (``@``) where either operand may be masked."""
    if _ndim(a) == 0 or _ndim(b) == 0:
        raise ValueError("matmul: Input operand does not have enough dimensions")
    return dot(a, b)


def vdot(a: Any, b: Any) -> Any:
    """NumPy's ``vdot``: the conjugated dot product of the flattened operands."""
    return reduce("sum", elementwise(lambda x, y: jnp.conj(x) * y, a, b))


def outer(a: Any, b: Any, out: Any = None) -> Any:
    """NumPy's ``outer`` of two vectors, either of them masked."""
    if out is not None or _ndim(a) != 1 or _ndim(b) != 1:
        raise dynamic_shape_error("`np.outer` of other than two vectors, or out=", origin_of(a, b))
    return elementwise(jnp.multiply, a[:, None], b[None, :])


def inner(a: Any, b: Any) -> Any:
    """NumPy's ``inner`` of two vectors, either of them masked."""
    if _ndim(a) == 1 and _ndim(b) == 1:
        return dot(a, b)
    raise dynamic_shape_error("`np.inner` of arrays with more than one axis", origin_of(a, b))
