"""NumPy's own API on mutable arrays: ``__array_ufunc__`` / ``__array_function__``.

``np.sin(x)``, ``np.sum(x, axis=0)``, ``np.linalg.solve(a, b)`` on a mutable
array compute with the ``jax.numpy`` function of the same name and return
mutable arrays. NumPy's in-place API mutates: ``ufunc.at``, ``ufunc(...,
out=x)``, ``np.copyto``, ``np.put``, ``np.place``, ``np.putmask``,
``np.fill_diagonal``, ``np.put_along_axis``.

Argument combinations NumPy refuses raise NumPy's exception: before an
in-place update, and whenever ``jax.numpy`` refuses a call, the same call is
replayed on NumPy with placeholder arrays of the same shapes and dtypes (the
real values where they are known), so that NumPy itself words the error.
"""

from __future__ import annotations

import math
import os
import sys
from collections.abc import Callable
from types import FrameType
from typing import Any, Literal, TypeGuard

import jax
import jax.numpy as jnp
import numpy as np

from . import (
    _compat,
    _duplicates,
    _errors,
    _index,
    _inplace,
    _lower,
    _masked,
    _trace,
    _values,
    _views,
)
from ._trace import MutArray, MutTrace


class UnsupportedNumpyError(_errors.MutjaxError, TypeError):
    """A NumPy function or argument that mutjax cannot compute with JAX.

    Raised when NumPy dispatches a function to a mutable array and the
    function has no ``jax.numpy`` counterpart, takes an argument mutjax does
    not support, or fails in JAX on these inputs; also by converted code
    (`mutjax.jit`) that draws from a NumPy random generator. Compute that
    step with ``jax.numpy`` (or ``jax.lax``), or outside the mutable function
    with NumPy. Also a ``TypeError``, as NumPy raises for an array type that
    does not implement a function.

    Example:
        ```python
        import jax.numpy as jnp
        import numpy as np
        import mutjax

        @mutjax.mutable
        def f(x):
            return np.busday_count(x, x)  # no jax.numpy counterpart

        try:
            f(jnp.zeros(3))
        except mutjax.UnsupportedNumpyError as err:
            message = str(err)
        assert "has no jax.numpy counterpart" in message
        ```
    """


# -- helpers ---------------------------------------------------------------------


def _is_mut(x: Any) -> TypeGuard[MutArray]:
    return isinstance(x, MutArray)


def _canonical(dtype: Any) -> np.dtype:
    """``dtype`` as JAX stores it (64-bit types narrow unless x64 is enabled)."""
    return np.dtype(jax.dtypes.canonicalize_dtype(dtype))


def _tree_map(f: Callable[[Any], Any], x: Any) -> Any:
    """Map ``f`` over the leaves of nested lists / tuples / dicts (not pytrees of arrays)."""
    if type(x) in (list, tuple):
        return type(x)(_tree_map(f, v) for v in x)
    if type(x) is dict:
        return {k: _tree_map(f, v) for k, v in x.items()}
    return f(x)


def _trace_in(*trees: Any) -> MutTrace | None:
    found: list[MutTrace] = []

    def visit(x: Any) -> Any:
        if _is_mut(x) and not found:
            found.append(x._trace)
        return x

    for t in trees:
        _tree_map(visit, t)
    return found[0] if found else None


def _placeholder(x: Any) -> Any:
    """A NumPy stand-in for a JAX value: its value if known, else zeros."""
    if _is_mut(x) or isinstance(x, jax.Array):
        concrete = _compat.to_concrete_value(x._read() if _is_mut(x) else x)
        if concrete is not None:
            return np.array(concrete)
        return np.zeros(x.shape, x.dtype)
    if isinstance(x, np.ndarray):
        return x.copy()
    return x


def _numpy_check(func: Callable[..., Any], args: Any, kwargs: Any) -> None:
    """Run NumPy's ``func`` on placeholders so that it raises its own errors."""
    func = getattr(func, "_implementation", func)
    args, kwargs = _tree_map(_placeholder, (tuple(args), dict(kwargs)))
    func(*args, **kwargs)


def _user_frame() -> str:
    """``file:line: code`` of the innermost frame outside mutjax, JAX and NumPy."""
    skip = tuple(
        os.path.dirname(file) + os.sep
        for m in (sys.modules["mutjax"], jax, np)
        if (file := getattr(m, "__file__", None))
    )
    frame: FrameType | None = sys._getframe(1)
    while frame is not None and frame.f_code.co_filename.startswith(skip):
        frame = frame.f_back
    if frame is None:
        return "<unknown line>"
    import linecache

    code = linecache.getline(frame.f_code.co_filename, frame.f_lineno).strip()
    return f"{frame.f_code.co_filename}:{frame.f_lineno}: `{code}`"


# The two ways out, named by every error about a NumPy array meeting a traced value.
_FIXES = (
    "Make that array mutable: run the kernel with `mutjax.jit(f)` (or "
    "`mutjax.mutable(f, loops=True)`), where NumPy's own np.zeros / np.empty / "
    "np.array / ... make mutable arrays, or write `import mutjax.numpy as np` at "
    "the top of the module (its creation functions make mutable arrays inside "
    "mutjax.mutable and are NumPy's outside); or compute with jax.numpy."
)


def numpy_array_error(
    what: str, kind: type[_errors.NumpyArrayError] = _errors.NumpyArrayError
) -> _errors.NumpyArrayError:
    """The error for a plain NumPy array meeting a traced value, naming the user's line."""
    return kind(
        f"mutjax: {what}, at {_user_frame()}. A NumPy array cannot hold a traced "
        f"value (under jax.jit its value is not known yet). {_FIXES}"
    )


def to_numpy(x: MutArray, dtype: Any = None, copy: Any = None) -> np.ndarray:
    """``np.asarray(x)``: the value when it is known, else a NumpyArrayError."""
    concrete = x.to_concrete_value()
    if concrete is None:
        raise numpy_array_error(
            "a traced mutable array was converted to a NumPy array (np.asarray / "
            "np.array, stored into a NumPy array, or used to index one)",
            _errors.NumpyArrayConversionError,
        )
    return np.asarray(concrete, dtype=dtype)


def conversion_error(x: MutArray, kind: str) -> Exception:
    """The error for ``float(x)`` / ``int`` / ``complex`` / ``__index__`` / ``bool`` on a traced ``x``."""
    if kind == "bool":
        return _errors.TracedConditionError(
            "mutjax: a traced value was used as a Python bool (an `if`, `while`, "
            f"`and` / `or` or `assert` on it), at {_user_frame()}. Under jax.jit its "
            "value is not known yet. Convert the function's Python control flow: "
            "`mutjax.jit(f)` (or `mutjax.mutable(f, loops=True)`) turns such an `if` "
            "into a select or a `mutjax.cond` and such a `while` into a "
            "`while_loop`; or write `jnp.where(c, a, b)` / `mutjax.cond` yourself."
        )
    if kind == "index":
        return numpy_array_error(
            "a traced value was used as a Python integer (an index into a NumPy "
            "array or a list, `range(x)`)",
            _errors.ConcreteIndexError,
        )
    return numpy_array_error(
        f"a traced value was converted to a Python {kind} (stored into a NumPy "
        f"array element, or `{kind}(x)`, `math.*(x)`)",
        _errors.ConcreteScalarError,
    )


def _unsupported(name: str, why: str) -> UnsupportedNumpyError:
    return UnsupportedNumpyError(
        f"mutjax: numpy.{name} {why}. Compute this step with jax.numpy (or "
        "jax.lax) on the mutable array, or outside mutjax.mutable with NumPy."
    )


def _wrap(result: Any, trace: MutTrace | None) -> Any:
    """Make every array in ``result`` a mutable array of ``trace``."""
    if trace is None or trace.scope.closed:
        return result

    def one(r: Any) -> Any:
        if isinstance(r, jax.Array) and not (_is_mut(r) and r._trace.tag is trace.tag):
            if isinstance(r, _compat.Tracer) and not _is_mut(r):
                return r  # a value of another trace (e.g. a vmap inside the scope)
            return trace.new(r)
        return r

    return _tree_map(one, result)


def _pytype_or_dtype(x: Any) -> Any:
    if type(x) is bool:
        return np.dtype(bool)
    if type(x) in (int, float, complex):
        return type(x)
    return np.result_type(x.dtype if hasattr(x, "dtype") else np.asarray(x))


# -- writing results into `out` --------------------------------------------------


def _assign(dst: Any, value: Any, casting: Literal["same_kind", "unsafe"], name: str) -> None:
    """``dst[...] = value`` with NumPy's casting and broadcasting checks."""
    vdtype = np.dtype(value.dtype) if hasattr(value, "dtype") else np.result_type(value)
    if not np.can_cast(vdtype, np.dtype(dst.dtype), casting):
        raise _np_casting_error(name, vdtype, np.dtype(dst.dtype), casting)
    vshape = np.shape(value)
    if np.broadcast_shapes(vshape, dst.shape) != tuple(dst.shape):
        raise _errors.out_shape_error(tuple(dst.shape), np.broadcast_shapes(vshape, dst.shape))
    if isinstance(dst, np.ndarray):
        concrete = _compat.to_concrete_value(value._read() if _is_mut(value) else value)
        if concrete is None and not isinstance(value, np.ndarray):
            raise numpy_array_error(f"numpy.{name} was given a NumPy array as `out`")
        np.copyto(dst, np.asarray(concrete if concrete is not None else value), casting="unsafe")
        return
    dst[...] = jnp.asarray(value).astype(dst.dtype)


def _np_casting_error(name: str, src: np.dtype, dst: np.dtype, casting: str) -> TypeError:
    return _errors.ufunc_cast_error(name, src, dst, casting)


# -- ufuncs ----------------------------------------------------------------------

_UFUNC_ALIASES = {"conjugate": "conj", "absolute": "abs"}


def _jnp_ufunc(ufunc: np.ufunc) -> Callable[..., Any]:
    name = ufunc.__name__
    f = getattr(jnp, name, None) or getattr(jnp, _UFUNC_ALIASES.get(name, ""), None)
    if f is None:
        raise _unsupported(name, "has no jax.numpy counterpart")
    return f


def array_ufunc(ufunc: np.ufunc, method: str, inputs: tuple[Any, ...], kwargs: Any) -> Any:
    """``MutArray.__array_ufunc__``: compute ``ufunc`` with ``jax.numpy``."""
    if method == "__call__":
        return _ufunc_call(ufunc, inputs, dict(kwargs))
    if method == "at":
        return _ufunc_at(ufunc, *inputs)
    if method in ("reduce", "accumulate", "outer", "reduceat"):
        trace = _trace_in(inputs, kwargs)
        out = kwargs.pop("out", None)
        jf = _jnp_ufunc(ufunc)
        if not isinstance(jf, jnp.ufunc):
            identity = ufunc.identity
            jf = jnp.frompyfunc(jf, ufunc.nin, ufunc.nout, identity=identity)
        try:
            result = getattr(jf, method)(*inputs, **kwargs)
        except Exception as e:  # replaced by NumPy's error below
            _numpy_check(getattr(ufunc, method), inputs, kwargs)
            raise _unsupported(f"{ufunc.__name__}.{method}", f"failed in JAX: {e}") from e
        result = _wrap(result, trace)
        if out is not None:
            dst = out[0] if isinstance(out, tuple) else out
            _assign(dst, result, "same_kind", ufunc.__name__)
            return dst
        return result
    raise _unsupported(f"{ufunc.__name__}.{method}", "is not supported")


def _ufunc_outs(ufunc: np.ufunc, out: Any) -> tuple[Any, tuple[Any, ...]]:
    """``out=`` as given (None when absent) and as a tuple of one entry per output."""
    if isinstance(out, tuple) and all(o is None for o in out):
        out = None
    outs = out if isinstance(out, tuple) else (out,) * (out is not None)
    if out is not None and len(outs) != ufunc.nout:
        raise ValueError(
            f"The 'out' tuple must have exactly {ufunc.nout} entries: one per ufunc output"
        )
    return out, outs


def _ufunc_types(ufunc: np.ufunc, inputs: tuple[Any, ...], dtype: Any) -> tuple[Any, ...]:
    """NumPy's loop dtypes for ``inputs`` (NEP 50 promotion; NumPy's own errors)."""
    in_types = tuple(_pytype_or_dtype(v) for v in inputs)
    if dtype is not None:
        sig = (None,) * ufunc.nin + (np.dtype(dtype),) * ufunc.nout
        return ufunc.resolve_dtypes(in_types + (None,) * ufunc.nout, signature=sig)
    return ufunc.resolve_dtypes(in_types + (None,) * ufunc.nout)


def _ufunc_options(name: str, kwargs: dict[str, Any]) -> tuple[Any, Any, Any, Any]:
    """``out``, ``where``, ``dtype`` and ``casting`` of a ufunc call; refuses the rest."""
    out = kwargs.pop("out", None)
    where = kwargs.pop("where", True)
    dtype = kwargs.pop("dtype", None)
    casting = kwargs.pop("casting", "same_kind")
    kwargs.pop("subok", None)
    if kwargs.pop("order", "K") not in ("K", "A", "C", "F"):
        raise ValueError("order must be one of 'C', 'F', 'A', or 'K'")
    if kwargs:
        raise _unsupported(name, f"got arguments mutjax does not support: {sorted(kwargs)}")
    return out, where, dtype, casting


def _ufunc_call(ufunc: np.ufunc, inputs: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
    name = ufunc.__name__
    trace = _trace_in(inputs, kwargs)
    out, where, dtype, casting = _ufunc_options(name, kwargs)
    out, outs = _ufunc_outs(ufunc, out)
    jf = _jnp_ufunc(ufunc)
    inputs = tuple(_values.operand(v) for v in inputs)  # NumPy takes lists and tuples
    # NumPy's result dtypes, narrowed to what JAX stores.
    np_types = _ufunc_types(ufunc, inputs, dtype)
    args = [
        jnp.asarray(v).astype(_canonical(t)) if dtype is not None else v
        for v, t in zip(inputs, np_types[: ufunc.nin])
    ]
    # A Python int beyond an integer operand's range: NumPy's error, or the
    # comparison's outcome (JAX would wrap the int).
    outcome = _values.python_int_operands(ufunc, inputs)
    result: Any
    try:
        if outcome is not None:
            result = jnp.full(np.broadcast_shapes(*(np.shape(v) for v in inputs)), outcome)
        else:
            result = jf(*args)
    except Exception as e:  # NumPy's own error where NumPy refuses
        _numpy_check(ufunc, inputs, {})
        raise _unsupported(name, f"failed in JAX on these inputs: {e}") from e
    results = result if ufunc.nout > 1 else (result,)
    results = tuple(
        r if np.dtype(r.dtype) == _canonical(t) else r.astype(_canonical(t))
        for r, t in zip(results, np_types[ufunc.nin :])
    )
    if where is not True:
        if out is None:
            # NumPy leaves the unselected elements uninitialized; we give zeros.
            bases: tuple[Any, ...] = tuple(jnp.zeros_like(r) for r in results)
        else:
            bases = outs
        results = tuple(jnp.where(where, r, b) for r, b in zip(results, bases))
    results = _wrap(results, trace)
    if out is None:
        return results if ufunc.nout > 1 else results[0]
    for dst, r, t in zip(outs, results, np_types[ufunc.nin :]):
        # NumPy checks casting on its own (64-bit) result dtype.
        if not np.can_cast(t, np.dtype(dst.dtype), casting):
            raise _np_casting_error(name, np.dtype(t), np.dtype(dst.dtype), casting)
        _assign(dst, r, "unsafe", name)
    return out if isinstance(out, tuple) and ufunc.nout > 1 else outs[0]


# ufunc.at: the positions a[indices] selects, as flat indices, then either one
# scatter (when repeated indices may be combined in any order and no cast
# intervenes) or NumPy's sequential loop, one update per index.
_SCATTER = {
    "add": "add",
    "subtract": "add",
    "multiply": "multiply",
    "maximum": "max",
    "minimum": "min",
}


def _flat_positions(shape: tuple[int, ...], indices: Any, trace: MutTrace) -> tuple[Any, Any]:
    """Flat positions ``a[indices]`` selects, and the raw index when it is traced."""
    size = math.prod(shape)

    def static(i: Any) -> Any:
        # Known index values (static, or concrete when eager) are checked by NumPy.
        v = trace.unwrap(i) if _is_mut(i) else i
        if isinstance(v, jax.Array):
            concrete = _compat.to_concrete_value(v)
            return np.asarray(concrete) if concrete is not None else v
        return v

    raw = _tree_map(static, indices)
    if type(raw) is list:
        raw = raw if any(isinstance(r, jax.Array) for r in raw) else np.asarray(raw)
    if not any(isinstance(v, jax.Array) for v in jax.tree_util.tree_leaves(raw)):
        return np.arange(size).reshape(shape)[raw], None  # NumPy's IndexError for bad ones
    with _compat.set_current_trace(trace.parent_trace):
        sel_shape = _index.analyze(raw, shape).result_shape
    return jax.ShapeDtypeStruct(sel_shape, np.intp), raw


def _traced_positions(shape: tuple[int, ...], raw: Any) -> Any:
    # Traced out-of-bounds positions become `size`, whose writes are dropped.
    size = math.prod(shape)
    return jnp.arange(size).reshape(shape).at[raw].get(mode="fill", fill_value=size)


def _ufunc_at(ufunc: np.ufunc, a: Any, indices: Any, b: Any = None) -> None:
    name = ufunc.__name__
    if ufunc.nin == 2 and b is None:
        raise ValueError("second operand needed for ufunc")
    if ufunc.nin == 1 and b is not None:
        raise ValueError("second operand provided when ufunc is unary")
    if ufunc.nout != 1 or ufunc.nin > 2:
        raise ValueError("Only unary and binary ufuncs supported at this time")
    if not _is_mut(a):
        # A NumPy array to update: NumPy does it with the known values.
        return _on_numpy_values(ufunc.at, (a, indices) + (() if b is None else (b,)), {})
    a._check_writable()
    trace = a._trace
    jf = _jnp_ufunc(ufunc)
    adt = np.dtype(a.dtype)
    if type(b) is int and adt.kind in "iu" and not _values.fits(b, adt):
        # NumPy's ufunc.at computes with such an int as an int64 array and
        # casts the result back unsafely (uint8: maximum.at(x, i, 300) stores
        # 44); JAX would refuse the int.
        b = np.asarray(b)
    in_types = (adt,) if b is None else (adt, _pytype_or_dtype(b))
    rdt = ufunc.resolve_dtypes(in_types + (None,))[-1]
    pos, traced = _flat_positions(tuple(a.shape), indices, trace)
    shape = tuple(a.shape)
    bv = trace.unwrap(b) if _is_mut(b) else b
    with _compat.set_current_trace(trace.parent_trace):
        flat = a._read().reshape(-1)
        n = math.prod(tuple(pos.shape))
        if b is not None:
            if np.broadcast_shapes(np.shape(bv), tuple(pos.shape)) != tuple(pos.shape):
                raise ValueError(
                    f"operands could not be broadcast together with remapped shapes "
                    f"{tuple(pos.shape)} {np.shape(bv)}"
                )
            raw_b = bv
        kind = _SCATTER.get(name)
        if n == 0:
            new = flat
        elif kind is not None and _canonical(rdt) == _canonical(adt):
            # Cast before broadcasting: a weak-typed `1` then folds into a
            # constant and the jaxpr is the hand-written `.at[idx].add(1)`.
            upd = jnp.broadcast_to(jnp.asarray(raw_b, flat.dtype), tuple(pos.shape)).reshape(-1)
            if name == "subtract":
                upd = -upd
            if traced is None:
                new = getattr(flat.at[pos.reshape(-1)], kind)(upd)
            else:
                # What one writes by hand: a single scatter with the user's index.
                upd = upd.reshape(tuple(pos.shape))
                new = getattr(a._read().at[traced], kind)(upd).reshape(-1)
        else:
            idx = pos if traced is None else _traced_positions(shape, traced)
            idx = jnp.asarray(idx).reshape(-1)
            if b is not None:
                bv = jnp.broadcast_to(jnp.asarray(raw_b), tuple(pos.shape)).reshape(-1)

            def body(k: Any, f: Any) -> Any:
                p = idx[k]
                args = (f[p],) if b is None else (f[p], bv[k])
                r = jf(*args).astype(_canonical(rdt))
                return f.at[p].set(r.astype(f.dtype))

            new = jax.lax.fori_loop(0, n, body, flat)
        new = new.reshape(shape)
    _store(a, new)


# -- array functions -----------------------------------------------------------


def _flat_write(a: MutArray, positions: Any, values: Any) -> None:
    """``a.flat[positions] = values``, last write winning as in NumPy."""
    trace = a._trace
    size = math.prod(a.shape)
    with _compat.set_current_trace(trace.parent_trace):
        flat = a._read().reshape(-1)
        pos = positions
        if isinstance(pos, np.ndarray) and pos.size:
            # Static repeated positions: keep each one's last value (NumPy's rule).
            keep = _duplicates.last_of_static(pos)
            pos, values = pos[keep], jnp.asarray(values)[keep]
        ix = _index.analyze((pos,), (size,))
        v = _values.prepare_value(values, ix.result_shape, flat.dtype)
        new = _lower.write(flat, ix, v).reshape(a.shape)
    _store(a, new)


def _store(a: MutArray, new: Any) -> None:
    # A view writes back through its chain with lax ops: on the parent trace.
    with _compat.set_current_trace(a._trace.parent_trace):
        a._store(new)


def _on_numpy_values(func: Callable[..., Any], args: Any, kwargs: Any) -> Any:
    """NumPy's ``func`` updating a NumPy array, on the known values of mutable ones."""

    def known(v: Any) -> Any:
        if not _is_mut(v):
            return v
        concrete = v.to_concrete_value()
        if concrete is None:
            raise numpy_array_error(
                f"numpy.{getattr(func, '__name__', func)} would store a traced value "
                "into a NumPy array"
            )
        return np.asarray(concrete)

    args, kwargs = _tree_map(known, (tuple(args), dict(kwargs)))
    return getattr(func, "_implementation", func)(*args, **kwargs)


def _need_mut(a: MutArray) -> MutArray:
    a._check_writable()
    return a


def _unwrap(x: Any, trace: MutTrace) -> Any:
    return _tree_map(lambda v: trace.unwrap(v) if _is_mut(v) else v, x)


def _copyto(dst: Any, src: Any, casting: str = "same_kind", where: Any = True) -> None:
    dst = _need_mut(dst)
    _numpy_check(np.copyto, (dst, src), dict(casting=casting, where=where))
    trace = dst._trace
    src, where = _unwrap((src, where), trace)
    with _compat.set_current_trace(trace.parent_trace):
        v = jnp.broadcast_to(jnp.asarray(src).astype(dst.dtype), dst.shape)
        if where is not True:
            v = jnp.where(where, v, dst._read())
    dst[...] = trace.new(v)


def _put(a: Any, ind: Any, v: Any, mode: str = "raise") -> None:
    if _is_mut(a) and "put" in type(a).__dict__:
        return a.put(ind, v, mode=mode)
    a = _need_mut(a)
    _numpy_check(np.put, (a, ind, v), dict(mode=mode))
    trace = a._trace
    size = math.prod(a.shape)
    ind, v = _unwrap((ind, v), trace)
    if isinstance(ind, (list, tuple, int, np.ndarray, np.generic)):
        pos: Any = np.asarray(ind, dtype=np.intp).reshape(-1)
        lib: Any = np
    else:
        with _compat.set_current_trace(trace.parent_trace):
            pos = jnp.asarray(ind).reshape(-1)
        lib = jnp
    if pos.shape[0] == 0 or size == 0:
        return None
    with _compat.set_current_trace(trace.parent_trace):
        if mode == "wrap":
            pos = lib.mod(pos, size)
        elif mode == "clip":
            pos = lib.clip(pos, 0, size - 1)
        else:
            pos = lib.where(pos < 0, pos + size, pos)
        vals = jnp.resize(jnp.asarray(v), pos.shape).astype(a.dtype)
    _flat_write(a, pos, vals)
    return None


def _place(arr: Any, mask: Any, vals: Any) -> None:
    arr = _need_mut(arr)
    _numpy_check(np.place, (arr, mask, vals), {})
    trace = arr._trace
    mask, vals = _unwrap((mask, vals), trace)
    with _compat.set_current_trace(trace.parent_trace):
        m = jnp.broadcast_to(jnp.asarray(mask, bool).reshape(-1), (math.prod(arr.shape),))
        vals = jnp.asarray(vals).reshape(-1)
        if vals.shape[0] == 0:
            return  # NumPy raised above if any element was selected
        k = jnp.cumsum(m) - 1
        new = jnp.where(m, vals[k % vals.shape[0]].astype(arr.dtype), arr._read().reshape(-1))
        new = new.reshape(arr.shape)
    _store(arr, new)


def _putmask(a: Any, mask: Any, values: Any) -> None:
    a = _need_mut(a)
    _numpy_check(np.putmask, (a, mask, values), {})
    trace = a._trace
    mask, values = _unwrap((mask, values), trace)
    with _compat.set_current_trace(trace.parent_trace):
        vals = jnp.asarray(values).reshape(-1)
        if vals.shape[0] == 0:
            return
        full = jnp.resize(vals, (math.prod(a.shape),)).reshape(a.shape).astype(a.dtype)
        new = jnp.where(jnp.asarray(mask, bool), full, a._read())
    _store(a, new)


def _fill_diagonal(a: Any, val: Any, wrap: bool = False) -> None:
    a = _need_mut(a)
    _numpy_check(np.fill_diagonal, (a, val), dict(wrap=wrap))
    shape = tuple(a.shape)
    # NumPy's own stride arithmetic over the flat array.
    end = None
    if len(shape) == 2:
        step = shape[1] + 1
        if not wrap:
            end = shape[1] * shape[1]
    else:
        step = 1 + int(np.cumprod(shape[:-1]).sum())
    pos = np.arange(math.prod(shape))[:end:step]
    trace = a._trace
    val = _unwrap(val, trace)
    with _compat.set_current_trace(trace.parent_trace):
        vals = jnp.resize(jnp.asarray(val).reshape(-1), pos.shape).astype(a.dtype)
    _flat_write(a, pos, vals)


def _put_along_axis(arr: Any, indices: Any, values: Any, axis: Any) -> None:
    arr = _need_mut(arr)
    _numpy_check(np.put_along_axis, (arr, indices, values, axis), {})
    trace = arr._trace
    indices, values = _unwrap((indices, values), trace)
    with _compat.set_current_trace(trace.parent_trace):
        new = jnp.put_along_axis(
            arr._read(),
            jnp.asarray(indices),
            jnp.asarray(values).astype(arr.dtype),
            axis,
            inplace=False,
        )
    _store(arr, new)


# NumPy's in-place functions (mutjax._inplace.FUNCTIONS), each by `_<name>` here.
_INPLACE: dict[Any, Callable[..., Any]] = {
    getattr(np, name): globals()[f"_{name}"] for name in sorted(_inplace.FUNCTIONS)
}

# NumPy functions that return views: routed to the MutArray method (or the
# function in mutjax._views) of the same name when one exists, so that they
# return live views; otherwise computed as copies by jax.numpy.
_VIEW_FUNCS = (
    "transpose", "reshape", "swapaxes", "moveaxis", "squeeze", "expand_dims",
    "ravel", "broadcast_to", "diagonal", "real", "imag",
)  # fmt: skip

# Functions whose 0-d result NumPy gives as a 0-d array; every other
# function's is a NumPy scalar, as the operation computing it made it.
_ARRAY_RESULTS = frozenset((
    "where", "select", "piecewise", "roll", "resize", "real_if_close", "i0", "cross",
    "tensordot", "copy", "array", "asarray", "asanyarray", "zeros_like", "ones_like",
    "empty_like", "full_like",
))  # fmt: skip

# Functions that need the values to know their result's shape.
_DATA_DEPENDENT_SHAPE = ("nonzero", "argwhere", "flatnonzero", "unique", "where", "extract")


def _view_route(name: str, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
    if not args or not _is_mut(args[0]):
        return NotImplemented
    method = type(args[0]).__dict__.get(name)
    if method is not None and not isinstance(method, property):  # (`real`: _views.real)
        if name == "transpose":
            # np.transpose(a, axes) and np.transpose(a, axes=...): the method
            # takes the axes positionally.
            axes = args[1] if len(args) > 1 else kwargs.pop("axes", None)
            return method(args[0], *(() if axes is None else (axes,)), **kwargs)
        return method(*args, **kwargs)
    helper = getattr(_views, name, None)
    if callable(helper):
        return helper(*args, **kwargs)
    return NotImplemented


# NumPy functions that jax.numpy spells differently.
_FUNC_ALIASES = {"fix": "trunc"}

# NumPy functions that only look at dtypes or concrete values: NumPy answers
# them itself on the known values (a traced value gives a NumpyArrayError).
_ON_VALUES = ("array2string", "array_repr", "array_str", "common_type", "min_scalar_type")


def _may_share_memory(a: Any, b: Any, max_work: Any = None) -> bool:
    # Mutable arrays share memory exactly when they see the same base cell.
    return _is_mut(a) and _is_mut(b) and a._cell is b._cell


def _jnp_counterpart(func: Callable[..., Any]) -> Callable[..., Any] | None:
    module = getattr(func, "__module__", "") or ""
    ns: Any = jnp
    for sub in ("linalg", "fft"):
        if module.startswith(f"numpy.{sub}") or module.startswith(f"numpy.lib.{sub}"):
            ns = getattr(jnp, sub)
    name = _FUNC_ALIASES.get(func.__name__, func.__name__)
    return getattr(ns, name, None)


def array_function(func: Callable[..., Any], args: tuple[Any, ...], kwargs: Any) -> Any:
    """``MutArray.__array_function__``: NumPy's in-place API, views, else jax.numpy."""
    handler = _INPLACE.get(func)
    if handler is not None:
        if args and not _is_mut(args[0]):
            return _on_numpy_values(func, args, kwargs)
        return handler(*args, **kwargs)
    name = func.__name__
    kwargs = dict(kwargs)
    if name in ("may_share_memory", "shares_memory"):
        return _may_share_memory(*args, **kwargs)
    if name in _ON_VALUES:
        args, kwargs = _tree_map(lambda v: to_numpy(v) if _is_mut(v) else v, (args, kwargs))
        return func(*args, **kwargs)
    if name == "full_like":
        _values.check_fill(*args, **kwargs)
    if name == "clip" and args and _is_mut(args[0]):
        return _inplace.clip(*args, **kwargs)  # NumPy's rule for Python int bounds
    indices = _argument(args, kwargs, 1, "indices") if name == "take" else None
    if isinstance(indices, _masked.MaskedArray):
        # NumPy dispatches np.take on its array only: an index of run-time length.
        return indices.__array_function__(func, (), args, kwargs)
    if name in _VIEW_FUNCS:
        out = _view_route(name, args, kwargs)
        if out is not NotImplemented:
            return out
    jf = _jnp_counterpart(func)
    if jf is None:
        raise _unsupported(name, "has no jax.numpy counterpart")
    if jf is func or getattr(jf, "__wrapped__", None) is func:
        # jax.numpy re-exports a few NumPy functions (np.shape, np.ndim...):
        # call NumPy's implementation, which only reads attributes.
        return func._implementation(*args, **kwargs)  # type: ignore[attr-defined]
    trace = _trace_in(args, kwargs)
    out = kwargs.pop("out", None)
    kwargs.pop("like", None)
    try:
        result = jf(*args, **kwargs)
    except jax.errors.ConcretizationTypeError as e:
        if name in _DATA_DEPENDENT_SHAPE:
            raise _errors.DynamicShapeError(
                f"mutjax: numpy.{name} on a traced array has a shape that depends on "
                "the values, which jax.jit cannot express. Pass `size=` through "
                f"jax.numpy.{name}, or use a mask with np.where(cond, x, y)."
            ) from e
        _numpy_check(func, args, kwargs)
        raise
    except Exception as e:  # NumPy's own error where NumPy refuses
        try:
            _numpy_check(func, args, kwargs)
        except np.linalg.LinAlgError:
            pass  # placeholder values, not the arguments, made NumPy refuse
        raise _unsupported(name, f"failed in JAX with these arguments: {e}") from e
    result = _numpy_dtypes(name, result, kwargs)
    result = _array_result(name, _wrap(result, trace), args)
    if out is not None:
        _assign(out, result, "same_kind", name)
        return out
    return result


def _array_result(name: str, result: Any, args: tuple[Any, ...]) -> Any:
    """``result`` of NumPy's ``name``, a 0-d array where NumPy gives one (``_ARRAY_RESULTS``)."""
    if name in _ARRAY_RESULTS and not any(result is a for a in args):
        _trace.as_array(result)
    return result


def _argument(args: tuple[Any, ...], kwargs: dict[str, Any], pos: int, name: str) -> Any:
    """A function's argument given by position or by name (None if absent)."""
    return args[pos] if len(args) > pos else kwargs.get(name)


def _numpy_dtypes(name: str, result: Any, kwargs: dict[str, Any]) -> Any:
    """Cast results whose dtype ``jax.numpy`` chooses differently from NumPy."""
    if name == "histogram" and kwargs.get("weights") is None and not kwargs.get("density"):
        # NumPy counts in int64; jax.numpy.histogram counts in floats.
        counts, edges = result
        return counts.astype(_canonical(np.intp)), edges
    return result


_trace.numpy_protocols.to_numpy = to_numpy
_trace.numpy_protocols.conversion_error = conversion_error
_trace.numpy_protocols.ufunc = array_ufunc
_trace.numpy_protocols.function = array_function
