"""The write and read pipeline: ``x[idx] = v`` and ``x[idx]`` as one straight line.

Every writer (``__setitem__``, the in-place operators, the in-place methods,
NumPy's in-place API, masked writes, converted loops) ends in ``write``
or ``store``, and every indexed read in ``read``. Each takes a
*target*: a mutable array (anything with ``_cell``, ``_view``, ``_aval`` and
``_trace``, see ``mutjax._scope.Handle``); this module never needs the
interpreter's class. The steps of a write, each done once:

1. unwrap the index and the value to values of the parent trace (the right
   side is read before anything is written: ``x[1:] = x[:-1]``);
2. analyze the index (``mutjax._index``), with what is known of its traced
   integers (``mutjax._ranges``);
3. prepare the value: NumPy's broadcasting and casting (``mutjax._values``);
4. choose the lowering: a value of run-time length or a traced slice
   (``mutjax._masked``), one element (``mutjax._elements``), through a
   view chain (``mutjax._views``) or straight on the base (``mutjax._lower``);
5. update the cell (``mutjax._scope``).

The switch to the parent trace, where all the ``lax`` work is bound, is made
here and nowhere else on this path.
"""

from __future__ import annotations

from typing import Any

import jax.numpy as jnp
import numpy as np

from . import (
    _compat,
    _elements,
    _errors,
    _index,
    _lower,
    _masked,
    _ranges,
    _sharding,
    _values,
    _views,
    _windows,
)
from ._scope import Handle


def _ours(x: Any, tag: Any) -> bool:
    return isinstance(x, Handle) and x._trace.tag is tag  # type: ignore[attr-defined]


def unwrap(x: Any, tag: Any) -> Any:
    """``x``'s current value if it is a mutable array of the trace tagged ``tag``, else ``x``."""
    return x._read() if _ours(x, tag) else x


def copy_in(handle: Any, given: Any) -> Any:
    """``handle``, a new mutable array holding ``jnp.asarray(given)``, told what it lost.

    With x64 off, JAX narrows a NumPy int64 / uint64 input to 32 bits, so
    ``2**32 + 1`` becomes 1. NumPy would refuse that value as an index, and
    it is known now: while the array is unchanged, an index reads the exact
    NumPy value instead (see :func:`unwrap_index`).
    """
    if not isinstance(given, (np.ndarray, np.generic)):
        return handle  # a JAX value was narrowed (or not) before it reached us
    arr = np.asarray(given)
    cell = handle._cell
    dt = np.dtype(cell.aval.dtype)
    if arr.dtype.kind in "iu" and arr.dtype != dt and arr.size:
        info = np.iinfo(dt)
        if arr.min() < info.min or arr.max() > info.max:
            cell.exact = (cell.value, arr)
    return handle


def _index_value(x: Any, tag: Any) -> Any:
    """A mutable array inside an index: its exact NumPy input while unchanged, else its value."""
    if not _ours(x, tag):
        return x
    exact = x._cell.exact
    if x._view is None and exact is not None and exact[0] is x._cell.value:
        return exact[1]
    return x._read()


def unwrap_index(idx: Any, tag: Any) -> Any:
    """Replace mutable arrays inside an index by their current values."""
    if isinstance(idx, Handle):
        return _index_value(idx, tag)
    if isinstance(idx, tuple):
        # A tuple subclass (a namedtuple) is a tuple of entries, as in NumPy;
        # from here on it is a plain tuple.
        return tuple(unwrap_index(i, tag) for i in idx)
    if isinstance(idx, slice):
        return slice(*(unwrap_index(p, tag) for p in (idx.start, idx.stop, idx.step)))
    if isinstance(idx, list) and any(isinstance(i, (Handle, list)) for i in idx):
        return [unwrap_index(i, tag) for i in idx]
    return idx


def _holds_handle(seq: list | tuple) -> bool:
    return any(
        isinstance(v, Handle) or (type(v) in (list, tuple) and _holds_handle(v)) for v in seq
    )


def unwrap_value(value: Any, trace: Any) -> Any:
    """The right side of an assignment as parent-trace values (lists of arrays become one)."""
    tag = trace.tag
    if isinstance(value, _masked.MaskedArray):
        axes = tuple(
            None
            if a is None
            else _masked.Axis(
                a.kind,
                unwrap_value(a.valid, trace),
                unwrap_value(a.length, trace),
                unwrap_value(a.key, trace) if a.kind == "place" else a.key,
            )
            for a in value.axes
        )
        data = unwrap_value(value.data, trace)
        return _masked.MaskedArray(data, axes, value.origin, clean=value.clean)
    if isinstance(value, Handle):
        return unwrap(value, tag)
    if type(value) in (list, tuple) and _holds_handle(value):
        # Plain nested lists stay lists, so NumPy casts them (and refuses
        # what it refuses); a list holding mutable arrays becomes one array.
        items = [unwrap_value(v, trace) for v in value]
        with _compat.set_current_trace(trace.parent_trace):
            return jnp.asarray(items)
    return value


def describe(x: Any) -> str:
    return f"{x._aval.str_short()}"


def check_writable(target: Any) -> None:
    """Raise unless ``target`` may be written here and now."""
    cell = target._cell
    if cell.scope.closed:
        raise _errors.scope_ended(describe(target))
    if cell.scope.in_other_thread:
        raise _errors.other_thread(describe(target))
    if _compat.current_trace() is not target._trace:
        raise _errors.foreign_write(describe(target))
    if target._view is not None and not target._view.writable:
        raise ValueError(_views.READ_ONLY)


def _analyze(target: Any, raw: Any, for_write: bool) -> _index.Index:
    ix = _index.analyze(raw, tuple(target._aval.shape), for_write=for_write)
    return _ranges.annotate(ix, target._cell.scope.root.intervals)


def _window(target: Any, raw: Any) -> tuple[Any, Any] | None:
    """``(view, rest)`` when ``raw`` holds a window of static width (see _windows)."""
    table = target._cell.scope.root.intervals
    trace = target._trace
    with _compat.set_current_trace(trace.parent_trace):
        found = _windows.windowed(raw, tuple(target._aval.shape), table)
        if found is None:
            return None
        op, rest = found
        view = _views.view_of(target._view, op)
    return trace.view(target._cell, view, target._aval.update(shape=op.shape)), rest


def _one_element(ix: _index.Index) -> bool:
    """True for an index with an integer (static or traced) on every axis and nothing else."""
    return bool(ix.scalar and ix.is_basic)


def _element_key(ix: _index.Index) -> tuple[int, ...] | None:
    """The static position of a one-element index, else None."""
    if not _one_element(ix):
        return None
    key = tuple(e.value for e in ix.entries)
    return key if all(type(k) is int for k in key) else None


# -- reads -----------------------------------------------------------------------------


def read(target: Any, idx: Any) -> Any:
    """``target[idx]``: a live view, a value of run-time length, or a new array."""
    trace = target._trace
    raw = unwrap_index(idx, trace.tag)
    window = _window(target, raw)
    if window is not None:
        return read(*window)
    parent = trace.parent_trace
    with _compat.set_current_trace(parent):
        ix = _analyze(target, raw, for_write=False)
        if _views.gives_view(ix, raw):
            _lower.check_traced(ix)  # in the terms written, before composing
            view = _views.view_of(target._view, _views.BasicOp(ix))
            aval = _sharding.view_aval(target._cell.aval, target._aval, ix.result_shape, view.read)
            return trace.view(target._cell, view, aval, origin=(target, raw))
        cell = target._cell
        key = None
        if target._view is None and _one_element(ix):
            out = _elements.read(cell, ix, parent)
            key = _element_key(ix)
            if out is None and key is not None:
                out = cell.element(key, parent)
            if out is not None:
                return trace.new(out)
        value = target._read()
        if _masked.is_dynamic(ix):
            return _masked_read(trace, value, ix, None if ix.mask is not None else (target, raw))
        out = _lower.read(value, ix)
        if key is not None:
            cell.know(key, parent, out)
        if not ix.result_shape and not ix.scalar:
            return _array0d(trace, out)
        return trace.new(out)


def _array0d(trace: Any, value: Any) -> Any:
    """A 0-d copy that NumPy makes an array, not a scalar (``x[..., np.array(0)]``).

    A plain 0-d mutable array stands for a NumPy scalar, whose ``+=``
    rebinds; a 0-d array's ``+=`` is in place and refuses a value of shape
    (1,). So the copy is a mutable array of its own, seen through an
    identity view.
    """
    copy = trace.new(value)
    return trace.view(copy._cell, _views.view_of(None, _views.identity(())), copy._aval)


def _masked_key(trace: Any, kind: str, key: Any) -> Any:
    return trace.new(key) if kind == "place" and hasattr(key, "dtype") else key


def _masked_read(trace: Any, value: Any, ix: _index.Index, target: Any) -> _masked.MaskedArray:
    data, parts, origin = _masked.read(value, ix)
    axes = tuple(
        None
        if p is None
        # A "place" axis keeps its start, a value like the length.
        else _masked.Axis(p[0], trace.new(p[1]), trace.new(p[2]), _masked_key(trace, p[0], p[3]))
        for p in parts
    )
    return _masked.MaskedArray(trace.new(data), axes, origin, target, clean=True)


# -- writes ----------------------------------------------------------------------------


def _same_target(a: Any, b: Any) -> bool:
    if a is b:
        return True
    if a._cell is not b._cell or (a._view is None) != (b._view is None):
        return False
    return a._view is None or a._view.key == b._view.key


def _written_already(target: Any, raw: Any, value: Any) -> bool:
    """True for ``x[s] op= v``: the in-place operator already wrote through ``x[s]``.

    Python runs it as ``t = x[s]; t op= v; x[s] = t``; ``t`` remembers the
    array and index it was read with, so the assignment back is recognised
    before any analysis.
    """
    if isinstance(value, _masked.MaskedArray):
        return (
            value.target is not None
            and _same_target(value.target[0], target)
            and _masked.same_index(value.target[1], raw)
        )
    origin = getattr(value, "_origin", None) if isinstance(value, Handle) else None
    return origin is not None and origin[0] is target and _masked.same_index(origin[1], raw)


def write(target: Any, idx: Any, value: Any) -> None:
    """``target[idx] = value``, with NumPy's semantics."""
    check_writable(target)
    trace = target._trace
    raw = unwrap_index(idx, trace.tag)
    window = _window(target, raw)
    if window is not None:
        return write(*window, value)
    if _written_already(target, raw, value):
        return
    same_cell_view = (
        isinstance(value, Handle) and value._cell is target._cell and value._view is not None  # type: ignore[attr-defined]
    )
    view_key = value._view.key if same_cell_view else None  # type: ignore[attr-defined]
    value = unwrap_value(value, trace)  # the right side first: `x[1:] = x[:-1]`
    with _compat.set_current_trace(trace.parent_trace):
        ix = _analyze(target, raw, for_write=True)
        if view_key is not None and _views.is_view_index(ix):
            if _views.view_of(target._view, _views.BasicOp(ix)).key == view_key:
                return  # a view of exactly these elements assigned to itself
        if _masked.is_dynamic(ix) or isinstance(value, _masked.MaskedArray):
            _masked_write(target, ix, value)
        else:
            _write(target, ix, value, trace.parent_trace)


def _masked_write(target: Any, ix: _index.Index, value: Any) -> None:
    # A traced slice bound or mask, or a value of run-time length.
    if not _masked.is_dynamic(ix):
        raise _masked.dynamic_shape_error(
            "assigning it into an index of static shape", value.origin
        )
    cell = target._cell
    view = target._view
    seen = None if view is None else target._read()
    dtype = target._aval.dtype
    cell.set(_sharding.keep(cell.aval, _masked_base, cell.value, seen, ix, value, view, dtype))


def _masked_base(base: Any, seen: Any, ix: _index.Index, value: Any, view: Any, dtype: Any) -> Any:
    """``base`` with ``view[ix] = value`` for a dynamic index (``seen``: the view's read)."""
    if view is None:
        return _masked.write(base, ix, value, dtype)
    return view.write(base, _masked.write(seen, ix, value, dtype))


def _prepare(value: Any, ix: _index.Index, dtype: Any) -> Any:
    if ix.mask is not None:
        return value
    return _values.prepare_value(
        value, ix.result_shape, dtype, ix.scalar, basic=ix.is_basic, mask_count=ix.mask_count
    )


def _write(target: Any, ix: _index.Index, value: Any, parent: Any) -> None:
    cell = target._cell
    aval = target._aval
    view = target._view
    seen = target._read() if view is not None and not _views.is_view_index(ix) else None
    if _sharding.explicit(cell.aval):
        # The value is prepared on the automatic mesh too (see _sharding.keep).
        args = (cell.value, seen, ix, value, view, aval.dtype)
        cell.set(_sharding.keep(cell.aval, _prepared_write, *args))
        return
    value = _prepare(value, ix, aval.dtype)
    # One element of a base array, with a value of exactly its type: a traced
    # position waits (mutjax._elements) in a body staged inside another
    # program (a loop or branch body), where waiting saves XLA's copies of
    # the carried array; a static one becomes a known element. Straight-line
    # code at the top of a jit does not wait: there every later read of a
    # waiting element is a select chain, which multiplied the program (60
    # `c[b[i]] += w[i]`: 3,638 equations and 23 s to compile waiting, 1,020
    # and 0.9 s not; `.at[]`: 600 and 1.4 s).
    element = (
        view is None
        and _one_element(ix)
        and _compat.typeof(value) == aval.update(shape=(), weak_type=False)
    )
    key = _element_key(ix) if element else None
    if element and key is None and _compat.in_staged_body(parent):
        # checkify sees the index now: a waiting write whose array is never
        # read whole again is never applied.
        _lower.check_traced(ix)
        _elements.write(cell, ix, value, parent)
        return
    old = cell.value  # the known elements of `old` carry over
    new = _write_base(old, seen, ix, value, view)
    cell.set(_sharding.replace_whole(cell.aval, old, new) if new is value else new)
    if key is not None:
        cell.know(key, parent, value, old=old)


def _prepared_write(
    base: Any, seen: Any, ix: _index.Index, value: Any, view: Any, dtype: Any
) -> Any:
    return _write_base(base, seen, ix, _prepare(value, ix, dtype), view)


def _write_base(base: Any, seen: Any, ix: _index.Index, value: Any, view: Any) -> Any:
    """``base`` with ``view[ix] = value`` (``view`` None: the base itself; ``seen``: its read)."""
    if view is None:
        return _lower.write(base, ix, value)
    if _views.is_view_index(ix):
        _lower.check_traced(ix)  # in the view's terms, before composing
        return _views.view_of(view, _views.BasicOp(ix)).write(base, value)
    return view.write(base, _lower.write(seen, ix, value))


def store(target: Any, value: Any) -> None:
    """Replace ``target``'s whole contents by ``value`` (its shape and dtype, parent trace)."""
    cell = target._cell
    with _compat.set_current_trace(target._trace.parent_trace):
        if target._view is None:
            value = _sharding.replace_whole(cell.aval, cell.value, value)
        cell.set(_sharding.keep(cell.aval, _store_base, cell.value, value, target._view))


def _store_base(base: Any, value: Any, view: Any) -> Any:
    return value if view is None else view.write(base, value)
