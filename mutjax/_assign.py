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

import jax
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
from ._scope import Cell, Handle


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
                out = _elements.known(cell, key, parent)
            if out is not None:
                return trace.new(out)
            if _unread_waits(target, ix, parent):
                cell_aval = cell.aval.update(shape=(), weak_type=False)
                copy = Cell(None, trace.scope, cell_aval)
                copy.pending = _elements.Unread(cell.value, ix, parent, (target, raw), key)
                return trace.view(copy, None, cell_aval)  # (no view: a base array)
        value = target._read()
        if _masked.is_dynamic(ix):
            return _masked_read(trace, value, ix, None if ix.mask is not None else (target, raw))
        out = _lower.read(value, ix)
        if key is not None:
            _elements.read_known(cell, key, parent, out)
        if not ix.result_shape and not ix.scalar:
            return _array0d(trace, out)
        return trace.new(out)


def _in_body(target: Any, parent: Any) -> bool:
    """True when ``target`` is used in a loop or branch body that ``parent`` stages.

    A body of mutjax's combinators (its scope has a frame open) or of a
    ``jax.lax`` loop or branch that runs a ``mutable`` function. A ``jit``
    traced inside another (``make_jaxpr`` of a ``jit``, a jitted kernel
    called from a jitted step) is staged too, but it is straight-line code.
    """
    if not _compat.in_staged_body(parent):
        return False
    return bool(target._cell.scope.root.stack) or not _compat.stages_jit(parent)


def _unread_waits(target: Any, ix: _index.Index, parent: Any) -> bool:
    """Whether a read of one element of ``target``'s base may wait (``_elements.Unread``).

    Not in a loop or branch body, whose element writes wait themselves
    (``_elements.write``) and are answered by their own reads.
    """
    cell = target._cell
    return (
        cell.pending is None
        and _lower.combinable(ix)
        and not _in_body(target, parent)
        and not _sharding.explicit(cell.aval)
    )


def combine(target: Any, name: str, other: Any) -> bool:
    """``target op= other`` as one combining scatter, or waiting to become one.

    ``name`` is a key of ``mutjax._inplace.OPERATORS``. A view of a row, a
    column or an element of its base (``mutjax._lower.combinable``) is
    updated now; a copy of one element not read yet (``t = x[i]``) records
    the operation, and ``x[i] = t`` then writes it (see ``_combined``).
    True when done either way; False when it is not such a case and must be
    computed as usual: the operation has no combining scatter, it runs in a
    staged body, or ``other`` does not leave the result exactly ``target``'s
    shape and dtype (NumPy's broadcasting, casting and overflow rules then
    decide, as they do for any operand).
    """
    if name not in _lower.SCATTERS:
        return False
    if target._view is not None:
        return _combine_view(target, name, other)
    cell = target._cell
    unread = cell.pending
    if (
        type(unread) is not _elements.Unread
        or unread.op is not None
        or cell.links
        or target._trace.parent_trace is not unread.parent
    ):
        return False
    operand = _operand(other, target, ())
    if operand is None or cell.pending is not unread:
        return False  # (reading `other` read the copy itself: `t += t`)
    unread.op, unread.operand = name, operand
    cell.version += 1
    return True


def _combine_view(target: Any, name: str, other: Any) -> bool:
    view = target._view
    cell = target._cell
    parent = target._trace.parent_trace
    if (
        len(view.ops) != 1
        or type(view.ops[0]) is not _views.BasicOp
        or cell.pending is not None
        or _in_body(target, parent)
        or _sharding.explicit(cell.aval)
        or not _lower.combinable(view.ops[0].index)
    ):
        return False
    shape = tuple(target._aval.shape)
    operand = _operand(other, target, shape)
    if operand is None:
        return False
    with _compat.set_current_trace(parent):
        if tuple(np.shape(operand)) != shape:
            lib: Any = np if isinstance(operand, np.ndarray) else jnp
            operand = lib.broadcast_to(operand, shape)
        # (the index the view was read with was checked then, in its own terms)
        cell.set(_lower.combine(cell.value, view.ops[0].index, operand, name, check=False))
    return True


def _operand(other: Any, target: Any, shape: tuple[int, ...]) -> Any:
    """``other`` as a parent-trace value of ``target``'s dtype, if ``target op other`` is exactly that.

    That is: ``other`` broadcasts to ``shape`` and has ``target``'s dtype, or
    is a Python scalar that NumPy and JAX both convert to it first (an int
    in range, a float that stays finite). None otherwise.
    """
    dtype = np.dtype(target._aval.dtype)
    if dtype.kind not in "iufc":
        return None
    trace = target._trace
    if type(other) is int and dtype.kind in "iu":
        info = np.iinfo(dtype)
        return np.asarray(other, dtype) if info.min <= other <= info.max else None
    if type(other) in (int, float) and dtype.kind == "f":
        if type(other) is int and abs(other) > 2**53:
            return None
        with np.errstate(over="ignore"):
            c = np.asarray(other, dtype)
        return c if np.isfinite(c) or not np.isfinite(other) else None
    if isinstance(other, Handle):
        if not _ours(other, trace.tag):
            return None
        got: Any = other._aval  # type: ignore[attr-defined]
    elif isinstance(other, (np.ndarray, np.generic)):
        got = other
    elif isinstance(other, jax.Array) and not (
        isinstance(other, _compat.Tracer) and other._trace is not trace.parent_trace
    ):
        got = other
    else:
        return None
    if np.dtype(got.dtype) != dtype or not _broadcasts(tuple(got.shape), shape):
        return None
    return other._read() if isinstance(other, Handle) else other  # type: ignore[attr-defined]


def _broadcasts(got: tuple[int, ...], shape: tuple[int, ...]) -> bool:
    try:
        return np.broadcast_shapes(got, shape) == shape
    except ValueError:
        return False


def _combined(target: Any, raw: Any, value: Any) -> bool:
    """``x[i] = t`` for ``t = x[i]; t op= v`` with nothing written in between: one scatter.

    True when done: ``x`` gets the combining scatter of ``v``
    (``mutjax._lower.combine``); ``t`` itself still waits, and is
    read from ``x`` as it was if anything reads it later.
    """
    if not isinstance(value, Handle):
        return False
    unread = value._cell.pending  # type: ignore[attr-defined]
    if type(unread) is not _elements.Unread or unread.op is None:
        return False
    cell = target._cell
    src, src_raw = unread.source
    if (
        src is not target
        or not _masked.same_index(src_raw, raw)
        or cell.pending is not None
        or cell._value is not unread.base
        or target._trace.parent_trace is not unread.parent
    ):
        return False
    with _compat.set_current_trace(unread.parent):
        cell.set(_lower.combine(unread.base, unread.ix, unread.operand, unread.op))
    return True


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
    data, parts, origin, raw = _masked.read(value, ix)
    axes = tuple(
        None
        if p is None
        # A "place" axis keeps its start, a value like the length.
        else _masked.Axis(p[0], trace.new(p[1]), trace.new(p[2]), _masked_key(trace, p[0], p[3]))
        for p in parts
    )
    raw = None if raw is None else trace.new(raw)
    return _masked.MaskedArray(trace.new(data), axes, origin, target, clean=True, raw=raw)


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
    if _written_already(target, raw, value) or _combined(target, raw, value):
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
    # position waits (mutjax._elements) in a loop or branch body, where
    # waiting saves XLA's copies of the carried array; a static one becomes
    # a known element. Straight-line code does not wait, at the top of a jit
    # or in a jit traced inside another: there every later read of a
    # waiting element is a select chain, which multiplied the program (60
    # `c[b[i]] += w[i]`: 3,638 equations and 23 s to compile waiting, 1,020
    # and 0.9 s not; `.at[]`: 600 and 1.4 s).
    element = (
        view is None
        and _one_element(ix)
        and _compat.typeof(value) == aval.update(shape=(), weak_type=False)
    )
    key = _element_key(ix) if element else None
    if element and key is None and _in_body(target, parent):
        # checkify sees the index now: a waiting write whose array is never
        # read whole again is never applied.
        _lower.check_traced(ix)
        _elements.write(cell, ix, value, parent)
        return
    old = cell.value  # the known elements of `old` carry over
    new = _write_base(old, seen, ix, value, view)
    cell.set(_sharding.replace_whole(cell.aval, old, new) if new is value else new)
    if key is not None:
        _elements.forward(cell, key, parent, value, old)


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
