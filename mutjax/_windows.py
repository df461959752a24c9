"""Fixed-width windows at traced starts: ``E[i:i + 2]`` where ``i``'s range keeps it in bounds.

A slice whose bounds are traced has, in general, a length known only at run
time (``mutjax._masked``). But ``E[i:i + c]`` with a static width ``c``
has length ``c`` wherever ``0 <= i`` and ``i + c <= n``; when the static
interval of ``i`` (a loop index, ``mutjax._ranges``) proves both, the
slice is a plain window: read with one ``dynamic_slice`` of static size,
written with one ``dynamic_update_slice``. A loop index ``j`` proven in
bounds is a window of width 1, and static slices beside it narrow the same
window (``p[1:n - 1, j - 1]``, ``A[i - 1, :-2]``): the write is exactly that
window; the read takes the traced axes whole along the static ones and
slices statically, so that windows of one row at several offsets read the
row once (Seidel-2D's seven windows of three rows: 0.32 ms to 0.17 ms at
n = 50, against a slice of the whole array before each dynamic slice, which
XLA copied every iteration). It is a live view of its base, as
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
    """A window of static ``sizes`` at ``starts`` (ints or traced ints) of ``in_shape``.

    The axes in ``drop`` (each of size 1: an integer index) are left out of
    the view, as NumPy's integer index leaves its axis out.
    """

    starts: tuple[Any, ...]
    in_shape: tuple[int, ...]
    sizes: tuple[int, ...]
    drop: tuple[int, ...] = ()
    writable = True
    bijective = False

    @property
    def shape(self) -> tuple[int, ...]:
        return tuple(n for ax, n in enumerate(self.sizes) if ax not in self.drop)

    def read(self, a: Any) -> Any:
        # The traced axes only: windows of one row at static offsets
        # (`A[i - 1, :-2]`, `A[i - 1, 2:]`) read the same row, which XLA reads once.
        # Every start is proven non-negative: no wrap-around select per start.
        static = [isinstance(s, int) for s in self.starts]
        narrow = any(
            st and (s, z) != (0, n)
            for s, z, n, st in zip(self.starts, self.sizes, self.in_shape, static)
        )
        starts = [0 if st else s for s, st in zip(self.starts, static)]
        sizes = [n if st else z for n, z, st in zip(self.in_shape, self.sizes, static)]
        sub = lax.dynamic_slice(a, starts, sizes, allow_negative_indices=False)
        if narrow:
            lo = [s if st else 0 for s, st in zip(self.starts, static)]
            sub = lax.slice(sub, lo, [b + z for b, z in zip(lo, self.sizes)])
        return lax.reshape(sub, self.shape) if self.drop else sub

    def write(self, a: Any, sub: Any) -> Any:
        sub = lax.reshape(sub, self.sizes) if self.drop else sub
        return lax.dynamic_update_slice(a, sub, self.starts, allow_negative_indices=False)

    def strides(self, strides: tuple[int, ...]) -> tuple[int, ...]:
        return tuple(s for ax, s in enumerate(strides) if ax not in self.drop)

    @property
    def key(self) -> tuple[Any, ...]:
        starts = tuple(s if isinstance(s, int) else ("traced", id(s)) for s in self.starts)
        return ("window", starts, self.sizes, self.drop)


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

    Only an index of ints, slices, ``None`` and one ``...`` qualifies, with
    at least one slice. Each ``i:i + c`` slice with a traced start proven in
    bounds, and each traced integer proven in bounds, makes it a window; the
    static ints and unit-step static slices beside them then narrow the
    window too (``p[1:n - 1, j - 1]`` is one ``dynamic_slice`` of exactly
    ``n - 2`` elements, not a slice of every row and then a dynamic slice).
    In ``rest`` a windowed slice becomes ``:`` and a windowed integer is
    left out (the window drops its axis).
    """
    entries = raw if isinstance(raw, tuple) else (raw,)
    real = [e for e in entries if e is not None and e is not Ellipsis]
    if len(real) > len(shape) or sum(e is Ellipsis for e in entries) > 1 or not table:
        return None
    if not any(isinstance(e, slice) for e in real) and len(real) == len(shape):
        return None  # one element: the scalar paths read and write it
    starts: list[Any] = [0] * len(shape)
    sizes = list(shape)
    rest: list[Any] = list(entries)  # `None` and `...` stay: the window has x's axes
    drop: list[int] = []
    found = False
    k = -1  # the axis entry `e` indexes
    for pos, e in enumerate(entries):
        if e is None:
            continue
        k += len(shape) - len(real) if e is Ellipsis else 1
        if e is Ellipsis:
            continue
        kind = _kind(e)
        if kind is None:
            return None
        w = _window(e, shape[k], table) if kind == "slice" else _point(e, shape[k], table)
        if w is not None:
            starts[k], sizes[k] = w
            if kind == "int":
                drop.append(k)
                rest[pos] = _DROPPED
            else:
                rest[pos] = slice(None)
            found = found or not isinstance(w[0], int)
    if not found:
        return None
    kept = tuple(e for e in rest if e is not _DROPPED)
    return WindowOp(tuple(starts), tuple(shape), tuple(sizes), tuple(drop)), kept


_DROPPED = object()  # an entry of `rest` the window has taken, axis and all


def _kind(e: Any) -> str | None:
    """``"slice"`` or ``"int"`` for an entry a window may hold, None for any other."""
    if isinstance(e, slice):
        return "slice"
    if isinstance(e, (bool, np.bool_)):
        return None  # a boolean index adds an axis
    if isinstance(e, (int, np.integer)):
        return "int"
    # A 0-d array that is not traced makes NumPy's result a copy, not a view;
    # an array index of more dimensions is advanced indexing.
    return "int" if _traced_int(e) else None


def _traced_int(x: Any) -> bool:
    return (
        isinstance(x, _compat.Tracer)
        and x.shape == ()
        and np.issubdtype(np.dtype(x.dtype), np.integer)
    )


def _point(e: Any, n: int, table: dict[int, tuple[Any, int, int]]) -> tuple[Any, int] | None:
    """``(start, 1)`` for an integer proven in ``[0, n)``, else None."""
    v = _ranges.static(e)
    if v is not None:
        v = int(v)
        return (v, 1) if 0 <= v < n else None  # out of bounds: NumPy's error, later
    span = _ranges.interval(e, table)
    if span is None or span[0] < 0 or span[1] >= n:
        return None  # may wrap (negative) or be out of bounds: checked in full
    return e, 1


def _window(s: slice, n: int, table: dict[int, tuple[Any, int, int]]) -> tuple[Any, int] | None:
    """``(start, width)`` for ``i:i + c`` in bounds or a unit-step static slice."""
    raw = (s.start, s.stop, s.step)
    if any(
        b is not None and not isinstance(b, (int, np.integer)) and not _traced_int(b) for b in raw
    ):
        return None  # NumPy's checks and errors for the bounds: the general path
    bounds = [None if b is None else _ranges.static(b) for b in raw]
    if all(b is not None or r is None for b, r in zip(bounds, raw)):
        start, stop, step = slice(*(None if b is None else int(b) for b in bounds)).indices(n)
        if step != 1:
            return None  # a strided slice stays in `rest`, over the whole axis
        return start, max(stop - start, 0)
    if s.step is not None and bounds[2] != 1:
        return None
    if s.start is None or s.stop is None or bounds[0] is not None:
        return None
    width = offset(s.stop, s.start, table)
    span = _ranges.interval(s.start, table)
    if width is None or width <= 0 or span is None:
        return None
    if span[0] < 0 or span[1] + width > n:
        return None  # may be clipped (or wrap) at an end: a run-time length
    return s.start, width
