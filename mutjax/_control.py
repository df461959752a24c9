"""Loops and branches whose bodies mutate the arrays they close over.

``mutjax.fori_loop``, ``while_loop``, ``scan``, ``cond`` and ``switch`` take
the arguments of their ``jax.lax`` namesakes. The bodies and branches may
write any mutable array of the enclosing ``mutable`` scope (and views of
them): the written arrays are threaded through the loop carry or the branch
outputs, so the result is one ``jax.lax`` loop or conditional, not an
unrolled Python loop.

How a body runs: each time JAX traces it, it runs under a *frame*
(``_frame``): a new ``MutTrace`` whose parent is the
body's own trace is pushed on the scope's stack, and the threaded cells hold
the body's carry values for the duration. Every mutable array routes reads
and writes through the scope's active trace, so ``x[i] = x[i - 1] + 1``
inside the body reads and writes the carry.

Which arrays a body writes is found by a first tracing pass
(``_discover``) under ``jax.make_jaxpr``; the writes it makes are undone,
and only the written arrays are threaded. A loop whose arrays are known
(a *hint*: from an enclosing first pass, or guessed from a converted loop's
source, see ``guess``) skips that pass, and its trace checks the hint.
"""

from __future__ import annotations

import contextlib
import functools
from collections.abc import Callable, Iterator, Sequence
from typing import Any, TypeVar

import jax
import numpy as np

from . import _compat, _errors, _promote, _ranges, _scope
from ._scope import Cell, Scope
from ._trace import MutArray, MutTrace, current_mut_trace

_tree_map = jax.tree_util.tree_map

# The type variables of jax.lax's own loop signatures: T is a loop value,
# Carry, X and Y a scan's carry, input slice and output slice; R is what a
# branch returns.
T = TypeVar("T")
Carry = TypeVar("Carry")
X = TypeVar("X")
Y = TypeVar("Y")
R = TypeVar("R")


@contextlib.contextmanager
def _frame(
    trace: MutTrace,
    cells: Sequence[Cell],
    values: Sequence[Any],
    record: bool,
    hinted: _HintMissed | None = None,
) -> Iterator[tuple[MutTrace, dict[Cell, Any]]]:
    """Run a body of ``trace``'s scope under the current (body) trace.

    ``cells`` hold ``values`` (values of the body trace) while the frame is
    open and get their previous values back when it closes. Every write made
    in the frame is undone when it closes; the written cells are the keys of
    the yielded dict. With ``record`` (a first pass, see ``_discover``)
    the body may write any array; without, only ``cells`` and its own.
    With ``hinted`` (``cells`` come from a hint, see ``_hint``) the body
    must write exactly ``cells``, in that order, or ``hinted`` is raised.
    """
    root = trace.scope.root
    local = Scope(root)  # arrays created in the body live only as long as it
    inner = MutTrace(_compat.current_trace(), trace.tag, local)
    saved = [c.value for c in cells]
    for c, v in zip(cells, values):
        c.swap(v)
    recorder = root.push(inner, record)
    checks = _scope.local.index_checks
    depth = len(checks)
    checks.append(None)  # a body of a combinator keeps jax.lax's bounds semantics
    try:
        with _compat.set_current_trace(inner):
            yield inner, recorder
        if hinted is not None:
            written = [c for c in recorder if c.scope is not local and not c.scope.closed]
            if written != list(cells):
                hinted.written = written
                raise hinted
        elif not record:
            _check_threaded(recorder, cells, local)
    finally:
        del checks[depth:]
        root.pop()
        local.close()
        for c, old in recorder.items():
            c.swap(old)
        for c, v in zip(cells, saved):
            c.swap(v)


def _check_threaded(recorder: dict[Cell, Any], cells: Sequence[Cell], local: Scope) -> None:
    """A traced body wrote only the cells found by ``_discover`` (and its own arrays).

    A write of another array would store a value of the body's trace in it:
    a leaked tracer (JAX's UnexpectedTracerError later, or a tracer in an
    eager result). It happens when a body's writes depend on Python state
    that changes from one trace to the next.
    """
    threaded = set(cells)
    stray = [
        c for c in recorder if c not in threaded and c.scope is not local and not c.scope.closed
    ]
    if stray:
        avals = ", ".join(str(c.aval.str_short()) for c in stray)
        raise _errors.ForeignTraceError(
            f"mutjax: a loop body or branch wrote an array ({avals}) when traced "
            "again that it did not write when mutjax first traced it to find the "
            "arrays it writes. Its writes depend on Python state that changes "
            "between traces (a list re-ordered or a counter advanced in the body). "
            "Make every trace write the same arrays: re-bind names "
            "(`x, y = y, x`) instead of mutating a Python container in the body."
        )


class _HintMissed(Exception):
    """A body traced with hinted cells wrote others (``written``): its loop runs again."""

    written: list[Cell]


def _take_site() -> Any:
    """The key of the converted loop that called this combinator (None: no converted loop)."""
    site, _scope.local.site = _scope.local.site, None
    return site


@contextlib.contextmanager
def _hinting(trace: MutTrace, site: Any) -> Iterator[None]:
    """Record, as the hint of ``site``, the cells a body run in a first pass writes.

    A combinator met in an enclosing body's first pass runs its body once
    (see ``_discovering``); the cells that run writes (but did not create)
    are the cells its own first pass would find. They are kept so that the
    combinator's traced run in the enclosing body's next trace skips its own
    first pass: one trace fewer per nesting level. The writes still go to
    the enclosing first pass's recorder, which undoes them.
    """
    if site is None:
        yield
        return
    root = trace.scope.root
    made = root.made
    recorder = root.push(root.active, True)
    try:
        yield
    finally:
        root.pop()
        outer = root.recorders[-1]
        for c, old in recorder.items():
            outer.setdefault(c, old)
    cells = [c for c in recorder if c.serial < made]
    if site in root.hints and root.hints[site] != cells:
        root.hints[site] = None  # the site writes different arrays in different places
    else:
        root.hints[site] = cells


def guess(site: Any, arrays: Sequence[Any]) -> None:
    """Take the cells of ``arrays`` as the hint of ``site`` where it has none.

    A converted loop that no first pass ran guesses that its body writes
    the arrays its source writes through (``table`` of ``table[i, j] = v``):
    its trace then needs no first pass (nor do the loops nested in it). A
    trace that writes other arrays is traced once more (see ``_run_threaded``).
    """
    trace = current_mut_trace()
    if site is None or trace is None or _discovering(trace):
        return
    root = trace.scope.root
    cells = [a._cell for a in arrays if a._cell.scope.root is root]
    if site not in root.hints and cells:
        root.hints[site] = list(dict.fromkeys(cells))


def _hint(trace: MutTrace, site: Any) -> list[Cell] | None:
    """The cells recorded for ``site`` (see ``_hinting``), if all are still open."""
    if site is None:
        return None
    cells = trace.scope.root.hints.get(site)
    if cells is None or any(c.scope.closed for c in cells):
        return None
    return cells


def _spec(x: Any) -> jax.ShapeDtypeStruct:
    aval = _compat.typeof(x)
    return jax.ShapeDtypeStruct(aval.shape, aval.dtype, weak_type=aval.weak_type)


def _discover(trace: MutTrace, run: Callable[..., Any], *args: Any) -> list[Cell]:
    """The cells of ``trace``'s scope that ``run(inner, *args)`` writes, in write order.

    ``run`` is traced once with abstract arguments; its writes are undone.
    Arrays created inside ``run`` are local to it and not reported.
    """
    written: dict[Cell, None] = {}

    def probe(*a: Any) -> None:
        with _frame(trace, (), (), record=True) as (inner, recorder):
            run(inner, *a)
            written.update(dict.fromkeys(recorder))

    with _compat.set_current_trace(trace.parent_trace):
        jax.make_jaxpr(probe)(*_tree_map(_spec, args))
    return [c for c in written if not c.scope.closed]


def _discovering(trace: MutTrace) -> bool:
    """True while a first pass (``_discover``) of an enclosing body runs.

    A combinator met then only has to make its writes: it runs its body once
    on placeholder values instead of discovering and tracing a lax loop, so
    nested loops are traced a number of times linear in their depth.
    """
    return trace.scope.discovering


def _opaque(trace: MutTrace, tree: Any) -> Any:
    """``tree`` (parent-trace values) with each leaf known at trace time made traced.

    A first pass runs a nested body once, standing for every iteration of its
    loop: a test of a loop value decided on the value of one iteration
    (``if k == 0``) would hide the writes of the other branch, which the
    loop's own trace then makes.
    """

    def leaf(x: Any) -> Any:
        if _ranges.static(x) is None and _compat.literal_value(x) is None:
            return x
        with _compat.set_current_trace(trace.parent_trace):
            return jax.lax.optimization_barrier(jax.numpy.asarray(x))

    return _tree_map(leaf, tree)


def _probe_index(trace: MutTrace, lower: Any, upper: Any) -> Any:
    """The index a first pass runs a loop's body with: traced, as in the loop (see ``_opaque``).

    A static range's interval is registered on it, as the loop's own trace does.
    """
    with _compat.set_current_trace(trace.parent_trace):
        i = jax.numpy.asarray(lower)
    i = _opaque(trace, i)
    lo, hi = _ranges.static(lower), _ranges.static(upper)
    if lo is not None and hi is not None and np.ndim(lo) == 0 and np.ndim(hi) == 0:
        if int(lo) <= int(hi) - 1:
            _ranges.register(trace.scope.root.intervals, i, int(lo), int(hi) - 1)
    return i


def _placeholder(spec: Any) -> Any:
    return jax.numpy.zeros(spec.shape, spec.dtype)


def _carry_value(cell: Cell) -> Any:
    # A weakly typed value (an array made from a Python scalar) and its
    # strongly typed update differ in type, which a loop carry refuses.
    v = cell.value
    if _compat.typeof(v).weak_type:
        v = jax.lax.convert_element_type(v, cell.aval.dtype)
    return v


def _cell_values(inner: MutTrace, cells: Sequence[Cell]) -> list[Any]:
    with _compat.set_current_trace(inner.parent_trace):
        return [_carry_value(c) for c in cells]


# The kinds (see ``_kinds``) of the last tree each running body unwrapped, by
# the id of its trace: a body's last unwrap is of its results (``_threaded``).
_unwrapped: dict[int, list[bool] | None] = {}


def _unwrap(trace: MutTrace, tree: Any) -> Any:
    if id(trace) in _unwrapped:
        _unwrapped[id(trace)] = _kinds(tree)
    return _tree_map(trace.unwrap, tree)


def _wrap(trace: MutTrace, tree: Any) -> Any:
    return _tree_map(trace._wrap_out, tree)


def _kinds(tree: Any) -> list[bool]:
    """Per leaf of ``tree``: whether NumPy holds a scalar there.

    A NumPy-scalar mutable array does, and so does a value that is no
    mutable array at all (a Python number, a JAX value): ``s = 0.0`` then
    ``s += a[k]`` is a ``np.float64`` in NumPy. A 0-d array does not.
    """
    return [not isinstance(x, MutArray) or x._scalar for x in jax.tree_util.tree_leaves(tree)]


def _wrap_as(trace: MutTrace, tree: Any, kinds: Sequence[bool] | None) -> Any:
    """``_wrap(trace, tree)`` whose 0-d leaves are NumPy scalars where ``kinds`` says so.

    A loop's carried value or a branch's result is what its body made of
    it: a NumPy scalar where the body's value is one (``t = s; s += 1``
    leaves ``t`` as it was, ``s[...] = c`` raises), a 0-d array where it is
    a 0-d array.
    """
    leaves, tree_def = jax.tree_util.tree_flatten(tree)
    out = [trace._wrap_out(x) for x in leaves]
    if kinds is not None and len(kinds) == len(out):
        for x, scalar in zip(out, kinds):
            if scalar and isinstance(x, MutArray) and x._view is None and not x._aval.shape:
                x._scalar = True
    return jax.tree_util.tree_unflatten(tree_def, out)


class _Results:
    """The kinds (see ``_kinds``) of each body's results, from its latest trace."""

    def __init__(self, bodies: int) -> None:
        self.seen: list[list[bool] | None] = [None] * bodies

    def kinds(self) -> list[bool] | None:
        # A leaf of a switch is a NumPy scalar only if every branch makes one.
        seen = [s for s in self.seen if s is not None]
        if not seen or any(len(s) != len(seen[0]) for s in seen):
            return None
        return [all(leaf) for leaf in zip(*seen)]


def _store(cells: Sequence[Cell], values: Sequence[Any]) -> None:
    for c, v in zip(cells, values):
        c.set(v)


def _threaded(
    trace: MutTrace,
    bodies: Sequence[Callable[..., Any]],
    *args: Any,
    hint: list[Cell] | None = None,
    missed: _HintMissed | None = None,
    results: _Results | None = None,
) -> tuple[list[Cell], list[Callable[..., Any]]]:
    """The cells any of ``bodies`` writes, and functions running each with them threaded.

    ``body(inner, *args)`` returns the body's own outputs (parent-trace values).
    Each returned function takes ``(cell_values, *args)`` and returns
    ``(new_cell_values, outputs)``. With ``hint`` the cells are those, unchecked
    by a first pass: a traced body that writes others raises ``missed``.
    The kinds of each body's results go to ``results``.
    """
    if hint is not None:
        cells = list(hint)
    else:
        written: dict[Cell, None] = {}
        for body in bodies:
            written.update(dict.fromkeys(_discover(trace, body, *args)))
        cells = list(written)
    # Carried in the order the arrays were made (a kernel's arguments in its
    # signature's order), as a hand-written loop's carry tuple is: XLA lays
    # the loop's buffers out by it, and FDTD-2D's three arrays run 1.5-2%
    # slower in the order of their first writes.
    cells.sort(key=lambda c: c.serial)

    def threaded(k: int, body: Callable[..., Any]) -> Callable[..., Any]:
        def run(values: Sequence[Any], *a: Any) -> tuple[list[Any], Any]:
            with _frame(trace, cells, values, record=False, hinted=missed) as (inner, _):
                _unwrapped[id(inner)] = None
                try:
                    out = body(inner, *a)
                finally:
                    kinds = _unwrapped.pop(id(inner))
                if results is not None:
                    results.seen[k] = kinds
                return _cell_values(inner, cells), out

        return run

    return cells, [threaded(k, b) for k, b in enumerate(bodies)]


def _run_threaded(
    trace: MutTrace,
    bodies: Sequence[Callable[..., Any]],
    args: tuple[Any, ...],
    lax_call: Callable[[list[Cell], list[Any], list[Callable[..., Any]]], tuple[list[Any], Any]],
    site: Any = None,
) -> Any:
    """Every combinator's shape: thread the written cells through one ``lax`` call.

    ``lax_call(cells, start, threaded)`` runs the ``lax`` loop or branch on
    the written ``cells``' current values ``start`` with the threaded bodies
    (see ``_threaded``) and returns their final values and its own
    outputs.

    A single body of a converted loop (its ``site``, or the one a converted
    loop set, see ``_take_site``) with a hint runs without a first pass; if
    its trace writes other cells than the hint's, it runs again with one.
    """
    site = _take_site() if site is None else site
    hint = _hint(trace, site) if len(bodies) == 1 else None
    if hint is not None:
        # A trace that missed wrote all the cells its body writes: the
        # next one threads those, and only a second miss needs a first pass.
        for _ in range(2):
            missed = _HintMissed()
            try:
                out = _run_cells(trace, bodies, args, lax_call, hint, missed)
            except _HintMissed as e:
                if e is not missed:
                    raise
                hint = e.written
                continue
            trace.scope.root.hints[site] = hint
            return out
        trace.scope.root.hints[site] = None
    return _run_cells(trace, bodies, args, lax_call, None, None)


def _run_cells(
    trace: MutTrace,
    bodies: Sequence[Callable[..., Any]],
    args: tuple[Any, ...],
    lax_call: Callable[[list[Cell], list[Any], list[Callable[..., Any]]], tuple[list[Any], Any]],
    hint: list[Cell] | None,
    missed: _HintMissed | None,
) -> Any:
    results = _Results(len(bodies))
    cells, threaded = _threaded(trace, bodies, *args, hint=hint, missed=missed, results=results)
    with _compat.set_current_trace(trace.parent_trace):
        start = [_carry_value(c) for c in cells]
        if _compat.is_eager():
            values, out = _eager(lambda s: lax_call(cells, s, threaded), start)
        else:
            values, out = lax_call(cells, start, threaded)
    _store(cells, values)
    return _wrap_as(trace, out, results.kinds())


class _Program:
    """A traced loop or branch as a cache key: its jaxpr's text and its inputs' types.

    Equal keys compute the same function of the inputs (every constant of
    the jaxpr is an input, see ``hoist_consts``), so the first program
    traced serves them all.
    """

    __slots__ = ("key", "fun")

    def __init__(self, key: tuple[Any, ...], fun: Callable[..., Any]) -> None:
        self.key = key
        self.fun = fun

    def __hash__(self) -> int:
        return hash(self.key)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, _Program) and self.key == other.key


@functools.lru_cache(maxsize=128)
def _compiled(program: _Program) -> Callable[..., Any]:
    return jax.jit(program.fun)


def _eager(run: Callable[[list[Any]], Any], start: list[Any]) -> Any:
    """``run(start)`` outside any transformation, compiled once per distinct program.

    ``jax.lax.fori_loop`` called eagerly caches its compiled loop on the body
    function; the threaded body is a new closure at every call, so each call
    compiled and kept a new program (1.7 MiB and 0.2 s each). The loop is
    traced to a jaxpr instead (cheap) and the compiled program is looked up
    by what it computes.
    """
    closed, out_shape = jax.make_jaxpr(run, return_shape=True)(start)
    fun, consts = _compat.hoist_consts(closed)
    leaves = jax.tree_util.tree_leaves(start)
    key = (str(closed.jaxpr), tuple(_compat.typeof(c) for c in (*consts, *leaves)))
    flat = _compiled(_Program(key, fun))(*consts, *leaves)
    return jax.tree_util.tree_unflatten(jax.tree_util.tree_structure(out_shape), flat)


def _user_body(fun: Callable[..., Any], kinds: list[bool] | None = None) -> Callable[..., Any]:
    """``fun`` run on mutable versions of its arguments, returning plain values.

    The arguments are NumPy scalars where ``kinds`` (of the values passed
    in, see ``_kinds``) says so, 0-d arrays elsewhere.
    """

    def body(inner: MutTrace, *args: Any) -> Any:
        return _unwrap(inner, fun(*_wrap_as(inner, args, kinds)))

    return body


def _as_index(x: Any, index: Any) -> Any:
    """``jax.numpy.asarray(x, index)``; a traced ``x`` as the one conversion that binds."""
    if isinstance(x, _compat.Tracer):
        return jax.lax.convert_element_type(x, index)
    return jax.numpy.asarray(x, index)


def _bounded_fori_loop(
    lower: Any, upper: Any, body: Callable, carry: Any, max_trip: int, intervals: Any = None
) -> Any:
    """``lax.fori_loop(lower, upper, body, carry)`` whose trip count is at most ``max_trip``.

    It runs as a ``while`` loop of the exact trip count. Its derivative is
    that of a fixed-length loop of ``max_trip`` iterations whose body is
    masked by a ``cond``, which reverse mode can transpose: a ``jit`` that
    traced the loop without differentiation can be differentiated later
    (``jax.grad(g)`` after ``g(x)``, ``g = jax.jit(f)``), where a plain
    ``while`` loop would make JAX refuse.
    """
    index = jax.numpy.result_type(lower, upper)
    lower, upper = _as_index(lower, index), _as_index(upper, index)
    traced = _promote.indexed(body, lower, upper)
    closed, out_shape = jax.make_jaxpr(traced, return_shape=True)(lower, carry)
    flat_fn, consts = _compat.hoist_consts(closed)
    out_tree = jax.tree_util.tree_structure(out_shape)
    elements = _promote.element_plan(closed, lower, upper, intervals or {})

    def fn(i: Any, c: Any, *consts: Any) -> Any:
        out = flat_fn(*consts, i, *jax.tree_util.tree_leaves(c))
        return jax.tree_util.tree_unflatten(out_tree, out)

    @jax.custom_jvp
    def loop(lo: Any, hi: Any, consts: Any, carry: Any, updates: Any) -> Any:
        if elements:  # the derivative below runs the loop as traced
            leaves = jax.tree_util.tree_leaves(carry)
            out = _promote.run_elements(
                lo, hi, closed.jaxpr, consts, elements, leaves, updates=updates
            )
            return jax.tree_util.tree_unflatten(out_tree, out)
        return jax.lax.fori_loop(lo, hi, lambda i, c: fn(i, c, *consts), carry)

    @loop.defjvp
    def loop_jvp(primals: Any, tangents: Any) -> Any:
        lo, hi, consts, carry, updates = primals

        def masked(consts: Any, carry: Any) -> Any:
            def step(k: Any, c: Any) -> Any:
                i = lo + k
                return jax.lax.cond(i < hi, lambda c: fn(i, c, *consts), lambda c: c, c)

            return jax.lax.fori_loop(0, max_trip, step, carry)

        def unfolded(consts: Any, carry: Any, updates: Any) -> Any:
            leaves = jax.tree_util.tree_leaves(carry)
            if elements:
                leaves = _promote.unfold_updates(closed.jaxpr, consts, elements, leaves, updates)
            return masked(consts, jax.tree_util.tree_unflatten(carry_tree, leaves))

        return jax.jvp(unfolded, (consts, carry, updates), tuple(tangents[2:]))

    updates: list[Any] = []
    carry_tree = jax.tree_util.tree_structure(carry)
    if elements:
        leaves, updates = _promote.fold_updates(closed, elements, jax.tree_util.tree_leaves(carry))
        carry = jax.tree_util.tree_unflatten(carry_tree, leaves)
    return loop(lower, upper, list(consts), carry, updates)


def fori_loop(
    lower: Any,
    upper: Any,
    body_fun: Callable[[Any, T], T],
    init_val: T,
    *,
    unroll: int | bool | None = None,
) -> T:
    """``jax.lax.fori_loop`` whose body may mutate the arrays it closes over.

    Args:
        lower, upper, body_fun, init_val, unroll: as for ``jax.lax.fori_loop``.
            ``body_fun(i, val)`` may write mutable arrays of the enclosing
            ``mutable`` scope; ``val`` is itself a mutable copy. With static
            bounds the loop lowers to ``scan`` (reverse-mode differentiable),
            as ``jax.lax.fori_loop`` does.

    Returns:
        The loop value after the last iteration, of the type ``T`` of
        ``init_val``: the last ``body_fun(i, val)`` (``init_val`` when the
        loop runs no iteration), as ``jax.lax.fori_loop`` returns it. The
        arrays the body wrote hold their final contents.

    Raises:
        mutjax.ForeignTraceError: the body writes a mutable array inside a
            JAX transformation mutjax cannot thread (a plain ``jax.lax`` loop
            nested in it, a ``jax.jit`` or ``jax.vmap`` applied inside it).
        mutjax.ScopeEndedError: the body uses a mutable array of a
            ``mutable`` call that already returned.

    Example:
        ```python
        import jax
        import jax.numpy as jnp
        import mutjax

        @jax.jit
        @mutjax.mutable
        def cumsum(x):
            def body(i, total):
                x[i] += total  # x is threaded through the loop
                return x[i]

            mutjax.fori_loop(0, x.shape[0], body, 0.0)
            return x

        assert cumsum(jnp.array([1.0, 2.0, 3.0])).tolist() == [1.0, 3.0, 6.0]
        ```
    """
    return fori_loop_bounded(lower, upper, body_fun, init_val, None, unroll=unroll)


def fori_loop_bounded(
    lower: Any,
    upper: Any,
    body_fun: Callable[[Any, T], T],
    init_val: T,
    max_trip: int | None,
    *,
    unroll: int | bool | None = None,
    batch: Any = None,
) -> T:
    """``fori_loop`` whose trip count is known to be at most ``max_trip`` (None: unknown).

    The converted loops call it (see ``_bounded_fori_loop``): with a
    bound, a loop of traced length stays differentiable in reverse mode.
    ``batch`` (a ``mutjax._loops._vectorize.Shifted``) runs it as one batched
    operation where that is provably equal.
    """
    site = _take_site()
    trace = current_mut_trace()
    if trace is None:
        return jax.lax.fori_loop(lower, upper, body_fun, init_val, unroll=unroll)
    kinds = _kinds(init_val)
    lower, upper, init = _unwrap(trace, (lower, upper, init_val))
    if _discovering(trace):
        with _hinting(trace, site):
            i = _probe_index(trace, lower, upper)
            return body_fun(i, _wrap_as(trace, _opaque(trace, init), kinds))

    lo, hi = _ranges.static(lower), _ranges.static(upper)
    span = None
    if lo is not None and hi is not None and np.ndim(lo) == 0 and np.ndim(hi) == 0:
        span = (int(lo), int(hi) - 1)

    def body(inner: MutTrace, i: Any, val: Any) -> Any:
        if span is not None and span[0] <= span[1]:
            # element accesses at `i` need no bounds checks
            _ranges.register(trace.scope.root.intervals, i, *span)
        return _unwrap(inner, body_fun(i, _wrap_as(inner, val, kinds)))

    with _compat.set_current_trace(trace.parent_trace):
        index = jax.numpy.result_type(lower, upper)
        i0 = jax.ShapeDtypeStruct((), index)

    def run(cells: list[Cell], start: list[Any], threaded: list[Callable[..., Any]]) -> Any:
        def lax_body(i: Any, state: Any) -> Any:
            return threaded[0](state[0], i, state[1])

        if batch is not None:  # the body traced once, for the proof and the loop
            out, lax_body = batch.run(lax_body, lower, upper, (start, init))
            if out is not None:
                return out
        if max_trip is not None:
            table = trace.scope.root.intervals
            return _bounded_fori_loop(lower, upper, lax_body, (start, init), max_trip, table)
        return _promote.fori_loop(lower, upper, lax_body, (start, init), unroll=unroll)

    return _run_threaded(trace, [body], (i0, init), run, site)


def while_loop(cond_fun: Callable[[T], Any], body_fun: Callable[[T], T], init_val: T) -> T:
    """``jax.lax.while_loop`` whose body may mutate the arrays it closes over.

    Args:
        cond_fun, body_fun, init_val: as for ``jax.lax.while_loop``.
            ``cond_fun`` sees the arrays' current contents but must not write.

    Returns:
        The loop value when ``cond_fun`` first returns False, of the type
        ``T`` of ``init_val``: the last ``body_fun(val)`` (``init_val`` when
        the loop runs no iteration), as ``jax.lax.while_loop`` returns it.
        The written arrays hold their final contents.

    Raises:
        mutjax.ForeignTraceError: ``cond_fun`` writes a mutable array, or
            the body writes one inside a JAX transformation mutjax cannot
            thread (a plain ``jax.lax`` loop nested in it, a ``jax.jit``
            applied inside it).
        mutjax.ScopeEndedError: the body uses a mutable array of a
            ``mutable`` call that already returned.

    Example:
        ```python
        import jax
        import jax.numpy as jnp
        import mutjax

        @jax.jit
        @mutjax.mutable
        def halve_until_small(x):
            def body(n):
                x[...] /= 2  # x is threaded through the loop
                return n + 1

            steps = mutjax.while_loop(lambda n: x.max() > 1.0, body, 0)
            return x, steps

        x, steps = halve_until_small(jnp.array([8.0, 2.0]))
        assert x.tolist() == [1.0, 0.25] and steps == 3
        ```
    """
    trace = current_mut_trace()
    if trace is None:
        return jax.lax.while_loop(cond_fun, body_fun, init_val)
    kinds = _kinds((init_val,))
    init = _unwrap(trace, init_val)
    if _discovering(trace):
        return body_fun(*_wrap_as(trace, _opaque(trace, (init,)), kinds))
    body = _user_body(body_fun, kinds)

    def run(cells: list[Cell], start: list[Any], threaded: list[Callable[..., Any]]) -> Any:

        def lax_cond(state: Any) -> Any:
            with _frame(trace, cells, state[0], record=True) as (inner, recorder):
                pred = inner.unwrap(cond_fun(_wrap_as(inner, state[1], kinds)))
                if recorder:
                    raise _errors.ForeignTraceError(
                        "mutjax: the cond_fun of mutjax.while_loop wrote a mutable "
                        "array. It must only read; do the writes in body_fun."
                    )
            return pred

        def lax_body(state: Any) -> Any:
            return threaded[0](state[0], state[1])

        return jax.lax.while_loop(lax_cond, lax_body, (start, init))

    return _run_threaded(trace, [body], (init,), run)


def scan(
    f: Callable[[Carry, X], tuple[Carry, Y]],
    init: Carry,
    xs: X | None = None,
    length: int | None = None,
    reverse: bool = False,
    unroll: int | bool = 1,
    _split_transpose: bool = False,
) -> tuple[Carry, Y]:
    """``jax.lax.scan`` whose body may mutate the arrays it closes over.

    Args:
        f, init, xs, length, reverse, unroll: as for ``jax.lax.scan``.
            ``f(carry, x)`` may write mutable arrays of the enclosing
            ``mutable`` scope.
        _split_transpose: passed to ``jax.lax.scan``, whose signature has it
            (an experimental option JAX leaves undocumented); kept so that
            ``mutjax.scan`` takes every argument ``jax.lax.scan`` takes.

    Returns:
        The pair ``(carry, ys)``, as ``jax.lax.scan`` returns it: ``carry``
        the final carry, of ``init``'s type ``Carry``; ``ys`` the ``y``
        outputs of ``f`` (type ``Y``) stacked along a new leading axis of
        the scan's length. The written arrays hold their final contents.

    Raises:
        TypeError: ``f`` does not return a ``(carry, y)`` pair
            (``jax.lax.scan``'s message).
        ValueError: a leaf of ``xs`` has no leading axis to scan over
            (``jax.lax.scan``'s message).
        mutjax.ForeignTraceError: the body writes a mutable array inside a
            JAX transformation mutjax cannot thread (a plain ``jax.lax`` loop
            nested in it, a ``jax.jit`` or ``jax.vmap`` applied inside it).
        mutjax.ScopeEndedError: the body uses a mutable array of a
            ``mutable`` call that already returned.

    Example:
        ```python
        import jax
        import jax.numpy as jnp
        import mutjax

        @jax.jit
        @mutjax.mutable
        def histogram(bins, xs):
            def body(carry, x):
                bins[x] += 1  # bins is threaded through the scan
                return carry + 1, bins[x]

            count, seen = mutjax.scan(body, 0, xs)
            return bins, count, seen

        bins, count, seen = histogram(jnp.zeros(3), jnp.array([0, 2, 2, 1]))
        assert bins.tolist() == [1.0, 1.0, 2.0]
        assert count == 4 and seen.tolist() == [1.0, 1.0, 2.0, 1.0]
        ```
    """
    trace = current_mut_trace()
    if trace is None:
        return jax.lax.scan(f, init, xs, length, reverse, unroll, _split_transpose)
    # The carry is what the body made of it; a slice of xs is a 0-d array.
    kinds = _kinds(init) + [False] * len(jax.tree_util.tree_leaves(xs))
    init, xs = _unwrap(trace, (init, xs))
    _check_scan_xs(xs)
    x0 = _tree_map(lambda x: jax.ShapeDtypeStruct(np.shape(x)[1:], jax.numpy.result_type(x)), xs)
    if _discovering(trace):
        n = (
            length
            if xs is None or not jax.tree_util.tree_leaves(xs)
            else len(jax.tree_util.tree_leaves(xs)[0])
        )
        with _compat.set_current_trace(trace.parent_trace):
            x = _tree_map(_placeholder, x0)
        carry, y = _scan_pair(f(*_wrap_as(trace, _opaque(trace, (init, x)), kinds)))
        ys = _tree_map(lambda v: jax.numpy.broadcast_to(v, (n, *np.shape(v))), y)
        return carry, ys

    def run(cells: list[Cell], start: list[Any], threaded: list[Callable[..., Any]]) -> Any:
        def lax_body(state: Any, x: Any) -> Any:
            values, out = threaded[0](state[0], state[1], x)
            carry, y = _scan_pair(out)
            return (values, carry), y

        (values, carry), ys = jax.lax.scan(
            lax_body, (start, init), xs, length, reverse, unroll, _split_transpose
        )
        return values, (carry, ys)

    return _run_threaded(trace, [_user_body(f, kinds)], (init, x0), run)


def switch(index: Any, branches: Sequence[Callable[..., R]], *operands: Any) -> R:
    """``jax.lax.switch`` whose branches may mutate the arrays they close over.

    Args:
        index, branches, operands: as for ``jax.lax.switch`` (``index`` is
            clamped into range). The arrays written by any branch are
            threaded through every branch's outputs.

    Returns:
        What ``branches[index](*operands)`` returns (type ``R``: every
        branch returns the same structure, shapes and dtypes, as
        ``jax.lax.switch`` requires); None for branches that only write. The
        written arrays hold the contents the chosen branch left.

    Raises:
        mutjax.ForeignTraceError: a branch writes a mutable array inside a
            JAX transformation mutjax cannot thread (a plain ``jax.lax`` loop
            in it, a ``jax.jit`` or ``jax.vmap`` applied inside it).
        mutjax.ScopeEndedError: a branch uses a mutable array of a
            ``mutable`` call that already returned.

    Example:
        ```python
        import jax
        import jax.numpy as jnp
        import mutjax

        @jax.jit
        @mutjax.mutable
        def apply(x, op):
            def double():
                x[...] *= 2

            def negate():
                x[...] = -x

            def clear():
                x[0] = 0.0

            mutjax.switch(op, [double, negate, clear])
            return x

        assert apply(jnp.array([1.0, 2.0]), 1).tolist() == [-1.0, -2.0]
        assert apply(jnp.array([1.0, 2.0]), 2).tolist() == [0.0, 2.0]
        ```
    """
    trace = current_mut_trace()
    if trace is None:
        return jax.lax.switch(index, branches, *operands)
    kinds = _kinds(operands)
    index, operands = _unwrap(trace, (index, operands))
    if _discovering(trace):
        outs = [b(*_wrap_as(trace, _opaque(trace, operands), kinds)) for b in branches]
        return outs[0]

    def run(cells: list[Cell], start: list[Any], threaded: list[Callable[..., Any]]) -> Any:
        return jax.lax.switch(index, threaded, start, *operands)

    bodies = [_user_body(b, kinds) for b in branches]
    return _run_threaded(trace, bodies, operands, run)


def cond(pred: Any, true_fun: Callable[..., R], false_fun: Callable[..., R], *operands: Any) -> R:
    """``jax.lax.cond`` whose branches may mutate the arrays they close over.

    Args:
        pred, true_fun, false_fun, operands: as for ``jax.lax.cond``. Under
            ``vmap`` with a batched ``pred`` both branches run and the written
            arrays are selected elementwise, as ``jax.lax.cond`` does.

    Returns:
        What ``true_fun(*operands)`` returns if ``pred`` is true, else what
        ``false_fun(*operands)`` returns (type ``R``: both return the same
        structure, shapes and dtypes, as ``jax.lax.cond`` requires); None
        for branches that only write. The written arrays hold the contents
        the chosen branch left.

    Raises:
        TypeError: ``pred`` is None, not a scalar, or not a boolean or number
            (``jax.lax.cond``'s messages).
        mutjax.ForeignTraceError: a branch writes a mutable array inside a
            JAX transformation mutjax cannot thread (a plain ``jax.lax`` loop
            in it, a ``jax.jit`` or ``jax.vmap`` applied inside it).
        mutjax.ScopeEndedError: a branch uses a mutable array of a
            ``mutable`` call that already returned.

    Example:
        ```python
        import jax
        import jax.numpy as jnp
        import mutjax

        @jax.jit
        @mutjax.mutable
        def clip_first(x, limit):
            def clip():
                x[0] = limit

            def keep():
                pass

            mutjax.cond(x[0] > limit, clip, keep)
            return x

        assert clip_first(jnp.array([5.0, 1.0]), 2.0).tolist() == [2.0, 1.0]
        assert clip_first(jnp.array([1.0, 1.0]), 2.0).tolist() == [1.0, 1.0]
        ```
    """
    trace = current_mut_trace()
    if trace is None:
        return jax.lax.cond(pred, true_fun, false_fun, *operands)
    pred = trace.unwrap(pred)
    _check_pred(pred)
    with _compat.set_current_trace(trace.parent_trace):
        index = jax.lax.convert_element_type(pred, np.int32) != 0
        index = jax.lax.convert_element_type(index, np.int32)
    return switch(index, (false_fun, true_fun), *operands)


def _check_pred(pred: Any) -> None:
    """``jax.lax.cond``'s checks of its predicate, with its messages."""
    if pred is None:
        raise TypeError("cond predicate is None")
    if isinstance(pred, Sequence) or np.ndim(pred) != 0:
        what = f"type {type(pred)}" if isinstance(pred, Sequence) else f"shape {np.shape(pred)}."
        raise TypeError(f"Pred must be a scalar, got {pred} of {what}")
    try:
        kind = np.dtype(jax.numpy.result_type(pred)).kind
    except TypeError as err:
        raise TypeError(f"Pred type must be either boolean or number, got {pred}.") from err
    if kind not in "biuf":
        raise TypeError(f"Pred type must be either boolean or number, got {pred}.")


def _check_scan_xs(xs: Any) -> None:
    """``jax.lax.scan``'s check that every leaf of ``xs`` has an axis to scan over."""
    flat = jax.tree_util.tree_leaves(xs)
    bad = [x for x in flat if np.ndim(x) == 0]
    if bad:
        raise ValueError(
            "scan got value with no leading axis to scan over: "
            + ", ".join(str(x) for x in bad)
            + "."
        )


def _scan_pair(out: Any) -> tuple[Any, Any]:
    """The ``(carry, y)`` a scan body returned, refused as ``jax.lax.scan`` refuses it."""
    if not isinstance(out, (tuple, list)) or len(out) != 2:
        shown = (
            tuple(_compat.typeof(o) for o in out)
            if isinstance(out, (tuple, list))
            else _compat.typeof(out).str_short()
        )
        raise TypeError(f"scan body output must be a pair, got {shown}.")
    return out[0], out[1]


__all__ = ["cond", "fori_loop", "scan", "switch", "while_loop"]
