"""Fixed-width windows at traced starts: ``E[i:i + 2]`` where ``i``'s range keeps it in bounds.

A slice whose bounds are traced has, in general, a length known only at run
time (``mutjax._masked``). But ``E[i:i + c]`` with a static width ``c``
has length ``c`` wherever ``0 <= i`` and ``i + c <= n``; when the static
interval of ``i`` (a loop index, ``mutjax._ranges``) proves both, the
slice is a plain window: read with one ``dynamic_slice`` of static size,
written with one ``dynamic_update_slice``. It is a live view of its base, as
NumPy's slice is (``WindowOp`` is one more op of a view chain,
``mutjax._views``). Anything not proven stays a value of run-time length,
which is NumPy's result everywhere.
"""

from __future__ import annotations

import dataclasses
from typing import Any

import numpy as np
from jax import lax

from . import _compat, _ranges


@dataclasses.dataclass(frozen=True, eq=False)
class WindowOp:
    """A window of static ``shape`` at ``starts`` (ints or traced ints) of ``in_shape``."""

    starts: tuple[Any, ...]
    in_shape: tuple[int, ...]
    shape: tuple[int, ...]
    writable = True
    bijective = False

    def read(self, a: Any) -> Any:
        return lax.dynamic_slice(a, self.starts, self.shape)

    def write(self, a: Any, sub: Any) -> Any:
        return lax.dynamic_update_slice(a, sub, self.starts)

    def strides(self, strides: tuple[int, ...]) -> tuple[int, ...]:
        return strides

    @property
    def key(self) -> tuple[Any, ...]:
        starts = tuple(s if isinstance(s, int) else ("traced", id(s)) for s in self.starts)
        return ("window", starts, self.shape)


def _strip(x: Any) -> Any:
    """``x`` before conversions, and the outer value a loop body's copy of it stands for."""
    while True:
        outer = _compat.lifted_from(x)
        if outer is not None:
            x = outer
            continue
        eqn = _compat.producing_equation(x)
        if eqn is None or eqn[0] != "convert_element_type":
            return x
        x = eqn[1][0]


def offset(stop: Any, start: Any, table: dict[int, tuple[Any, int, int]]) -> int | None:
    """``c`` when traced ``stop`` was computed as ``start + c`` (``c`` static), else None."""
    eqn = _compat.producing_equation(_strip(stop))
    if eqn is None or eqn[0] != "add":
        return None
    a, b = (_strip(v) for v in eqn[1])
    start = _strip(start)
    for same, other in ((a, b), (b, a)):
        if same is start:
            iv = _ranges.interval(other, table)
            if iv is not None and iv[0] == iv[1]:
                return iv[0]
    return None


def windowed(
    raw: Any, shape: tuple[int, ...], table: dict[int, tuple[Any, int, int]]
) -> tuple[WindowOp, tuple[Any, ...]] | None:
    """``(window, rest)`` with ``x[raw]`` equal to ``window(x)[rest]``, or None.

    Only an index of ints, slices, ``None`` and one ``...`` qualifies; each
    ``i:i + c`` slice with a traced start proven in bounds
    becomes part of the window and ``:`` in ``rest``.
    """
    entries = raw if isinstance(raw, tuple) else (raw,)
    real = [e for e in entries if e is not None and e is not Ellipsis]
    if len(real) > len(shape) or sum(e is Ellipsis for e in entries) > 1 or not table:
        return None
    starts: list[Any] = [0] * len(shape)
    sizes = list(shape)
    rest: list[Any] = list(entries)  # `None` and `...` stay: the window has x's axes
    found = False
    k = -1  # the axis entry `e` indexes
    for pos, e in enumerate(entries):
        if e is None:
            continue
        k += len(shape) - len(real) if e is Ellipsis else 1
        if isinstance(e, slice):
            w = _window(e, shape[k], table)
            if w is not None:
                starts[k], sizes[k] = w
                rest[pos] = slice(None)
                found = True
        elif e is Ellipsis:
            continue
        elif isinstance(e, (bool, np.bool_)):
            return None  # a boolean index adds an axis
        elif not isinstance(e, int) and _ranges.static(e) is None and not hasattr(e, "dtype"):
            return None
        elif hasattr(e, "shape") and getattr(e, "shape", ()) != ():
            return None  # an array index: advanced indexing, not a window
    if not found:
        return None
    return WindowOp(tuple(starts), tuple(shape), tuple(sizes)), tuple(rest)


def _window(s: slice, n: int, table: dict[int, tuple[Any, int, int]]) -> tuple[Any, int] | None:
    if s.step is not None and _ranges.static(s.step) != 1:
        return None
    if s.start is None or s.stop is None or _ranges.static(s.start) is not None:
        return None
    width = offset(s.stop, s.start, table)
    span = _ranges.interval(s.start, table)
    if width is None or width <= 0 or span is None:
        return None
    if span[0] < 0 or span[1] + width > n:
        return None  # may be clipped (or wrap) at an end: a run-time length
    return s.start, width
