"""Trace state: the scope of one ``mutable`` call and the cells it owns.

A *cell* holds the current value of one base array (a value of the parent
trace). Mutable arrays (tracers) point at a cell, possibly through a view
chain. Writes replace ``cell.value``; ``version`` lets tracers cache reads.
When the ``mutable`` call returns, its scope is closed and every cell of it
refuses further use.

A control-flow body (:mod:`mutjax._control`) runs under a *frame*: a child
scope for the arrays it creates, and a new trace pushed on the root scope's
stack. Every mutable array of the scope routes its reads and writes through
the trace on top of that stack (``Scope.active``), so an array created
outside a loop is read and written as a value of the loop body while the body
is traced.
"""

from __future__ import annotations

from typing import Any


class Scope:
    """The state of one ``mutable`` call (or one control-flow body): open while it runs."""

    __slots__ = ("closed", "trace", "root", "stack", "recorders", "__weakref__")

    def __init__(self, parent: Scope | None = None) -> None:
        self.closed = False
        self.trace: Any = None
        self.root: Scope = self if parent is None else parent.root
        # On the root only: the traces of the frames entered, innermost last,
        # and for each a dict recording the first write of each cell (or None).
        self.stack: list[Any] = []
        self.recorders: list[dict[Cell, Any] | None] = []

    @property
    def active(self) -> Any:
        """The trace through which this scope's arrays are read and written now."""
        root = self.root
        return root.stack[-1] if root.stack else root.trace

    def close(self) -> None:
        self.closed = True


class Cell:
    """Storage of one base array: its current value in the parent trace."""

    __slots__ = (
        "_value", "pending", "pending_trace", "scope", "version", "aval", "elements",
        "__weakref__",
    )  # fmt: skip

    def __init__(self, value: Any, scope: Scope, aval: Any) -> None:
        # Writes of one element at a traced index wait in ``pending`` (see
        # ``write_element``); ``value`` applies them before anyone sees it.
        self.pending: list[tuple[Any, Any]] | None = None
        self.pending_trace: Any = None
        self.value = value
        self.scope = scope
        self.aval = aval
        self.version = 0
        # Known elements of ``value``: (value, trace, {static index: scalar}).
        # See ``element`` and ``know``.
        self.elements: tuple[Any, Any, dict[tuple[int, ...], Any]] | None = None

    def element(self, key: tuple[int, ...], trace: Any) -> Any:
        """The scalar at static ``key`` of the current value, if already known in ``trace``.

        Unrolled scalar code reads each element several times between writes
        (a stencil reads five neighbours per update). A known element costs no
        new operation: it is the value last read there, or the value last
        written there by a static scalar write. The record belongs to one
        value object and one trace, so any other write (which replaces the
        value) or a read under another trace (a loop body) starts afresh.
        """
        known = self.elements
        if known is None or known[0] is not self.value or known[1] is not trace:
            return None
        return known[2].get(key)

    def know(self, key: tuple[int, ...], trace: Any, scalar: Any, old: Any = None) -> None:
        """Record ``scalar`` as the element at ``key`` of the current value in ``trace``.

        ``old``: after a static scalar write, the value the write replaced.
        Elements known of ``old`` stay known (the record moves to the new
        value: ``old`` is never current again), except the one written.
        """
        known = self.elements
        base = self.value if old is None else old
        if known is not None and known[0] is base and known[1] is trace:
            table = known[2]
        else:
            table = {}
        table[key] = scalar
        self.elements = (self.value, trace, table)

    @property
    def value(self) -> Any:
        """The current array, a value of the parent trace, with every pending write applied."""
        if self.pending:
            self._apply_pending()
        return self._value

    @value.setter
    def value(self, value: Any) -> None:
        self.pending = None
        self._value = value

    def _record(self) -> None:
        recorders = self.scope.root.recorders
        if recorders and recorders[-1] is not None and self not in recorders[-1]:
            recorders[-1][self] = self.value

    def set(self, value: Any) -> None:
        self._record()
        self.value = value
        self.version += 1

    # -- writes of one element at a traced index ---------------------------------------
    #
    # NumPy kernels often write one element several times per loop iteration
    # and read its neighbours in between (`t[i, j] = max(t[i, j], t[i + 1, j])`
    # four times per cell in Nussinov). Applied one by one, each write is an
    # update that XLA's CPU backend fuses into the later reads of the array,
    # and it then keeps a copy of the whole array per write. Waiting instead:
    # a later write of the same element replaces the waiting one, a read of
    # one element reads the array as it was and selects any waiting value
    # written to the same position, and everything else sees ``value`` with
    # the writes applied, in order. The compiled loop then has one update per
    # element per iteration, as a hand-written accumulator would.

    MAX_PENDING = 8

    def write_element(self, ix: Any, v: Any, trace: Any) -> None:
        """``value[ix] = v`` for one element ``ix`` (an Index) with a traced integer, deferred."""
        if self.pending and (
            self.pending_trace is not trace or len(self.pending) >= self.MAX_PENDING
        ):
            self._apply_pending()
        self._record()
        pending = self.pending or []
        pending = [(w, x) for w, x in pending if not _same_position(w, ix)]
        pending.append((ix, v))
        self.pending = pending
        self.pending_trace = trace
        self.version += 1

    def _apply_pending(self) -> None:
        from . import _compat, _lower

        pending, self.pending = self.pending, None
        value = self._value
        with _compat.set_current_trace(self.pending_trace):
            for ix, v in pending or ():
                value = _lower.write(value, ix, v)
        self._value = value

    def swap(self, value: Any) -> None:
        """Replace the value without it counting as a write (entering or leaving a frame)."""
        self.value = value
        self.version += 1


def _same_position(a: Any, b: Any) -> bool:
    """True when two one-element indices are the same integers or the same traced values."""
    return all(
        x.value is y.value or (type(x.value) is int and type(y.value) is int and x.value == y.value)
        for x, y in zip(a.entries, b.entries)
    )
