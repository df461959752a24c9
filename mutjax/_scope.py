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

    __slots__ = ("value", "scope", "version", "aval", "elements", "__weakref__")

    def __init__(self, value: Any, scope: Scope, aval: Any) -> None:
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

    def set(self, value: Any) -> None:
        recorders = self.scope.root.recorders
        if recorders and recorders[-1] is not None and self not in recorders[-1]:
            recorders[-1][self] = self.value
        self.value = value
        self.version += 1

    def swap(self, value: Any) -> None:
        """Replace the value without it counting as a write (entering or leaving a frame)."""
        self.value = value
        self.version += 1
