"""Static intervals of traced integers: loop indices and expressions of them.

The index of a loop over a static range lies in a known interval. A traced
bound of an inner loop is usually a small expression of outer indices
(`i`, `i + 1`, `n - i`): walking the equations that computed it gives a
static interval. Loop combinators register their indices (``register``)
in the root scope's table (``mutjax._scope.Scope.intervals``, so nothing
outlives the trace); ``mutjax._loops`` uses intervals to bound trip
counts and decide conditions, and the write pipeline attaches them to the
index description (``annotate``, ``Int.known``) so that
``mutjax._lower`` skips normalizing and bounds-checking indices that are
provably in bounds without looking anything up.

Intervals only ever add knowledge: an index without one is handled in full
generality, so dropping them is always safe.
"""

from __future__ import annotations

import dataclasses
from typing import Any, cast

import jax
import numpy as np

from . import _compat
from ._index import DynSlice, Index, Int


def static(x: Any) -> Any:
    """The value of ``x`` if it is known at trace time, else None."""
    if isinstance(x, (bool, int, float, np.generic, np.ndarray)):
        return x
    if isinstance(x, _compat.Tracer) or isinstance(x, jax.Array):
        try:
            return _compat.to_concrete_value(x)
        except Exception:  # a tracer that cannot say is traced
            return None
    return None


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


class Intervals(dict):  # type: ignore[type-arg]
    """A root scope's table of registered loop indices: ``id(i) -> (i, lo, hi)``.

    It also remembers the interval found for each traced value walked
    (``memo``: ``id(x) -> (x, interval, depth)``, holding ``x`` so that its
    id stays its own). A trace stages each index expression once but reads
    through it many times (``x[i, j]`` annotates ``i`` and ``j`` on every
    read), and the walk below its producing equations is the same every time.
    """

    __slots__ = ("memo",)

    def __init__(self) -> None:
        super().__init__()
        self.memo: dict[int, tuple[Any, tuple[int, int] | None, int]] = {}

    def clear(self) -> None:
        super().clear()
        self.memo.clear()


def interval(
    x: Any, table: dict[int, tuple[Any, int, int]], depth: int = 0
) -> tuple[int, int] | None:
    """A static interval ``[lo, hi]`` holding traced integer ``x``, or None if none is known.

    ``table`` is the root scope's record of registered loop indices
    (``mutjax._scope.Scope.intervals``); ``x`` is a value of the parent
    trace, never a mutable array.
    """
    memo = table.memo if isinstance(table, Intervals) and isinstance(x, _compat.Tracer) else None
    if memo is None:
        return _interval(x, table, depth)
    seen = memo.get(id(x))
    # A walk cut short by the depth limit found None where a shallower one
    # might not: a None stands only for walks starting as deep or deeper.
    if seen is not None and seen[0] is x and (seen[1] is not None or seen[2] <= depth):
        return seen[1]
    found = _interval(x, table, depth)
    memo[id(x)] = (x, found, depth)
    return found


def _interval(x: Any, table: dict[int, tuple[Any, int, int]], depth: int) -> tuple[int, int] | None:
    v = static(x)
    if v is not None:
        v = np.asarray(v)
        if v.shape == () and np.issubdtype(v.dtype, np.integer):
            return int(v), int(v)
        return None
    lit = _compat.literal_value(x)
    if lit is not None:
        return interval(lit, table, depth)
    hit = table.get(id(x))
    if hit is not None and hit[0] is x:
        return hit[1], hit[2]
    if depth > 16:
        return None
    outer = _compat.lifted_from(x)
    if outer is not None:
        return interval(outer, table, depth + 1)
    eqn = _compat.producing_equation(x)
    if eqn is None:
        return None
    prim, ins, _params = eqn
    if prim in ("convert_element_type", "copy", "copy_p"):
        return interval(ins[0], table, depth + 1)
    if prim in ("jit", "pjit"):
        return None
    maybe = [interval(a, table, depth + 1) for a in ins]
    if any(a is None for a in maybe):
        return None
    return _combine(prim, cast(list[tuple[int, int]], maybe))


def _combine(prim: str, args: list[tuple[int, int]]) -> tuple[int, int] | None:
    """The interval of ``prim`` applied to operands in the intervals ``args``."""
    if prim in _COMPARE:
        (a0, a1), (b0, b1) = args
        return _COMPARE[prim](a0, a1, b0, b1)
    if prim in ("and", "or", "not") and not all(a[0] >= 0 and a[1] <= 1 for a in args):
        return None
    rule = _ARITHMETIC.get(prim)
    return None if rule is None else rule(*args)


def _mul(a: tuple[int, int], b: tuple[int, int]) -> tuple[int, int]:
    c = [a[0] * b[0], a[0] * b[1], a[1] * b[0], a[1] * b[1]]
    return min(c), max(c)


# Interval arithmetic per primitive (booleans as 0/1 for and/or/not).
_ARITHMETIC: dict[str, Any] = {
    "and": lambda a, b: (a[0] & b[0], a[1] & b[1]),
    "or": lambda a, b: (a[0] | b[0], a[1] | b[1]),
    "not": lambda a: (1 - a[1], 1 - a[0]),
    "add": lambda a, b: (a[0] + b[0], a[1] + b[1]),
    "sub": lambda a, b: (a[0] - b[1], a[1] - b[0]),
    "neg": lambda a: (-a[1], -a[0]),
    "mul": _mul,
    "max": lambda a, b: (max(a[0], b[0]), max(a[1], b[1])),
    "min": lambda a, b: (min(a[0], b[0]), min(a[1], b[1])),
}


def register(table: dict[int, tuple[Any, int, int]], i: Any, lo: int, hi: int) -> None:
    """Record in ``table`` that traced ``i`` (a parent-trace value) lies in ``[lo, hi]``."""
    table[id(i)] = (i, lo, hi)
    if isinstance(table, Intervals):
        table.memo.clear()  # what was walked before may now lead to ``i``


def annotate(ix: Index, table: dict[int, tuple[Any, int, int]]) -> Index:
    """``ix`` with the known interval of each traced integer and traced slice
    bound attached (``Int.known``, ``DynSlice.known``)."""
    if not table:
        return ix
    entries = list(ix.entries)
    changed = False
    for ax, e in enumerate(entries):
        if type(e) is Int and not e.static:
            iv = interval(e.value, table)
            if iv is not None:
                entries[ax] = Int(e.value, iv)
                changed = True
        elif type(e) is DynSlice:
            known = tuple(
                interval(b, table) if isinstance(b, _compat.Tracer) else None
                for b in (e.start, e.stop, e.step)
            )
            if any(k is not None for k in known):
                entries[ax] = dataclasses.replace(e, known=known)
                changed = True
    return dataclasses.replace(ix, entries=tuple(entries)) if changed else ix
