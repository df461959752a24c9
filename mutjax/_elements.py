"""One element at a time: writes that wait, and elements already known.

NumPy kernels often write one element several times per loop iteration and
read its neighbours in between (``t[i, j] = max(t[i, j], t[i + 1, j])`` four
times per cell in Nussinov). Applied one by one, each write is an update that
XLA's CPU backend fuses into the later reads of the array, and it then keeps
a copy of the whole array per write. So inside a traced loop or branch body
a write of one element at a traced position waits (``write``): a later write of the same
position replaces it (``mutjax._duplicates.same_position``), a read of one
element reads the array as it was and selects any waiting value written to
the same position (``read``), and everything else sees the cell's value
with the writes applied, in order (``Pending``). The compiled loop then
has one update per element per iteration, as a hand-written accumulator
would.

Unrolled scalar code at static positions is served by the cell's known
elements instead (``mutjax._scope.Cell.element``): ``known`` answers a read,
``forward`` records a written element. Forwarding each written element into
the next read turns ``x[i] = f(x[i - 1])`` into one serial chain of scalar
operations, which XLA fuses into one expression that compiles slower the
deeper it is (60 updates: 2.2x the compile time of ``.at[]``, which reads
each element back from the array). So a written element is forwarded only
while the chain of forwarded elements that led to it is at most
``MAX_CHAIN`` deep; a deeper one is read back from the array, which starts a
new chain. (Cutting the chain with ``lax.optimization_barrier`` instead
compiles as slowly as not cutting it.)

Outside such bodies a read of one element waits too (``Unread``): the
copy ``t = x[i]`` is made only when something reads it. Python runs
``x[i] += v`` as ``t = x[i]; t += v; x[i] = t``, and when nothing else read
``t`` in between, the three become the one combining scatter that
``x.at[i].add(v)`` is (``mutjax._lower.combine``).
"""

from __future__ import annotations

import threading
import weakref
from typing import Any

import jax.numpy as jnp
import numpy as np
from jax import lax

from . import _compat, _duplicates, _lower
from ._index import Index
from ._scope import Cell

MAX_PENDING = 8  # waiting writes per cell; more are applied first
MAX_CHAIN = 16  # forwarded written elements in a row; a deeper one is read from the array

# The in-place operators whose `t op= v` may wait on an unread element.
_OPS: dict[str, Any] = {"add": lax.add, "sub": lax.sub, "mul": lax.mul}


class _Served(threading.local):
    """The deepest known element read in ``trace`` since its last static element write."""

    trace: Any = None  # a weak reference: a trace ended is not kept
    depth = 0

    def depth_in(self, trace: Any) -> int:
        # Another trace's reads leave no depth here: what a function traces
        # does not depend on what was traced before it.
        return self.depth if self.trace is not None and self.trace() is trace else 0


_served = _Served()


def known(cell: Cell, key: tuple[int, ...], trace: Any) -> Any:
    """``cell.element(key, trace)``, noting the depth of the chain it continues."""
    found = cell.known_element(key, trace)
    if found is None:
        return None
    v, depth = found
    if depth:
        _served.depth = max(_served.depth_in(trace), depth)
        _served.trace = weakref.ref(trace)
    return v


def forward(cell: Cell, key: tuple[int, ...], trace: Any, value: Any, old: Any) -> None:
    """After ``cell``'s element ``key`` became ``value``: record it known, unless too deep.

    Its chain depth is one more than the deepest known element read since
    the previous static write (of any array: a chain may pass through
    several). That is what the value can depend on, short of reading the
    operations traced.
    """
    depth, _served.depth = _served.depth_in(trace) + 1, 0
    cell.know(key, trace, value, old=old, depth=depth)
    if depth > MAX_CHAIN:
        cell.forget(key)  # read back from the array: a new chain


def read_known(cell: Cell, key: tuple[int, ...], trace: Any, value: Any) -> None:
    """Record ``value``, just read from the array at ``key``, as known: it starts no chain."""
    cell.know(key, trace, value)


class Unread:
    """The value of a copy of one element not read yet: ``base[ix]``, then ``op`` ``operand``.

    It stands as the copy's waiting write (``Cell.pending``, applied the
    first time anything reads the copy). ``source`` is ``(array, raw index)``
    it was read as, ``parent`` the trace ``base`` belongs to.
    """

    __slots__ = ("base", "ix", "parent", "source", "key", "op", "operand")
    trace = None  # no trace's waiting element writes (see ``write`` and ``read``)

    def __init__(self, base: Any, ix: Index, parent: Any, source: Any, key: Any) -> None:
        self.base = base
        self.ix = ix
        self.parent = parent
        self.source = source
        self.key = key  # the static position, or None
        self.op: str | None = None
        self.operand: Any = None

    def apply(self, _value: Any) -> Any:
        cell = self.source[0]._cell
        # While the array is as it was read, a static position is one of its
        # known elements: two reads of `v[t]` in one expression read it once.
        current = self.key is not None and cell.pending is None and cell._value is self.base
        v = known(cell, self.key, self.parent) if current else None
        with _compat.set_current_trace(self.parent):
            if v is None:
                v = _lower.basic_read(self.base, self.ix)
                if current:
                    read_known(cell, self.key, self.parent, v)
            return v if self.op is None else _OPS[self.op](v, self.operand)


class Pending:
    """Element writes at traced positions waiting to be applied, oldest first."""

    __slots__ = ("writes", "trace")

    def __init__(self, writes: list[tuple[Index, Any]], trace: Any) -> None:
        self.writes = writes
        self.trace = trace  # the trace the written values belong to

    def apply(self, value: Any) -> Any:
        with _compat.set_current_trace(self.trace):
            for ix, v in self.writes:
                value = _lower.write(value, ix, v)
        return value


def write(cell: Cell, ix: Index, v: Any, trace: Any) -> None:
    """``cell.value[ix] = v`` for one element ``ix`` with a traced integer, deferred."""
    waiting = cell.pending
    if waiting is not None and (waiting.trace is not trace or len(waiting.writes) >= MAX_PENDING):
        cell.value  # noqa: B018 - applies the waiting writes

    def add(waiting: Pending | None) -> Pending:
        writes = [] if waiting is None else waiting.writes
        writes = [(w, x) for w, x in writes if not _duplicates.same_position(w, ix)]
        writes.append((ix, v))
        return Pending(writes, trace)

    cell.defer(add)


def read(cell: Cell, ix: Index, trace: Any) -> Any:
    """``cell.value[ix]`` for one element, answered without applying waiting writes; or None."""
    waiting = cell.pending
    if waiting is None or waiting.trace is not trace:
        return None
    return _read_after(cell._value, ix, waiting.writes)


def _clamped(i: Any, n: int, known: tuple[int, int] | None) -> Any:
    """The position a read at traced ``i`` takes on an axis of size ``n``, as int32."""
    i = _lower.normalize_traced(i, n, known)
    lo, hi = np.zeros((), i.dtype), np.asarray(n - 1, i.dtype)
    return lax.convert_element_type(lax.clamp(lo, i, hi), np.int32)  # what astype binds


def _hit(wix: Index, ix: Index, shape: tuple[int, ...], here: list[Any]) -> Any:
    """Whether waiting write ``wix`` hit read ``ix``: True, False, or a traced bool."""
    hit: Any = True
    for ax, (ep, eq) in enumerate(zip(wix.entries, ix.entries)):
        p, q = ep.value, eq.value
        if type(p) is int and type(q) is int:
            if p != q:
                return False
            continue
        n = shape[ax]
        if type(p) is int or (ep.known is not None and -n <= ep.known[0] and ep.known[1] < n):
            ok = None  # in bounds (a loop index's interval proves it): never dropped
        else:
            ok = (p < n) if jnp.issubdtype(p.dtype, jnp.unsignedinteger) else (p >= -n) & (p < n)
        if p is q:
            c = ok
        else:
            if here[ax] is None:
                here[ax] = q if type(q) is int else _clamped(q, n, eq.known)
            # Where ``ok`` holds, ``p`` normalized is in [0, n): int32 is exact.
            pp: Any = p
            if type(p) is not int:
                pp = lax.convert_element_type(_lower.normalize_traced(p, n, ep.known), np.int32)
            c = _equal(here[ax], pp)
            if ok is not None:
                c = c & ok
        if c is not None:
            hit = c if hit is True else _and(hit, c)
    return hit


# Two int32 positions or two bools: the primitive ``==`` and ``&`` bind, without
# ``jax.numpy``'s promotion (a ``jit`` call traced per comparison).
def _equal(a: Any, b: Any) -> Any:
    return a == b if type(a) is int or type(b) is int else lax.eq(a, b)


def _and(a: Any, b: Any) -> Any:
    return lax.bitwise_and(a, b) if _bools(a, b) else a & b


def _bools(*xs: Any) -> bool:
    return all(_compat.typeof(x).dtype == np.bool_ and not _compat.typeof(x).shape for x in xs)


def _surely_hit(wix: Index, ix: Index, shape: tuple[int, ...]) -> bool:
    """True where ``_hit`` answers True: the same position on every axis, in bounds."""
    for n, ep, eq in zip(shape, wix.entries, ix.entries):
        p, q = ep.value, eq.value
        if type(p) is int and type(q) is int:
            if p != q:
                return False
        elif p is not q or not (ep.known is not None and -n <= ep.known[0] and ep.known[1] < n):
            return False
    return True


def _read_after(a: Any, ix: Index, pending: list[tuple[Index, Any]]) -> Any:
    """``a[ix]`` for one element ``ix``, after the waiting element writes ``pending``.

    Reads ``a`` as it is (clamping a traced index, as every read does), then
    takes the value of each pending write, in order, that hit the same
    position: statically where the integers decide it, else with a select.
    A pending write out of bounds was dropped and never hits.
    """
    shape = tuple(a.shape)
    # After the last write that surely hit, neither ``a`` nor earlier writes
    # matter: the value starts from it, and ``a`` is not read (a read traced
    # for nothing, twice per loop body).
    first = 0
    for k in range(len(pending) - 1, -1, -1):
        if _surely_hit(pending[k][0], ix, shape):
            first, v = k + 1, pending[k][1]
            break
    else:
        v = _lower.basic_read(a, ix)
    here: list[Any] = [None] * len(shape)  # the read's positions, clamped, when needed
    for wix, w in pending[first:]:
        hit = _hit(wix, ix, shape, here)
        if hit is False:
            continue
        v = w if hit is True else lax.select(hit, w, v)
    return v
