"""Trace state: the scope of one ``mutable`` call and the cells it owns.

A *cell* holds the current value of one base array (a value of the parent
trace). Mutable arrays (tracers) point at a cell, possibly through a view
chain. Writes replace ``cell.value``; ``version`` lets tracers cache reads.
When the ``mutable`` call returns, its scope is closed and every cell of it
refuses further use.
"""

from __future__ import annotations

from typing import Any


class Scope:
    """The state of one ``mutable`` call: open while the call runs."""

    __slots__ = ("closed", "trace", "__weakref__")

    def __init__(self) -> None:
        self.closed = False
        self.trace: Any = None

    def close(self) -> None:
        self.closed = True


class Cell:
    """Storage of one base array: its current value in the parent trace."""

    __slots__ = ("value", "scope", "version", "aval", "__weakref__")

    def __init__(self, value: Any, scope: Scope, aval: Any) -> None:
        self.value = value
        self.scope = scope
        self.aval = aval
        self.version = 0

    def set(self, value: Any) -> None:
        self.value = value
        self.version += 1
