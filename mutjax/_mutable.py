"""``mutjax.mutable``: the entry point that opens a mutable scope around a function.

Called from outside any scope, it copies the arguments in (the caller's
arrays never change), runs the function under a new ``MutTrace``
and returns its result as ``jax.Array``s. Called on mutable arrays from inside
another scope, it works on them by reference, as a NumPy function would.
"""

from __future__ import annotations

import contextlib
import functools
from collections.abc import Callable, Iterator, Sequence
from typing import Any, TypeVar, cast, overload

import jax
import jax.numpy as jnp
import numpy as np

from . import _assign, _boundary, _compat, _errors, _loops, _masked, _returned
from ._loops import _bounds
from ._returned import Selection
from ._scope import Scope
from ._trace import MutArray, MutTrace, current_mut_trace

F = TypeVar("F", bound=Callable[..., Any])


def _is_array_leaf(x: Any) -> bool:
    return isinstance(x, (jax.Array, np.ndarray)) or (
        isinstance(x, np.generic) and not isinstance(x, (np.str_, np.bytes_))
    )


def _narrowed(x: Any) -> bool:
    """A NumPy integer scalar that JAX would wrap into a narrower dtype (x64 disabled).

    It stays a static NumPy scalar, as a closed-over constant does: used as an
    index it then raises NumPy's IndexError instead of selecting another element.
    """
    if not isinstance(x, np.integer):
        return False
    info = np.iinfo(jax.dtypes.canonicalize_dtype(x.dtype))
    return not info.min <= int(x) <= info.max


@overload
def mutable(
    fun: F,
    *,
    loops: bool = False,
    return_argnums: None = None,
    return_argnames: None = None,
) -> F: ...
@overload
def mutable(
    fun: Callable[..., Any],
    *,
    loops: bool = False,
    return_argnums: int | Sequence[int] | None = None,
    return_argnames: str | Sequence[str] | None = None,
) -> Callable[..., Any]: ...
@overload
def mutable(
    fun: None = None,
    *,
    loops: bool = False,
    return_argnums: None = None,
    return_argnames: None = None,
) -> Callable[[F], F]: ...
@overload
def mutable(
    fun: None = None,
    *,
    loops: bool = False,
    return_argnums: int | Sequence[int] | None = None,
    return_argnames: str | Sequence[str] | None = None,
) -> Callable[[Callable[..., Any]], Callable[..., Any]]: ...


@_returned.refusing_return_args("mutjax.mutable")
def mutable(
    fun: Callable[..., Any] | None = None,
    *,
    loops: bool = False,
    return_argnums: int | Sequence[int] | None = None,
    return_argnames: str | Sequence[str] | None = None,
) -> Callable[..., Any]:
    """Make ``fun`` see its arrays as mutable NumPy-style arrays.

    Inside ``fun`` every array leaf of the arguments (any pytree) and every
    array ``fun`` creates or computes supports ``x[idx] = v``, augmented
    assignment and live views, with NumPy's semantics. The result composes
    with ``jax.jit``, ``jax.grad``, ``jax.vmap`` and the other transformations.

    Args:
        fun: the function to wrap. ``mutable`` can also be used as
            ``@mutable(loops=True)`` or ``@mutable(return_argnums=0)``.
        loops: if True, convert the Python ``for``/``while``/``if`` statements
            of ``fun`` and of the functions it calls into mutjax's loop and
            branch combinators (one compiled loop instead of an unrolled one),
            and NumPy's creation functions make mutable arrays there.
            ``mutjax.jit(fun)`` is ``jax.jit(mutable(fun, loops=True))``; the
            guide [Python loops and branches][which-entry-point] says which
            to use and what is converted.
        return_argnums: an int or a sequence of ints, as ``jax.jit``'s
            ``static_argnums``: the positional arguments whose final values
            the call also returns. This is how an in-place kernel
            (``def fill(out, v): out[...] = v``) gives its result back. An
            argnum selects its parameter even when a call passes it by
            keyword; a negative one counts from the end of the call's
            positional arguments; for ``def f(*args)`` it indexes the call's
            positional arguments.
        return_argnames: a str or a sequence of str, as ``jax.jit``'s
            ``static_argnames``: the arguments, by name, whose final values
            the call also returns, however the call passes them.

    Returns:
        A function with ``fun``'s signature. Called from outside any mutable
        scope it copies its inputs in (the caller's arrays never change) and
        returns ``fun``'s result with mutable arrays turned into
        ``jax.Array``. Called on mutable arrays from inside another mutable
        scope, it works on them by reference, as a NumPy function would.

        With ``return_argnums`` or ``return_argnames`` it returns ``fun``'s
        result followed by the final values of the selected arguments, flat,
        argnums first, then argnames, each argument once: ``perm, A = f(A)``
        for ``return_argnums=0``, ``out, A, b = f(A, b)`` for
        ``return_argnums=(0, 1)``. A result that is a tuple stays one
        element (``(p, q), A = f(A)``). When ``fun`` returns None, as
        in-place kernels do, only the arguments come back: ``A = f(A)`` for
        one (not a 1-tuple), ``A, b = f(A, b)`` for two.

    Raises:
        TypeError: ``fun`` is not callable, or is already ``jax.jit``-compiled
            (write ``@jax.jit`` above ``@mutjax.mutable``, or use
            ``mutjax.jit``); ``return_argnums`` is not an int or a sequence of
            ints, or ``return_argnames`` not a str or a sequence of str; a
            call did not pass a selected argument; ``return_args=`` (replaced
            by ``return_argnums``).
        ValueError: ``return_argnums`` or ``return_argnames`` names an
            argument ``fun``'s signature cannot take (what ``jax.jit`` raises
            for ``static_argnums`` and ``static_argnames``).
        mutjax.ScopeEndedError: a mutable array is used after the call that
            owns it returned.
        mutjax.ForeignTraceError: a mutable array is written inside a JAX
            transformation mutjax cannot thread the write through (a plain
            ``jax.lax`` loop body, a ``jax.jit`` applied inside ``fun``).

    Example:
        ```python
        import jax
        import jax.numpy as jnp
        import mutjax

        @jax.jit
        @mutjax.mutable
        def cumsum(x):
            for i in range(1, x.shape[0]):
                x[i] += x[i - 1]
            return x

        x = jnp.arange(4.0)
        assert cumsum(x).tolist() == [0.0, 1.0, 3.0, 6.0]
        assert x.tolist() == [0.0, 1.0, 2.0, 3.0]  # the caller's array is unchanged

        @mutjax.mutable(return_argnums=0)
        def fill(out, v):
            out[...] = v  # returns None: the call returns only `out`

        out = fill(jnp.zeros(2), 7.0)
        assert out.tolist() == [7.0, 7.0]
        ```
    """
    if fun is None:
        return functools.partial(
            mutable, loops=loops, return_argnums=return_argnums, return_argnames=return_argnames
        )
    check_function(fun)
    chosen = _returned.selection(fun, return_argnums, return_argnames, "mutjax.mutable")
    return wrap(fun, loops, chosen)


def wrap(fun: Callable[..., Any], loops: bool, chosen: Selection | None) -> Callable[..., Any]:
    """``mutable(fun)`` for a checked ``fun`` and its resolved argument selection."""
    programs = None
    if loops:
        converted = cast(Callable[..., Any], _loops.convert(fun))  # the same call signature
        if converted is not fun:
            programs = _EagerPrograms(converted, chosen)
        fun = converted

    @functools.wraps(fun)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        outer = current_mut_trace()
        if outer is not None:
            return _call_by_reference(outer, fun, chosen, args, kwargs)
        if programs is not None and _compat.is_eager():
            out = programs(args, kwargs)
            if out is not _EAGER:
                return out
        return _call_in_new_scope(fun, chosen, args, kwargs)

    return wrapper


_EAGER = object()  # "run this call eagerly", from _EagerPrograms


class _EagerPrograms:
    """Eager calls of a converted function, compiled once per argument signature.

    Each converted loop is a ``lax`` loop whose body is a new closure at every
    call, so run eagerly every call compiled a new program and JAX's
    primitive cache kept it (measured: 0.09-0.2 s and about 1.7 MiB a call,
    where ``jax.lax.fori_loop`` with one body function compiles once). As
    ``jax.jit`` does, a call is traced once per argument structure, array
    shapes and dtypes, and static (non-array) argument values, and the
    compiled program runs afterwards. Non-array results (a Python float
    computed from static values, a static argument selected by
    ``return_argnums``) come back as the trace made them. A function whose
    top-level code needs concrete values (``int(x[0])``, a shape read from
    data, a Python ``if`` on a value outside a converted loop) raises while
    traced: that call and every later one run eagerly.
    """

    def __init__(self, fun: Callable[..., Any], chosen: Selection | None) -> None:
        self.fun = fun
        self.chosen = chosen
        self.programs: dict[Any, Callable[[list[Any]], Any]] = {}
        self.eager_only = False

    def __call__(self, args: Any, kwargs: Any) -> Any:
        if self.eager_only:
            return _EAGER
        leaves, treedef = jax.tree_util.tree_flatten((args, kwargs))
        is_arr = tuple(_is_array_leaf(x) for x in leaves)
        static = tuple((type(x), x) for x, a in zip(leaves, is_arr) if not a)
        key = (treedef, is_arr, static)
        try:
            program = self.programs.get(key)
        except TypeError:  # an unhashable static argument: nothing to key on
            return _EAGER
        new = program is None
        if program is None:
            program = self.programs[key] = self._compile(treedef, leaves, is_arr)
        try:
            return program([x for x, a in zip(leaves, is_arr) if a])
        except (jax.errors.JAXTypeError, _errors.MutjaxError):
            self.eager_only = True  # needs concrete values: run it as it is
            return _EAGER
        except Exception:
            if not new:
                raise
            # Raised while tracing (a static IndexError, the user's own
            # exception): the eager run raises it again, as NumPy words it.
            del self.programs[key]
            return _EAGER

    def _compile(
        self, treedef: Any, leaves: list[Any], is_arr: tuple[bool, ...]
    ) -> Callable[[list[Any]], Any]:
        static_leaves = [None if a else x for x, a in zip(leaves, is_arr)]
        out_static: dict[str, Any] = {}

        def run(arrays: list[Any]) -> tuple[list[Any], Any]:
            it = iter(arrays)
            full = [next(it) if a else x for x, a in zip(static_leaves, is_arr)]
            args, kwargs = jax.tree_util.tree_unflatten(treedef, full)
            # The arrays are traced here, but the call is eager: every index
            # check (top level and loop bodies) folds into one flag, raised
            # as NumPy's IndexError once the values are known.
            _bounds.push()
            try:
                out = _call_in_new_scope(self.fun, self.chosen, args, kwargs)
            finally:
                flag = _bounds.pop(_bounds.no_flag())
            out_leaves, out_tree = jax.tree_util.tree_flatten(out)
            traced = [_is_array_leaf(o) for o in out_leaves]
            kept = [None if t else o for o, t in zip(out_leaves, traced)]  # no tracers
            out_static.update(tree=out_tree, leaves=kept, traced=traced)
            return [o for o, t in zip(out_leaves, traced) if t], flag

        jitted = jax.jit(run)

        def program(arrays: list[Any]) -> Any:
            results, flag = jitted(arrays)
            _bounds.report(flag)
            values = iter(results)
            out_leaves = [
                next(values) if t else o for o, t in zip(out_static["leaves"], out_static["traced"])
            ]
            return jax.tree_util.tree_unflatten(out_static["tree"], out_leaves)

        return program


def check_function(fun: Any) -> None:
    """Refuse at decoration time what would only fail when called."""
    if not callable(fun):
        raise TypeError(
            f"mutjax.mutable: expected a function to wrap, got {type(fun).__name__} {fun!r}. "
            "Use it as `@mutjax.mutable`, `@mutjax.mutable(loops=True)` or `mutjax.mutable(f)`."
        )
    # jax.jit's result (a PjitFunction) traces its body with JAX's own
    # immutable tracers: writes in it fail with "JAX arrays are immutable".
    if hasattr(fun, "lower") and hasattr(fun, "trace") and hasattr(fun, "__wrapped__"):
        name = getattr(fun, "__name__", "f")
        raise TypeError(
            f"mutjax.mutable was given {name!r} already compiled by jax.jit, so its body "
            "would see JAX's immutable arrays. Put jax.jit outside: `jax.jit(mutjax.mutable(f))`, "
            "i.e. write `@jax.jit` above `@mutjax.mutable`, or use `@mutjax.jit`, which does both "
            "and converts Python loops."
        )


def _call_by_reference(
    trace: MutTrace, fun: Callable[..., Any], chosen: Selection | None, args: Any, kwargs: Any
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
    return out if chosen is None else chosen.result(out, args, kwargs)


def _unwrap_result(trace: MutTrace, x: Any) -> Any:
    if isinstance(x, _masked.MaskedArray):
        raise _masked.dynamic_shape_error("returning it from the mutable function", x.origin)
    return trace.unwrap(x)


@contextlib.contextmanager
def _numpy_errors() -> Iterator[None]:
    """Let mutjax's error for a traced value stored into a NumPy array through.

    NumPy's element assignment (`buf[i] = x`) calls `float(x)`; when that
    raises, NumPy raises its own "setting an array element with a sequence"
    ValueError from it, since a mutable array is a sequence. The user's line
    is in the ValueError's traceback, the explanation in its cause.
    """
    try:
        yield
    except ValueError as e:
        cause = e.__cause__
        if isinstance(cause, _errors.NumpyArrayError):
            raise cause.with_traceback(e.__traceback__) from None
        raise


def _call_in_new_scope(
    fun: Callable[..., Any], chosen: Selection | None, args: Any, kwargs: Any
) -> Any:
    scope = Scope()
    # Turn NumPy inputs into JAX values before taking the current trace, so
    # that e.g. grad's tracers and plain constants are treated alike.
    leaves, treedef = jax.tree_util.tree_flatten((args, kwargs))
    is_arr = [_is_array_leaf(x) and not _narrowed(x) for x in leaves]
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
            with _compat.set_current_trace(trace), _numpy_errors():
                out = fun(*args, **kwargs)
                if chosen is not None:
                    out = chosen.result(out, args, kwargs)
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
