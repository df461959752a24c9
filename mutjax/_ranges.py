"""Static intervals of traced integers: loop indices and expressions of them.

The index of a loop over a static range lies in a known interval. A traced
bound of an inner loop is usually a small expression of outer indices
(`i`, `i + 1`, `n - i`): walking the equations that computed it gives a
static interval. Loop combinators register their indices here
(:func:`register`); :mod:`mutjax._loops` uses intervals to bound trip counts
and decide conditions, and :mod:`mutjax._lower` to skip normalizing and
bounds-checking indices that are provably in bounds.

Intervals only ever add knowledge: an index without one is handled in full
generality, so dropping them (:func:`clear`) is always safe.
"""

from __future__ import annotations

from typing import Any, cast

import jax
import numpy as np

from . import _compat


def _static(x: Any) -> Any:
    """The value of ``x`` if it is known at trace time, else None."""
    if isinstance(x, (bool, int, float, np.generic, np.ndarray)):
        return x
    if isinstance(x, _compat.Tracer) or isinstance(x, jax.Array):
        try:
            return _compat.to_concrete_value(x)
        except Exception:  # noqa: BLE001 - a tracer that cannot say is traced
            return None
    return None


_INTERVALS: dict[int, tuple[Any, int, int]] = {}


def _unwrap(x: Any) -> Any:
    """The value behind a mutable array (a value of its parent trace)."""
    from ._trace import MutArray

    return x._read() if isinstance(x, MutArray) else x


def _decided(always: bool, never: bool) -> tuple[int, int]:
    return (1, 1) if always else (0, 0) if never else (0, 1)


# Comparisons of two intervals: (1, 1) always true, (0, 0) never, else (0, 1).
_COMPARE = {
    "lt": lambda a0, a1, b0, b1: _decided(a1 < b0, a0 >= b1),
    "le": lambda a0, a1, b0, b1: _decided(a1 <= b0, a0 > b1),
    "gt": lambda a0, a1, b0, b1: _decided(a0 > b1, a1 <= b0),
    "ge": lambda a0, a1, b0, b1: _decided(a0 >= b1, a1 < b0),
    "eq": lambda a0, a1, b0, b1: _decided(a0 == a1 == b0 == b1, a1 < b0 or b1 < a0),
    "ne": lambda a0, a1, b0, b1: _decided(a1 < b0 or b1 < a0, a0 == a1 == b0 == b1),
}


def _interval(x: Any, depth: int = 0) -> tuple[int, int] | None:
    v = _static(x)
    if v is not None:
        v = np.asarray(v)
        if v.shape == () and np.issubdtype(v.dtype, np.integer):
            return int(v), int(v)
        return None
    x = _unwrap(x)
    lit = _compat.literal_value(x)
    if lit is not None:
        return _interval(lit, depth)
    hit = _INTERVALS.get(id(x))
    if hit is not None and hit[0] is x:
        return hit[1], hit[2]
    if depth > 16:
        return None
    outer = _compat.lifted_from(x)
    if outer is not None:
        return _interval(outer, depth + 1)
    eqn = _compat.producing_equation(x)
    if eqn is None:
        return None
    prim, ins, params = eqn
    if prim in ("convert_element_type", "copy", "copy_p"):
        return _interval(ins[0], depth + 1)
    if prim in ("jit", "pjit"):
        return None
    maybe = [_interval(a, depth + 1) for a in ins]
    if any(a is None for a in maybe):
        return None
    args = cast(list[tuple[int, int]], maybe)  # none of them is None (checked above)
    if prim in _COMPARE:
        (a0, a1), (b0, b1) = args
        return _COMPARE[prim](a0, a1, b0, b1)
    if prim in ("and", "or") and all(a[0] >= 0 and a[1] <= 1 for a in args):
        (a0, a1), (b0, b1) = args
        return (a0 & b0, a1 & b1) if prim == "and" else (a0 | b0, a1 | b1)
    if prim == "not" and args[0][0] >= 0 and args[0][1] <= 1:
        return 1 - args[0][1], 1 - args[0][0]
    if prim == "add":
        (a0, a1), (b0, b1) = args
        return a0 + b0, a1 + b1
    if prim == "sub":
        (a0, a1), (b0, b1) = args
        return a0 - b1, a1 - b0
    if prim == "neg":
        ((a0, a1),) = args
        return -a1, -a0
    if prim == "mul":
        (a0, a1), (b0, b1) = args
        c = [a0 * b0, a0 * b1, a1 * b0, a1 * b1]
        return min(c), max(c)
    if prim == "max":
        (a0, a1), (b0, b1) = args
        return max(a0, b0), max(a1, b1)
    if prim == "min":
        (a0, a1), (b0, b1) = args
        return min(a0, b0), min(a1, b1)
    return None


def _nonnegative(x: Any) -> bool:
    """True when traced ``x`` is known >= 0 from the ranges of the loop indices."""
    if not _INTERVALS:
        return False
    iv = _interval(x)
    return iv is not None and iv[0] >= 0


def nonnegative(x: Any) -> bool:
    """True when traced ``x`` is known >= 0."""
    if not _INTERVALS:
        return False
    iv = _interval(x)
    return iv is not None and iv[0] >= 0


def within(x: Any, size: int) -> bool:
    """True when traced ``x`` is known to lie in ``[0, size)``."""
    if not _INTERVALS:
        return False
    iv = _interval(x)
    return iv is not None and iv[0] >= 0 and iv[1] < size


def register(i: Any, lo: int, hi: int) -> None:
    """Record that traced ``i`` lies in ``[lo, hi]`` (a loop index)."""
    raw = _unwrap(i)
    _INTERVALS[id(raw)] = (raw, lo, hi)


def clear() -> None:
    _INTERVALS.clear()
