"""The interpreter: a JAX trace whose tracers are mutable arrays.

Every primitive bound with a mutable array as input is processed by
``MutTrace.process_primitive``: by default the inputs are unwrapped to
their current values, the primitive is bound on the parent trace, and each
output becomes a new mutable array. So every ``jax.numpy`` / ``jax.lax``
function accepts mutable arrays as they are, and everything computed inside
is mutable too. Modules above this one register their own rule for a
primitive with ``register`` (Quax's ``_rules``): ``mutjax._boundary``
does so for ``jit``, ``checkpoint`` and the ``lax`` loops.

``x[idx] = v`` is ``MutArray.__setitem__`` -> ``mutjax._assign.write``,
which reads as a straight line through the modules below (analysis, value,
lowering, cell). ``mutable`` itself lives in ``mutjax._mutable``.
"""

from __future__ import annotations

import operator
from collections.abc import Callable
from typing import Any

import jax.numpy as jnp
import numpy as np

from . import _assign, _compat, _elements, _errors, _index, _inplace, _masked, _values, _views
from ._compat import lu
from ._masked._origin import user_line
from ._scope import Cell, Handle, Scope

Rule = Callable[["MutTrace", Any, Any, dict[str, Any]], Any]
_rules: dict[Any, Rule] = {}


def register(*primitives: Any) -> Callable[[Rule], Rule]:
    """Register ``rule(trace, primitive, tracers, params)`` for ``primitives`` on our trace."""

    def add(rule: Rule) -> Rule:
        for p in primitives:
            _rules[p] = rule
        return rule

    return add


_CARRYING = (_compat.scan_p, _compat.while_p, _compat.cond_p)


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

    def view(self, cell: Cell, view: Any, aval: Any, origin: Any = None) -> MutArray:
        """A mutable array seeing ``cell`` through the view chain ``view``."""
        return MutArray(self, cell, view, aval, origin)

    def unwrap(self, x: Any) -> Any:
        return _assign.unwrap(x, self.tag)

    def _wrap_out(self, out: Any) -> Any:
        if isinstance(_compat.typeof(out), _compat.ShapedArray):
            return self.new(out)
        return out

    def default(self, primitive: Any, tracers: Any, params: dict[str, Any]) -> Any:
        """Bind ``primitive`` on the parent trace with current values; wrap the outputs."""
        values = [self.unwrap(t) for t in tracers]
        with _compat.set_current_trace(self.parent_trace):
            out = primitive.bind(*values, **params)
        if primitive.multiple_results:
            out = [self._wrap_out(o) for o in out]
        else:
            out = self._wrap_out(out)
        # A plain lax loop's results are its carried values, arrays or not.
        return out if primitive in _CARRYING else computed(out)

    def process_primitive(self, primitive, tracers, params, /):
        rule = _rules.get(primitive)
        if rule is None:
            return self.default(primitive, tracers, params)
        return rule(self, primitive, tracers, params)

    def stage_value(self, val):
        # A child trace (vmap, jvp inside the scope) lifts a value into us.
        if isinstance(val, MutArray) and val._trace.tag is self.tag:
            return val
        return self.new(self.parent_trace.stage_value(val))

    def process_shard_map(self, primitive, fun, tracers, /, **params):
        # `jax.shard_map` binds through this hook with its body as `fun`; the
        # rule registered for it (mutjax._shard_map) gets it as `subfuns`.
        return self.process_primitive(primitive, tracers, dict(params, subfuns=(fun,)))

    def process_call(self, primitive, fun, tracers, params, /):
        # `core.call_p` / `closed_call_p` transform nothing: run the body here,
        # so that it reads and writes the scope's arrays as the caller does.
        with _compat.set_current_trace(self):
            return fun.call_wrapped(*tracers)

    def __getattr__(self, name: str) -> Any:
        # A `process_*` hook that a newer JAX calls and this trace lacks: say
        # so in mutjax's words instead of a bare AttributeError.
        if name.startswith("process_"):
            raise _errors.unsupported_hook(name)
        raise AttributeError(f"{type(self).__name__!r} object has no attribute {name!r}")

    def process_custom_jvp_call(self, primitive, fun, jvp, tracers, /, *, symbolic_zeros):
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
        return [computed(self._wrap_out(o)) for o in out]

    def process_custom_vjp_call(
        self, primitive, fun, fwd, bwd, tracers, /, *, out_trees, symbolic_zeros
    ):
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
        return [computed(self._wrap_out(o)) for o in out]


def computed(out: Any) -> Any:
    """``out``, a primitive's result, with each 0-d mutable array in it made a NumPy scalar.

    In NumPy every operator, ufunc and reduction whose result is 0-d gives a
    NumPy scalar (``A.sum()``, ``a[0] * 2``, ``-z``, ``u @ v``), never a 0-d
    array: ``t = s; s += 1`` leaves ``t`` as it was, and ``s[...] = c``
    raises. A 0-d *array* comes from creation, views, the kernel's arguments
    and a loop's or a call's results, none of which pass through here; the
    few NumPy functions that compute a 0-d array (``np.where``, ``astype``)
    clear the mark again (``as_array``).
    """
    if isinstance(out, list):
        return [computed(o) for o in out]
    if type(out) is MutArray and out._view is None and not out._aval.shape:
        out._scalar = True
    return out


def _scalar_view(x: MutArray, view: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
    """``view(x, ...)``, where a NumPy scalar ``x`` gives what NumPy's scalar methods do.

    They act on a temporary 0-d array: a 0-d result is a NumPy scalar again
    (``s.T``, ``s.reshape(())``, ``s.real``), a larger one a new array
    (``s.reshape(1)``), and no write through either reaches ``x``.
    """
    if not x._scalar:
        return view(x, *args, **kwargs)
    out = view(_inplace.copy(x), *args, **kwargs)
    if isinstance(out, MutArray) and not out._aval.shape:
        out = _inplace.copy(out)
        out._scalar = True
    return out


def _kind_of(x: MutArray, out: Any) -> Any:
    """``out``, computed from ``x`` by a method, a NumPy scalar exactly where ``x`` is one."""
    if out is not x and not x._scalar:
        as_array(out)
    return out


def as_array(out: Any) -> Any:
    """``out`` with a NumPy scalar in it made an ordinary 0-d mutable array again."""
    if type(out) is MutArray and out._view is None:
        out._scalar, out._ndarray = False, True
    return out


@lu.transformation2
def _subtrace(f, tag, scope, *args):
    # A custom_jvp / custom_vjp rule may close over mutable arrays of this
    # scope: run it under a sub-trace with the same tag so that they unwrap.
    # A rule that jax.grad traces from the program after the scope returned
    # (jax.nn.relu's jvp) sees plain values only.
    if scope.closed:
        return f(*args)
    with _compat.take_current_trace() as parent:
        trace = MutTrace(parent, tag, scope)
        with _compat.set_current_trace(trace):
            outs = f(*args)
            return [trace.unwrap(o) for o in outs]


def current_mut_trace() -> MutTrace | None:
    """The current trace if it is an open mutable scope's, else None."""
    cur = _compat.current_trace()
    if isinstance(cur, MutTrace) and not cur.scope.closed:
        return cur
    return None


class _NumpyProtocols:
    """NumPy's dispatch for mutable arrays, installed by ``mutjax._numpy_api``.

    That module sits above this one (it computes with ``jax.numpy`` and
    wraps results as mutable arrays), so it fills these slots when imported
    instead of being imported here.
    """

    to_numpy: Callable[..., np.ndarray]
    conversion_error: Callable[[Any, str], Exception]
    ufunc: Callable[..., Any]
    function: Callable[..., Any]


numpy_protocols = _NumpyProtocols()


def _zero_d_array(item: Any, tag: Any) -> Any:
    if (
        isinstance(item, MutArray)
        and item._trace.tag is tag
        and (item._view is not None or item._ndarray)
        and not item._aval.shape
    ):
        return _index.ZeroDArray(item._read())
    return item


def _zero_d_arrays(idx: Any, tag: Any) -> Any:
    """``idx`` with each 0-d view or 0-d ndarray of this scope in it marked as a 0-d array.

    NumPy reads a 0-d ndarray among the entries as an integer whose result
    is a copy; a NumPy scalar (``i = p[k]``, a reduction) and a kernel's 0-d
    argument stay integers, whose result is a view. The index is left as it
    is when nothing changes.
    """
    items = idx if isinstance(idx, tuple) else (idx,)
    marked = tuple(_zero_d_array(i, tag) for i in items)
    if all(m is i for m, i in zip(marked, items)):
        return idx
    return marked if isinstance(idx, tuple) else marked[0]


def _masked_index(idx: Any) -> Any:
    """The masked value of ``x[m]`` or ``x[m, :, ...]`` (an index of run-time length), or None."""
    items = idx if type(idx) is tuple else (idx,)
    if not items or not isinstance(items[0], _masked.MaskedArray):
        return None
    if any(not (it is Ellipsis or it == slice(None)) for it in items[1:]):
        return None  # with other index entries: the general pipeline (which refuses)
    return items[0]


class MutArray(_compat.Tracer, Handle):
    """The array type your function sees inside `mutjax.mutable`.

    It supports NumPy's indexing and assignment (``x[i] = v``, ``x[m] += 1``,
    ``x[idx][j] = v``), in-place operators, live views (a basic slice, ``.T``,
    ``.reshape`` and ``.view`` write through to their base, as in NumPy),
    NumPy's methods (``x.sort()``, ``x.fill(0)``, ``x.sum()``) and NumPy's
    functions (``np.add.at(x, i, 1)``, ``np.cumsum(x, out=x)``). It is a JAX
    tracer, so ``jax.numpy`` functions accept it too. Its shape and dtype are
    static; its values are traced. When the mutable function returns, every
    mutable array in its result becomes a ``jax.Array``. You never build one
    yourself; ``isinstance(x, mutjax.MutableArray)`` tells whether code runs
    inside a mutable scope.

    Example:
        ```python
        import jax.numpy as jnp
        import numpy as np
        import mutjax

        @mutjax.mutable
        def f(x):
            assert isinstance(x, mutjax.MutableArray)
            row = x[0]  # a live view, as in NumPy
            row[:] = -1.0
            x[1:] *= 2
            np.add.at(x, (2, [0, 0]), 1.0)  # repeated indices accumulate
            return x

        expected = np.arange(6.0).reshape(3, 2)
        expected[0] = -1.0
        expected[1:] *= 2
        np.add.at(expected, (2, [0, 0]), 1.0)
        assert np.array_equal(f(jnp.arange(6.0).reshape(3, 2)), expected)
        ```
    """

    # `_cell` holds the value; `_view` is None for a base array, or the view
    # chain (`mutjax._views.View`) through which this array sees its base's
    # cell; `_origin` is `(array, index)` for a view read as `array[index]`
    # (see `mutjax._assign.write`); `_scalar` is True for a copy that NumPy
    # gives as a NumPy scalar (`A[1, 2]`), which refuses item assignment and
    # whose in-place operators rebind the name instead of writing; `_ndarray`
    # is True for a base array that NumPy gives as an ndarray even where it
    # is 0-d (`np.array(1)`, `np.where(...)`), which as an index makes a copy.

    __slots__ = (
        "_cell", "_view", "_aval", "_cache_key", "_cache", "_origin", "_scalar", "_ndarray",
    )  # fmt: skip
    __array_priority__ = 2000

    def __init__(
        self, trace: MutTrace, cell: Cell, view: Any = None, aval: Any = None, origin: Any = None
    ) -> None:
        # `trace` is where the array is created; it is used through the
        # scope's active trace instead (see `_trace`).
        self._cell = cell
        self._view = view
        self._aval = cell.aval if aval is None else aval
        self._cache_key: Any = None
        self._cache = None
        self._origin = origin
        self._scalar = False
        self._ndarray = False

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
    def aval(self):
        scope = self._cell.scope
        if scope.closed:
            raise _errors.scope_ended(_assign.describe(self))
        if scope.in_other_thread:
            raise _errors.other_thread(_assign.describe(self))
        return self._aval

    @aval.setter
    def aval(self, value):
        self._aval = value

    def _read(self) -> Any:
        """The current value, as a value of the parent trace."""
        cell = self._cell
        if cell.scope.closed:
            raise _errors.scope_ended(_assign.describe(self))
        if cell.scope.in_other_thread:
            raise _errors.other_thread(_assign.describe(self))
        if self._view is None:
            return cell.value
        # The read is a value of the trace it was made in: a loop body traced
        # apart (a batched candidate) reads an input it does not write at an
        # unchanged version, and its value must not serve the outer trace.
        parent = cell.scope.active.parent_trace
        key = (cell.version, parent)
        if (
            self._cache_key is None
            or self._cache_key[0] != key[0]
            or self._cache_key[1] is not parent
        ):
            with _compat.set_current_trace(parent):
                self._cache = self._view.read(cell.value)
            self._cache_key = key
        return self._cache

    def _store(self, value: Any) -> None:
        """Replace this array's whole contents with ``value`` (right shape and dtype)."""
        _assign.store(self, value)

    def _check_writable(self) -> None:
        _assign.check_writable(self)

    def to_concrete_value(self):
        return _compat.to_concrete_value(self._read())

    def _known(self, what: str) -> Any:
        """The current value as a concrete jax.Array, for a conversion to Python values."""
        value = self._read()
        if _compat.is_concrete_array(value):
            return value
        raise _errors.traced_value(what, _assign.describe(self))

    # JAX's Tracer refuses these even when the value is known (eager mode);
    # a concrete value converts as the jax.Array it holds does.
    def tolist(self) -> Any:
        return self._known("x.tolist()").tolist()

    def tobytes(self, order: str = "C") -> bytes:
        return self._known("x.tobytes()").tobytes(order)

    def __reduce__(self) -> Any:
        # Pickles as the jax.Array it holds (it loads as one).
        return self._known("pickling (pickle.dumps(x))").__reduce__()

    def __format__(self, spec: str) -> str:
        if not spec:
            return str(self)
        value = np.asarray(self._known(f"formatting with {spec!r} (f'{{x:{spec}}}')"))
        return format(value[()] if value.ndim == 0 else value, spec)

    # JAX's Tracer converts to float/complex/index only through the aval, which
    # refuses even when the value is known (eager mode): look at it first.
    # A traced value gives mutjax's error naming the user's line (also an
    # instance of the JAX error it replaces), whatever asked: NumPy storing it
    # into an element, an index, `float(x)`, an `if`.
    def _concrete(self, convert: Callable[[Any], Any], kind: str) -> Any:
        concrete = self.to_concrete_value()
        if concrete is None:
            raise numpy_protocols.conversion_error(self, kind)
        return convert(concrete)

    def __float__(self) -> float:
        return self._concrete(float, "float")

    def __complex__(self) -> complex:
        return self._concrete(complex, "complex")

    def __int__(self) -> int:
        return self._concrete(int, "int")

    def __index__(self) -> int:
        return self._concrete(operator.index, "index")

    def __bool__(self) -> bool:
        return self._concrete(bool, "bool")

    # -- indexing (mutjax._assign) ------------------------------------------------

    def __getitem__(self, idx: Any) -> Any:
        if _compat.current_trace() is not self._trace:
            # Read inside a transformation that is not ours (a lax loop body,
            # vmap): JAX's own indexing, so that the current trace sees this
            # array as an input rather than our parent seeing its tracers.
            return _compat.Tracer.__getitem__(self, idx)
        masked = _masked_index(idx)
        if masked is not None:
            return _masked.gather(self, masked)  # `x[indices[a:b]]`, a CSR row
        # A NumPy scalar is indexed as a temporary 0-d array: `s[...]` is a
        # new 0-d array, and no write through it reaches `s`.
        src = _inplace.copy(self) if self._scalar else self
        out = _assign.read(src, _zero_d_arrays(idx, self._trace.tag))
        if type(out) is MutArray and out._view is None and not out._aval.shape:
            # Every 0-d copy an index gives is a NumPy scalar there (a 0-d
            # array result, `x[..., np.array(0)]`, is seen through a view).
            out._scalar = True
        return out

    def __setitem__(self, idx: Any, value: Any) -> None:
        if self._scalar:
            raise _errors.scalar_item_assignment(self._aval.dtype, user_line())
        _assign.write(self, idx, value)

    def __delitem__(self, idx: Any) -> None:
        raise ValueError("cannot delete array elements")  # NumPy's error

    @property
    def flat(self) -> _inplace.FlatIterator:  # type: ignore[override]
        return _inplace.FlatIterator(self)

    def __iter__(self):
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
    def T(self) -> Any:  # NumPy's name
        return _scalar_view(self, _views.transpose)

    # NumPy's method takes its axes positionally only (`np.transpose` passes
    # `axes=` on as the one positional argument, see mutjax._numpy_api).
    def transpose(self, *axes: Any) -> Any:
        return _scalar_view(self, _views.transpose, *axes)

    @property
    def shape(self) -> tuple[int, ...]:
        return self.aval.shape

    @shape.setter
    def shape(self, value: Any) -> None:
        # NumPy's in-place reshape: the C-order reshape of this array as a
        # view of the same buffer, refused where that reshape needs a copy.
        if self._scalar:
            raise AttributeError("attribute 'shape' of 'numpy.generic' objects is not writable")
        new_shape = (value,) if isinstance(value, (int, np.integer)) else tuple(value)
        try:
            y = _views.reshape(self, new_shape, copy=False)
        except ValueError as e:
            if "avoid creating a copy" not in str(e):
                raise  # NumPy's own reshape errors (a size that does not fit)
            raise AttributeError(
                "Incompatible shape for in-place modification. "
                "Use `.reshape()` to make a copy with the desired shape."
            ) from None
        self._view, self._aval, self._cache_key, self._origin = y._view, y._aval, None, None

    @property
    def real(self) -> Any:
        return _scalar_view(self, _views.real)

    @real.setter
    def real(self, value: Any) -> None:
        _views.set_part(self, "real", value)

    @property
    def imag(self) -> Any:
        return _scalar_view(self, _views.imag)

    @imag.setter
    def imag(self, value: Any) -> None:
        _views.set_part(self, "imag", value)

    def swapaxes(self, axis1: int, axis2: int) -> Any:
        return _scalar_view(self, _views.swapaxes, axis1, axis2)

    # NumPy's signature, not jax.Array's: a live view of the same buffer where NumPy
    # gives one (NumPy's in-place semantics), and NumPy's `copy=`.
    def reshape(  # type: ignore[override]
        self, *shape: Any, order: str = "C", copy: bool | None = None
    ) -> Any:
        return _scalar_view(self, _views.reshape, *shape, order=order, copy=copy)

    # NumPy's signature, not jax.Array's: a live view where NumPy gives one.
    def ravel(self, order: str = "C") -> Any:  # type: ignore[override]
        return _scalar_view(self, _views.ravel, order)

    def squeeze(self, axis: Any = None) -> Any:
        return _scalar_view(self, _views.squeeze, axis)

    def diagonal(self, offset: int = 0, axis1: int = 0, axis2: int = 1) -> Any:
        return _views.diagonal(self, offset, axis1, axis2)

    def copy(self, order: str = "C") -> Any:
        out = _inplace.copy(self)
        out._scalar = self._scalar  # a NumPy scalar's copy is a NumPy scalar
        out._ndarray = self._ndarray
        return out

    # A 0-d array's astype and conj give 0-d arrays in NumPy (a NumPy
    # scalar's give NumPy scalars), where the primitive's result is a scalar.
    def astype(self, *args: Any, **kwargs: Any) -> Any:
        return _kind_of(self, super().astype(*args, **kwargs))

    def conj(self) -> Any:
        if not jnp.iscomplexobj(self):
            return self  # NumPy's conj of a real array is the array itself
        return _kind_of(self, super().conj())

    conjugate = conj

    def flatten(self, order: str = "C") -> Any:
        return _inplace.copy(_views.ravel(self, order))

    # A NumPy scalar's fill / put / resize act on a temporary 0-d array:
    # nothing changes, and nothing is raised.
    def fill(self, value: Any) -> None:
        if not self._scalar:
            _inplace.fill(self, value)

    # NumPy's signature, not jax.Array's: sorts in place and returns None.
    def sort(  # type: ignore[override]
        self, axis: int = -1, kind: str | None = None, order: Any = None
    ) -> None:
        _inplace.sort(self, axis, kind, order)

    def put(self, indices: Any, values: Any, mode: str = "raise") -> None:
        if not self._scalar:
            _inplace.put(self, indices, values, mode)

    def clip(self, min: Any = None, max: Any = None, out: Any = None, **kwargs: Any) -> Any:
        if isinstance(out, MutArray) and out._scalar:
            raise TypeError("return arrays must be of ArrayType")  # NumPy's, for a scalar
        return _inplace.clip(self, min, max, out, **kwargs)

    def resize(self, *new_shape: Any, refcheck: bool = True) -> None:
        if not self._scalar:
            _inplace.resize(self, *new_shape, refcheck=refcheck)

    # -- NumPy's dispatch protocols (installed by mutjax._numpy_api) -------------

    # NumPy's protocol signature (dtype, copy), not jax.Array's.
    def __array__(  # type: ignore[override]
        self, dtype: Any = None, copy: Any = None
    ) -> np.ndarray:
        return numpy_protocols.to_numpy(self, dtype, copy)

    def __array_ufunc__(self, ufunc: Any, method: str, *inputs: Any, **kwargs: Any) -> Any:
        out = kwargs.get("out")
        outs = out if isinstance(out, tuple) else (out,)
        if any(isinstance(x, _masked.MaskedArray) for x in inputs + outs):
            return NotImplemented  # a value of run-time length: its own rules
        if any(isinstance(x, MutArray) and x._scalar for x in outs):
            raise TypeError("return arrays must be of ArrayType")  # NumPy's, for a scalar
        if method == "at" and inputs and isinstance(inputs[0], MutArray) and inputs[0]._scalar:
            raise TypeError("first operand must be array")  # NumPy's, for a scalar
        return numpy_protocols.ufunc(ufunc, method, inputs, kwargs)

    def __array_function__(self, func: Any, types: Any, args: Any, kwargs: Any) -> Any:
        if any(issubclass(t, _masked.MaskedArray) for t in types):
            return NotImplemented  # a value of run-time length: its own rules
        dst = args[0] if args else kwargs.get("dst")
        if func is np.copyto and isinstance(dst, MutArray) and dst._scalar:
            raise TypeError(  # NumPy's, for a scalar destination
                f"copyto() argument 1 must be a numpy.ndarray, not numpy.{dst._aval.dtype}"
            )
        return numpy_protocols.function(func, args, kwargs)

    def __repr__(self) -> str:
        if self._cell.scope.closed:
            return f"<mutjax array {_assign.describe(self)} (its mutable scope has ended)>"
        try:
            concrete = self.to_concrete_value()
        except Exception:  # repr must never raise
            concrete = None
        if concrete is not None:
            body = np.array2string(np.asarray(concrete), separator=", ", prefix="MutableArray(")
            return f"MutableArray({body}, dtype={self._aval.dtype})"
        return f"MutableArray<{_assign.describe(self)}>"

    __str__ = __repr__


# -- in-place operators ------------------------------------------------------------
#
# `x += v` must keep identity (`y = x; x += 1` changes `y`) and write through
# views, so each in-place operator computes the result and stores it back.
# NumPy casts an in-place ufunc's result with the 'same_kind' rule: an int
# array `+=` a float raises, as NumPy's UFuncTypeError (a TypeError) does.


def _scalar_inplace(x: MutArray, name: str, op: Callable[[Any, Any], Any], other: Any) -> Any:
    """``x op= other`` for a NumPy scalar ``x``: a new scalar, ``x`` itself unchanged.

    NumPy scalars are immutable, so ``w = v; v += 1`` leaves ``w`` as it was.
    A copy of one element not read yet (``x[i, j] += v``) gives a fresh copy
    waiting on the same read, which then records the operation: ``x[i, j] = t``
    stays one combining scatter (``mutjax._assign.combine``).
    """
    unread = x._cell.pending
    if type(unread) is _elements.Unread and unread.op is None:
        cell = Cell(None, x._cell.scope, x._cell.aval)
        cell.pending = _elements.Unread(
            unread.base, unread.ix, unread.parent, unread.source, unread.key
        )
        fresh = x._trace.view(cell, None, x._aval)
        fresh._scalar = True
        if _assign.combine(fresh, name, other):
            return fresh
    result = op(x, other)
    if isinstance(result, MutArray) and result._view is None and not result._aval.shape:
        result._scalar = True
    return result


def _make_inplace(name: str, op: Callable[[Any, Any], Any]) -> Callable[[MutArray, Any], MutArray]:
    def method(self: MutArray, other: Any) -> MutArray:
        self._check_writable()
        if self._scalar:
            return _scalar_inplace(self, name, op, other)
        if _assign.combine(self, name, other):
            return self  # one combining scatter, as `.at[i].add(v)` (or waiting to be one)
        if self._aval.shape or self._view is not None:  # (else it may stand for a scalar)
            _inplace.check_operator_shapes(name, self, other)
        result = op(self, other)
        rdtype = np.dtype(result.dtype)
        dtype = np.dtype(self._aval.dtype)
        if (
            not self._aval.shape
            and self._view is None
            and (result.shape != () or not np.can_cast(rdtype, dtype, "same_kind"))
        ):
            # A 0-d base array here is a kernel's argument or a converted
            # loop's carried value, which may stand for a NumPy scalar (the
            # caller's `1`, `s = A[0, 0]` before the loop): its `+=` rebinds to
            # the new value instead of refusing, as that scalar's does.
            return result
        if tuple(result.shape) != tuple(self._aval.shape):
            raise _errors.out_shape_error(tuple(self._aval.shape), tuple(result.shape))
        _errors.check_ufunc_cast(name, rdtype, dtype)
        self[...] = result
        return self

    method.__name__ = f"__i{name}__"
    return method


for _name, _op in _inplace.OPERATORS.items():
    setattr(MutArray, f"__i{_name}__", _make_inplace(_name, _op))
del _name, _op


# -- binary operators ----------------------------------------------------------------
#
# JAX's operators refuse a list operand (NumPy takes any array-like), raise
# TypeError for shapes that do not broadcast (NumPy: ValueError) and wrap a
# Python int that does not fit the array's dtype (NumPy 2 raises, or answers
# a comparison exactly). Each operator applies NumPy's rules to its operands,
# then runs JAX's. The ufunc names the NumPy operation; `@` is checked as `*`
# is (NumPy refuses its Python ints the same way, before the shapes).

_BINARY: dict[str, np.ufunc] = {
    "add": np.add, "sub": np.subtract, "mul": np.multiply, "truediv": np.true_divide,
    "floordiv": np.floor_divide, "mod": np.remainder, "divmod": np.divmod, "pow": np.power,
    "matmul": np.multiply, "and": np.bitwise_and, "or": np.bitwise_or, "xor": np.bitwise_xor,
    "lshift": np.left_shift, "rshift": np.right_shift,
}  # fmt: skip
_COMPARE: dict[str, np.ufunc] = {
    "lt": np.less, "le": np.less_equal, "gt": np.greater, "ge": np.greater_equal,
    "eq": np.equal, "ne": np.not_equal,
}  # fmt: skip


_PYTHON_SCALARS = (int, float, complex, bool)


def _check_broadcast(a: tuple[int, ...], b: tuple[int, ...], reflected: bool) -> None:
    if a == b:
        return
    try:
        np.broadcast_shapes(a, b)
    except ValueError:
        first, second = (b, a) if reflected else (a, b)
        raise ValueError(
            "operands could not be broadcast together with shapes "
            f"{_errors.shape_str(first)} {_errors.shape_str(second)} "
        ) from None


def _make_binary(name: str, ufunc: np.ufunc, reflected: bool) -> Callable[[MutArray, Any], Any]:
    jax_op = getattr(_compat.Tracer, name)
    check_shapes = name not in ("__matmul__", "__rmatmul__")  # matmul has its own rules

    def method(self: MutArray, other: Any) -> Any:
        other = _values.operand(other)
        if type(other) in _PYTHON_SCALARS:
            outcome = _values.python_int_operands(
                ufunc, (other, self) if reflected else (self, other)
            )
            if outcome is not None:
                return jnp.full(tuple(self.shape), outcome)
        elif (
            check_shapes and not isinstance(other, _masked.MaskedArray) and hasattr(other, "shape")
        ):
            _check_broadcast(tuple(self.shape), tuple(other.shape), reflected)
        if direct:
            # The call binds (self, other), or (other, self) when reflected.
            if reflected:
                out = on_values(lambda o, x: jax_op(x, o), other, self)
            else:
                out = on_values(jax_op, self, other)
            if out is not None:
                return out
        return jax_op(self, other)

    method.__name__ = name
    direct = name not in ("__divmod__", "__rdivmod__")  # two results
    return method


# What ``on_values`` passes through unchanged beside mutable arrays.
_CONSTANTS = (*_PYTHON_SCALARS, np.ndarray, np.generic)


def on_values(fn: Callable[..., Any], *args: Any) -> Any:
    """``fn(*args)`` run on the parent trace's values of ``args``, or None where that may differ.

    ``fn`` (a ``jax.numpy`` operation) called on mutable arrays binds on
    their trace, whose ``default`` binds the same call again on the parent
    with the values read: the same equations, through one more trace per
    operation (a fifth of a converted loop body's trace). Taken only where
    that detour does nothing else: the current trace is the arrays' own,
    each mutable argument is of it and holds a value of exactly its type,
    the others are Python or NumPy constants, and at least one value is
    traced. ``args`` are read in the order ``fn`` binds them.
    """
    trace = _compat.current_trace()
    if type(trace) is not MutTrace:
        return None
    if not all(
        a._trace is trace if type(a) is MutArray else isinstance(a, _CONSTANTS) for a in args
    ):
        return None
    values = [a._read() if type(a) is MutArray else a for a in args]
    mutable = [(a, v) for a, v in zip(args, values) if type(a) is MutArray]
    if any(_compat.typeof(v) != a._aval for a, v in mutable):
        return None
    if not any(isinstance(v, _compat.Tracer) for _, v in mutable):
        return None
    with _compat.set_current_trace(trace.parent_trace):
        out = fn(*values)
    return computed(trace._wrap_out(out))


for _name, _ufunc in _BINARY.items():
    setattr(MutArray, f"__{_name}__", _make_binary(f"__{_name}__", _ufunc, False))
    setattr(MutArray, f"__r{_name}__", _make_binary(f"__r{_name}__", _ufunc, True))
for _name, _ufunc in _COMPARE.items():
    setattr(MutArray, f"__{_name}__", _make_binary(f"__{_name}__", _ufunc, False))
del _name, _ufunc
