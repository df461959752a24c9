"""Eager converted loops raise what NumPy raises for an index or a length at run time.

Under ``jit`` a traced index out of bounds cannot raise (reads clamp, writes
drop), nor can unequal run-time lengths (``x[:i] += y[:j]``), and a
converted loop's index is traced even when the function runs eagerly. So an
eager call (no transformation around ``mutable``) collects the checks that
the body's reads, writes and operations record
(``mutjax._checks.check_indices`` and ``record_lengths``), folds them into a
flag carried by the loop (whether a check failed, and what NumPy's message
needs: the first bad index, its axis and that axis' size, or the lengths of
the first failed length check), and raises after the loop as NumPy would
have, NumPy's ``IndexError`` or ``ValueError`` with NumPy's message. A loop
nested in such a loop hands its flag to the enclosing body. The
combinators' own bodies (``mutjax.fori_loop``) collect nothing: they keep
``jax.lax``'s semantics.
"""

from __future__ import annotations

from typing import Any

import jax.numpy as jnp
import numpy as np

from .. import _checks, _compat, _scope
from .._trace import current_mut_trace

# (bool scalar, int32[WIDTH]): a code, then an index's value, axis and size
# (code 0) or the lengths of the length check the code names (1 and up).
Flag = tuple[Any, Any]
WIDTH = _checks.FLAG_LENGTHS + 1

# The length checks an eager call has met, each (kind, shapes, axes) once:
# a flag names one by its place here plus one. A compiled program is reused
# without tracing again, so the codes it holds must stay valid: the table
# only grows, one entry per distinct check in the user's code.
_LENGTHS: list[tuple[str, Any, Any]] = []
_CODES: dict[tuple[str, Any, Any], int] = {}


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
    return jnp.asarray(False), jnp.zeros(WIDTH, np.int32)


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
    if entry[0] == "length":
        return [_length_outcome(*entry[1:])]
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
        out.append((jnp.any(oob), _payload(0, [first, axis, size])))
    return out


def _payload(code: int, values: list[Any]) -> Any:
    pad = [jnp.int32(0)] * (WIDTH - 1 - len(values))
    return jnp.stack([jnp.int32(code), *(jnp.asarray(v, np.int32) for v in values), *pad])


def _length_outcome(lengths: list[Any], kind: str, shapes: Any, axes: Any) -> Flag:
    key = (kind, shapes, axes)
    if key not in _CODES:
        _LENGTHS.append(key)
        _CODES[key] = len(_LENGTHS)
    # A length batched by jax.vmap is checked at every position, the first bad one kept.
    batch = jnp.broadcast_shapes(*(jnp.shape(n) for n in lengths))
    full = [jnp.broadcast_to(jnp.asarray(n).astype(np.int32), batch) for n in lengths]
    fails = _checks.length_fails(kind, _checks.filled(shapes, full), axes)
    bad = jnp.ravel(jnp.broadcast_to(jnp.asarray(fails), batch))
    flat = [jnp.ravel(n) for n in full]
    if bad.size == 0:
        return jnp.asarray(False), jnp.zeros(WIDTH, np.int32)
    first = jnp.argmax(bad)
    return jnp.any(bad), _payload(_CODES[key], [n[first] for n in flat])


def report(flag: Flag) -> None:
    """After a loop: hand ``flag`` to the enclosing body, or raise NumPy's
    ``IndexError`` or ``ValueError``."""
    stack = _scope.local.index_checks
    if stack and stack[-1] is not None:
        stack[-1].append(("flag", flag))
        return
    bad, payload = flag
    if bool(_compat.to_concrete_value(jnp.asarray(bad))):
        code, *values = (int(v) for v in np.asarray(_compat.to_concrete_value(payload)))
        if code == 0:
            i, axis, size = values[:3]
            raise IndexError(f"index {i} is out of bounds for axis {axis} with size {size}")
        kind, shapes, axes = _LENGTHS[code - 1]
        raise ValueError(_checks.length_message(kind, _checks.filled(shapes, values), axes))
