"""Names that a traced condition binds to one of several arrays: writes reach the chosen one.

Under NumPy, after

    x = a
    if c > 0:
        x = x * 2
    x[0] = 9.0

``x`` *is* ``a`` when ``c <= 0``, so the write lands in ``a``. With ``c``
traced, trace time cannot tell which array ``x`` is. The merged name gets a
new mutable array holding the selected contents, *linked* to each array it
may be under the condition that chooses it (:class:`mutjax._scope.Link`):

- a write through the name is mirrored into each linked array where its
  condition holds (``a = where(c <= 0, x, a)``, through ``a``'s view if the
  branch held one);
- a write into a linked array is mirrored into the name's array the same
  way, so later reads of the name see it.

Links are transitive (a name chosen from names that are themselves chosen)
and live as long as the scope that made the merged array (a loop body's
links die with the body). What compiled loops and ``cond`` branches cannot
carry is a name whose array is linked outside of them (its condition is a
value of the body): :func:`aliased` finds it, and the loops refuse it
(a loop of static length runs as Python instead).
"""

from __future__ import annotations

from typing import Any

import jax.numpy as jnp
import numpy as np

from .. import _compat, _errors
from .._scope import Cell, Link
from .._trace import MutArray, current_mut_trace


class ChoiceError(_errors.MutjaxError):
    """A name chosen at run time among arrays that writes cannot all reach."""


def _older(v: Any, mark: int) -> bool:
    """True when ``v`` is itself a mutable array of the scope made before ``mark``."""
    cell = getattr(v, "_cell", None) if isinstance(v, MutArray) else None
    return cell is not None and cell.serial < mark and not cell.scope.closed


def aliased(v: Any, mark: int) -> bool:
    """True when ``v`` is, or may be at run time, an array made before ``mark``."""
    if not isinstance(v, MutArray) or v._scalar:  # a NumPy scalar is never written
        return False
    if _older(v, mark):
        return True
    seen = {v._cell}
    todo = [v._cell]
    while todo:
        cell = todo.pop()
        for link in cell.links:
            other = link.target()
            if other is None or other in seen:
                continue
            if other.serial < mark:
                return True
            seen.add(other)
            todo.append(other)
    return False


def view_key(v: MutArray) -> Any:
    """What names ``v`` among the arrays of its scope: its cell's serial and its view."""
    return (v._cell.serial, None if v._view is None else v._view.key)


def targets(v: Any, mark: int) -> dict[Any, tuple[MutArray, Any]]:
    """The arrays made before ``mark`` that ``v`` may be: key -> (array, condition).

    ``v`` is the array where the condition holds (a parent-trace bool, or
    True). Empty for a value that is none of them.

    Raises:
        ChoiceError: ``v`` may be a view of a new array that is itself
            chosen (a case the links do not describe).
    """
    out: dict[Any, tuple[MutArray, Any]] = {}
    if not isinstance(v, MutArray):
        return out
    if _older(v, mark):
        return {view_key(v): (v, True)}

    def visit(cell: Cell, pred: Any, path: frozenset[Cell]) -> None:
        # Every chain of links from `v`, through new arrays, to an older one.
        for link in cell.links:
            other = link.target()
            if other is None or other in path:
                continue
            p = link.pred if pred is True else jnp.logical_and(pred, link.pred)
            if other.serial < mark and link.outward:
                target = other.scope.active.view(other, link.view, _aval(other, link.view))
                k = view_key(target)
                old = out.get(k)
                out[k] = (target, p if old is None else jnp.logical_or(old[1], p))
            elif other.serial < mark or link.view is not None:
                raise ChoiceError(
                    "mutjax: a name is chosen at run time among views of arrays that "
                    "are themselves chosen at run time; copy explicitly (`x = x.copy()`)."
                )
            else:
                visit(other, p, path | {other})

    with _compat.set_current_trace(v._cell.scope.active.parent_trace):
        visit(v._cell, True, frozenset((v._cell,)))
    return out


def _aval(cell: Cell, view: Any) -> Any:
    if view is None:
        return cell.aval
    with _compat.set_current_trace(cell.scope.active.parent_trace):
        return _compat.typeof(view.read(cell.value))


def _parent_value(x: Any) -> Any:
    return x._read() if isinstance(x, MutArray) else x


def _same(x: Any, y: Any) -> bool:
    """True when ``x`` and ``y`` are the same mutable array (same cell, same view)."""
    if x is y:
        return True
    if not (isinstance(x, MutArray) and isinstance(y, MutArray)) or x._cell is not y._cell:
        return False
    if x._view is None or y._view is None:
        return x._view is None and y._view is None
    return bool(x._view.key == y._view.key)


def _link(cell: Cell, target: MutArray, pred: Any) -> None:
    """Link ``cell`` (a new base) both ways to ``target`` (which it is where ``pred``)."""
    other = target._cell
    view = target._view

    def both(acc: Any) -> Any:
        return pred if acc is None else jnp.logical_and(acc, pred)

    def into_target(src: Any, dst: Any, acc: Any) -> tuple[Any, Any]:
        with _compat.set_current_trace(other.scope.active.parent_trace):
            p = both(acc)
            if view is None:
                return jnp.where(p, src, dst), p
            return view.write(dst, jnp.where(p, src, view.read(dst))), p

    def into_cell(src: Any, dst: Any, acc: Any) -> tuple[Any, Any]:
        with _compat.set_current_trace(other.scope.active.parent_trace):
            p = both(acc)
            return jnp.where(p, src if view is None else view.read(src), dst), p

    cell.links.append(Link(other, into_target, True, view, pred))
    other.links.append(Link(cell, into_cell, False, view, pred))


def linked(value: Any, choices: list[tuple[MutArray, Any]]) -> MutArray:
    """A new array holding ``value`` that is each array of ``choices`` where its condition holds.

    ``value`` and the conditions are parent-trace values; ``value`` must
    already equal each array where its condition holds.
    """
    trace = current_mut_trace()
    assert trace is not None  # converted code runs inside a mutable scope
    merged = trace.new(value)
    with _compat.set_current_trace(trace.parent_trace):
        for target, pred in choices:
            _link(merged._cell, target, jnp.asarray(pred, bool))
    return merged


def choose(pred: Any, x: Any, y: Any, mark: int, name: str) -> Any:
    """The value of a name that is ``x`` where ``pred`` holds, else ``y``.

    Returns None when neither is (nor may be) an array made before ``mark``:
    then a select is the whole story. When both are the same array, it is
    that array. Else a new array linked to each of them (see the module doc).

    Raises:
        ChoiceError: the candidates differ in shape or dtype (which array a
            write would cast to is chosen at run time).
    """
    refs = [(v, truth) for v, truth in ((x, True), (y, False)) if aliased(v, mark)]
    if not refs:
        return None
    if _same(x, y):
        return x
    trace = current_mut_trace()
    assert trace is not None  # an aliased value is a mutable array of an open scope
    avals = {(tuple(np.shape(v)), np.dtype(v.dtype)) for v in (x, y) if hasattr(v, "dtype")}
    if len(avals) == 1:
        with _compat.set_current_trace(trace.parent_trace):
            p = jnp.asarray(_parent_value(pred)).astype(bool)
            value = jnp.where(p, _parent_value(x), _parent_value(y))
            q = jnp.logical_not(p)
    if len(avals) > 1 or (np.shape(value), np.dtype(value.dtype)) not in avals:
        raise ChoiceError(
            f"mutjax: after an `if` on a traced value, `{name}` is one array in one "
            "branch and an array of another shape or dtype in the other, and writes "
            f"through `{name}` would depend on which. Give both branches the same "
            f"shape and dtype, or copy explicitly (`{name} = {name}.copy()`)."
        )
    return linked(value, [(v, p if truth else q) for v, truth in refs])
