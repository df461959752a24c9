"""Trace state: every fact a ``mutable`` call keeps while it traces, and nothing else.

A *scope* is the state of one ``mutable`` call. It owns the *cells* of its
arrays: a cell holds the current value of one base array (a value of the
parent trace). Mutable arrays point at a cell, possibly through a view chain.
Writes replace ``cell.value``; ``version`` lets arrays cache reads; a cell
*linked* to others (a name a traced condition chose among arrays, see
``Link``) mirrors each write into them. When the
``mutable`` call returns, its scope is closed and every cell of it refuses
further use.

A control-flow body (``mutjax._control``) runs under a *frame*: a child
scope for the arrays it creates, and a new trace pushed on the root scope's
stack (``Scope.push``). Every mutable array of the scope routes its reads
and writes through the trace on top of that stack (``Scope.active``), so an
array created outside a loop is read and written as a value of the loop body
while the body is traced.

The root scope also keeps what is known about traced integers of its trace
(``intervals``: loop indices lie in static ranges, see ``mutjax._ranges``);
they die with the scope, so nothing a trace learned outlives it. Per-thread
facts (how many scopes this thread has open, whether converted code runs
under differentiation, the conditions of the converted ``if`` statements
being traced) live in ``local``.
"""

from __future__ import annotations

import threading
import weakref
from typing import Any

from . import _errors, _ranges

# The most link hops one write may walk (see Cell._mirror).
MAX_LINK_PATHS = 256


class _Local(threading.local):
    """What one thread is doing: open scopes, converted calls under differentiation."""

    def __init__(self) -> None:
        self.depth = 0  # mutable scopes open in this thread
        self.differentiating: list[bool] = [False]  # per converted call, innermost last
        self.predicates: list[Any] = []  # conditions of the converted `if`s being traced
        # Per compiled body of an eager converted loop, the bounds checks its
        # indices record (None: a combinator's body, which collects none).
        self.index_checks: list[list[Any] | None] = []
        # The converted loop about to start (a key naming its source loop, see
        # Scope.hints); the combinator it calls takes it, so it never reaches another.
        self.site: Any = None


local = _Local()


class Handle:
    """Marker base of the arrays that point at a cell (``mutjax.MutableArray``).

    Modules below the interpreter recognise mutable arrays by this class,
    so that none of them imports the interpreter.
    """

    __slots__ = ()


class Scope:
    """The state of one ``mutable`` call (or one control-flow body): open while it runs."""

    __slots__ = (
        "closed", "trace", "root", "stack", "recorders", "probing", "intervals", "made",
        "thread", "hints", "__weakref__",
    )  # fmt: skip

    def __init__(self, parent: Scope | None = None) -> None:
        self.closed = False
        self.trace: Any = None
        self.root: Scope = self if parent is None else parent.root
        # JAX's trace state is per thread: the scope's arrays are usable only
        # in the thread that runs the `mutable` call.
        self.thread: int = threading.get_ident() if parent is None else parent.thread
        # On the root only: the traces of the frames entered, innermost last;
        # for each a dict recording the first write of each cell (the value
        # it replaced), and whether the frame is a first pass whose writes
        # are undone.
        self.stack: list[Any] = []
        self.recorders: list[dict[Cell, Any]] = []
        self.probing: list[bool] = []
        # On the root only: id(traced int) -> (it, lo, hi), see mutjax._ranges.
        self.intervals: dict[int, tuple[Any, int, int]] = _ranges.Intervals()
        # On the root only: how many cells it has made; a cell's ``serial`` is
        # its rank, so "made after this point" (inside a loop body) is a comparison.
        self.made = 0
        # On the root only: per converted loop (its site key), the cells its
        # body wrote, in write order, when it ran once inside an enclosing
        # body's first pass; None when two such runs disagreed. The loop's own
        # traced run starts from them instead of a first pass of its own, and
        # checks that it writes exactly those (see mutjax._control).
        self.hints: dict[Any, list[Cell] | None] = {}

    @property
    def active(self) -> Any:
        """The trace through which this scope's arrays are read and written now."""
        root = self.root
        return root.stack[-1] if root.stack else root.trace

    @property
    def in_other_thread(self) -> bool:
        """True when the current thread is not the one running this scope."""
        return self.thread != threading.get_ident()

    @property
    def discovering(self) -> bool:
        """True while a first pass over a body records (and then undoes) its writes."""
        probing = self.root.probing
        return bool(probing) and probing[-1]

    def push(self, trace: Any, probe: bool) -> dict[Cell, Any]:
        """Enter a frame: ``trace`` becomes the active trace; returns its write recorder."""
        recorder: dict[Cell, Any] = {}
        self.root.stack.append(trace)
        self.root.recorders.append(recorder)
        self.root.probing.append(probe)
        return recorder

    def pop(self) -> None:
        """Leave the innermost frame."""
        self.root.probing.pop()
        self.root.recorders.pop()
        self.root.stack.pop()

    def close(self) -> None:
        self.closed = True
        if self.root is self:
            self.intervals.clear()  # they hold tracers of a finished trace
            self.hints.clear()


class Link:
    """One direction of an alias: a cell that IS ``other`` (or a view of it) under a condition.

    A name that a traced ``if`` binds to one array in one branch and to
    another (or a new value) in the other holds, at run time, one of them:
    converted code gives it a new cell and links that cell both ways to each
    array it may be. ``mirror(src_value, other_value, acc)`` is ``(new, acc2)``:
    ``other``'s value after a write of the linking cell (the written value
    where ``acc`` (None: true) and the link's condition hold, ``other``'s own
    elsewhere), and ``acc2`` the two conditions together. On the new cell's side
    (``outward``) the link also says which array it may be: ``other`` seen
    through ``view`` (None: all of it) where ``pred`` holds.
    """

    __slots__ = ("_other", "mirror", "outward", "view", "pred")

    def __init__(self, other: Cell, mirror: Any, outward: bool, view: Any, pred: Any) -> None:
        # The array side holds the new cell weakly: once no name holds the
        # new cell (nor a newer one linked to it), writes need not reach it.
        self._other: Any = (lambda: other) if outward else weakref.ref(other)
        self.mirror = mirror
        self.outward = outward
        self.view = view
        self.pred = pred

    def target(self) -> Cell | None:
        """The linked cell, or None once it died (no longer held) or its scope closed."""
        cell = self._other()
        return None if cell is None or cell.scope.closed else cell


class Cell:
    """Storage of one base array: its current value in the parent trace."""

    __slots__ = (
        "_value", "pending", "scope", "version", "aval", "elements", "serial", "exact", "links",
        "__weakref__",
    )  # fmt: skip

    def __init__(self, value: Any, scope: Scope, aval: Any) -> None:
        # Writes waiting to be applied (mutjax._elements.Pending): anything
        # with ``apply(value) -> value``; ``value`` applies them before anyone
        # sees it.
        self.pending: Any = None
        self._value: Any = value
        self.scope = scope
        self.aval = aval
        self.version = 0
        root = scope.root
        self.serial = root.made
        root.made += 1
        # Known elements of ``value``: (value, trace, {static index: (scalar,
        # chain depth)}). See ``element`` and ``know``.
        self.elements: tuple[Any, Any, dict[tuple[int, ...], tuple[Any, int]]] | None = None
        # (value, NumPy array): the exact NumPy input that ``value`` narrowed
        # (x64 off), valid while ``value`` is current. See mutjax._assign.copy_in.
        self.exact: tuple[Any, Any] | None = None
        # The cells this one may be at run time (see Link): each write here
        # is mirrored there.
        self.links: list[Link] = []

    def element(self, key: tuple[int, ...], trace: Any) -> Any:
        """The scalar at static ``key`` of the current value, if already known in ``trace``.

        Unrolled scalar code reads each element several times between writes
        (a stencil reads five neighbours per update). A known element costs no
        new operation: it is the value last read there, or the value last
        written there by a static scalar write. The record belongs to one
        value object and one trace, so any other write (which replaces the
        value) or a read under another trace (a loop body) starts afresh.
        """
        found = self.known_element(key, trace)
        return None if found is None else found[0]

    def known_element(self, key: tuple[int, ...], trace: Any) -> tuple[Any, int] | None:
        """``(scalar, chain depth)`` at static ``key``, if known in ``trace`` (see ``know``)."""
        known = self.elements
        if known is None or known[0] is not self.value or known[1] is not trace:
            return None
        return known[2].get(key)

    def know(
        self, key: tuple[int, ...], trace: Any, scalar: Any, old: Any = None, depth: int = 0
    ) -> None:
        """Record ``scalar`` as the element at ``key`` of the current value in ``trace``.

        ``old``: after a static scalar write, the value the write replaced.
        Elements known of ``old`` stay known (the record moves to the new
        value: ``old`` is never current again), except the one written.
        ``depth``: for a written element, how many forwarded written elements
        its value is computed through (``mutjax._elements.forward``); 0 for
        one read from the array.
        """
        known = self.elements
        base = self.value if old is None else old
        if known is not None and known[0] is base and known[1] is trace:
            table = known[2]
        else:
            table = {}
        table[key] = (scalar, depth)
        self.elements = (self.value, trace, table)

    def forget(self, key: tuple[int, ...]) -> None:
        """Drop the known element at ``key``: the next read reads the array."""
        if self.elements is not None:
            self.elements[2].pop(key, None)

    @property
    def value(self) -> Any:
        """The current array, a value of the parent trace, with every pending write applied."""
        if self.pending is not None:
            pending, self.pending = self.pending, None
            self._value = pending.apply(self._value)
        return self._value

    @value.setter
    def value(self, value: Any) -> None:
        self.pending = None
        self._value = value

    def _record(self) -> None:
        recorders = self.scope.root.recorders
        if recorders and self not in recorders[-1]:
            recorders[-1][self] = self.value

    def set(self, value: Any) -> None:
        self._record()
        self.value = value
        self.version += 1
        if self.links:
            self._mirror()

    def defer(self, add: Any) -> None:
        """A write that waits: the waiting writes become ``add(waiting)`` (None: none wait)."""
        self._record()  # (first: recording applies what waits)
        self.pending = add(self.pending)
        self.version += 1
        if self.links:
            self._mirror()

    def _mirror(self) -> None:
        """Carry this cell's new value to every cell it may be, along every chain of links.

        Along a chain each cell is written where the conditions of all the
        chain's links hold (there it is this very array), with the value the
        chain carries; elsewhere it keeps its own. Every chain is walked, as
        two chains may reach one cell under different conditions.
        """
        budget = [MAX_LINK_PATHS]

        def walk(cell: Cell, value: Any, acc: Any, path: frozenset[Cell]) -> None:
            cell.links = [k for k in cell.links if k.target() is not None]
            for link in cell.links:
                dst = link.target()
                if dst is None or dst in path:
                    continue
                budget[0] -= 1
                if budget[0] < 0:
                    raise _errors.MutjaxError(
                        "mutjax: a write reaches too many arrays that names chosen by "
                        "traced `if`s may be; copy explicitly (`x = x.copy()`) where a "
                        "name is re-bound in one branch only."
                    )
                dst._record()
                new, more = link.mirror(value, dst.value, acc)
                dst.value = new
                dst.version += 1
                walk(dst, new, more, path | {dst})

        walk(self, self.value, None, frozenset((self,)))

    def swap(self, value: Any) -> None:
        """Replace the value without it counting as a write (entering or leaving a frame)."""
        self.value = value
        self.version += 1
