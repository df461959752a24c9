"""The interpreter: a JAX trace whose tracers are mutable arrays, and ``mutable``.

``x[idx] = v`` reads as a straight line through the modules:
:meth:`MutArray.__setitem__` -> :func:`mutjax._index.analyze` -> the view
chain (:mod:`mutjax._views`) -> :mod:`mutjax._lower` -> :meth:`Cell.set`
(:mod:`mutjax._scope`).

Every primitive bound with a mutable array as input is processed by
:meth:`MutTrace.process_primitive`: the inputs are unwrapped to their current
values, the primitive is bound on the parent trace, and each output becomes a
new mutable array. So every ``jax.numpy`` / ``jax.lax`` function accepts
mutable arrays as they are, and everything computed inside is mutable too.
"""

from __future__ import annotations

import functools
import operator
from collections.abc import Callable
from typing import Any, TypeVar, cast

import jax
import jax.numpy as jnp
import numpy as np

from . import _boundary, _compat, _errors, _index, _inplace, _lower, _masked, _ranges, _views
from ._compat import lu
from ._scope import Cell, Scope

F = TypeVar("F", bound=Callable[..., Any])


class MutTrace(_compat.Trace):
    """The trace of one ``mutable`` scope."""

    __slots__ = ("parent_trace", "tag", "scope")

    def __init__(self, parent_trace: Any, tag: Any, scope: Scope) -> None:
        super().__init__()
        self.parent_trace = parent_trace
        self.tag = tag
        self.scope = scope

    def new(self, value: Any) -> MutArray:
        """A new base mutable array holding ``value`` (a parent-trace value)."""
        return MutArray(self, Cell(value, self.scope, _compat.typeof(value)))

    def unwrap(self, x: Any) -> Any:
        if isinstance(x, MutArray) and x._trace.tag is self.tag:
            return x._read()
        return x

    def _wrap_out(self, out: Any) -> Any:
        if isinstance(_compat.typeof(out), _compat.ShapedArray):
            return self.new(out)
        return out

    def process_primitive(self, primitive, tracers, params, /):  # noqa: ANN001
        if primitive.name in _boundary.CALL_PRIMITIVES:
            out = _boundary.call_with_writeback(self, primitive, tracers, params)
            if out is not None:
                return out
        elif primitive.name in _boundary.LOOP_PRIMITIVES:
            _boundary.check_loop(primitive, params)
        elif primitive is _boundary.writeback_p:
            return _boundary.apply(self, tracers)
        values = [self.unwrap(t) for t in tracers]
        with _compat.set_current_trace(self.parent_trace):
            out = primitive.bind(*values, **params)
        if primitive.multiple_results:
            return [self._wrap_out(o) for o in out]
        return self._wrap_out(out)

    def stage_value(self, val):  # noqa: ANN001
        # A child trace (vmap, jvp inside the scope) lifts a value into us.
        if isinstance(val, MutArray) and val._trace.tag is self.tag:
            return val
        return self.new(self.parent_trace.stage_value(val))

    def process_custom_jvp_call(self, primitive, fun, jvp, tracers, /, *, symbolic_zeros):  # noqa: ANN001
        values = [self.unwrap(t) for t in tracers]
        fun = _subtrace(fun, self.tag, self.scope)
        jvp = _subtrace(jvp, self.tag, self.scope)
        avals = tuple(_compat.typeof(v) for v in values)
        out = primitive.bind_with_trace(
            self.parent_trace,
            tuple(values),
            avals,
            dict(subfuns=(fun, jvp), symbolic_zeros=symbolic_zeros),
        )
        return [self._wrap_out(o) for o in out]

    def process_custom_vjp_call(
        self, primitive, fun, fwd, bwd, tracers, /, *, out_trees, symbolic_zeros
    ):  # noqa: ANN001,E501
        values = [self.unwrap(t) for t in tracers]
        fun = _subtrace(fun, self.tag, self.scope)
        fwd = _subtrace(fwd, self.tag, self.scope)
        avals = tuple(_compat.typeof(v) for v in values)
        out = primitive.bind_with_trace(
            self.parent_trace,
            tuple(values),
            avals,
            dict(subfuns=(fun, fwd, bwd), out_trees=out_trees, symbolic_zeros=symbolic_zeros),
        )
        return [self._wrap_out(o) for o in out]


@lu.transformation2
def _subtrace(f, tag, scope, *args):  # noqa: ANN001
    # A custom_jvp / custom_vjp rule may close over mutable arrays of this
    # scope: run it under a sub-trace with the same tag so that they unwrap.
    with _compat.take_current_trace() as parent:
        trace = MutTrace(parent, tag, scope)
        with _compat.set_current_trace(trace):
            outs = f(*args)
            return [trace.unwrap(o) for o in outs]


def _one_element(ix: Any) -> bool:
    """True for an index with an integer (static or traced) on every axis and nothing else."""
    return bool(ix.scalar and ix.is_basic)


def _element_key(ix: Any) -> tuple[int, ...] | None:
    """The static position of a one-element index, else None."""
    if not _one_element(ix):
        return None
    key = tuple(e.value for e in ix.entries)
    return key if all(type(k) is int for k in key) else None


def _unwrap_index(idx: Any, trace: MutTrace) -> Any:
    """Replace mutable arrays inside an index by their current values."""
    if isinstance(idx, MutArray):
        return trace.unwrap(idx) if idx._trace.tag is trace.tag else idx
    if type(idx) is tuple:
        return tuple(_unwrap_index(i, trace) for i in idx)
    if isinstance(idx, slice):
        return slice(*(_unwrap_index(p, trace) for p in (idx.start, idx.stop, idx.step)))
    if isinstance(idx, list) and any(isinstance(i, (MutArray, list)) for i in idx):
        return [_unwrap_index(i, trace) for i in idx]
    return idx


def _describe(x: MutArray) -> str:
    aval = x._aval
    return f"{aval.str_short()}"


class MutArray(_compat.Tracer):
    """A mutable array: a tracer of :class:`MutTrace` pointing at a cell.

    ``_view`` is None for a base array, or the :class:`~mutjax._views.View`
    through which this array sees its base.
    """

    __slots__ = ("_cell", "_view", "_aval", "_cache_version", "_cache")
    __array_priority__ = 2000

    def __init__(self, trace: MutTrace, cell: Cell, view: Any = None, aval: Any = None) -> None:
        # `trace` is where the array is created; it is used through the
        # scope's active trace instead (see `_trace`).
        self._cell = cell
        self._view = view
        self._aval = cell.aval if aval is None else aval
        self._cache_version = -1
        self._cache = None

    # -- state ---------------------------------------------------------------

    @property
    def _trace(self) -> MutTrace:  # type: ignore[override]
        # The trace of the innermost control-flow body being traced (or the
        # scope's own trace): an array created outside a loop is a value of
        # the loop body while the body runs.
        return self._cell.scope.active

    @_trace.setter
    def _trace(self, value: Any) -> None:
        pass

    @property
    def aval(self):  # noqa: ANN201
        if self._cell.scope.closed:
            raise _errors.scope_ended(_describe(self))
        return self._aval

    @aval.setter
    def aval(self, value):  # noqa: ANN001
        self._aval = value

    def _read(self) -> Any:
        """The current value, as a value of the parent trace."""
        cell = self._cell
        if cell.scope.closed:
            raise _errors.scope_ended(_describe(self))
        if self._view is None:
            return cell.value
        if self._cache_version != cell.version:
            with _compat.set_current_trace(cell.scope.active.parent_trace):
                self._cache = self._view.read(cell.value)
            self._cache_version = cell.version
        return self._cache

    def _store(self, value: Any) -> None:
        """Replace this array's whole contents with ``value`` (right shape and dtype)."""
        cell = self._cell
        if self._view is None:
            cell.set(value)
        else:
            cell.set(self._view.write(cell.value, value))

    def _check_writable(self) -> None:
        cell = self._cell
        if cell.scope.closed:
            raise _errors.scope_ended(_describe(self))
        if _compat.current_trace() is not self._trace:
            raise _errors.foreign_write(_describe(self))
        if self._view is not None and not self._view.writable:
            raise ValueError(_views.READ_ONLY)

    def to_concrete_value(self):  # noqa: ANN201
        return _compat.to_concrete_value(self._read())

    # JAX's Tracer converts to float/complex/index only through the aval, which
    # refuses even when the value is known (eager mode): look at it first.
    def __float__(self) -> float:
        concrete = self.to_concrete_value()
        return float(concrete) if concrete is not None else super().__float__()

    def __complex__(self) -> complex:
        concrete = self.to_concrete_value()
        return complex(concrete) if concrete is not None else super().__complex__()

    def __index__(self) -> int:
        concrete = self.to_concrete_value()
        return operator.index(concrete) if concrete is not None else super().__index__()

    # -- indexing --------------------------------------------------------------

    def __getitem__(self, idx: Any) -> Any:
        trace = self._trace
        if _compat.current_trace() is not trace:
            # Read inside a transformation that is not ours (a lax loop body,
            # vmap): JAX's own indexing, so that the current trace sees this
            # array as an input rather than our parent seeing its tracers.
            return _compat.Tracer.__getitem__(self, idx)
        raw = _unwrap_index(idx, trace)
        with _compat.set_current_trace(trace.parent_trace):
            ix = _index.analyze(raw, tuple(self.aval.shape))
        if _views.gives_view(ix, raw):
            with _compat.set_current_trace(trace.parent_trace):
                view = _views.view_of(self._view, _views.BasicOp(ix))
            aval = self._aval.update(shape=ix.result_shape)
            return MutArray(trace, self._cell, view, aval)
        cell = self._cell
        key = None
        if self._view is None and _one_element(ix):
            # One element of a base array: waiting writes (Cell.write_element)
            # and known elements (Cell.element) answer without a new slice.
            if cell.pending and cell.pending_trace is trace.parent_trace:
                with _compat.set_current_trace(trace.parent_trace):
                    out = _lower.element_read(cell._value, ix, cell.pending)
                return trace.new(out)
            key = _element_key(ix)
            known = None if key is None else cell.element(key, trace.parent_trace)
            if known is not None:
                return trace.new(known)
        value = self._read()
        if _masked.is_dynamic(ix):
            return _masked_read(trace, value, ix, None if ix.mask is not None else (self, raw))
        with _compat.set_current_trace(trace.parent_trace):
            out = _lower.read(value, ix)
        if key is not None:
            self._cell.know(key, trace.parent_trace, out)
        return trace.new(out)

    def __setitem__(self, idx: Any, value: Any) -> None:
        self._check_writable()
        trace = self._trace
        raw = _unwrap_index(idx, trace)
        with _compat.set_current_trace(trace.parent_trace):
            ix = _index.analyze(raw, tuple(self._aval.shape), for_write=True)
        if (
            isinstance(value, MutArray)
            and value._cell is self._cell
            and value._view is not None
            and _views.is_view_index(ix)
        ):
            # `x[s] op= v` writes through the view `x[s]` and then assigns it
            # back to itself: nothing left to do.
            with _compat.set_current_trace(trace.parent_trace):
                target = _views.view_of(self._view, _views.BasicOp(ix))
            if target.key == value._view.key:
                return
        if (
            isinstance(value, _masked.MaskedArray)
            and value.target is not None
            and _same_array(value.target[0], self)
            and _masked.same_index(value.target[1], raw)
        ):
            return  # `x[:k] op= v` wrote through the traced slice already
        # Read the right side first: `x[1:] = x[:-1]` sees the old values.
        value = _unwrap_value(value, trace)
        dtype = self._aval.dtype
        if _masked.is_dynamic(ix) or isinstance(value, _masked.MaskedArray):
            self._masked_write(ix, value)
            return
        with _compat.set_current_trace(trace.parent_trace):
            if ix.mask is None:
                value = _lower.prepare_value(
                    value,
                    ix.result_shape,
                    dtype,
                    ix.scalar,
                    basic=ix.is_basic,
                    mask_count=ix.mask_count,
                )
            # One element of a base array, with a value of exactly its type: a
            # traced position waits (Cell.write_element); a static one becomes a
            # known element once written (Cell.know).
            element = (
                self._view is None
                and _one_element(ix)
                and _compat.typeof(value) == self._aval.update(shape=(), weak_type=False)
            )
            key = _element_key(ix) if element else None
            if element and key is None and not _compat.is_eager():
                # checkify sees the index now: a waiting write whose array is
                # never read whole again is never applied.
                _lower.check_traced(ix)
                self._cell.write_element(ix, value, trace.parent_trace)
                return
            if self._view is not None and _views.is_view_index(ix):
                view = _views.view_of(self._view, _views.BasicOp(ix))
                new_base = view.write(self._cell.value, value)
            elif self._view is None:
                new_base = _lower.write(self._cell.value, ix, value)
            else:
                sub = _lower.write(self._read(), ix, value)
                new_base = self._view.write(self._cell.value, sub)
        old = self._cell.value  # the known elements of `old` carry over
        self._cell.set(new_base)
        if key is not None:
            self._cell.know(key, trace.parent_trace, value, old=old)

    def _masked_write(self, ix: Any, value: Any) -> None:
        # A traced slice bound or mask, or a value of run-time length.
        trace = self._trace
        if not _masked.is_dynamic(ix):
            raise _masked.dynamic_shape_error(
                "assigning it into an index of static shape", value.origin
            )
        with _compat.set_current_trace(trace.parent_trace):
            sub = _masked.write(self._read(), ix, value, self._aval.dtype)
            new_base = sub if self._view is None else self._view.write(self._cell.value, sub)
        self._cell.set(new_base)

    def __iter__(self):  # noqa: ANN204
        shape = self.aval.shape
        if not shape:
            raise TypeError("iteration over a 0-d array")
        return (self[i] for i in range(shape[0]))

    def __len__(self) -> int:
        shape = self.aval.shape
        if not shape:
            raise TypeError("len() of unsized object")
        return shape[0]

    # -- views (mutjax._views) and in-place methods (mutjax._inplace) ---------

    @property
    def T(self) -> Any:  # noqa: N802 - NumPy's name
        return _views.transpose(self)

    def transpose(self, *axes: Any) -> Any:
        return _views.transpose(self, *axes)

    def swapaxes(self, axis1: int, axis2: int) -> Any:
        return _views.swapaxes(self, axis1, axis2)

    # NumPy's signature, not jax.Array's: a live view of the same buffer where NumPy
    # gives one (NumPy's in-place semantics), and NumPy's `copy=`.
    def reshape(  # type: ignore[override]
        self, *shape: Any, order: str = "C", copy: bool | None = None
    ) -> Any:
        return _views.reshape(self, *shape, order=order, copy=copy)

    # NumPy's signature, not jax.Array's: a live view where NumPy gives one.
    def ravel(self, order: str = "C") -> Any:  # type: ignore[override]
        return _views.ravel(self, order)

    def squeeze(self, axis: Any = None) -> Any:
        return _views.squeeze(self, axis)

    def diagonal(self, offset: int = 0, axis1: int = 0, axis2: int = 1) -> Any:
        return _views.diagonal(self, offset, axis1, axis2)

    def copy(self, order: str = "C") -> Any:
        return _inplace.copy(self)

    def flatten(self, order: str = "C") -> Any:
        return _inplace.copy(_views.ravel(self, order))

    def fill(self, value: Any) -> None:
        _inplace.fill(self, value)

    # NumPy's signature, not jax.Array's: sorts in place and returns None.
    def sort(  # type: ignore[override]
        self, axis: int = -1, kind: str | None = None, order: Any = None
    ) -> None:
        _inplace.sort(self, axis, kind, order)

    def put(self, indices: Any, values: Any, mode: str = "raise") -> None:
        _inplace.put(self, indices, values, mode)

    def clip(self, min: Any = None, max: Any = None, out: Any = None, **kwargs: Any) -> Any:  # noqa: A002
        return _inplace.clip(self, min, max, out, **kwargs)

    def resize(self, *new_shape: Any, refcheck: bool = True) -> None:
        _inplace.resize(self, *new_shape, refcheck=refcheck)

    # -- NumPy interop ---------------------------------------------------------

    # -- NumPy dispatch protocols (issue 7: the logic is in _numpy_api) -----------

    # NumPy's protocol signature (dtype, copy), not jax.Array's.
    def __array__(  # type: ignore[override]
        self, dtype: Any = None, copy: Any = None
    ) -> np.ndarray:
        from . import _numpy_api

        return _numpy_api.to_numpy(self, dtype, copy)

    def __array_ufunc__(self, ufunc: Any, method: str, *inputs: Any, **kwargs: Any) -> Any:
        from . import _numpy_api

        out = kwargs.get("out")
        outs = out if isinstance(out, tuple) else (out,)
        if any(isinstance(x, _masked.MaskedArray) for x in inputs + outs):
            return NotImplemented  # a value of run-time length: its own rules
        return _numpy_api.array_ufunc(ufunc, method, inputs, kwargs)

    def __array_function__(self, func: Any, types: Any, args: Any, kwargs: Any) -> Any:
        from . import _numpy_api

        if any(issubclass(t, _masked.MaskedArray) for t in types):
            return NotImplemented  # a value of run-time length: its own rules
        return _numpy_api.array_function(func, args, kwargs)

    # -- end of NumPy dispatch protocols -----------------------------------------

    def __repr__(self) -> str:
        if self._cell.scope.closed:
            return f"<mutjax array {_describe(self)} (its mutable scope has ended)>"
        try:
            concrete = self.to_concrete_value()
        except Exception:  # noqa: BLE001 - repr must never raise
            concrete = None
        if concrete is not None:
            body = np.array2string(np.asarray(concrete), separator=", ", prefix="MutableArray(")
            return f"MutableArray({body}, dtype={self._aval.dtype})"
        return f"MutableArray<{_describe(self)}>"

    __str__ = __repr__


def _same_array(a: MutArray, b: MutArray) -> bool:
    if a is b:
        return True
    if a._cell is not b._cell or (a._view is None) != (b._view is None):
        return False
    return a._view is None or a._view.key == b._view.key


def _masked_read(trace: MutTrace, value: Any, ix: Any, target: Any) -> _masked.MaskedArray:
    with _compat.set_current_trace(trace.parent_trace):
        data, parts, origin = _masked.read(value, ix)
    axes = tuple(
        None if p is None else _masked.Axis(p[0], trace.new(p[1]), trace.new(p[2]), p[3])
        for p in parts
    )
    return _masked.MaskedArray(trace.new(data), axes, origin, target, clean=True)


def _unwrap_value(value: Any, trace: MutTrace) -> Any:
    if isinstance(value, _masked.MaskedArray):
        axes = tuple(
            None
            if a is None
            else _masked.Axis(
                a.kind, _unwrap_value(a.valid, trace), _unwrap_value(a.length, trace), a.key
            )
            for a in value.axes
        )
        data = _unwrap_value(value.data, trace)
        return _masked.MaskedArray(data, axes, value.origin, clean=value.clean)
    if isinstance(value, MutArray):
        return trace.unwrap(value) if value._trace.tag is trace.tag else value
    if isinstance(value, list) and _holds_mutarray(value):
        # Plain nested lists stay lists, so NumPy casts them (and refuses
        # what it refuses); a list holding mutable arrays becomes one array.
        items = [_unwrap_value(v, trace) for v in value]
        with _compat.set_current_trace(trace.parent_trace):
            return jnp.asarray(items)
    return value


def _holds_mutarray(seq: list) -> bool:
    return any(isinstance(v, MutArray) or (isinstance(v, list) and _holds_mutarray(v)) for v in seq)


# -- in-place operators ------------------------------------------------------------
#
# `x += v` must keep identity (`y = x; x += 1` changes `y`) and write through
# views, so each in-place operator computes the result and stores it back.
# NumPy casts an in-place ufunc's result with the 'same_kind' rule: an int
# array `+=` a float raises, as NumPy's UFuncTypeError (a TypeError) does.


def _make_inplace(name: str, op: Callable[[Any, Any], Any]) -> Callable[[MutArray, Any], MutArray]:
    def method(self: MutArray, other: Any) -> MutArray:
        self._check_writable()
        result = op(self, other)
        rdtype = np.dtype(result.dtype)
        dtype = np.dtype(self._aval.dtype)
        if (
            not self._aval.shape
            and self._view is None
            and (result.shape != () or not np.can_cast(rdtype, dtype, "same_kind"))
        ):
            # A 0-d copy (`t = x[i, j]`, a reduction) stands for a NumPy
            # scalar, whose `+=` rebinds to the new value instead of refusing:
            # so `x[0] += 1.5` on an int array truncates, as in NumPy.
            return result
        if tuple(result.shape) != tuple(self._aval.shape):
            raise _errors.out_shape_error(tuple(self._aval.shape), tuple(result.shape))
        if rdtype != dtype and not np.can_cast(rdtype, dtype, "same_kind"):
            raise _errors.ufunc_cast_error(name, rdtype, dtype)
        self[...] = result
        return self

    method.__name__ = f"__i{name}__"
    return method


_INPLACE = {
    "add": operator.add,
    "sub": operator.sub,
    "mul": operator.mul,
    "truediv": operator.truediv,
    "floordiv": operator.floordiv,
    "mod": operator.mod,
    "pow": operator.pow,
    "and": operator.and_,
    "or": operator.or_,
    "xor": operator.xor,
    "lshift": operator.lshift,
    "rshift": operator.rshift,
    "matmul": operator.matmul,
}
for _name, _op in _INPLACE.items():
    setattr(MutArray, f"__i{_name}__", _make_inplace(_name, _op))
del _name, _op


# -- mutable ------------------------------------------------------------------------


def _is_array_leaf(x: Any) -> bool:
    return isinstance(x, (jax.Array, np.ndarray)) or (
        isinstance(x, np.generic) and not isinstance(x, (np.str_, np.bytes_))
    )


def _current_mut_trace() -> MutTrace | None:
    cur = _compat.current_trace()
    if isinstance(cur, MutTrace) and not cur.scope.closed:
        return cur
    return None


def mutable(fun: F | None = None, *, return_args: bool = False, loops: bool = False) -> Any:
    """Make ``fun`` see its arrays as mutable NumPy-style arrays.

    Inside ``fun`` every array leaf of the arguments (any pytree) and every
    array ``fun`` creates or computes supports ``x[idx] = v``, augmented
    assignment and live views, with NumPy's semantics. The result composes
    with ``jax.jit``, ``jax.grad``, ``jax.vmap`` and the other transformations.

    Args:
        fun: the function to wrap. ``mutable`` can also be used as
            ``@mutable(return_args=True)``.
        loops: if True, convert the Python ``for``/``while``/``if`` statements
            of ``fun`` and of the functions it calls into mutjax's loop and
            branch combinators (one compiled loop instead of an unrolled one).
            Needs the diastatic-malt package; see docs/python-loops.md.
        return_args: if True, the wrapper returns ``(out, args, kwargs)``: the
            function's result followed by the final values of its positional
            and keyword arguments. This is how an out-parameter kernel
            (``def fill(out, v): out[...] = v``) gives its result back.

    Returns:
        A function with ``fun``'s signature. Called from outside any mutable
        scope it copies its inputs in (the caller's arrays never change) and
        returns ``fun``'s result with mutable arrays turned into
        ``jax.Array``. Called on mutable arrays from inside another mutable
        scope, it works on them by reference, as a NumPy function would.

    Raises:
        mutjax.MutjaxError: a subclass of it when a mutable array is used
            after its scope ended or written where mutjax cannot thread it.
    """
    if fun is None:
        return functools.partial(mutable, return_args=return_args, loops=loops)
    # -- loops= (issue 10): convert the Python control flow of `fun`.
    if loops:
        from ._loops import convert

        fun = cast(F, convert(fun))  # the same call signature
    # -- end loops=

    @functools.wraps(fun)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        outer = _current_mut_trace()
        if outer is not None:
            return _call_by_reference(outer, fun, return_args, args, kwargs)
        return _call_in_new_scope(fun, return_args, args, kwargs)

    return wrapper


def _call_by_reference(
    trace: MutTrace, fun: Callable[..., Any], return_args: bool, args: Any, kwargs: Any
) -> Any:
    def lift(x: Any) -> Any:
        if isinstance(x, MutArray) and x._trace.tag is trace.tag:
            return x
        if _is_array_leaf(x):
            with _compat.set_current_trace(trace.parent_trace):
                return trace.new(jnp.asarray(x))
        return x

    args, kwargs = jax.tree_util.tree_map(lift, (args, kwargs))
    out = fun(*args, **kwargs)
    return (out, args, kwargs) if return_args else out


def _unwrap_result(trace: MutTrace, x: Any) -> Any:
    if isinstance(x, _masked.MaskedArray):
        raise _masked.dynamic_shape_error("returning it from the mutable function", x.origin)
    return trace.unwrap(x)


_OPEN_SCOPES = [0]  # mutable calls running (in any thread)


def _call_in_new_scope(fun: Callable[..., Any], return_args: bool, args: Any, kwargs: Any) -> Any:
    scope = Scope()
    # Turn NumPy inputs into JAX values before taking the current trace, so
    # that e.g. grad's tracers and plain constants are treated alike.
    leaves, treedef = jax.tree_util.tree_flatten((args, kwargs))
    is_arr = [_is_array_leaf(x) for x in leaves]
    leaves = [jnp.asarray(x) if a else x for x, a in zip(leaves, is_arr)]
    tag = _compat.TraceTag()
    _OPEN_SCOPES[0] += 1
    try:
        with _compat.take_current_trace() as parent, _boundary.open_scope():
            trace = MutTrace(parent, tag, scope)
            scope.trace = trace
            wrapped = [trace.new(x) if a else x for x, a in zip(leaves, is_arr)]
            args, kwargs = jax.tree_util.tree_unflatten(treedef, wrapped)
            with _compat.set_current_trace(trace):
                out = fun(*args, **kwargs)
                if return_args:
                    out = (out, args, kwargs)
                out = jax.tree_util.tree_map(functools.partial(_unwrap_result, trace), out)
            # Traced by jit/checkpoint inside another scope: hand the writes to
            # the inputs back to that scope (see mutjax._boundary).
            written = [
                (x, w._cell.value)
                for x, w, a in zip(leaves, wrapped, is_arr)
                if a and isinstance(x, _compat.Tracer) and w._cell.version
            ]
            with _compat.set_current_trace(parent):
                _boundary.record([x for x, _ in written], [v for _, v in written])
            return out
    finally:
        scope.close()
        _OPEN_SCOPES[0] -= 1
        if not _OPEN_SCOPES[0]:
            _ranges.clear()  # the loop-index intervals of this trace (they hold tracers)
