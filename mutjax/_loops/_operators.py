"""The operators that converted code calls: mutjax's overrides of malt's ``ag__``.

malt rewrites every ``for``/``while``/``if`` into a call of ``for_stmt``,
``while_stmt`` or ``if_stmt``, with the body as a function and the Python
locals it rebinds handed over through ``get_state`` / ``set_state``. These
operators decide at trace time:

- a loop over ``range`` becomes one ``fori_loop`` (``while_loop`` when it has
  a ``break``); traced bounds whose trip count has a static maximum (the inner
  loop of a triangular nest) become a fixed-length loop whose body is masked
  by a ``cond``, so reverse-mode ``grad`` still works;
- a ``while`` whose test is traced becomes a ``while_loop``;
- an ``if`` on a traced value runs both branches with predicated writes
  (a select) when its branches are cheap, else becomes a ``cond``; on a
  static value, or one that the ranges of the loop indices decide, it runs
  as Python.

- a loop over an array or ``np.ndindex`` runs as a loop over ``range``;
- a loop with a static trip count that the compiled form cannot express
  (see :data:`_NEEDS_PYTHON`) runs as Python, with a warning.

Mutations of mutable arrays inside a body are threaded by the combinators;
the Python locals a body rebinds become the explicit carry, except the ones
holding an array of the function, which stay bound to it (:mod:`._carry`).
Eager calls carry the body's bounds checks (:mod:`._bounds`). The iterables and
tests that :mod:`._rewrite` marks (``unsafe``, ``located``, ``cheap``) and
its predicated writes (``pset``, ``paug``) land here too.
"""

from __future__ import annotations

import contextlib
import functools
import math
import operator
import warnings
from collections.abc import Callable, Iterator
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from .. import _errors, _inplace, _masked, _ranges, _scope

# The loops and branches below call these combinators only. They must
# thread the mutations of closed-over mutable arrays (mutjax's own do).
from .._control import cond as _cond
from .._control import fori_loop as _fori_loop
from .._control import fori_loop_bounded as _fori_loop_bounded
from .._control import guess as _guess_writes
from .._control import while_loop as _while_loop
from .._trace import MutArray, current_mut_trace
from . import _bounds, _carry, _choice, _vectorize

# -- errors ------------------------------------------------------------------------


class LoopConversionError(_errors.MutjaxError):
    """A Python loop or branch cannot be converted and cannot run as Python.

    Raised by `mutjax.jit` and ``mutable(fun, loops=True)`` for a loop whose
    trip count (or a branch whose test) is traced and whose body has
    something a compiled loop cannot hold: a ``print``, a ``list.append``, a
    ``return`` or a ``yield``. The message names the file, the line and what
    to change. A `MutjaxError`; the guide [Python loops][what-is-not-converted-and-what-happens] lists what converts.

    Example:
        ```python
        import numpy as np
        import mutjax

        def count(x, n):
            for i in range(n):  # n is traced under mutjax.jit
                print(i)
                x[i] = i
            return x

        try:
            mutjax.jit(count)(np.zeros(3), 2)
        except mutjax.LoopConversionError as err:
            message = str(err)
        assert "jax.debug.print" in message
        ```
    """


class LoopConversionWarning(UserWarning):
    """A Python loop or function was left unconverted (it runs as Python).

    Emitted by `mutjax.jit` and ``mutable(fun, loops=True)`` where a loop
    with a static trip count has a body a compiled loop cannot hold (a
    ``print``, a ``list.append``...), or where a function's source cannot
    be read (a lambda, code typed at a REPL or built by ``exec``). The
    result is the same; only the loop is unrolled under ``jax.jit``. A
    ``UserWarning``: ``warnings.simplefilter("error",
    mutjax.LoopConversionWarning)`` turns it into an error.

    Example:
        ```python
        import warnings

        import numpy as np
        import mutjax

        def show(x):
            for i in range(3):
                print(i)  # a Python side effect: the loop runs as Python
                x[i] = i
            return x

        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            out = mutjax.jit(show)(np.zeros(3))
        assert out.tolist() == [0.0, 1.0, 2.0]
        assert caught[0].category is mutjax.LoopConversionWarning
        ```
    """


def _is_traced(x: Any) -> bool:
    return _ranges.static(x) is None and hasattr(x, "dtype")


# -- range --------------------------------------------------------------------------


class _Range:
    """``range(...)`` inside a converted function: its bounds may be traced."""

    __slots__ = ("start", "stop", "step", "where", "writes")
    start: Any  # each an int or a traced integer (the step is never traced)
    stop: Any
    step: Any

    def __init__(self, *args: Any) -> None:
        if len(args) == 1:
            args = (0, args[0], 1)
        elif len(args) == 2:
            args = (args[0], args[1], 1)
        elif len(args) != 3:
            raise TypeError(f"range expected at most 3 arguments, got {len(args)}")
        self.start, self.stop, self.step = args
        self.where: str | None = None  # the loop's file and line, set by `located`
        self.writes: tuple[str, ...] = ()  # the names its body writes through, likewise
        if _is_traced(self.step):
            raise LoopConversionError(
                "mutjax: a converted `range` needs a step known at trace time "
                "(a Python int); its start and stop may be traced."
            )
        # Python's own checks and messages (float bounds, zero step).
        range(*[0 if _is_traced(a) else _as_int(a) for a in args])

    def static(self) -> range | None:
        vals = [_ranges.static(a) for a in (self.start, self.stop, self.step)]
        if any(v is None for v in vals):
            return None
        return range(*[_as_int(v) for v in vals])

    def __iter__(self) -> Iterator[int]:
        r = self.static()
        if r is None:
            raise LoopConversionError(
                "mutjax: a range with traced bounds can only drive a `for` loop "
                "that mutjax converts; it cannot be iterated as Python."
            )
        return iter(r)

    def __len__(self) -> int:
        r = self.static()
        if r is None:
            raise LoopConversionError("mutjax: len() of a range with traced bounds")
        return len(r)


def _as_int(x: Any) -> int:
    """``operator.index`` that also takes 0-d NumPy values (concrete JAX scalars)."""
    return operator.index(x.item() if isinstance(x, (np.ndarray, np.generic)) else x)


# -- state while a converted function runs ---------------------------------------------
#
def _intervals() -> dict[int, tuple[Any, int, int]]:
    """The static intervals of traced loop indices known in the current scope."""
    trace = current_mut_trace()
    return {} if trace is None else trace.scope.root.intervals


def _interval(x: Any) -> tuple[int, int] | None:
    return _ranges.interval(_unwrap(x), _intervals())


def _unwrap(x: Any) -> Any:
    return x._read() if isinstance(x, MutArray) else x


@contextlib.contextmanager
def running(differentiating: bool) -> Iterator[None]:
    """The operators' state around one call of a converted function.

    Whether the converted call runs under jvp/grad: only then do traced
    bounds pay for a fixed-length masked loop (a while loop has no reverse
    mode).
    """
    stack = _scope.local.differentiating
    stack.append(differentiating)
    try:
        yield
    finally:
        stack.pop()


def _index_span(r: _Range) -> tuple[int, int] | None:
    """A static interval holding every index a body of ``r`` runs with, or None."""
    lo, hi = _interval(r.start), _interval(r.stop)
    if lo is None or hi is None:
        return None
    step = _as_int(_ranges.static(r.step))
    return (lo[0], hi[1] - 1) if step > 0 else (hi[0] + 1, lo[1])


def _register(i: Any, span: tuple[int, int] | None) -> None:
    if span is not None:
        _ranges.register(_intervals(), _unwrap(i), *span)


def _max_trip(r: _Range) -> int | None:
    """A static upper bound on the trip count of ``r``, or None."""
    lo = _interval(r.start)
    hi = _interval(r.stop)
    if lo is None or hi is None:
        return None
    step = _as_int(_ranges.static(r.step))
    span = hi[1] - lo[0] if step > 0 else lo[1] - hi[0]
    return max(0, -(-span // abs(step)))


# -- the operators called by converted code --------------------------------------------


def _check_state(values: tuple[Any, ...], names: tuple[str, ...], where: str) -> None:
    from malt.operators.variables import Undefined

    for v, name in zip(values, names):
        if isinstance(v, Undefined):
            raise LoopConversionError(
                f"mutjax: `{name}` is assigned inside the {where} and used after it "
                f"or in the next iteration, but has no value before it. Give `{name}` "
                "a value (of the type it has in the loop) before the loop."
            )


def _type_str(x: Any) -> str:
    try:
        return f"{np.dtype(jnp.result_type(x)).name}{list(np.shape(x))}"
    except TypeError:
        return type(x).__name__


class _CarryTypeChange(Exception):
    """A carried local's type widens in the body: retry the loop with it widened first."""

    def __init__(self, index: int, dtype: Any) -> None:
        self.index = index
        self.dtype = dtype

    def widen(self, init: tuple[Any, ...]) -> tuple[Any, ...]:
        out = list(init)
        out[self.index] = jnp.asarray(out[self.index]).astype(self.dtype)
        return tuple(out)


class _CarryShapeChange(LoopConversionError):
    """A carried local changes shape or narrows its type in the body."""


def _checked(
    out: tuple[Any, ...], init: tuple[Any, ...], names: tuple[str, ...], where: str
) -> tuple[Any, ...]:
    """The carried locals ``out`` at the end of a loop body, their types checked.

    NumPy lets ``k = 0`` become a float at ``k = k + 0.5``; a compiled loop
    carries one type. A local whose dtype widens in the body (int to float,
    float32 to complex64) makes the loop run again with the local widened
    before it, which is NumPy's result. Any other change (a shape, a
    narrowing) is refused with the variable's name: JAX's own error would
    name a tree path of the carry instead. (A loop with a static trip count
    catches the refusal and runs as Python.)
    """
    for k, (name, a, b) in enumerate(zip(names, init, out)):
        try:
            same_shape = np.shape(a) == np.shape(b)
            ta, tb = jnp.result_type(a), jnp.result_type(b)
        except TypeError:
            continue  # not an array: JAX's tree checks apply
        if same_shape and ta == tb or name.startswith(("loop_", "do_return", "retval_")):
            continue
        if same_shape and jnp.promote_types(ta, tb) == tb:
            raise _CarryTypeChange(k, tb)
        raise _CarryShapeChange(
            f"mutjax: `{name}` is carried by the {where} and changes type in its "
            f"body: {_type_str(a)} before the loop, {_type_str(b)} after one "
            f"iteration. A compiled loop carries one type: give `{name}` its "
            f"final type and shape before the loop."
        )
    return out


def _enter(loop: _carry.Carry, carried: tuple[Any, ...], init: tuple[Any, ...]) -> tuple[Any, Any]:
    """Bind the locals at the start of a compiled body; returns what :func:`_end` needs.

    A local that is a NumPy scalar (or a Python number) before the loop is
    one in the body too, as in NumPy's first iteration: ``t = s; s += 1``
    leaves ``t`` as it was.
    """
    flag = None
    if loop.checks:
        carried, flag = carried[:-1], carried[-1]
        init = init[:-1]
        _bounds.push()
    for x, x0 in zip(carried, init):
        if not isinstance(x0, MutArray) or x0._scalar:
            _as_scalar(x)
    return loop.enter(carried), flag


def _bound(loop: _carry.Carry, carried: tuple[Any, ...]) -> tuple[Any, ...]:
    return loop.bound(carried[:-1] if loop.checks else carried)


def _end(
    loop: _carry.Carry,
    entered: tuple[Any, Any],
    ends: list[tuple[Any, ...]],
    init: tuple[Any, ...],
    where: str,
) -> tuple[Any, ...]:
    """The carried values at the end of a compiled body: bindings and types checked."""
    watch, flag = entered
    if loop.checks:
        flag = _bounds.pop(flag)
        init = init[:-1]
    loop.leave(ends, watch)
    values = loop.state.get()
    loop.check_choices(values)
    out = _checked(loop.carried(values), init, loop.carried_names(), where)
    return out if flag is None else (*out, flag)


def _widening(loop: _carry.Carry, run: Callable[[tuple[Any, ...]], tuple[Any, ...]]) -> None:
    """``run(carried)`` from the locals as they are, again each time a carried type widens."""
    loop.check_entry()
    init = _jax_scalars(loop.carried(loop.state.get()))
    if loop.checks:
        init = (*init, _bounds.no_flag())
    checks = _scope.local.index_checks
    depth = len(checks)
    for _ in range(len(init) + 1):
        try:
            out = run(init)
        except _CarryTypeChange as change:
            init = change.widen(init)
            loop.state.set(_bound(loop, init))  # the failed trace left body values in the locals
            continue
        finally:
            del checks[depth:]  # a body that raised left its collector
        loop.state.set(_bound(loop, out))
        if loop.checks:
            _bounds.report(out[-1])
        return None
    raise AssertionError("unreachable: each retry widens one local")  # pragma: no cover


def _jax_scalars(values: tuple[Any, ...]) -> tuple[Any, ...]:
    # Python scalars carried by a loop become JAX scalars of NumPy's default
    # types: `s = 0.0` then `s = s + x[i]` stays a float. They stay NumPy
    # scalars, not 0-d arrays: `s += a[k]` rebinds `s`.
    return tuple(
        _as_scalar(jnp.asarray(v)) if isinstance(v, (bool, int, float, complex, np.generic)) else v
        for v in values
    )


def _as_scalar(x: Any) -> Any:
    if isinstance(x, MutArray) and x._view is None and not x._aval.shape:
        x._scalar = True
    return x


# Errors of a body traced with a traced loop index that the same body run
# with Python ints does not meet: a Python list indexed by the index, a
# shape computed from it (`reshape(R**i, ...)`, `np.ones(R**i)`). A loop with
# a static trip count runs as Python instead (its body has no Python side
# effects, see _analysis), so a genuine error comes back from that run.
_NEEDS_PYTHON = (
    jax.errors.ConcretizationTypeError,  # bool() of a traced value
    jax.errors.TracerIntegerConversionError,  # a Python list indexed, a shape
    jax.errors.TracerArrayConversionError,  # a NumPy array indexed
    _errors.DynamicShapeError,  # a slice of traced length, static when unrolled
    TypeError,  # NumPy refusing a traced value where it wants an int
    AttributeError,  # a value of run-time length lacking a method
    _CarryShapeChange,
    _carry.RebindError,
)


def for_stmt(iter_, extra_test, body, get_state, set_state, symbol_names, opts):
    """``for target in iter_: body`` (malt's interface)."""
    if isinstance(iter_, _Unsafe):
        return _py_for(iter_, extra_test, body)
    if isinstance(iter_, _Located):
        indexed = _indexed_range(iter_, body)
        if indexed is not None:
            r, by_index = indexed
            return for_stmt(r, extra_test, by_index, get_state, set_state, symbol_names, opts)
        # Lists and tuples written in the code are static on purpose; any
        # other iterable (zip, enumerate) is unrolled, with a warning.
        if not isinstance(iter_.value, (list, tuple, dict, str)):
            warnings.warn(
                f"mutjax: the loop at {iter_.where} iterates over a "
                f"{type(iter_.value).__name__}, not a range: it runs as an unrolled "
                "Python loop. Loop over `range(len(...))` and index to get one "
                "compiled loop.",
                LoopConversionWarning,
                stacklevel=2,
            )
        return _py_for(iter_.value, extra_test, body)
    if not isinstance(iter_, _Range):
        return _py_for(iter_, extra_test, body)
    static = iter_.static()
    if static is not None and len(static) == 0:
        return None
    loop = _carry.Carry(_carry.State(get_state, set_state, symbol_names))
    loop.checks = _bounds.collecting()
    loop.may_skip = static is None or extra_test is not None
    _check_state(loop.init, loop.names, "loop")
    while True:
        try:
            if static is not None and extra_test is None:
                return _static_loop(loop, iter_, static, body)
            return _range_loop(loop, iter_, static, extra_test, body)
        except _carry.Rebind as r:
            loop.state.set(loop.init)
            try:
                loop.learn(r)
            except _carry.RebindError as e:
                if static is None or extra_test is not None:
                    raise _rebind_error(iter_.where, str(e)) from None
                return _unrolled(loop, iter_, static, 0, body, str(e))
        except _carry.RebindError as e:
            raise _rebind_error(iter_.where, str(e)) from None


def _indexed_range(iter_: _Located, body: Callable[[Any], None]) -> tuple[Any, Any] | None:
    """``for b in data`` as ``for k in range(len(data)): b = data[k]`` (same for ndindex).

    Returns the range and the body taking ``k``, or None for another iterable.
    """
    value = iter_.value
    if isinstance(value, _NdIndex):
        shape = value.shape
        r = _Range(math.prod(shape))
        r.where = iter_.where
        return r, lambda k: body(_unravel(k, shape))
    if isinstance(value, (MutArray, jax.Array, np.ndarray)) and np.ndim(value) > 0:
        data = value if isinstance(value, MutArray) else jnp.asarray(value)
        r = _Range(len(data))
        r.where = iter_.where
        return r, lambda k: body(data[k])
    return None


def _unravel(k: Any, shape: tuple[int, ...]) -> tuple[Any, ...]:
    """The ``k``-th index of ``np.ndindex(shape)``, each part known in its range."""
    s = _ranges.static(k)
    if s is not None:
        return tuple(int(v) for v in np.unravel_index(_as_int(s), shape))
    out = []
    stride = math.prod(shape)
    for d in shape:
        stride //= d
        c = (k // stride) % d
        _register(c, (0, d - 1))
        out.append(c)
    return tuple(out)


class _NdIndex:
    """``np.ndindex(*shape)`` inside a converted function: a ``for`` over it is compiled."""

    __slots__ = ("shape", "_it")

    def __init__(self, *shape: Any) -> None:
        if len(shape) == 1 and isinstance(shape[0], (tuple, list)):
            shape = tuple(shape[0])
        self._it = np.ndindex(*shape)  # NumPy's checks and errors
        self.shape = tuple(_as_int(d) for d in shape)

    def __iter__(self) -> Iterator[tuple[int, ...]]:
        return self._it

    def __next__(self) -> tuple[int, ...]:
        return next(self._it)


def _rebind_error(where: str | None, why: str) -> LoopConversionError:
    return LoopConversionError(
        f"mutjax: the loop at {where or 'an unknown place'} cannot be compiled: {why}, "
        "and its trip count is traced (or it has a `break`), so it cannot run as "
        "Python either. Keep each name on one array (copy with `x[...] = y` instead "
        "of re-binding `x = y`), or give the loop a static trip count."
    )


def _unrolled(loop, iter_, static, start, body, why):
    """The iterations of ``static`` from the ``start``-th on, as Python, with a warning."""
    warnings.warn(
        f"mutjax: the loop at {iter_.where or 'an unknown place'} runs as an unrolled "
        f"Python loop: {why}.",
        LoopConversionWarning,
        stacklevel=3,
    )
    for i in static[start:]:
        body(i)
    return None


def _require_simple(loop: _carry.Carry) -> None:
    """A loop of traced length carries its locals with one binding only."""
    if loop.peel or loop.period > 1:
        raise _carry.RebindError(
            "its locals are re-bound to other mutable arrays (`x, y = y, x`), so which "
            "array a name holds after it depends on the trip count"
        )


def _static_loop(loop, iter_, static, body):
    """A loop over a static range: Python iterations around a compiled loop (see _carry)."""
    n, peel, period = len(static), loop.peel, loop.period
    for i in static[:peel]:
        body(i)
    entry = loop.state.get()
    trips = (n - peel) // period
    span = (min(static[0], static[-1]), max(static[0], static[-1]))
    direct = period == 1 and static.step == 1

    def run(init):
        def f_body(t, carried):
            watch = _enter(loop, carried, init)
            ends = []
            for q in range(period):
                i = t if direct else static.start + (peel + t * period + q) * static.step
                _register(i, span)
                body(i)
                ends.append(loop.binding(loop.state.get()))
            return _end(loop, watch, ends, init, "loop")

        # Independent iterations run as one batched operation (see _vectorize).
        _scope.local.site = _site(body)
        _guess(iter_, body)
        if direct:
            return _vectorize.fori_loop(static[peel], static.stop, f_body, init)
        return _vectorize.fori_loop(0, trips, f_body, init)

    if trips > 0:
        try:
            _widening(loop, run)
        except _carry.Rebind as r:
            if (isinstance(r, _carry.Choose) or not loop.final) and peel == 0:
                raise  # for_stmt learns the bindings and comes back
            loop.state.set(entry)
            return _unrolled(loop, iter_, static, peel, body, "its locals change binding")
        except _NEEDS_PYTHON as e:
            loop.state.set(entry)
            return _unrolled(loop, iter_, static, peel, body, _why(e))
    for i in static[peel + trips * period :]:
        body(i)
    return None


def _guess(r: _Range, body: Callable[[Any], None]) -> None:
    """Guess that the body writes the arrays of the names its source writes through.

    The names are read where the body finds them (its closure): a name
    bound inside the body is not an array of before the loop.
    """
    code = getattr(body, "__code__", None)
    if not r.writes or code is None:
        return
    free = dict(zip(code.co_freevars, getattr(body, "__closure__", None) or ()))
    arrays = []
    for name in r.writes:
        try:
            v = free[name].cell_contents
        except (KeyError, ValueError):  # not a closed-over name, or not bound yet
            continue
        if isinstance(v, MutArray):
            arrays.append(v)
    _guess_writes(_site(body), arrays)


def _site(body: Callable[[Any], None]) -> Any:
    """The key naming a converted loop for the combinator it calls (see mutjax._control._hint).

    The code of the loop's body stands for its source loop. Two loops that
    share it and write different arrays get no hint; a hint that proves
    wrong only costs a trace, as the loop checks what its body writes.
    """
    return getattr(body, "__code__", None)


def _why(e: Exception) -> str:
    if isinstance(e, (_CarryShapeChange, _carry.RebindError)):
        return str(e).removeprefix("mutjax: ")
    if isinstance(e, (_errors.DynamicShapeError, AttributeError)):
        return "its body needs the exact length of a slice bounded by the loop index"
    return (
        "its body needs the loop index as a Python int or a NumPy value (it indexes "
        "a Python list or a NumPy array with it, or computes a shape or a Python "
        f"bool from it: {type(e).__name__})"
    )


def _range_loop(loop, iter_, static, extra_test, body):
    """The compiled loop of :func:`for_stmt` over a range with a `break` or traced bounds."""
    _require_simple(loop)
    start, stop, step = iter_.start, iter_.stop, _as_int(_ranges.static(iter_.step))

    if extra_test is not None:
        # A `break`: a while loop over (index, carried values).
        w_span = _index_span(iter_)

        def w_run(init):
            def w_cond(c):
                k, carried = c
                loop.state.set(_bound(loop, carried))
                more = (k < stop) if step > 0 else (k > stop)
                return jnp.logical_and(more, extra_test())

            def w_body(c):
                k, carried = c
                watch = _enter(loop, carried, init)
                _register(k, w_span)
                body(k)
                return k + step, _end(loop, watch, [loop.binding(loop.state.get())], init, "loop")

            return _while_loop(w_cond, w_body, (jnp.asarray(start), init))[1]

        return _widening(loop, w_run)

    def run_one(i, carried, init):
        watch = _enter(loop, carried, init)
        body(i)
        return _end(loop, watch, [loop.binding(loop.state.get())], init, "loop")

    # (A unit step needs no division: `//` is a jit call of ten equations.)
    span_ = stop - start if step == 1 else start - stop if step == -1 else None
    if span_ is None:
        span_ = (stop - start + step - (1 if step > 0 else -1)) // step
    trip = jnp.maximum(0, span_)
    # Under jit alone: the exact trip count (a while loop), as hand-written
    # JAX does. Under jvp/grad: a fixed-length loop masked by a cond when the
    # trip count has a static maximum, so that reverse mode works.
    bound = _max_trip(iter_) if _scope.local.differentiating[-1] else None
    span = _index_span(iter_)

    def run(init):
        def m_body(k, carried):
            i = start + k * step
            _register(i, span)
            return _cond(k < trip, lambda s: run_one(i, s, init), lambda s: s, carried)

        def d_body(k, carried):
            i = start + k * step
            _register(i, span)
            return run_one(i, carried, init)

        if bound is None or bound > 0:
            _scope.local.site = _site(body)
            _guess(iter_, body)
        if bound is not None:
            return _fori_loop(0, bound, m_body, init) if bound > 0 else init
        # The exact trip count; with a static maximum, differentiable later too
        # (a jit traced here without grad may be differentiated afterwards).
        # Independent iterations run as one batched operation (see _vectorize).
        starts, stops = _interval(start), _interval(stop)
        batch = None
        if step == 1 and span is not None and starts is not None and stops is not None:
            empty = stops[0] <= starts[1]  # the range may be empty
            batch = _vectorize.Shifted(_unwrap(start), span, starts, empty)
        return _fori_loop_bounded(0, trip, d_body, init, _max_trip(iter_), batch=batch)

    return _widening(loop, run)


def while_stmt(test, body, get_state, set_state, symbol_names, opts):
    """``while test(): body`` (malt's interface)."""
    while True:
        t = test()
        if isinstance(t, _Unsafe):
            return _py_while_unsafe(t, test, body)
        v = _ranges.static(t)
        if v is None:
            break
        if not bool(v):
            return None
        body()
    # The test became traced: the rest of the loop is one while_loop.
    loop = _carry.Carry(_carry.State(get_state, set_state, symbol_names))
    loop.checks = _bounds.collecting()
    loop.may_skip = True
    _check_state(loop.init, loop.names, "while loop")

    def run(init):
        def w_cond(carried):
            loop.state.set(_bound(loop, carried))
            return test()

        def w_body(carried):
            watch = _enter(loop, carried, init)
            body()
            return _end(loop, watch, [loop.binding(loop.state.get())], init, "while loop")

        return _while_loop(w_cond, w_body, init)

    while True:
        try:
            return _widening(loop, run)
        except _carry.Rebind as r:
            loop.state.set(loop.init)
            try:
                loop.learn(r)
                _require_simple(loop)
            except _carry.RebindError as e:
                raise _rebind_error(None, str(e)) from None
        except _carry.RebindError as e:
            raise _rebind_error(None, str(e)) from None


def if_stmt(cond, body, orelse, get_state, set_state, symbol_names, nouts):
    """``if cond: body else: orelse`` (malt's interface)."""
    is_cheap = isinstance(cond, _Cheap)
    if is_cheap:
        cond = cond.value
    known = _known_test(cond)
    if known is not None:
        return body() if known else orelse()
    state = _carry.State(get_state, set_state, symbol_names)
    if is_cheap or _scope.local.predicates:
        # Inside a predicated branch every nested `if` is cheap too.
        return _predicated(cond, body, orelse, state)
    init = state.get()
    if any(
        n.startswith("retval_") and isinstance(x, _undefined()) for n, x in zip(state.names, init)
    ):
        # A `return` inside a branch: malt leaves its return value undefined
        # in the other branch. Such a branch writes no array and calls no
        # function that might (checked on the source, see _rewrite), so
        # both run and the results are selected.
        mark = _carry.made_mark()
        outs = []
        for fn in (body, orelse):
            state.set(init)
            fn()
            outs.append(state.get())
        return state.set(_select(cond, *outs, state.names, mark))
    # Locals holding the same mutable array after both branches as before
    # (`x += 1` on `x = a`) are not passed through the `cond`: the branches
    # write the array itself, which the `cond` threads.
    mark = _carry.made_mark()
    fixed = {s: k for s, x in enumerate(init) if (k := _carry.key(x, mark)) is not _carry.VAL}
    while True:
        try:
            return _traced_if(cond, body, orelse, state, init, fixed, mark)
        except _BranchRebind as e:
            state.set(init)
            del fixed[e.slot]


class _BranchRebind(Exception):
    """A branch re-binds a local that held a mutable array: pass it through the cond."""

    def __init__(self, slot: int) -> None:
        self.slot = slot


def _known_test(cond: Any) -> bool | None:
    """The truth of an ``if``'s test where trace time knows it, else None."""
    if isinstance(cond, _Unsafe):
        v = _ranges.static(cond.value)
        if v is None:
            raise cond.error("an `if` on a traced value")
        return bool(v)
    v = _ranges.static(cond)
    if v is not None or not hasattr(cond, "dtype"):
        return bool(cond if v is None else v)
    # A condition on loop indices that their static ranges decide
    # (`if j - 1 >= 0` in `for j in range(i + 1, n)`) stays Python.
    decided = _decide(cond)
    return decided if isinstance(decided, bool) else None


def _traced_if(cond, body, orelse, state, init, fixed, mark):
    """An ``if`` on a traced value: a ``cond`` over the locals not ``fixed`` to an array."""
    passed = tuple(s not in fixed and not isinstance(x, _undefined()) for s, x in enumerate(init))
    init_vals = _jax_scalars(tuple(x for x, p in zip(init, passed) if p))
    # Per branch, the arrays of before the `if` that its passed locals hold
    # at its end (the cond returns their contents, not the arrays).
    refs: list[dict[int, Any]] = [{}, {}]

    # A local holding an array may still be re-bound in a branch: until it
    # is, it is that array there (writes through it reach the array, which
    # the cond threads), not the operand copy of it.
    own = tuple(_carry.key(x, mark) is not _carry.VAL for x in init)

    def branch(fn, held):
        def run(vals):
            it = iter(vals)
            bound = []
            for x, p, o in zip(init, passed, own):
                v = next(it) if p else x
                bound.append(x if o else v)
            state.set(tuple(bound))
            fn()
            out = state.get()
            for s, k in fixed.items():
                if _carry.key(out[s], mark) != k:
                    raise _BranchRebind(s)
            _check_state(out, state.names, "`if` (one branch leaves it unassigned)")
            held.clear()
            for s, x in enumerate(out):
                if s in fixed:
                    continue
                if _carry.key(x, mark) is not _carry.VAL:
                    held[s] = x
                elif _choice.aliased(x, mark):
                    raise _nested_choice(state.names[s])
            return _jax_scalars(tuple(x for s, x in enumerate(out) if s not in fixed))

        return run

    c = jnp.asarray(cond).astype(bool)
    out = iter(_cond(c, branch(body, refs[0]), branch(orelse, refs[1]), init_vals))
    values = [init[s] if s in fixed else next(out) for s in range(len(init))]
    for s in set(refs[0]) | set(refs[1]):
        # Each side: the array the branch left, else the cond's value of the local.
        values[s] = _fresh(values[s], mark)
        x, y = refs[0].get(s, values[s]), refs[1].get(s, values[s])
        values[s] = _choose(c, x, y, mark, state.names[s])
    state.set(tuple(values))
    return None


def _fresh(v: Any, mark: int) -> Any:
    """``v`` as a value: a first pass of an enclosing body (see _control._discovering)
    runs a ``cond``'s branch as Python, so its output may be the branch's array itself."""
    if _carry.key(v, mark) is _carry.VAL:
        return v
    trace = current_mut_trace()
    assert trace is not None  # a key is only given to arrays of an open scope
    return trace.new(_unwrap(v))


def _nested_choice(name: str) -> LoopConversionError:
    return LoopConversionError(
        f"mutjax: `{name}` leaves a compiled branch or loop body holding one of several "
        "arrays chosen by a traced `if` inside it, which the compiled form cannot "
        f"carry. Make it a value in every branch (`{name} = np.where(c, {name} * 2, "
        f"{name})` instead of re-binding `{name}` in one branch only), or copy "
        f"explicitly (`{name} = {name}.copy()`)."
    )


def if_exp(cond, if_true, if_false, expr_repr):
    """``if_true() if cond else if_false()`` (malt's interface).

    On a traced ``cond`` both sides run as the branches of a ``cond`` (a
    side may call a function that writes an array); a side that names an
    array of before the expression makes the result that array where the
    side is chosen (:mod:`._choice`).
    """
    if isinstance(cond, _Cheap):
        if _known_test(cond.value) is None:
            out = _select_if_exp(cond, if_true, if_false)
            if out is not _NO_SELECT:
                return out
            if not (_no_new_view(if_true) and _no_new_view(if_false)):
                # A side that makes a new view (`a[i] if c else b[i]`): the
                # branches below would have to carry it; Python's `if`
                # refuses the traced test instead (the loop runs as Python).
                return if_true() if cond.value else if_false()
        cond = cond.value
    known = _known_test(cond)
    if known is not None:
        return if_true() if known else if_false()
    mark = _carry.made_mark()
    held: list[Any] = [None, None]

    def side(fn, k):
        def run():
            v = fn()
            held[k] = v if _carry.key(v, mark) is not _carry.VAL else None
            if held[k] is None and _choice.aliased(v, mark):
                raise _nested_choice(expr_repr)
            return _jax_scalars((v,))[0]

        return run

    c = jnp.asarray(cond).astype(bool)
    out = _cond(c, side(if_true, 0), side(if_false, 1))
    if held[0] is None and held[1] is None:
        return out
    out = _fresh(out, mark)
    x = out if held[0] is None else held[0]
    y = out if held[1] is None else held[1]
    return _choose(c, x, y, mark, expr_repr)


def _undefined() -> tuple[type, ...]:
    """malt's placeholders for a local or a return value that has no value yet."""
    from malt.operators.variables import Undefined, UndefinedReturnValue

    return Undefined, UndefinedReturnValue


def _select(
    cond: Any, a: tuple[Any, ...], b: tuple[Any, ...], names: tuple[str, ...], mark: int
) -> tuple[Any, ...]:
    """Each local after a traced ``if`` whose branches ran one after the other.

    A local that is (or may be) an array made before the ``if`` in either
    branch is linked to it (:mod:`._choice`), so writes through it land in
    the array that NumPy's run would bind it to.
    """
    undefined = _undefined()
    out = []
    for x, y, name in zip(a, b, names):
        if isinstance(x, undefined):
            out.append(y)
        elif isinstance(y, undefined) or x is y:
            out.append(x)
        else:
            chosen = _choose(cond, x, y, mark, name)
            out.append(_where(cond, x, y) if chosen is None else chosen)
    return tuple(out)


def _choose(cond: Any, x: Any, y: Any, mark: int, name: str) -> Any:
    try:
        return _choice.choose(cond, x, y, mark, name)
    except _choice.ChoiceError as e:
        raise LoopConversionError(str(e)) from None


def _py_for(iter_, extra_test, body):
    if isinstance(iter_, _Unsafe):
        target = iter_.value
        if isinstance(target, _Range) and target.static() is None:
            raise iter_.error("a `for` loop with traced bounds")
        warnings.warn(iter_.message("runs as an unrolled Python loop"), LoopConversionWarning, 3)
        target = target.static() if isinstance(target, _Range) else target
    else:
        target = iter_
    for x in target:
        if extra_test is not None and not _test(extra_test()):
            break
        body(x)
    return None


def _test(v: Any) -> bool:
    s = _ranges.static(v)
    if s is None and hasattr(v, "dtype"):
        raise LoopConversionError(
            "mutjax: `break` on a traced condition inside a loop that runs as "
            "Python (it iterates over something other than `range`): loop over "
            "`range(len(...))` instead."
        )
    return bool(v if s is None else s)


def _py_while_unsafe(t, test, body):
    warned = False
    while True:
        v = _ranges.static(t.value)
        if v is None:
            raise t.error("a `while` loop on a traced condition")
        if not bool(v):
            return None
        if not warned:
            warnings.warn(t.message("runs as an unrolled Python loop"), LoopConversionWarning, 3)
            warned = True
        body()
        t = test()


# -- loops and branches that are not safe to trace once --------------------------------


class _Unsafe:
    """Marks the iterable / test of a loop or branch with Python side effects."""

    __slots__ = ("value", "where", "why")

    def __init__(self, value: Any, where: str, why: str) -> None:
        self.value = value
        self.where = where
        self.why = why

    def message(self, what: str) -> str:
        return f"mutjax: the loop at {self.where} {what}, because its body {self.why}."

    def error(self, what: str) -> LoopConversionError:
        return LoopConversionError(
            f"mutjax: {what} at {self.where} cannot be converted because its body "
            f"{self.why}, and it cannot run as Python because it depends on a traced "
            "value. Move the side effect out of the loop (collect results in an "
            "array: `out[i] = v` instead of `out.append(v)`; use jax.debug.print "
            "instead of print; assign a variable and return after the loop)."
        )


def unsafe(value: Any, where: str, why: str) -> _Unsafe:
    return _Unsafe(value, where, why)


class _Located:
    """The iterable of a converted ``for``, with the loop's file and line."""

    __slots__ = ("value", "where")

    def __init__(self, value: Any, where: str) -> None:
        self.value = value
        self.where = where


def located(value: Any, where: str, writes: tuple[str, ...] = ()) -> Any:
    """The iterable of a converted ``for``; ``writes``: the names its body writes through."""
    if isinstance(value, _Range):
        value.where = where
        value.writes = writes
        return value
    return _Located(value, where)


# -- predicated branches ------------------------------------------------------------------
#
# An `if` on a traced value whose branches are cheap (see _analysis.is_cheap)
# runs both branches one after the other, with every array write predicated:
# `x[idx] = where(p, v, x[idx])`. The true branch's writes are no-ops when
# the condition is false, the false branch's when it is true, and the locals
# are selected. This is what hand-written JAX does with `jnp.where`; a `cond`
# would pass every written array through the branch, which costs a copy.


class _Cheap:
    __slots__ = ("value",)

    def __init__(self, value: Any) -> None:
        self.value = value


def cheap(value: Any) -> _Cheap:
    return _Cheap(value)


def _plain(*xs: Any) -> list[Any] | None:
    """The types of ``xs`` when all are JAX values (traced ones, mutable arrays), else None."""
    if not all(isinstance(x, jax.Array) for x in xs):
        return None
    return [jax.typeof(x) for x in xs]


def _where(c: Any, x: Any, y: Any) -> Any:
    """``jnp.where(c, x, y)``; ``lax.select`` where it needs no promotion or broadcast.

    Predicated writes select at every write of every branch: ``jnp.where`` is a
    ``jit`` call, traced (and lowered) each time, for one ``select_n``.
    """
    t = _plain(c, x, y)
    if t is not None and t[0].shape == () and t[0].dtype == bool:
        tx, ty = t[1], t[2]
        if (tx.shape, tx.dtype, tx.weak_type) == (ty.shape, ty.dtype, ty.weak_type):
            return jax.lax.select(c, x, y)
    return jnp.where(c, x, y)


def _both(x: Any, y: Any) -> Any:
    """``jnp.logical_and(x, y)`` of two traced bools (``lax.bitwise_and`` when both are scalars)."""
    t = _plain(x, y)
    if t is not None and all(a.shape == () and a.dtype == bool for a in t):
        return jax.lax.bitwise_and(x, y)
    return jnp.logical_and(x, y)


def _predicate() -> Any:
    return functools.reduce(_both, _scope.local.predicates)


def pset(a: Any, idx: Any, v: Any) -> None:
    """``a[idx] = v`` inside a predicated branch."""
    if _scope.local.predicates:
        v = _where(_predicate(), v, a[idx])
    a[idx] = v


# Python's augmented-assignment AST names -> the in-place table's names.
_AUG_NAMES = {
    "Add": "add", "Sub": "sub", "Mult": "mul", "Div": "truediv", "FloorDiv": "floordiv",
    "Mod": "mod", "Pow": "pow", "BitAnd": "and", "BitOr": "or", "BitXor": "xor",
    "LShift": "lshift", "RShift": "rshift", "MatMult": "matmul",
}  # fmt: skip
_AUG = {k: _inplace.OPERATORS[v] for k, v in _AUG_NAMES.items()}  # `a op b`
_IAUG = {k: getattr(operator, "i" + v) for k, v in _AUG_NAMES.items()}  # `a op= b`


def paug(a: Any, idx: Any, op: str, v: Any) -> None:
    """``a[idx] op= v`` inside a predicated branch."""
    old = a[idx]
    if _scope.local.predicates:
        a[idx] = _where(_predicate(), _AUG[op](old, v), old)
    else:
        # Python's own sequence: get, in-place operator, set.
        a[idx] = _IAUG[op](old, v)


def pinplace(a: Any, op: str, v: Any) -> Any:
    """``a op= v`` on a name inside a predicated branch; returns what ``a`` becomes.

    On a mutable array the operator writes in place, which must happen only
    where the branch's condition holds.
    """
    if not (isinstance(a, MutArray) and _scope.local.predicates):
        return _IAUG[op](a, v)
    new = _AUG[op](a, v)
    same = tuple(np.shape(new)) == tuple(a.shape)
    if not (same and np.can_cast(np.dtype(new.dtype), np.dtype(a.dtype), "same_kind")):
        return _IAUG[op](a, v)  # mutjax's own rules: it raises or re-binds, never writes
    a[...] = jnp.where(_predicate(), new, a[...])
    return a


def _predicated(cond, body, orelse, state):
    c = _unwrap_bool(cond)
    init = state.get()
    mark = _carry.made_mark()
    outs = []
    for fn, p in ((body, c), (orelse, jnp.logical_not(c))):
        state.set(init)
        _scope.local.predicates.append(p)
        try:
            fn()
        finally:
            _scope.local.predicates.pop()
        outs.append(state.get())
    undefined = _undefined()
    for name, x, y in zip(state.names, *outs):
        if isinstance(x, undefined) != isinstance(y, undefined) and not name.startswith("retval_"):
            _check_state((x, y), (name, name), "`if` (one branch leaves it unassigned)")
    state.set(_select(c, *outs, state.names, mark))


def _unwrap_bool(cond: Any) -> Any:
    return jnp.asarray(cond).astype(bool)


# -- builtins and boolean operators ------------------------------------------------------


def _builtin_minmax(name: str) -> Callable[..., Any]:
    py = max if name == "max" else min
    red = jnp.maximum if name == "max" else jnp.minimum

    def call(*args: Any, **kwargs: Any) -> Any:
        if len(args) >= 2 and not kwargs and any(_is_traced(a) for a in args):
            return functools.reduce(red, args)
        return py(*args, **kwargs)

    return call


def _len(x: Any) -> Any:
    """``len(x)``; for a slice of run-time length (``d[j:j + B]``), that length, traced."""
    if isinstance(x, _masked.MaskedArray) and x.axes and x.axes[0] is not None:
        return x.axes[0].length
    return len(x)


# The builtins that `converted_call` replaces when converted code calls them.
BUILTINS: dict[Any, Callable[..., Any]] = {
    range: _Range,
    len: _len,
    np.ndindex: _NdIndex,
    max: _builtin_minmax("max"),
    min: _builtin_minmax("min"),
}


def _decide(x: Any) -> Any:
    """``x`` itself, or a Python bool where loop-index ranges decide a traced ``x``."""
    if _is_traced(x) and np.ndim(x) == 0:
        iv = _interval(x)
        if iv is not None and iv[0] == iv[1]:
            return bool(iv[0])
    return x


def not_(a: Any) -> Any:
    """``not a``; elementwise on a traced boolean."""
    a = _decide(a)
    return jnp.logical_not(a) if _is_traced(a) else not a


def and_(a: Callable[[], Any], b: Callable[[], Any]) -> Any:
    """``a and b`` (lazy); both evaluated when ``a`` is traced."""
    x = _decide(a())
    if _is_traced(x):
        y = _decide(b())
        return x if y is True else y if y is False else jnp.logical_and(x, y)
    return x and b()


def or_(a: Callable[[], Any], b: Callable[[], Any]) -> Any:
    """``a or b`` (lazy); both evaluated when ``a`` is traced."""
    x = _decide(a())
    if _is_traced(x):
        y = _decide(b())
        return x if y is False else y if y is True else jnp.logical_or(x, y)
    return x or b()


# Every name above that converted code calls as `ag__.name`; `converted_call`
# joins them where the transformer is built.
class _ByValue(_Cheap):
    """The test of an ``a if c else b`` whose result only serves as a value."""

    __slots__ = ()


def by_value(value: Any) -> _ByValue:
    return _ByValue(value)


_NO_SELECT = object()


def _no_new_view(side: Callable[[], Any]) -> bool:
    """False when a side-effect-free side makes a new view of an existing array (``a[i]``).

    A name gives the same array each time it is evaluated, and a new value
    (``a * 2``) a cell of its own; only a fresh view of an older cell differs.
    """
    mark = _carry.made_mark()
    v = side()
    return _carry.key(v, mark) is _carry.VAL or side() is v


def _select_if_exp(cond: _Cheap, if_true: Any, if_false: Any) -> Any:
    """``a if cond else b`` as a select, when both sides may be evaluated.

    ``cond`` is wrapped by the rewrite (``ag__.cheap`` / ``ag__.by_value``, see
    _rewrite). A select is a new array: where the result may be used as the
    array it is in NumPy (a view written later), an array side is left to
    :func:`if_exp`'s branches (``_NO_SELECT``).
    """
    as_value = isinstance(cond, _ByValue)
    test = cond.value
    if not _is_traced(test):
        return _NO_SELECT
    a, b = if_true(), if_false()
    tree_a: Any = jax.tree_util.tree_structure(a)
    if tree_a != jax.tree_util.tree_structure(b) or (
        not as_value
        and any(isinstance(v, MutArray) and v.ndim > 0 for v in jax.tree_util.tree_leaves((a, b)))
    ):
        return _NO_SELECT
    return jax.tree_util.tree_map(functools.partial(jnp.where, test), a, b)


OPERATORS: dict[str, Callable[..., Any]] = {
    "not_": not_,
    "and_": and_,
    "or_": or_,
    "for_stmt": for_stmt,
    "while_stmt": while_stmt,
    "if_stmt": if_stmt,
    "if_exp": if_exp,
    "unsafe": unsafe,
    "located": located,
    "cheap": cheap,
    "pset": pset,
    "paug": paug,
    "pinplace": pinplace,
    "by_value": by_value,
}
