"""``mutjax.mutable``: the entry point that opens a mutable scope around a function.

Called from outside any scope, it copies the arguments in (the caller's
arrays never change), runs the function under a new :class:`~mutjax._trace.MutTrace`
and returns its result as ``jax.Array``s. Called on mutable arrays from inside
another scope, it works on them by reference, as a NumPy function would.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any, TypeVar, cast

import jax
import jax.numpy as jnp
import numpy as np

from . import _assign, _boundary, _compat, _loops, _masked
from ._scope import Scope
from ._trace import MutArray, MutTrace, current_mut_trace

F = TypeVar("F", bound=Callable[..., Any])


def _is_array_leaf(x: Any) -> bool:
    return isinstance(x, (jax.Array, np.ndarray)) or (
        isinstance(x, np.generic) and not isinstance(x, (np.str_, np.bytes_))
    )


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
    if loops:
        fun = cast(F, _loops.convert(fun))  # the same call signature

    @functools.wraps(fun)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        outer = current_mut_trace()
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
                return _assign.copy_in(trace.new(jnp.asarray(x)), x)
        return x

    args, kwargs = jax.tree_util.tree_map(lift, (args, kwargs))
    out = fun(*args, **kwargs)
    return (out, args, kwargs) if return_args else out


def _unwrap_result(trace: MutTrace, x: Any) -> Any:
    if isinstance(x, _masked.MaskedArray):
        raise _masked.dynamic_shape_error("returning it from the mutable function", x.origin)
    return trace.unwrap(x)


def _call_in_new_scope(fun: Callable[..., Any], return_args: bool, args: Any, kwargs: Any) -> Any:
    scope = Scope()
    # Turn NumPy inputs into JAX values before taking the current trace, so
    # that e.g. grad's tracers and plain constants are treated alike.
    leaves, treedef = jax.tree_util.tree_flatten((args, kwargs))
    is_arr = [_is_array_leaf(x) for x in leaves]
    inputs = leaves
    leaves = [jnp.asarray(x) if a else x for x, a in zip(leaves, is_arr)]
    tag = _compat.TraceTag()
    try:
        with _compat.take_current_trace() as parent, _boundary.open_scope():
            trace = MutTrace(parent, tag, scope)
            scope.trace = trace
            wrapped = [
                _assign.copy_in(trace.new(x), i) if a else x
                for x, i, a in zip(leaves, inputs, is_arr)
            ]
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
