"""In place: the table of NumPy's in-place operations, and the ndarray methods among them.

``OPERATORS`` (the binary operators with an in-place form), ``METHODS``
(ndarray methods that write their array) and ``FUNCTIONS`` (NumPy
functions that write an argument) are the one list of what writes without
``x[idx] = v``: the interpreter defines ``__iadd__`` and the other in-place
operators from the first, ``mutjax._numpy_api`` implements the third, and
the loop converter (``mutjax._loops``) treats every name here as a write.

The methods fill, sort, put, clip(out=) and resize follow.

Each one computes the new contents functionally and stores them through
``x[...] = new``, so it writes through views and keeps identity like any
other assignment. Bad arguments raise NumPy's exception, with NumPy's message,
at trace time.
"""

from __future__ import annotations

import operator
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
from numpy.lib.array_utils import normalize_axis_index

from . import _assign, _compat, _errors, _index, _lower, _masked, _values, _views
from ._masked import _lengths
from ._scope import Handle
from ._views import _own

# `x op= v` for these names of the `operator` module (`__iadd__`, ...).
OPERATORS: dict[str, Any] = {
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

# ndarray methods that write their array: those mutable arrays have (defined
# below), and NumPy's others, which mutable arrays do not offer.
METHODS = frozenset(["fill", "sort", "put", "resize"])
UNSUPPORTED_METHODS = frozenset(["itemset", "partition", "setflags"])

# NumPy functions that write their first argument (mutjax._numpy_api), and
# the ufunc method that writes in place (`np.add.at`).
FUNCTIONS = frozenset(["copyto", "put", "place", "putmask", "fill_diagonal", "put_along_axis"])
UFUNC_METHODS = frozenset(["at"])

_SORT_KINDS = "qhms"  # NumPy accepts any kind starting with these (quick, heap, merge, stable)
_PUT_MODES = ("raise", "wrap", "clip")


def check_operator_shapes(name: str, target: Any, other: Any) -> None:
    """NumPy's ``ValueError`` for ``target op= other`` whose shapes NumPy refuses.

    ``v += w`` is ``np.add(v, w, out=v)``: NumPy names the output's shape
    too (``operands could not be broadcast together with shapes (3,) (4,)
    (3,) ``), unlike ``v + w``; ``@=`` is ``np.matmul(v, w, out=v)``, a
    gufunc whose core axes must agree with the output's. A masked operand
    has its own check; an unreadable shape is left to the operation.
    """
    if isinstance(other, _masked.MaskedArray):
        return
    try:
        shape = tuple(other.shape) if hasattr(other, "shape") else np.shape(other)
    except ValueError:  # a ragged sequence: the operation says so
        return
    out = tuple(target.shape)
    if name == "matmul":
        message = _matmul_into(out, shape)
        if message is not None:
            raise ValueError(message)
    elif shape != out:
        _check_cast_first(name, target, other, out)
        _lengths.check_lengths("inplace", [out, shape, out])


def _check_cast_first(name: str, target: Any, other: Any, out: tuple[int, ...]) -> None:
    """NumPy's ufunc resolves the output's dtype before it broadcasts: a result
    that cannot be cast to ``target`` raises that error, as for equal shapes."""
    dtype = getattr(other, "dtype", None)
    if dtype is None:
        return  # a list: converted by the operation, then cast as it is
    # (as JAX computes it, as the operation itself would: float64 is float32 without x64)
    structs = [
        jax.ShapeDtypeStruct(out, jax.dtypes.canonicalize_dtype(d)) for d in (target.dtype, dtype)
    ]
    _errors.check_ufunc_cast(name, jax.eval_shape(OPERATORS[name], *structs).dtype, target.dtype)


_MATMUL = "with gufunc signature (n?,k),(k,m?)->(n?,m?)"


def _matmul_into(out: tuple[int, ...], b: tuple[int, ...]) -> str | None:
    """NumPy's message for ``a @= b`` with ``a`` of shape ``out``, or None where
    its core axes agree (batch axes other than ``a``'s own are left to matmul)."""
    if not b:  # matmul's own check comes first
        return (
            "matmul: Input operand 1 does not have enough dimensions (has 0, gufunc core "
            "with signature (n?,k),(k,m?)->(n?,m?) requires 1)"
        )
    if len(out) < 1 or len(b) < 2:
        return (
            "inplace matrix multiplication requires the first operand to have at least "
            "one and the second at least two dimensions."
        )
    if len(b) != 2 and b[:-2] != out[:-2]:
        return None
    if b[-2] != out[-1]:
        return (
            f"matmul: Input operand 1 has a mismatch in its core dimension 0, {_MATMUL} "
            f"(size {b[-2]} is different from {out[-1]})"
        )
    if b[-1] != out[-1]:
        return (
            f"matmul: Output operand 0 has a mismatch in its core dimension "
            f"{0 if len(out) == 1 else 1}, {_MATMUL} (size {out[-1]} is different from {b[-1]})"
        )
    return None


def _value(x: Any) -> Any:
    """``x``'s current value as a parent-trace value (``x`` may be any array)."""
    if isinstance(x, Handle):
        return x._read()  # type: ignore[attr-defined]
    return x


def _writable(x: Any) -> None:
    """Raise unless ``x`` is a mutable array that may be written here and now."""
    if not isinstance(x, Handle):
        raise TypeError(f"mutjax: expected a mutable array, got {type(x).__name__}")
    _assign.check_writable(x)  # scope ended, foreign trace, read-only view


def copy(x: Any) -> Any:
    """``x.copy()``: a new base array with ``x``'s current contents (no aliasing)."""
    if not _own(x):
        return jnp.array(x, copy=True)
    return x._trace.new(x._read())


def fill(x: Any, value: Any) -> None:
    """``x.fill(value)``: every element set to the scalar ``value``, as NumPy.

    Raises:
        ValueError: ``value`` has more than one element, or ``x`` is read-only.
    """
    if int(np.prod(np.shape(value))) != 1 and np.ndim(value) > 0:
        raise ValueError("setting an array element with a sequence.")
    if np.ndim(value) > 0:
        value = jnp.reshape(value, ())
    x[...] = value


def sort(x: Any, axis: Any = -1, kind: Any = None, order: Any = None) -> None:
    """``x.sort(axis, kind, order)``: sort in place along ``axis``, as NumPy.

    ``kind`` is checked as NumPy checks it and does not change the result
    (values of equal keys are indistinguishable).

    Raises:
        TypeError: ``kind`` is not a string, or ``axis`` is None.
        ValueError: an unknown ``kind``, or ``order`` on an array without fields.
        numpy.exceptions.AxisError: ``axis`` out of range.
    """
    if kind is not None:
        if not isinstance(kind, str):
            raise TypeError(f"sort kind must be str, not {type(kind).__name__}")
        if not kind or kind[0].lower() not in _SORT_KINDS:
            raise ValueError(
                f"sort kind must be one of 'quick', 'heap', or 'stable' (got {kind!r})"
            )
    if order is not None:
        raise ValueError("Cannot specify order when the array has no fields.")
    if axis is None:
        raise TypeError("'NoneType' object cannot be interpreted as an integer")
    ndim = len(np.shape(x))
    axis = normalize_axis_index(operator.index(axis), ndim)
    _writable(x)
    with _compat.set_current_trace(x._trace.parent_trace):
        new = jnp.sort(x._read(), axis=axis)
    x[...] = x._trace.new(new)


def put(x: Any, indices: Any, values: Any, mode: str = "raise") -> None:
    """``x.put(indices, values, mode)``: set ``x.flat[indices] = values``, as NumPy.

    ``values`` repeat if shorter than ``indices``; repeated indices: the last
    write wins. ``mode`` 'raise' checks static indices (negative ones count
    from the end); traced indices cannot raise under jit: out-of-range ones
    are dropped. 'wrap' wraps around, 'clip' clips to the valid range.

    Raises:
        ValueError: an unknown ``mode``.
        IndexError: a static index out of range with mode 'raise', or any
            index into an empty array.
    """
    if mode not in _PUT_MODES:
        raise ValueError(f"clipmode must be one of 'clip', 'raise', or 'wrap' (got {mode!r})")
    _writable(x)
    trace = x._trace
    shape = tuple(x._aval.shape)
    n = int(np.prod(shape))
    ind = _value(indices)
    vals = _value(values)
    with _compat.set_current_trace(trace.parent_trace):
        static = _compat.is_concrete_array(ind) or not isinstance(ind, _compat.Tracer)
        if static:
            ind = np.asarray(
                _compat.to_concrete_value(ind) if isinstance(ind, _compat.Tracer) else ind
            )
            if ind.dtype.kind not in "iub" and ind.size:
                ind = ind.astype(np.intp, casting="same_kind")
            ind = ind.astype(np.intp).ravel()
        else:
            ind = jnp.ravel(ind)
        if ind.size == 0:
            return
        vals = jnp.ravel(_values.prepare_value(vals, tuple(np.shape(vals)), x._aval.dtype))
        if vals.size == 0:
            return
        if n == 0:
            raise IndexError("cannot replace elements of an empty array")
        if vals.size != ind.size:
            vals = jnp.resize(vals, (ind.size,))
        if static:
            if mode == "raise":
                bad = (ind < -n) | (ind >= n)
                if bad.any():
                    raise IndexError(
                        f"index {int(ind[bad][0])} is out of bounds for axis 0 with size {n}"
                    )
                ind = np.where(ind < 0, ind + n, ind)
            elif mode == "wrap":
                ind = ind % n
            else:
                ind = np.clip(ind, 0, n - 1)
        else:
            if mode == "wrap":
                ind = ind % n
            elif mode == "clip":
                ind = jnp.clip(ind, 0, n - 1)
            else:
                ind = jnp.where(ind < 0, ind + n, ind)
                ind = jnp.where(ind < 0, n, ind)  # still negative: out of range, dropped
        flat = jnp.ravel(x._read())
        ix = _index.analyze((ind,), (n,))
        new = jnp.reshape(_lower.write(flat, ix, vals), shape)
    x[...] = trace.new(new)


def clip(x: Any, a_min: Any = None, a_max: Any = None, out: Any = None, **kwargs: Any) -> Any:
    """``x.clip(min, max, out=None)``: NumPy's clip; with ``out`` it writes into ``out``.

    Args:
        x: a mutable array.
        a_min, a_max: bounds (arrays or scalars; None for no bound).
        out: None (return a new array) or a mutable array or view of the
            current scope, which receives the result and is returned.

    Raises:
        TypeError: ``out`` is not a mutable array, or the result cannot be cast
            to ``out``'s dtype with NumPy's 'same_kind' rule.
        ValueError: the result does not broadcast to ``out``'s shape.
    """
    a_min = kwargs.pop("min", a_min)
    a_max = kwargs.pop("max", a_max)
    if kwargs:
        raise TypeError(f"clip() got an unexpected keyword argument {next(iter(kwargs))!r}")
    if isinstance(out, tuple) and len(out) == 1:
        out = out[0]
    # NumPy 2 drops a Python int bound beyond the dtype's range or refuses it;
    # JAX would wrap it into the range.
    a_min, a_max = _values.clip_bounds(x.dtype, a_min, a_max)
    result = copy(x) if a_min is None and a_max is None else jnp.clip(x, a_min, a_max)
    if out is None:
        return result
    if not isinstance(out, Handle):
        raise TypeError("return arrays must be of ArrayType")
    dst: Any = out  # a mutable array (Handle is only its marker class)
    rshape = tuple(np.shape(result))
    oshape = tuple(dst.aval.shape)
    try:
        bshape = np.broadcast_shapes(rshape, oshape)
    except ValueError:
        bshape = None
    if bshape != oshape:
        raise _errors.out_shape_error(oshape, bshape if bshape is not None else rshape)
    _errors.check_ufunc_cast("clip", result.dtype, dst.aval.dtype)
    dst[...] = result
    return dst


def resize(x: Any, *new_shape: Any, refcheck: bool = True) -> None:
    """``x.resize(new_shape)``: as NumPy does it, or refuses it, inside a kernel.

    NumPy reallocates only when the size changes: then a view (which does not
    own its data) is refused, and so is a base array passed to a kernel (the
    caller references it) unless ``refcheck=False``, which zero-fills or
    truncates in place. When the size stays, NumPy only re-shapes ``x`` in
    place with contiguous strides: ``x`` becomes the C-order (F-order for an
    F-contiguous array) reshape of itself, still a live view of its base.

    Raises:
        ValueError: as NumPy; and for a same-size resize of a non-contiguous
            view, whose NumPy result exposes memory outside the view.
    """
    _writable(x)
    if len(new_shape) == 1 and isinstance(new_shape[0], (tuple, list)):
        new_shape = tuple(new_shape[0])
    if len(new_shape) == 1 and new_shape[0] is None:
        return
    new_shape = tuple(operator.index(s) for s in new_shape)
    if any(s < 0 for s in new_shape):
        raise ValueError("negative dimensions not allowed")
    size = int(np.prod(new_shape))
    if size == int(np.prod(x._aval.shape)):
        layout = _views._layout(tuple(x._aval.shape), _views._strides(x))
        if layout.flags.c_contiguous or layout.flags.f_contiguous:
            order = "C" if layout.flags.c_contiguous else "F"
            y = _views.reshape(x, new_shape, order=order, copy=False)
            x._view, x._aval, x._cache_key = y._view, y._aval, None
            return
        raise ValueError(
            "mutjax: resizing a non-contiguous view in place exposes memory outside "
            "the view in NumPy; mutjax refuses it. Use np.resize or reshape instead."
        )
    if x._view is not None:
        raise ValueError("cannot resize this array: it does not own its data")
    if refcheck:
        raise ValueError(
            "cannot resize an array that references or is referenced\n"
            "by another array in this way.\n"
            "Use the np.resize function or refcheck=False"
        )
    cell = x._cell
    with _compat.set_current_trace(x._trace.parent_trace):
        flat = jnp.ravel(cell.value)[:size]
        flat = jnp.pad(flat, (0, size - flat.shape[0]))
        new = jnp.reshape(flat, new_shape)
    cell.aval = _compat.typeof(new)
    x._aval = cell.aval
    cell.set(new)


def _traced(idx: Any) -> bool:
    """Whether an index holds a mutable array or a tracer (in a list or tuple too)."""
    if type(idx) in (list, tuple):
        return any(_traced(i) for i in idx)
    return isinstance(idx, (Handle, _compat.Tracer))


def _flat_value(value: Any, shape: tuple[int, ...]) -> Any:
    """``value`` as NumPy's flat assignment takes it: cycled or cut to ``shape``'s size."""
    if np.ndim(value) == 0:
        return value
    value = _values.operand(value)
    lib: Any = np if isinstance(value, np.ndarray) else jnp
    size = int(np.prod(shape))
    flat = lib.ravel(value)
    if flat.shape[0] != size:
        flat = lib.resize(flat, (size,))  # NumPy's rule for `flat` and `put`
    return lib.reshape(flat, shape)


class FlatIterator:
    """``a.flat``: NumPy's flat iterator over a mutable array, in C order.

    Reads give copies, as NumPy's do. ``a.flat[idx] = v`` writes the
    elements ``idx`` selects in C order through ``a``'s own assignment (so it
    writes through views, non-contiguous ones too), with ``v`` repeated or cut
    to the number of selected elements, as NumPy's flat assignment does.
    """

    __slots__ = ("base",)

    def __init__(self, base: Any) -> None:
        self.base = base

    def __len__(self) -> int:
        return int(np.prod(self.base.shape))

    def __iter__(self) -> Any:
        return (self[k] for k in range(len(self)))

    def __getitem__(self, idx: Any) -> Any:
        return jnp.ravel(self.base)[idx]

    def __setitem__(self, idx: Any, value: Any) -> None:
        base = self.base
        shape = tuple(base.shape)
        n = len(self)
        mask: Any = idx
        if isinstance(idx, Handle) and np.dtype(mask.dtype) == np.bool_:
            # A traced mask over the flat array is a mask over the array.
            base[jnp.reshape(mask, shape)] = value
            return
        if _traced(idx):
            pos = jnp.arange(n)[idx]
        else:
            pos = np.arange(n)[idx]  # NumPy's IndexError for a bad index
        if int(np.prod(np.shape(pos))) == 0:
            return
        value = _flat_value(value, np.shape(pos))
        if not shape:
            base[...] = value if np.ndim(value) == 0 else value[-1]
            return
        lib: Any = jnp if isinstance(pos, (Handle, _compat.Tracer)) else np
        base[lib.unravel_index(pos, shape)] = value

    def __array__(self, dtype: Any = None, copy: Any = None) -> np.ndarray:
        return np.asarray(self.copy(), dtype=dtype)

    def copy(self) -> Any:
        """The elements in C order: a new 1-d array, as ``a.flatten()``."""
        return jnp.ravel(self.base)


__all__ = ["FlatIterator", "clip", "copy", "fill", "put", "resize", "sort"]
