"""Views: a mutable array seen through a chain of view-producing operations.

A view is a tracer bound to a base cell plus a ``View``: the ops that
turn the base's current value into the view's value. Reads materialize the
chain on the current base value; writes go back through the chain to one
update of the base.

The chain is kept in a normal form so that a write lowers to as few updates
as possible: consecutive basic indices are composed into one basic index over
the base; consecutive transposes into one transpose; and a basic index that
follows a transpose is moved in front of it (``A.T[0]`` is ``A[:, 0]``). So
``a[i][j] = v``, ``a[1:][::2][0] = v`` and ``A.T[0] = v`` lower to one
``dynamic_update_slice`` (or one select, for strided slices) of the base.
Transposes and reshapes are bijections: writing through them only permutes
or reshapes the value, it never reads the base.

Whether ``reshape`` / ``ravel`` give a view is NumPy's own decision: every
view carries its element strides relative to its (C-contiguous) base, and a
zero-memory NumPy array with those strides is asked to reshape without copy.
``diagonal()`` and ``broadcast_to`` give read-only views, as in NumPy.
"""

from __future__ import annotations

import dataclasses
from typing import Any, Literal, cast

import jax.numpy as jnp
import numpy as np
from jax import lax
from numpy.lib.stride_tricks import as_strided

from . import _compat, _index, _lower, _sharding
from ._index import NEW, Index, Int, Slice
from ._scope import Handle

READ_ONLY = "assignment destination is read-only"


# -- ops ------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True, eq=False)
class BasicOp:
    """A basic index (ints, static slices, new axes) over the previous shape."""

    index: Index
    writable = True
    bijective = False

    @property
    def shape(self) -> tuple[int, ...]:
        return self.index.result_shape

    # No bounds checks here: the index the user wrote was checked in the
    # terms they wrote it in (mutjax._assign), before it was composed.
    def read(self, a: Any) -> Any:
        return _lower.basic_read(a, self.index, check=False)

    def write(self, a: Any, sub: Any) -> Any:
        return _lower.basic_write(a, self.index, sub, check=False)

    def strides(self, strides: tuple[int, ...]) -> tuple[int, ...]:
        out = []
        for o in self.index.out:
            if o is NEW:
                out.append(0)
            else:
                e = self.index.entries[o]
                out.append(strides[o] * e.step)
        return tuple(out)

    @property
    def key(self) -> tuple[Any, ...]:
        return ("basic", index_key(self.index))


@dataclasses.dataclass(frozen=True, eq=False)
class TransposeOp:
    """A permutation of the axes (``perm`` as in ``np.transpose``)."""

    perm: tuple[int, ...]
    shape: tuple[int, ...]
    writable = True
    bijective = True

    def read(self, a: Any) -> Any:
        return lax.transpose(a, self.perm)

    def invert(self, v: Any) -> Any:
        return lax.transpose(v, tuple(int(i) for i in np.argsort(self.perm)))

    def write(self, a: Any, sub: Any) -> Any:
        return self.invert(sub)

    def strides(self, strides: tuple[int, ...]) -> tuple[int, ...]:
        return tuple(strides[p] for p in self.perm)

    @property
    def key(self) -> tuple[Any, ...]:
        return ("transpose", self.perm)


@dataclasses.dataclass(frozen=True, eq=False)
class ReshapeOp:
    """A reshape that NumPy performs without copying."""

    in_shape: tuple[int, ...]
    shape: tuple[int, ...]
    new_strides: tuple[int, ...]
    writable = True
    bijective = True

    def read(self, a: Any) -> Any:
        return lax.reshape(a, self.shape)

    def invert(self, v: Any) -> Any:
        return lax.reshape(v, self.in_shape)

    def write(self, a: Any, sub: Any) -> Any:
        return self.invert(sub)

    def strides(self, strides: tuple[int, ...]) -> tuple[int, ...]:
        return self.new_strides

    @property
    def key(self) -> tuple[Any, ...]:
        return ("reshape", self.in_shape, self.shape)


@dataclasses.dataclass(frozen=True, eq=False)
class DiagonalOp:
    """``a.diagonal(offset, axis1, axis2)``: a read-only view, as in NumPy."""

    offset: int
    axis1: int
    axis2: int
    shape: tuple[int, ...]
    writable = False
    bijective = False

    def read(self, a: Any) -> Any:
        return jnp.diagonal(a, self.offset, self.axis1, self.axis2)

    def write(self, a: Any, sub: Any) -> Any:
        raise ValueError(READ_ONLY)

    def strides(self, strides: tuple[int, ...]) -> tuple[int, ...]:
        rest = tuple(s for i, s in enumerate(strides) if i not in (self.axis1, self.axis2))
        return rest + (strides[self.axis1] + strides[self.axis2],)

    @property
    def key(self) -> tuple[Any, ...]:
        return ("diagonal", self.offset, self.axis1, self.axis2)


@dataclasses.dataclass(frozen=True, eq=False)
class BroadcastOp:
    """``np.broadcast_to(a, shape)``: a read-only view, as in NumPy."""

    in_shape: tuple[int, ...]
    shape: tuple[int, ...]
    writable = False
    bijective = False

    def read(self, a: Any) -> Any:
        return jnp.broadcast_to(a, self.shape)

    def write(self, a: Any, sub: Any) -> Any:
        raise ValueError(READ_ONLY)

    def strides(self, strides: tuple[int, ...]) -> tuple[int, ...]:
        lead = len(self.shape) - len(self.in_shape)
        tail = tuple(
            0 if n != m else s for n, m, s in zip(self.in_shape, self.shape[lead:], strides)
        )
        return (0,) * lead + tail

    @property
    def key(self) -> tuple[Any, ...]:
        return ("broadcast", self.in_shape, self.shape)


@dataclasses.dataclass(frozen=True, eq=False)
class PartOp:
    """``a.real`` / ``a.imag`` of a complex array: a live view of one part, as in NumPy."""

    part: Literal["real", "imag"]
    shape: tuple[int, ...]
    writable = True
    bijective = False

    def read(self, a: Any) -> Any:
        return lax.real(a) if self.part == "real" else lax.imag(a)

    def write(self, a: Any, sub: Any) -> Any:
        re, im = lax.real(a), lax.imag(a)
        sub = lax.convert_element_type(sub, re.dtype)
        return lax.complex(sub, im) if self.part == "real" else lax.complex(re, sub)

    def strides(self, strides: tuple[int, ...]) -> tuple[int, ...]:
        # NumPy's part is every other real of the complex buffer: in units of
        # the part's items its strides are twice the complex array's, so that
        # `c.real.ravel()` copies and `c.real.reshape(-1)` is a view, as there.
        return tuple(2 * s for s in strides)

    @property
    def key(self) -> tuple[Any, ...]:
        return ("part", self.part)


@dataclasses.dataclass(frozen=True, eq=False)
class ZerosOp:
    """``a.imag`` of a real array: NumPy's read-only array of zeros."""

    shape: tuple[int, ...]
    writable = False
    bijective = False

    def read(self, a: Any) -> Any:
        return jnp.zeros_like(a)

    def write(self, a: Any, sub: Any) -> Any:
        raise ValueError(READ_ONLY)

    def strides(self, strides: tuple[int, ...]) -> tuple[int, ...]:
        return c_strides(self.shape)  # a new C-contiguous array in NumPy

    @property
    def key(self) -> tuple[Any, ...]:
        return ("zeros",)


# -- chains -----------------------------------------------------------------------


@dataclasses.dataclass(frozen=True, eq=False)
class View:
    """The chain of ops from a base value to a view's value (never empty)."""

    ops: tuple[Any, ...]

    @property
    def shape(self) -> tuple[int, ...]:
        return self.ops[-1].shape

    @property
    def writable(self) -> bool:
        return all(op.writable for op in self.ops)

    def read(self, base: Any) -> Any:
        for op in self.ops:
            base = op.read(base)
        return base

    def write(self, base: Any, value: Any) -> Any:
        """``base`` with this view's contents replaced by ``value``."""
        if not self.writable:
            raise ValueError(READ_ONLY)
        return _write_chain(self.ops, base, value)

    def strides(self, base_shape: tuple[int, ...]) -> tuple[int, ...]:
        """Element strides of this view over its C-contiguous base."""
        strides = c_strides(base_shape)
        for op in self.ops:
            strides = op.strides(strides)
        return strides

    @property
    def key(self) -> tuple[Any, ...]:
        """Equal keys mean the same elements of the base, in the same layout."""
        return tuple(op.key for op in self.ops)

    def then(self, op: Any) -> View:
        """This view followed by ``op``, kept in normal form (see the module doc).

        Must be called with the parent trace current: composing a traced
        integer does arithmetic on it.
        """
        ops = list(self.ops)
        _append(ops, op)
        if not ops:
            # Every op cancelled (``x.T.T``): the identity view of the base.
            ops = [identity(_in_shape(self.ops[0]))]
        return View(tuple(ops))


def _in_shape(op: Any) -> tuple[int, ...]:
    if type(op) is BasicOp:
        return op.index.shape
    if type(op) is TransposeOp:
        return tuple(op.shape[i] for i in np.argsort(op.perm))
    return op.in_shape


def identity(shape: tuple[int, ...]) -> BasicOp:
    return BasicOp(_index.analyze((), shape))


def _is_identity(op: Any) -> bool:
    if type(op) is TransposeOp:
        return op.perm == tuple(range(len(op.perm)))
    if type(op) is ReshapeOp:
        return op.in_shape == op.shape
    if type(op) is BasicOp:
        ix = op.index
        return (
            not ix.empty_new
            and ix.out == tuple(range(len(ix.shape)))
            and all(
                type(e) is Slice and e.start == 0 and e.length == n and (e.step == 1 or n <= 1)
                for e, n in zip(ix.entries, ix.shape)
            )
        )
    return False


def _append(ops: list[Any], op: Any) -> None:
    if _is_identity(op):
        return
    last = ops[-1] if ops else None
    if type(last) is BasicOp and type(op) is BasicOp:
        merged = compose(last.index, op.index)
        if merged is not None:
            ops.pop()
            _append(ops, BasicOp(merged))
            return
    if type(last) is TransposeOp and type(op) is TransposeOp:
        ops.pop()
        _append(ops, TransposeOp(tuple(last.perm[k] for k in op.perm), op.shape))
        return
    if type(last) is ReshapeOp and type(op) is ReshapeOp:
        ops.pop()
        _append(ops, ReshapeOp(last.in_shape, op.shape, op.new_strides))
        return
    if type(last) is TransposeOp and type(op) is BasicOp and not op.index.empty_new:
        ops.pop()
        basic, perm = _basic_before_transpose(last.perm, op.index)
        _append(ops, basic)
        _append(ops, perm)
        return
    ops.append(op)


def _basic_before_transpose(perm: tuple[int, ...], ix2: Index) -> tuple[BasicOp, TransposeOp]:
    """``T(perm)`` then ``ix2`` as one basic index on T's input, then a transpose."""
    n = len(perm)
    in_shape = [0] * n
    for j, p in enumerate(perm):
        in_shape[p] = ix2.shape[j]
    entries: list[Any] = [None] * n
    for j, p in enumerate(perm):
        entries[p] = ix2.entries[j]
    kept = [i for i in range(n) if type(entries[i]) is Slice]
    n_new = sum(1 for o in ix2.out if o is NEW)
    out = tuple(kept) + (NEW,) * n_new
    result_shape = tuple(entries[i].length for i in kept) + (1,) * n_new
    ix = Index(
        shape=tuple(in_shape),
        entries=tuple(entries),
        out=out,
        adv=(),
        adv_dims=(),
        adv_shape=(),
        result_shape=result_shape,
        prepared=(),
    )
    new_perm = []
    t = 0
    for o in ix2.out:
        if o is NEW:
            new_perm.append(len(kept) + t)
            t += 1
        else:
            new_perm.append(kept.index(perm[o]))
    return BasicOp(ix), TransposeOp(tuple(new_perm), ix2.result_shape)


def _write_chain(ops: tuple[Any, ...], base: Any, value: Any) -> Any:
    # Bijective ops (transpose, reshape) are undone on the value alone, so
    # that they never cost a read of the base.
    k = len(ops)
    while k > 0 and ops[k - 1].bijective:
        k -= 1
        value = ops[k].invert(value)
    if k == 0:
        return value
    if k == 1:
        return ops[0].write(base, value)
    first = ops[0]
    sub = first.read(base)
    return first.write(base, _write_chain(ops[1:k], sub, value))


def view_of(view: View | None, op: Any) -> View:
    """``op`` applied to a base (``view`` None) or to an existing view."""
    if view is None:
        ops: list[Any] = []
        _append(ops, op)
        return View(tuple(ops) if ops else (op,))
    return view.then(op)


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
            known = None
            if not isinstance(k, int):
                k = _lower.normalize_traced(k, e1.length, e2.known)
                # The base position may not fit the index's dtype (int8 into 300).
                k = _lower.fit_index(k, ix1.shape[o])
                if e2.known is not None and e2.known[0] >= 0:
                    ends = [e1.start + e1.step * b for b in e2.known]
                    known = (min(ends), max(ends))
            entries[o] = Int(e1.start + e1.step * k, known)
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


def gives_view(ix: Index, idx: Any) -> bool:
    """Whether NumPy's ``x[idx]`` is a view (``ix`` analyzes the raw ``idx``).

    Basic indices give views, except that an integer on every axis gives a
    NumPy scalar (a copy: ``v[0], v[1] = v[1], v[0]`` swaps), and a 0-d
    NumPy integer array (``x[np.array(1)]``) counts as an integer but gives a
    copy. A NumPy integer scalar, a JAX scalar or a traced integer counts as
    an integer: the NumPy twin of a JAX scalar is a NumPy integer scalar.
    """
    if not is_view_index(ix) or ix.scalar:
        return False
    return not any(_index.is_scalar_array(i) for i in _index.entries_of(idx))


# -- NumPy's layout rules -------------------------------------------------------------


def c_strides(shape: tuple[int, ...]) -> tuple[int, ...]:
    strides = []
    acc = 1
    for n in reversed(shape):
        strides.append(acc)
        acc *= max(n, 1)
    return tuple(reversed(strides))


def _layout(shape: tuple[int, ...], strides: tuple[int, ...]) -> np.ndarray:
    # A NumPy array with this layout and itemsize 1 whose memory is never
    # touched: only its flags and copy-free reshapes are asked for.
    return as_strided(np.zeros(1, np.int8), shape, strides, writeable=False)


def _shape_only(shape: tuple[int, ...]) -> np.ndarray:
    # A zero-memory array of this shape, to get NumPy's own argument checks.
    return np.broadcast_to(np.zeros((), np.int8), shape)


def nocopy_reshape(
    shape: tuple[int, ...], strides: tuple[int, ...], new_shape: tuple[int, ...], order: str
) -> tuple[int, ...] | None:
    """The strides NumPy gives ``reshape(new_shape)`` as a view, or None if it must copy."""
    np_order = cast(Literal["A", "C", "F"], order)  # reshape() has checked it
    try:
        return _layout(shape, strides).reshape(new_shape, order=np_order, copy=False).strides
    except ValueError:
        return None


# -- the view-producing functions on mutable arrays -------------------------------------


def _own(x: Any) -> bool:
    """True when ``x`` is a mutable array (else the jax.numpy function applies).

    Deriving a view is pure work in the parent trace, so a mutable array gets
    a mutable view even inside a foreign transformation (a ``lax`` loop body):
    reads of it work there, and a write raises mutjax's error, not JAX's.
    """
    return isinstance(x, Handle)


def _derive(x: Any, op: Any, dtype: Any = None) -> Any:
    trace = x._trace
    with _compat.set_current_trace(trace.parent_trace):
        view = view_of(x._view, op)
        aval = _sharding.view_aval(x._cell.aval, x._aval, tuple(view.shape), view.read)
    if dtype is not None:
        aval = aval.update(dtype=dtype)
    return trace.view(x._cell, view, aval)


def _basic_view(x: Any, idx: tuple[Any, ...]) -> Any:
    # Not `x[idx]`: an integer on every axis is a NumPy scalar there, but
    # `squeeze` / `reshape` to 0-d give a 0-d view.
    return _derive(x, BasicOp(_index.analyze(idx, tuple(x.aval.shape))))


def _strides(x: Any) -> tuple[int, ...]:
    if x._view is None:
        return c_strides(tuple(x._aval.shape))
    return x._view.strides(tuple(x._cell.aval.shape))


def _new(x: Any, value: Any) -> Any:
    return x._trace.new(value)


def transpose(x: Any, *axes: Any) -> Any:
    """``x.transpose(*axes)``: a live view with permuted axes, as NumPy's.

    Args:
        x: a mutable array.
        axes: nothing or None (reverse the axes), a tuple of axes, or the axes
            as separate arguments.

    Returns:
        A view of ``x``.

    Raises:
        ValueError: the axes do not match the array (NumPy's errors,
            ``AxisError`` included).
    """
    spec: Any = axes  # None, a tuple or list of axes, or the axes as given
    if len(axes) == 1 and (axes[0] is None or isinstance(axes[0], (tuple, list))):
        spec = axes[0]
    if spec == ():
        spec = None
    if not _own(x):
        return jnp.transpose(x, spec)
    shape = tuple(x.aval.shape)
    dummy = _shape_only(shape)
    new_shape = dummy.transpose(spec).shape  # NumPy's errors
    perm = (
        tuple(range(len(shape)))[::-1]
        if spec is None
        else tuple(int(a) % len(shape) if len(shape) else 0 for a in spec)
    )
    return _derive(x, TransposeOp(perm, new_shape))


def swapaxes(x: Any, axis1: int, axis2: int) -> Any:
    """``x.swapaxes(axis1, axis2)``: a live view, as NumPy's (AxisError when out of range)."""
    if not _own(x):
        return jnp.swapaxes(x, axis1, axis2)
    n = len(x.aval.shape)
    _shape_only(tuple(x.aval.shape)).swapaxes(axis1, axis2)
    perm = list(range(n))
    a, b = axis1 % n, axis2 % n
    perm[a], perm[b] = perm[b], perm[a]
    return transpose(x, tuple(perm))


def moveaxis(x: Any, source: Any, destination: Any) -> Any:
    """``np.moveaxis(x, source, destination)``: a live view, as NumPy's."""
    if not _own(x):
        return jnp.moveaxis(x, source, destination)
    n = len(x.aval.shape)
    dummy = as_strided(np.zeros(1, np.int8), tuple(x.aval.shape), tuple(range(n)))
    moved = np.moveaxis(dummy, source, destination)  # NumPy's errors
    return transpose(x, tuple(int(s) for s in moved.strides))


def _resolve_shape(x: Any, shape: Any) -> tuple[int, ...]:
    if len(shape) == 1 and not isinstance(shape[0], (int, np.integer)):
        shape = shape[0]
    if not isinstance(shape, (tuple, list)):
        shape = (shape,)
    import operator

    shape = tuple(operator.index(s) for s in shape)
    return _shape_only(tuple(x.aval.shape)).reshape(shape).shape  # NumPy's errors


def reshape(x: Any, *shape: Any, order: str = "C", copy: bool | None = None) -> Any:
    """``x.reshape(shape, order=..., copy=...)``: a view where NumPy gives one.

    Args:
        x: a mutable array.
        shape: the new shape (a tuple, or ints as separate arguments; one -1).
        order: 'C', 'F' or 'A', as NumPy.
        copy: None (view if possible, else copy), True (always copy), False
            (raise if a copy is needed).

    Returns:
        A live view of ``x`` where NumPy's reshape would return a view,
        otherwise a new mutable array.

    Raises:
        ValueError: NumPy's errors for an impossible shape, and "Unable to
            avoid creating a copy while reshaping." for ``copy=False``.
    """
    if not _own(x):
        return jnp.reshape(x, shape[0] if len(shape) == 1 else shape, order=order)
    new_shape = _resolve_shape(x, shape)
    old_shape = tuple(x.aval.shape)
    if order not in ("C", "F", "A"):
        raise ValueError(f"order must be one of 'C', 'F', 'A' (got {order!r})")
    strides = _strides(x)
    if order == "A":
        layout = _layout(old_shape, strides)
        order = "F" if layout.flags.f_contiguous and not layout.flags.c_contiguous else "C"
    new_strides = None if copy else nocopy_reshape(old_shape, strides, new_shape, order)
    if new_strides is None:
        if copy is False:
            raise ValueError("Unable to avoid creating a copy while reshaping.")
        with _compat.set_current_trace(x._trace.parent_trace):
            value = jnp.reshape(x._read(), new_shape, order=order)
        return _new(x, value)
    if order == "F":
        # F-order reshape is the C-order reshape of the reversed axes.
        t = transpose(x)
        inner = _reshape_view(t, new_shape[::-1], new_strides[::-1])
        return transpose(inner)
    return _reshape_view(x, new_shape, new_strides)


def _reshape_view(x: Any, new_shape: tuple[int, ...], new_strides: tuple[int, ...]) -> Any:
    old_shape = tuple(x.aval.shape)
    if [n for n in old_shape if n != 1] == [n for n in new_shape if n != 1]:
        # Only length-1 axes come and go: a basic index, which composes.
        idx: list[Any] = []
        i = 0
        for n in new_shape:
            if n == 1:
                idx.append(None)
                continue
            while old_shape[i] == 1:
                idx.append(0)
                i += 1
            idx.append(slice(None))
            i += 1
        idx.extend([0] * (len(old_shape) - i))
        return _basic_view(x, tuple(idx))
    return _derive(x, ReshapeOp(old_shape, new_shape, new_strides))


def ravel(x: Any, order: str = "C") -> Any:
    """``x.ravel(order)``: a live view where NumPy gives one, else a copy.

    'C' / 'F': a view when ``x`` is contiguous in that order. 'A': 'F' for an
    F-contiguous (not C-contiguous) array, else 'C'. 'K': memory order, a view
    when the axes sorted by stride are contiguous with positive strides.

    Raises:
        ValueError: an unknown ``order``.
    """
    if not _own(x):
        return jnp.ravel(x, order=order)
    if order not in ("C", "F", "A", "K"):
        raise ValueError(f"order must be one of 'C', 'F', 'A', or 'K' (got {order!r})")
    shape = tuple(x.aval.shape)
    strides = _strides(x)
    layout = _layout(shape, strides)
    c, f = layout.flags.c_contiguous, layout.flags.f_contiguous
    if order == "A":
        order = "F" if f and not c else "C"
    elif order == "K" and (c or f):
        order = "C" if c else "F"
    if order == "C" and c or order == "F" and f:
        return reshape(x, (-1,), order=order)
    if order == "K":
        return _ravel_k(x, shape, strides)
    with _compat.set_current_trace(x._trace.parent_trace):
        value = jnp.ravel(x._read(), order=order)
    return _new(x, value)


def _ravel_k(x: Any, shape: tuple[int, ...], strides: tuple[int, ...]) -> Any:
    # NumPy's PyArray_Ravel for KEEPORDER: axes by decreasing |stride|
    # (stable); a view if that layout is contiguous with positive strides,
    # else a copy in that axis order (a negative-stride axis is not flipped).
    perm = sorted(range(len(shape)), key=lambda i: -abs(strides[i]))
    acc = 1
    contiguous = True
    for i in reversed(perm):
        if shape[i] == 1:
            continue
        if strides[i] != acc:
            contiguous = False
            break
        acc *= shape[i]
    if contiguous:
        return reshape(transpose(x, tuple(perm)), (-1,))
    with _compat.set_current_trace(x._trace.parent_trace):
        value = jnp.ravel(lax.transpose(x._read(), tuple(perm)))
    return _new(x, value)


def squeeze(x: Any, axis: Any = None) -> Any:
    """``x.squeeze(axis)``: a live view without the given length-1 axes, as NumPy."""
    if not _own(x):
        return jnp.squeeze(x, axis)
    shape = tuple(x.aval.shape)
    dummy = as_strided(np.zeros(1, np.int8), shape, tuple(range(len(shape))))
    kept = dummy.squeeze(axis).strides  # NumPy's errors; strides name kept axes
    idx = tuple(slice(None) if i in kept else 0 for i in range(len(shape)))
    return _basic_view(x, idx)


def expand_dims(x: Any, axis: Any) -> Any:
    """``np.expand_dims(x, axis)``: a live view with new length-1 axes, as NumPy."""
    if not _own(x):
        return jnp.expand_dims(x, axis)
    shape = tuple(x.aval.shape)
    new_shape = np.expand_dims(_shape_only(shape), axis).shape  # NumPy's errors
    axes = np.lib.array_utils.normalize_axis_tuple(axis, len(new_shape))
    return _basic_view(x, tuple(None if i in axes else slice(None) for i in range(len(new_shape))))


def diagonal(x: Any, offset: int = 0, axis1: int = 0, axis2: int = 1) -> Any:
    """``x.diagonal(...)``: a read-only live view, as NumPy's (writes raise ValueError)."""
    if not _own(x):
        return jnp.diagonal(x, offset, axis1, axis2)
    shape = tuple(x.aval.shape)
    new_shape = _shape_only(shape).diagonal(offset, axis1, axis2).shape  # NumPy's errors
    n = len(shape)
    return _derive(x, DiagonalOp(int(offset), axis1 % n, axis2 % n, new_shape))


def real(x: Any) -> Any:
    """``x.real``: ``x`` itself for a real array, a live view of the real part of a complex one."""
    if not _own(x):
        return jnp.real(x)
    dtype = np.dtype(x.aval.dtype)
    if dtype.kind != "c":
        return x  # NumPy returns the array itself
    return _derive(x, PartOp("real", tuple(x.aval.shape)), np.finfo(dtype).dtype)


def imag(x: Any) -> Any:
    """``x.imag``: a live view of a complex array's imaginary part; read-only zeros for a real one."""
    if not _own(x):
        return jnp.imag(x)
    dtype = np.dtype(x.aval.dtype)
    if dtype.kind != "c":
        return _derive(x, ZerosOp(tuple(x.aval.shape)))
    return _derive(x, PartOp("imag", tuple(x.aval.shape)), np.finfo(dtype).dtype)


def set_part(x: Any, part: str, value: Any) -> None:
    """``x.real = value`` / ``x.imag = value``: NumPy's assignment to a part."""
    if part == "imag" and np.dtype(x.aval.dtype).kind != "c":
        raise TypeError("array does not have imaginary part to set")  # NumPy's
    (real(x) if part == "real" else imag(x))[...] = value


def broadcast_to(x: Any, shape: Any) -> Any:
    """``np.broadcast_to(x, shape)``: a read-only live view, as NumPy's."""
    if not _own(x):
        return jnp.broadcast_to(x, shape)
    in_shape = tuple(x.aval.shape)
    new_shape = np.broadcast_to(_shape_only(in_shape), shape).shape  # NumPy's errors
    return _derive(x, BroadcastOp(in_shape, new_shape))


__all__ = [
    "BasicOp",
    "BroadcastOp",
    "DiagonalOp",
    "PartOp",
    "ReshapeOp",
    "TransposeOp",
    "View",
    "ZerosOp",
    "broadcast_to",
    "compose",
    "diagonal",
    "expand_dims",
    "gives_view",
    "imag",
    "identity",
    "index_key",
    "is_view_index",
    "moveaxis",
    "ravel",
    "real",
    "reshape",
    "set_part",
    "squeeze",
    "swapaxes",
    "transpose",
    "view_of",
]
