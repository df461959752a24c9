"""Bounds checks of traced indices that only ``jax.experimental.checkify`` sees.

Under ``jit`` a traced out-of-bounds index cannot raise: reads clamp and
writes drop (see docs/indexing.md). ``index_check_p`` carries the original
traced index values, the axes they index and those axes' sizes. It has no
outputs and no effects, so it lowers to nothing and ``jit``'s dead-code
elimination removes it: users who do not checkify pay nothing at run time.
Under ``checkify(f, errors=checkify.index_checks)`` its rule reports the
first out-of-bounds value as NumPy would word it, with the original
(un-normalized) index and the axis of the indexed array.
"""

from __future__ import annotations

from typing import Any

import jax.numpy as jnp
import numpy as np

from . import _compat, _scope

index_check_p = _compat.Primitive("mutjax_index_check")
index_check_p.multiple_results = True
index_check_p.def_impl(lambda *indices, axes, sizes, shape: [])
index_check_p.def_abstract_eval(lambda *indices, axes, sizes, shape: [])
_compat.register_lowering(index_check_p, lambda ctx, *args, **params: [])


def _jvp(primals: Any, tangents: Any, **params: Any) -> tuple[list, list]:
    return index_check_p.bind(*primals, **params), []


def _batch(args: Any, dims: Any, **params: Any) -> tuple[list, list]:
    # The check is over every element, whichever axis is batched.
    return index_check_p.bind(*args, **params), []


_compat.primitive_jvps[index_check_p] = _jvp
_compat.primitive_batchers[index_check_p] = _batch


def _checkify_rule(error: Any, enabled_errors: Any, *indices: Any, axes, sizes, shape) -> Any:
    if _compat.CheckifyOOBError not in enabled_errors:
        return error, []
    for i, axis, size in zip(indices, axes, sizes):
        i = jnp.ravel(i)
        if jnp.issubdtype(i.dtype, jnp.unsignedinteger):
            oob = i >= size
        else:
            oob = (i < -size) | (i >= size)
        first = jnp.argmax(oob) if i.size else 0
        bad = i[first] if i.size else jnp.zeros((), np.int32)
        payload = jnp.array([bad.astype(np.int32), axis, size], np.int32)
        err = _compat.CheckifyOOBError(_compat.checkify_traceback(), "mutjax index", shape, payload)
        error = _compat.checkify_assert(error, jnp.any(oob), err)
    return error, []


if _compat.checkify_rules is not None:
    _compat.checkify_rules[index_check_p] = _checkify_rule


def check_indices(indices: list[Any], axes: list[int], shape: tuple[int, ...]) -> None:
    """Record a bounds check of traced ``indices`` (one per axis in ``axes``).

    Args:
        indices: traced integer scalars or arrays, as the user wrote them.
        axes: the axis of the indexed array each one indexes.
        shape: the indexed array's shape.
    """
    if indices:
        collectors = _scope.local.index_checks
        if collectors and collectors[-1] is not None:  # an eager converted loop's body
            collectors[-1].append((indices, axes, tuple(shape[a] for a in axes)))
        index_check_p.bind(
            *indices,
            axes=tuple(axes),
            sizes=tuple(shape[a] for a in axes),
            shape=tuple(shape),
        )
