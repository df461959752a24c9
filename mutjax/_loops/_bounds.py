"""Eager converted loops raise NumPy's ``IndexError`` for an index out of bounds.

Under ``jit`` a traced index out of bounds cannot raise (reads clamp, writes
drop), and a converted loop's index is traced even when the function runs
eagerly. So an eager call (no transformation around ``mutable``) collects
the bounds checks that the body's reads and writes record
(``mutjax._checks.check_indices``), folds them into a flag carried by the
loop (whether an index was out of bounds, and the first such index, its axis
and that axis' size), and raises after the loop as NumPy would have, with
NumPy's message. A loop nested in such a loop hands its flag to the
enclosing body. The combinators' own bodies (``mutjax.fori_loop``) collect
nothing: they keep ``jax.lax``'s semantics.
"""

from __future__ import annotations

from typing import Any

import jax.numpy as jnp
import numpy as np

from .. import _compat, _scope
from .._trace import current_mut_trace

Flag = tuple[Any, Any]  # (bool scalar, int32[3]: index, axis, size)


def collecting() -> bool:
    """Whether a converted loop starting now carries a bounds flag."""
    stack = _scope.local.index_checks
    if stack:
        return stack[-1] is not None
    trace = current_mut_trace()
    if trace is None:
        return False
    with _compat.set_current_trace(trace.parent_trace):
        return _compat.is_eager()


def no_flag() -> Flag:
    return jnp.asarray(False), jnp.zeros(3, np.int32)


def push() -> None:
    """Collect the checks of a compiled body about to run."""
    _scope.local.index_checks.append([])


def pop(flag: Flag) -> Flag:
    """``flag`` with the checks collected since ``push`` folded in."""
    bad, payload = flag
    collected = _scope.local.index_checks.pop()
    for entry in collected or ():
        for b, p in _outcomes(entry):
            payload = jnp.where(bad, payload, p)
            bad = jnp.logical_or(bad, b)
    return bad, payload


def _outcomes(entry: Any) -> list[Flag]:
    if entry[0] == "flag":
        return [entry[1]]
    indices, axes, sizes = entry
    out = []
    for i, axis, size in zip(indices, axes, sizes):
        i = jnp.ravel(i)
        if i.size == 0:
            continue
        if jnp.issubdtype(i.dtype, jnp.unsignedinteger):
            oob = i >= size
        else:
            oob = (i < -size) | (i >= size)
        first = i[jnp.argmax(oob)].astype(np.int32)
        out.append((jnp.any(oob), jnp.stack([first, jnp.int32(axis), jnp.int32(size)])))
    return out


def report(flag: Flag) -> None:
    """After a loop: hand ``flag`` to the enclosing body, or raise NumPy's IndexError."""
    stack = _scope.local.index_checks
    if stack and stack[-1] is not None:
        stack[-1].append(("flag", flag))
        return
    bad, payload = flag
    if bool(_compat.to_concrete_value(jnp.asarray(bad))):
        i, axis, size = (int(v) for v in np.asarray(_compat.to_concrete_value(payload)))
        raise IndexError(f"index {i} is out of bounds for axis {axis} with size {size}")
