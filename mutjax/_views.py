"""Views: a mutable array seen through a chain of view-producing operations.

A view is a tracer bound to a base cell plus a :class:`View`: the ops that
turn the base's current value into the view's value. Reads materialize the
chain on the current base value; writes go back through the chain to one
update of the base. Consecutive basic indices are composed into a single
basic index over the base, so ``a[i][j] = v`` and ``a[1:][::2][0] = v`` lower
to one ``dynamic_update_slice`` of the base, not a chain of copies.
"""

from __future__ import annotations

import dataclasses
from typing import Any

from . import _lower
from ._index import NEW, Index, Int, Slice


@dataclasses.dataclass(frozen=True, eq=False)
class BasicOp:
    """A basic index (ints, static slices, new axes) over the previous shape."""

    index: Index

    @property
    def shape(self) -> tuple[int, ...]:
        return self.index.result_shape

    def read(self, a: Any) -> Any:
        return _lower.basic_read(a, self.index)

    def write(self, a: Any, sub: Any) -> Any:
        return _lower.basic_write(a, self.index, sub)

    @property
    def key(self) -> tuple[Any, ...]:
        return ("basic", index_key(self.index))


@dataclasses.dataclass(frozen=True, eq=False)
class View:
    """The chain of ops from a base value to a view's value (never empty)."""

    ops: tuple[Any, ...]

    @property
    def shape(self) -> tuple[int, ...]:
        return self.ops[-1].shape

    def read(self, base: Any) -> Any:
        for op in self.ops:
            base = op.read(base)
        return base

    def write(self, base: Any, value: Any) -> Any:
        """``base`` with this view's contents replaced by ``value``."""
        return _write_chain(self.ops, base, value)

    @property
    def key(self) -> tuple[Any, ...]:
        """Equal keys mean the same elements of the base, in the same layout."""
        return tuple(op.key for op in self.ops)

    def then(self, op: Any) -> View:
        """This view followed by ``op``, composing consecutive basic indices."""
        last = self.ops[-1]
        if type(last) is BasicOp and type(op) is BasicOp:
            merged = compose(last.index, op.index)
            if merged is not None:
                return View(self.ops[:-1] + (BasicOp(merged),))
        return View(self.ops + (op,))


def _write_chain(ops: tuple[Any, ...], base: Any, value: Any) -> Any:
    if len(ops) == 1:
        return ops[0].write(base, value)
    first, rest = ops[0], ops[1:]
    sub = first.read(base)
    return first.write(base, _write_chain(rest, sub, value))


def view_of(view: View | None, op: Any) -> View:
    return View((op,)) if view is None else view.then(op)


def compose(ix1: Index, ix2: Index) -> Index | None:
    """One basic index equal to applying ``ix1`` then ``ix2`` (None if it cannot be).

    Must be called with the parent trace current: composing a traced integer
    does arithmetic on it.
    """
    entries = list(ix1.entries)
    translated: list[Any] = []  # ix1's output axes, as base axes or NEW
    for j, o in enumerate(ix1.out):
        e2 = ix2.entries[j]
        if o is NEW:
            if type(e2) is Slice and e2.length != 1:
                return None  # a new axis sliced to length 0 has no base form
            translated.append(NEW if type(e2) is Slice else None)
            continue
        e1 = entries[o]
        if type(e2) is Int:
            k = e2.value
            if not isinstance(k, int):
                k = _lower._normalize_traced(k, e1.length)
            entries[o] = Int(e1.start + e1.step * k)
            translated.append(None)
        else:
            entries[o] = Slice(e1.start + e1.step * e2.start, e1.step * e2.step, e2.length)
            translated.append(o)
    out = []
    for o2 in ix2.out:
        if o2 is NEW:
            out.append(NEW)
        else:
            assert translated[o2] is not None
            out.append(translated[o2])
    return Index(
        shape=ix1.shape,
        entries=tuple(entries),
        out=tuple(out),
        adv=(),
        adv_dims=(),
        adv_shape=(),
        result_shape=ix2.result_shape,
        prepared=(),
        empty_new=ix1.empty_new or ix2.empty_new,
    )


def index_key(ix: Index) -> tuple[Any, ...]:
    """A hashable summary of a basic index; traced integers compare by identity."""
    entries = tuple(
        (e.start, e.step, e.length)
        if type(e) is Slice
        else (e.value if isinstance(e.value, int) else ("traced", id(e.value)))
        for e in ix.entries
    )
    return entries, ix.out


def is_view_index(ix: Index) -> bool:
    """Basic indices with static slices give views, as in NumPy."""
    return ix.is_basic and all(type(e) in (Int, Slice) for e in ix.entries)


__all__ = ["BasicOp", "View", "compose", "index_key", "is_view_index", "view_of"]
