"""Opt-in conversion of a kernel's Python loops and branches into combinators.

``mutjax.mutable(fun, loops=True)`` rewrites the source of ``fun`` (and of
the Python functions it calls) with diastatic-malt, the standalone AutoGraph
that PennyLane builds on: every ``for``/``while``/``if`` becomes a call to one
of the operators below (``for_stmt``, ``while_stmt``, ``if_stmt``), with the
loop body as a function and the Python locals it rebinds handed over through
``get_state`` / ``set_state``. malt also rewrites ``break``, ``continue`` and
``return`` into flags. The operators decide at trace time:

- a loop over ``range`` becomes one ``fori_loop`` (``while_loop`` when it has
  a ``break``); traced bounds whose trip count has a static maximum (the inner
  loop of a triangular nest) become a fixed-length loop whose body is masked
  by a ``cond``, so reverse-mode ``grad`` still works;
- a ``while`` whose test is traced becomes a ``while_loop``;
- an ``if`` on a traced value runs both branches with predicated writes
  (a select) when its branches are cheap, else becomes a ``cond``; on a
  static value, or one that the ranges of the loop indices decide, it runs
  as Python.

Mutations of mutable arrays inside a body are threaded by the combinators;
the Python locals a body rebinds become the explicit carry.

Loops whose bodies have Python side effects (``print``, ``list.append``, a
``return``, ``yield``, ``global``) are not safe to trace once: they are marked
before malt sees them and run as Python loops, with a warning naming the
file and line, or raise :class:`LoopConversionError` when their trip count or
condition is traced.
"""

from __future__ import annotations

import ast
import functools
import inspect
import operator
import textwrap
import threading
import warnings
from collections.abc import Callable
from typing import Any

import jax.numpy as jnp
import numpy as np

# -- combinators -----------------------------------------------------------------
#
# The loops and branches below call these three names only. They must thread
# the mutations of closed-over mutable arrays (mutjax's own combinators do).
from . import _compat, _errors
from ._control import cond as _cond
from ._control import fori_loop as _fori_loop
from ._control import while_loop as _while_loop
from ._ranges import _INTERVALS, _interval, _static, _unwrap

# -- errors ------------------------------------------------------------------------


class LoopConversionError(_errors.MutjaxError):
    """A Python loop or branch cannot be converted and cannot run as Python."""


class LoopConversionWarning(UserWarning):
    """A Python loop or function was left unconverted (it runs as Python)."""


def _where(fn: Callable[..., Any]) -> str:
    code = getattr(fn, "__code__", None)
    if code is None:
        return repr(fn)
    return f"{code.co_filename}:{code.co_firstlineno}"


def _is_traced(x: Any) -> bool:
    return _static(x) is None and hasattr(x, "dtype")


# -- range --------------------------------------------------------------------------


class _Range:
    """``range(...)`` inside a converted function: its bounds may be traced."""

    __slots__ = ("start", "stop", "step")
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
        if _is_traced(self.step):
            raise LoopConversionError(
                "mutjax: a converted `range` needs a step known at trace time "
                "(a Python int); its start and stop may be traced."
            )
        # Python's own checks and messages (float bounds, zero step).
        range(*[0 if _is_traced(a) else _as_int(a) for a in args])

    def static(self) -> range | None:
        vals = [_static(a) for a in (self.start, self.stop, self.step)]
        if any(v is None for v in vals):
            return None
        return range(*[_as_int(v) for v in vals])

    def __iter__(self):  # noqa: ANN204
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


# Converted code runs under this lock: the state above, the transformer and
# the malt globals that `converted_call` swaps are shared by every thread.
# Conversion happens at trace time only, so serializing it costs little.
_LOCK = threading.RLock()
# Whether the converted call runs under jvp/grad: only then do traced bounds
# pay for a fixed-length masked loop (a while loop has no reverse mode).
_DIFFERENTIATING: list[bool] = [False]


def _index_span(r: _Range) -> tuple[int, int] | None:
    """A static interval holding every index a body of ``r`` runs with, or None."""
    lo, hi = _interval(r.start), _interval(r.stop)
    if lo is None or hi is None:
        return None
    step = _as_int(_static(r.step))
    return (lo[0], hi[1] - 1) if step > 0 else (hi[0] + 1, lo[1])


def _register(i: Any, span: tuple[int, int] | None) -> None:
    if span is not None:
        raw = _unwrap(i)
        _INTERVALS[id(raw)] = (raw, *span)


def _max_trip(r: _Range) -> int | None:
    """A static upper bound on the trip count of ``r``, or None."""
    lo = _interval(r.start)
    hi = _interval(r.stop)
    if lo is None or hi is None:
        return None
    step = _as_int(_static(r.step))
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


class _CarryTypeChange(Exception):  # noqa: N818 - internal signal, never seen by users
    """A carried local's type widens in the body: retry the loop with it widened first."""

    def __init__(self, index: int, dtype: Any) -> None:
        self.index = index
        self.dtype = dtype

    def widen(self, init: tuple[Any, ...]) -> tuple[Any, ...]:
        out = list(init)
        out[self.index] = jnp.asarray(out[self.index]).astype(self.dtype)
        return tuple(out)


def _checked(
    get_state: Callable[[], tuple[Any, ...]],
    init: tuple[Any, ...],
    names: tuple[str, ...],
    where: str,
) -> tuple[Any, ...]:
    """``get_state()`` at the end of a loop body, with the carried locals' types checked.

    NumPy lets ``k = 0`` become a float at ``k = k + 0.5``; a compiled loop
    carries one type. A local whose dtype widens in the body (int to float,
    float32 to complex64) makes the loop run again with the local widened
    before it, which is NumPy's result. Any other change (a shape, a
    narrowing) is refused with the variable's name: JAX's own error would
    name a tree path of the carry instead.
    """
    out = get_state()
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
        raise LoopConversionError(
            f"mutjax: `{name}` is carried by the {where} and changes type in its "
            f"body: {_type_str(a)} before the loop, {_type_str(b)} after one "
            f"iteration. A compiled loop carries one type: give `{name}` its "
            f"final type and shape before the loop."
        )
    return out


def _widening(run: Callable[[tuple[Any, ...]], None], init: tuple[Any, ...], set_state) -> None:  # noqa: ANN001
    """``run(init)``, again with a carried local widened each time its type widens."""
    for _ in range(len(init) + 1):
        try:
            return run(init)
        except _CarryTypeChange as change:
            init = change.widen(init)
            set_state(init)  # the failed trace left body values in the locals
    raise AssertionError("unreachable: each retry widens one local")  # pragma: no cover


def _carry(values: tuple[Any, ...]) -> tuple[Any, ...]:
    # Python scalars carried by a loop become JAX scalars of NumPy's default
    # types: `s = 0.0` then `s = s + x[i]` stays a float.
    return tuple(
        jnp.asarray(v) if isinstance(v, (bool, int, float, complex, np.generic)) else v
        for v in values
    )


def for_stmt(iter_, extra_test, body, get_state, set_state, symbol_names, opts):  # noqa: ANN001,ANN201
    """``for target in iter_: body`` (malt's interface)."""
    if isinstance(iter_, _Unsafe):
        return _py_for(iter_, extra_test, body)
    if isinstance(iter_, _Located):
        # Lists and tuples written in the code are static on purpose; any
        # other iterable (an array, zip, enumerate) is unrolled, with a warning.
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
    init = get_state()
    _check_state(init, symbol_names, "loop")

    def compiled(init):  # noqa: ANN001,ANN202
        _range_loop(iter_, static, extra_test, body, get_state, set_state, symbol_names, init)

    _widening(compiled, _carry(init), set_state)
    return None


def _range_loop(iter_, static, extra_test, body, get_state, set_state, symbol_names, init):  # noqa: ANN001,ANN202,PLR0913
    """The compiled loop of :func:`for_stmt` over a range, from carried values ``init``."""
    start, stop, step = iter_.start, iter_.stop, _as_int(_static(iter_.step))

    if extra_test is not None:
        # A `break`: a while loop over (index, state).
        def w_cond(c):  # noqa: ANN001,ANN202
            k, state = c
            set_state(state)
            more = (k < stop) if step > 0 else (k > stop)
            return jnp.logical_and(more, extra_test())

        w_span = _index_span(iter_)

        def w_body(c):  # noqa: ANN001,ANN202
            k, state = c
            set_state(state)
            _register(k, w_span)
            body(k)
            return k + step, _checked(get_state, init, symbol_names, "loop")

        k0 = jnp.asarray(start)
        _, out = _while_loop(w_cond, w_body, (k0, init))
        set_state(out)
        return None

    def run(i, state):  # noqa: ANN001,ANN202
        set_state(state)
        body(i)
        return _checked(get_state, init, symbol_names, "loop")

    if static is not None:
        span = (min(static[0], static[-1]), max(static[0], static[-1]))

        def f_body(k, state):  # noqa: ANN001,ANN202
            i = k if static.step == 1 else static.start + k * static.step
            _register(i, span)
            return run(i, state)

        if static.step == 1:
            out = _fori_loop(static.start, static.stop, f_body, init)
        else:
            out = _fori_loop(0, len(static), f_body, init)
        set_state(out)
        return None

    trip = jnp.maximum(0, (stop - start + step - (1 if step > 0 else -1)) // step)
    # Under jit alone: the exact trip count (a while loop), as hand-written
    # JAX does. Under jvp/grad: a fixed-length loop masked by a cond when the
    # trip count has a static maximum, so that reverse mode works.
    bound = _max_trip(iter_) if _DIFFERENTIATING[-1] else None
    if bound is not None:
        span = _index_span(iter_)

        def m_body(k, state):  # noqa: ANN001,ANN202
            i = start + k * step
            _register(i, span)

            def on(s):  # noqa: ANN001,ANN202
                return run(i, s)

            def off(s):  # noqa: ANN001,ANN202
                return s

            return _cond(k < trip, on, off, state)

        out = _fori_loop(0, bound, m_body, init) if bound > 0 else init
    else:
        d_span = _index_span(iter_)

        def d_body(k, state):  # noqa: ANN001,ANN202
            i = start + k * step
            _register(i, d_span)
            return run(i, state)

        # The exact trip count; with a static maximum, differentiable later too
        # (a jit traced here without grad may be differentiated afterwards).
        out = _fori_loop(0, trip, d_body, init, _max_trip=_max_trip(iter_))
    set_state(out)
    return None


def while_stmt(test, body, get_state, set_state, symbol_names, opts):  # noqa: ANN001,ANN201
    """``while test(): body`` (malt's interface)."""
    while True:
        t = test()
        if isinstance(t, _Unsafe):
            return _py_while_unsafe(t, test, body)
        v = _static(t)
        if v is None:
            break
        if not bool(v):
            return None
        body()
    # The test became traced: the rest of the loop is one while_loop.
    init = get_state()
    _check_state(init, symbol_names, "while loop")

    def compiled(init):  # noqa: ANN001,ANN202
        def w_cond(state):  # noqa: ANN001,ANN202
            set_state(state)
            return test()

        def w_body(state):  # noqa: ANN001,ANN202
            set_state(state)
            body()
            return _checked(get_state, init, symbol_names, "while loop")

        set_state(_while_loop(w_cond, w_body, init))

    _widening(compiled, _carry(init), set_state)
    return None


def if_stmt(cond, body, orelse, get_state, set_state, symbol_names, nouts):  # noqa: ANN001,ANN201
    """``if cond: body else: orelse`` (malt's interface)."""
    is_cheap = isinstance(cond, _Cheap)
    if is_cheap:
        cond = cond.value
    if isinstance(cond, _Unsafe):
        v = _static(cond.value)
        if v is None:
            raise cond.error("an `if` on a traced value")
        return body() if bool(v) else orelse()
    v = _static(cond)
    if v is not None or not hasattr(cond, "dtype"):
        return body() if bool(cond if v is None else v) else orelse()
    # A condition on loop indices that their static ranges decide
    # (`if j - 1 >= 0` in `for j in range(i + 1, n)`) stays Python.
    decided = _decide(cond)
    if isinstance(decided, bool):
        return body() if decided else orelse()
    if is_cheap or _PREDICATES:
        # Inside a predicated branch every nested `if` is cheap too.
        return _predicated(cond, body, orelse, get_state, set_state, symbol_names)
    init = get_state()
    from malt.operators.variables import Undefined, UndefinedReturnValue

    defined = tuple(not isinstance(x, (Undefined, UndefinedReturnValue)) for x in init)
    init_vals = _carry(tuple(x for x, d in zip(init, defined) if d))

    def branch(fn):  # noqa: ANN001,ANN202
        def run(vals):  # noqa: ANN001,ANN202
            it = iter(vals)
            set_state(tuple(next(it) if d else x for x, d in zip(init, defined)))
            fn()
            return get_state()

        return run

    def finish(fn):  # noqa: ANN001,ANN202
        def run(vals):  # noqa: ANN001,ANN202
            out = branch(fn)(vals)
            _check_state(out, symbol_names, "`if` (one branch leaves it unassigned)")
            return _carry(out)

        return run

    if any(n.startswith("retval_") and not d for n, d in zip(symbol_names, defined)):
        # A `return` inside a branch: malt leaves its return value undefined
        # in the other branch. Such a branch writes no array and calls no
        # function that might (checked on the source, see _MarkUnsafe), so
        # both run and the results are selected.
        return set_state(_select(cond, branch(body)(init_vals), branch(orelse)(init_vals)))
    out = _cond(jnp.asarray(cond).astype(bool), finish(body), finish(orelse), init_vals)
    set_state(out)
    return None


def _select(cond: Any, a: tuple[Any, ...], b: tuple[Any, ...]) -> tuple[Any, ...]:
    from malt.operators.variables import Undefined, UndefinedReturnValue

    undefined = (Undefined, UndefinedReturnValue)
    out = []
    for x, y in zip(a, b):
        if isinstance(x, undefined):
            out.append(y)
        elif isinstance(y, undefined) or x is y:
            out.append(x)
        else:
            out.append(jnp.where(cond, x, y))
    return tuple(out)


def _py_for(iter_, extra_test, body):  # noqa: ANN001,ANN202
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
    s = _static(v)
    if s is None and hasattr(v, "dtype"):
        raise LoopConversionError(
            "mutjax: `break` on a traced condition inside a loop that runs as "
            "Python (it iterates over something other than `range`): loop over "
            "`range(len(...))` instead."
        )
    return bool(v if s is None else s)


def _py_while_unsafe(t, test, body):  # noqa: ANN001,ANN202
    warned = False
    while True:
        v = _static(t.value)
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


def located(value: Any, where: str) -> Any:
    return value if isinstance(value, _Range) else _Located(value, where)


# -- predicated branches ------------------------------------------------------------------
#
# An `if` on a traced value whose branches are cheap (see _cheap) runs both
# branches one after the other, with every array write predicated:
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


_PREDICATES: list[Any] = []


def _predicate() -> Any:
    return functools.reduce(jnp.logical_and, _PREDICATES)


def pset(a: Any, idx: Any, v: Any) -> None:
    """``a[idx] = v`` inside a predicated branch."""
    if _PREDICATES:
        v = jnp.where(_predicate(), v, a[idx])
    a[idx] = v


# Python's augmented-assignment AST names -> the `operator` function names.
_AUG_NAMES = {
    "Add": "add", "Sub": "sub", "Mult": "mul", "Div": "truediv", "FloorDiv": "floordiv",
    "Mod": "mod", "Pow": "pow", "BitAnd": "and_", "BitOr": "or_", "BitXor": "xor",
    "LShift": "lshift", "RShift": "rshift", "MatMult": "matmul",
}  # fmt: skip
_AUG = {k: getattr(operator, v) for k, v in _AUG_NAMES.items()}  # `a op b`
_IAUG = {k: getattr(operator, "i" + v.rstrip("_")) for k, v in _AUG_NAMES.items()}  # `a op= b`


def paug(a: Any, idx: Any, op: str, v: Any) -> None:
    """``a[idx] op= v`` inside a predicated branch."""
    old = a[idx]
    if _PREDICATES:
        a[idx] = jnp.where(_predicate(), _AUG[op](old, v), old)
    else:
        # Python's own sequence: get, in-place operator, set.
        a[idx] = _IAUG[op](old, v)


def _predicated(cond, body, orelse, get_state, set_state, symbol_names):  # noqa: ANN001,ANN202
    from malt.operators.variables import Undefined, UndefinedReturnValue

    c = _unwrap_bool(cond)
    init = get_state()
    outs = []
    for fn, p in ((body, c), (orelse, jnp.logical_not(c))):
        set_state(init)
        _PREDICATES.append(p)
        try:
            fn()
        finally:
            _PREDICATES.pop()
        outs.append(get_state())
    undefined = (Undefined, UndefinedReturnValue)
    for name, x, y in zip(symbol_names, *outs):
        if isinstance(x, undefined) != isinstance(y, undefined) and not name.startswith("retval_"):
            _check_state((x, y), (name, name), "`if` (one branch leaves it unassigned)")
    set_state(_select(c, *outs))


def _unwrap_bool(cond: Any) -> Any:
    return jnp.asarray(cond).astype(bool)


_MUTATING_METHODS = frozenset(
    ["append", "extend", "insert", "pop", "remove", "clear", "update", "add", "discard"]
    + ["setdefault", "popitem", "appendleft", "popleft", "write"]
)


def _side_effect(stmts: list[ast.stmt], returns: bool = True) -> str | None:
    """Why the statements cannot be traced once, or None."""

    class Finder(ast.NodeVisitor):
        why: str | None = None

        def visit_FunctionDef(self, node: ast.AST) -> None:  # noqa: N802 - nested defs are theirs
            return None

        visit_AsyncFunctionDef = visit_FunctionDef  # noqa: N815
        visit_Lambda = visit_FunctionDef  # noqa: N815
        visit_ClassDef = visit_FunctionDef  # noqa: N815

        def visit_Return(self, node: ast.Return) -> None:  # noqa: N802
            if returns:
                self.why = self.why or f"has a `return` (line {node.lineno})"

        def visit_Yield(self, node: ast.AST) -> None:  # noqa: N802
            self.why = self.why or "has a `yield`"

        visit_YieldFrom = visit_Yield  # noqa: N815

        def visit_Global(self, node: ast.AST) -> None:  # noqa: N802
            self.why = self.why or "assigns a global"

        visit_Nonlocal = visit_Global  # noqa: N815

        def visit_Call(self, node: ast.Call) -> None:  # noqa: N802
            f = node.func
            if isinstance(f, ast.Name) and f.id == "print":
                self.why = self.why or f"calls print (line {node.lineno})"
            elif isinstance(f, ast.Attribute) and f.attr in _MUTATING_METHODS:
                self.why = self.why or (
                    f"calls `.{f.attr}(...)` (line {node.lineno}), a Python side effect"
                )
            self.generic_visit(node)

    finder = Finder()
    for s in stmts:
        finder.visit(s)
    return finder.why


# Calls that write their arguments without going through `x[idx] = v`.
_INPLACE_CALLS = _MUTATING_METHODS | frozenset(
    ["fill", "sort", "put", "itemset", "resize", "at", "copyto", "place", "putmask"]
    + ["fill_diagonal", "put_along_axis", "partition", "setflags"]
)
_PURE_BUILTINS = frozenset(["max", "min", "abs", "int", "float", "bool", "len", "slice", "round"])
_NOT_CHEAP = (
    ast.For, ast.AsyncFor, ast.While, ast.Try, ast.With, ast.AsyncWith, ast.Raise,
    ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda, ast.ClassDef, ast.Global,
    ast.Nonlocal, ast.Delete, ast.Yield, ast.YieldFrom, ast.Await, ast.NamedExpr,
    ast.AnnAssign,
)  # fmt: skip


def _cheap(stmts: list[ast.stmt], namespace: dict, helper: bool = False) -> bool:
    """True when the statements may run predicated (see :func:`if_stmt`).

    No loops, every array write is a plain ``x[idx] = v`` / ``x[idx] op= v``
    (rewritten into predicated writes), and every call is a pure builtin, a
    method or module function that does not write, or a loop-free helper
    function that writes no array.
    """
    for node in (n for st in stmts for n in ast.walk(st)):
        if isinstance(node, _NOT_CHEAP) or (isinstance(node, ast.Return) and not helper):
            return False
        if isinstance(node, ast.Assign):
            if len(node.targets) != 1 or not isinstance(node.targets[0], (ast.Name, ast.Subscript)):
                return False
        if isinstance(node, (ast.Assign, ast.AugAssign)):
            target = node.targets[0] if isinstance(node, ast.Assign) else node.target
            if isinstance(target, ast.Subscript) and helper:
                return False
            if not isinstance(target, (ast.Name, ast.Subscript)):
                return False
        if isinstance(node, ast.Call):
            if any(k.arg == "out" for k in node.keywords):
                return False
            f = node.func
            if isinstance(f, ast.Attribute):
                if f.attr in _INPLACE_CALLS:
                    return False
            elif isinstance(f, ast.Name):
                if f.id in _PURE_BUILTINS and f.id not in namespace:
                    continue
                fn = namespace.get(f.id)
                if helper or not inspect.isfunction(fn):
                    return False
                try:
                    tree = ast.parse(textwrap.dedent(inspect.getsource(fn)))
                except (OSError, TypeError, SyntaxError):
                    return False
                # A lambda's source is the statement that binds it, not a
                # `def`: an opaque call, so the branch is a `cond`.
                if not tree.body or not isinstance(tree.body[0], ast.FunctionDef):
                    return False
                if not _cheap(tree.body[0].body, {}, helper=True):
                    return False
            else:
                return False
    return True


def _index_expr(idx: ast.expr) -> ast.expr:
    """A subscript's index as an expression (``1:n`` -> ``slice(1, n, None)``)."""
    if isinstance(idx, ast.Slice):
        parts = [
            p if p is not None else ast.Constant(None) for p in (idx.lower, idx.upper, idx.step)
        ]
        return ast.Call(func=ast.Name("slice", ast.Load()), args=parts, keywords=[])
    if isinstance(idx, ast.Tuple):
        return ast.Tuple(elts=[_index_expr(e) for e in idx.elts], ctx=ast.Load())
    return idx


class _PredicateWrites(ast.NodeTransformer):
    """``x[idx] = v`` -> ``ag__.pset(x, idx, v)``; ``x[idx] op= v`` -> ``ag__.paug(...)``."""

    def _call(self, name: str, args: list[ast.expr], like: ast.stmt) -> ast.stmt:
        func = ast.Attribute(value=ast.Name("ag__", ast.Load()), attr=name, ctx=ast.Load())
        stmt = ast.Expr(ast.Call(func=func, args=args, keywords=[]))
        return ast.fix_missing_locations(ast.copy_location(stmt, like))

    def visit_Assign(self, node: ast.Assign) -> ast.stmt:  # noqa: N802
        t = node.targets[0]
        if isinstance(t, ast.Subscript):
            value = _load(t.value)
            return self._call("pset", [value, _index_expr(t.slice), node.value], node)
        return node

    def visit_AugAssign(self, node: ast.AugAssign) -> ast.stmt:  # noqa: N802
        t = node.target
        if isinstance(t, ast.Subscript):
            op = ast.Constant(type(node.op).__name__)
            value = _load(t.value)
            return self._call("paug", [value, _index_expr(t.slice), op, node.value], node)
        return node


def _load(expr: ast.expr) -> ast.expr:
    expr = ast.parse(ast.unparse(expr), mode="eval").body
    return expr


class _MarkUnsafe(ast.NodeTransformer):
    """Wrap the iterable / test of loops and ``if``s with side effects in ``ag__.unsafe``."""

    def __init__(self, filename: str, line_offset: int, namespace: dict) -> None:
        self.filename = filename
        self.offset = line_offset
        self.namespace = namespace

    def _mark(self, expr: ast.expr, node: ast.stmt, why: str) -> ast.expr:
        where = f"{self.filename}:{node.lineno + self.offset}"
        call = ast.Call(
            func=ast.Attribute(value=ast.Name("ag__", ast.Load()), attr="unsafe", ctx=ast.Load()),
            args=[expr, ast.Constant(where), ast.Constant(why)],
            keywords=[],
        )
        return ast.copy_location(call, expr)

    def visit_For(self, node: ast.For) -> ast.For:  # noqa: N802
        why = _side_effect(node.body + node.orelse)
        self.generic_visit(node)
        if why is not None:
            node.iter = self._mark(node.iter, node, why)
        else:
            where = f"{self.filename}:{node.lineno + self.offset}"
            call = ast.Call(
                func=ast.Attribute(ast.Name("ag__", ast.Load()), "located", ast.Load()),
                args=[node.iter, ast.Constant(where)],
                keywords=[],
            )
            node.iter = ast.copy_location(call, node.iter)
        return node

    def visit_While(self, node: ast.While) -> ast.While:  # noqa: N802
        why = _side_effect(node.body + node.orelse)
        self.generic_visit(node)
        if why is not None:
            node.test = self._mark(node.test, node, why)
        return node

    def visit_If(self, node: ast.If) -> ast.If:  # noqa: N802
        # malt turns a `return` in an `if` into a flag and a value: safe,
        # when the branches write no array (they are run both and selected).
        stmts = node.body + node.orelse
        why = _side_effect(stmts, returns=False)
        returns = any(isinstance(n, ast.Return) for st in stmts for n in ast.walk(st))
        if why is None and returns and not _cheap(stmts, self.namespace, helper=True):
            why = "has a `return` and writes an array or calls a function that might"
        if why is None and _cheap(node.body + node.orelse, self.namespace):
            node.body = [_PredicateWrites().visit(st) for st in node.body]
            node.orelse = [_PredicateWrites().visit(st) for st in node.orelse]
            self.generic_visit(node)
            node.test = ast.copy_location(
                ast.Call(
                    func=ast.Attribute(ast.Name("ag__", ast.Load()), "cheap", ast.Load()),
                    args=[node.test],
                    keywords=[],
                ),
                node.test,
            )
            return node
        self.generic_visit(node)
        if why is not None:
            node.test = self._mark(node.test, node, why)
        return node


# -- calls -----------------------------------------------------------------------------


def _builtin_minmax(name: str) -> Callable[..., Any]:
    py = max if name == "max" else min
    red = jnp.maximum if name == "max" else jnp.minimum

    def call(*args: Any, **kwargs: Any) -> Any:
        if len(args) >= 2 and not kwargs and any(_is_traced(a) for a in args):
            return functools.reduce(red, args)
        return py(*args, **kwargs)

    return call


_BUILTINS: dict[Any, Callable[..., Any]] = {
    range: _Range,
    max: _builtin_minmax("max"),
    min: _builtin_minmax("min"),
}


def converted_call(f, args, kwargs, caller_fn_scope=None, options=None):  # noqa: ANN001,ANN201
    """Call ``f``, converting it first when it is a user function (malt's interface)."""
    try:
        special = _BUILTINS.get(f)
    except TypeError:  # unhashable callable
        special = None
    if special is not None:
        return special(*args, **(kwargs or {}))
    from malt.core import config as ag_config
    from malt.impl import api as ag_api

    tr = _transformer()
    saved = ag_api._TRANSPILER, ag_config.CONVERSION_RULES
    ag_api._TRANSPILER = tr
    ag_config.CONVERSION_RULES = _RULES
    try:
        return ag_api.converted_call(f, args, kwargs, caller_fn_scope, options)
    finally:
        ag_api._TRANSPILER, ag_config.CONVERSION_RULES = saved


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


_OPERATORS = {
    "not_": not_,
    "and_": and_,
    "or_": or_,
    "for_stmt": for_stmt,
    "while_stmt": while_stmt,
    "if_stmt": if_stmt,
    "converted_call": converted_call,
    "unsafe": unsafe,
    "located": located,
    "cheap": cheap,
    "pset": pset,
    "paug": paug,
}

# -- the transformer -------------------------------------------------------------------

_TRANSFORMER: Any = None
_RULES: Any = None


def _transformer() -> Any:
    global _TRANSFORMER, _RULES
    if _TRANSFORMER is not None:
        return _TRANSFORMER
    try:
        from malt.core import config as ag_config
        from malt.impl import api as ag_api
    except ImportError as e:  # pragma: no cover - depends on the environment
        raise ImportError(
            "mutjax: `mutable(..., loops=True)` converts Python loops with the "
            "diastatic-malt package, which is not installed. Install it with "
            "`pip install 'mutjax[loops]'` (or `pip install diastatic-malt`)."
        ) from e

    class Transformer(ag_api.PyToPy):
        def get_extra_locals(self):  # noqa: ANN201
            if self._extra_locals is None:
                extra = super().get_extra_locals()
                extra["ag__"].__dict__.update(_OPERATORS)
                self._extra_locals = extra
            return self._extra_locals

        origin = ("<unknown>", 1)

        def transform(self, obj, user_context):  # noqa: ANN001,ANN201
            # malt parses a dedented copy of the source: remember where the
            # function really is, to name file and line in messages.
            code = getattr(obj, "__code__", None)
            if code is not None:
                self.origin = (code.co_filename, code.co_firstlineno)
            return super().transform(obj, user_context)

        def transform_ast(self, node, ctx):  # noqa: ANN001,ANN201
            filename, first = self.origin
            namespace = getattr(ctx.info, "namespace", None) or {}
            node = _MarkUnsafe(filename, first - 1, namespace).visit(node)
            ast.fix_missing_locations(node)
            return super().transform_ast(node, ctx)

    _RULES = (
        ag_config.DoNotConvert("mutjax"),
        ag_config.DoNotConvert("jax"),
        ag_config.DoNotConvert("jaxlib"),
        *ag_config.CONVERSION_RULES,
    )
    _TRANSFORMER = Transformer()
    return _TRANSFORMER


def _why_not(fun: Callable[..., Any]) -> str | None:
    if not inspect.isfunction(fun):
        return f"it is not a Python function ({type(fun).__name__})"
    if fun.__name__ == "<lambda>":
        return "it is a lambda"
    try:
        inspect.getsource(fun)
    except (OSError, TypeError):
        return "its source code is not available (defined in a REPL or by exec?)"
    return None


def convert(fun: Callable[..., Any]) -> Callable[..., Any]:
    """``fun`` with its Python control flow converted, or ``fun`` itself with a warning.

    Args:
        fun: a Python function.

    Returns:
        A function with ``fun``'s signature whose ``for``/``while``/``if``
        statements call mutjax's loop and branch combinators.

    Raises:
        ImportError: diastatic-malt is not installed.
    """
    why = _why_not(fun)
    if why is not None:
        warnings.warn(
            f"mutjax: loops=True cannot convert {getattr(fun, '__qualname__', fun)!r} "
            f"({_where(fun)}): {why}. Its Python loops run as Python (unrolled "
            "under jit). Define it with `def` in a file to convert it.",
            LoopConversionWarning,
            stacklevel=3,
        )
        return fun
    with _LOCK:  # two threads importing malt at once can see half a module
        tr = _transformer()
        from malt.core import converter
    opts = converter.ConversionOptions(
        recursive=True,
        user_requested=True,
        internal_convert_user_code=True,
        optional_features=(),
    )
    try:
        with _LOCK:
            new, _module, _smap = tr.transform(fun, converter.ProgramContext(opts))
    except Exception as e:  # noqa: BLE001 - malt refuses some syntax
        warnings.warn(
            f"mutjax: loops=True cannot convert {fun.__qualname__!r} ({_where(fun)}): "
            f"{type(e).__name__}: {e}. Its Python loops run as Python.",
            LoopConversionWarning,
            stacklevel=3,
        )
        return fun

    @functools.wraps(fun)
    def converted(*args: Any, **kwargs: Any) -> Any:
        with _LOCK:
            _DIFFERENTIATING.append(_compat.under_differentiation(_compat.current_trace()))
            try:
                return new(*args, **kwargs)
            finally:
                _DIFFERENTIATING.pop()
                if len(_DIFFERENTIATING) == 1:
                    _INTERVALS.clear()

    return converted
