"""A converted loop whose iterations are independent runs as one batched operation.

A loop over a static range is traced once, as a function of its index ``t``
and of the values of the arrays it writes (the carry ``_control`` threads).
When its jaxpr shows that

- each written array gets, in every iteration, the same windows (each write
  of it one ``dynamic_update_slice`` at one of them), no two of one
  iteration overlapping; their starts along some axis are ``a*t + b_j``, one
  ``a`` for all, the ``b_j`` and widths within ``|a|`` of each other, inside
  the array for every ``t`` of the range, and their other starts do not
  depend on the arrays or locals the loop carries: two iterations then write
  disjoint windows;
- a written array is read at those windows (before a write there it is
  still the array's value from before the loop, after it the iteration's own
  write), or, before the iteration writes it, by a window, a static slice or
  a select under a mask of affine bounds (``x[i + 1:]``) that touches nothing
  an earlier iteration writes (``_unwritten``, from the affine starts; a
  window whose value reaches only such selects touches only where they
  select, see ``_selected``): only
  the same or later iterations write there, so the sequential loop reads the
  values from before the loop too; it is used in no other way;
- no value the loop writes depends on the carried locals, and no carried
  local is read before the body assigns it (``s += x[i]`` keeps the loop);
- no value of the batched body that its results use is much larger than
  the arrays (see ``MAX_GROWTH``),

then every iteration reads only values from before the loop, so they may
all run at once: the body under ``jax.vmap`` over the indices, with one
``dynamic_update_slice`` of the stacked windows per window when they are
contiguous (``a = ±1``, width 1, the other starts the same for all ``t``),
one scatter with unique indices otherwise. The locals get the last
iteration's values, as Python leaves them. Anything not proved this way
runs as ``fori_loop`` of the same jaxpr (``_plan`` returns None).

A loop over a traced range (``for j in range(i, n)``, ``Shifted``) whose
index has a static interval is proved the same way over that interval, its
body traced by ``k = t - s`` from the range's traced start ``s``: the forms
are then ``a*t + b + c*s``, and a mask's bound may be the start itself
(``A[i, :i]`` in a loop from ``i``). Only the iterations from ``s`` run, so a
read below the start meets no write. It runs for every index of the
interval, those outside the range masked (see ``_traced``).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Sequence
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from .. import _compat, _control, _promote, _ranges
from .._scope import Cell
from .._trace import MutTrace, current_mut_trace

# The named scope of a loop run as one batched operation.
SCOPE = "mutjax_batched_loop"

# A start index known as ``a*t + b`` of the loop index ``t``: ("affine", a, b);
# as ``a*t + b + c*s`` (c != 0, see _affine): ("sym", a, b, c); any other, by
# the jaxpr variable computing it: ("var", var).
_Start = tuple[Any, ...]
# An integer scalar as ``(a, b, c)``: ``a*t + b + c*s`` (see _affine).
_Form = tuple[int, int, int]


@dataclasses.dataclass
class _Symbol:
    """The traced start ``s`` of a loop over a traced range: its value, its static interval."""

    value: Any  # the constant of the body's jaxpr holding it
    interval: tuple[int, int]


@dataclasses.dataclass
class _Write:
    """One window that every iteration writes in one array (an array may have several)."""

    cell: int  # which written array
    starts: tuple[_Start, ...]  # per axis, keyed as _Start
    atoms: tuple[Any, ...]  # the jaxpr atoms computing the starts
    shape: tuple[int, ...]  # the window's shape
    axis: int = 0  # the axis along which iterations' windows are disjoint
    contiguous: bool = False  # one block of adjacent windows (see module doc)
    read: bool = False  # the body reads the window's value before the loop


@dataclasses.dataclass
class _Read:
    """A read of a written array elsewhere than at its windows, before the iteration writes it.

    Per axis what it may touch: ``("slice", start, size, *bounds)`` (a ``_Start``;
    the bounds of masks selecting from the window's value, counted from its start),
    or ``("mask", *bounds)``: the positions within all ``("from", a, b, c)``
    (``>= a*t + b + c*s``, see ``_affine``) and ``("below", a, b, c)``
    (``< a*t + b + c*s``), of a mask selecting the array itself.
    """

    cell: int
    axes: tuple[tuple[Any, ...], ...]


@dataclasses.dataclass
class _Plan:
    """What ``_rows`` needs: the windows written, per equation its role."""

    writes: list[_Write]
    # equation number -> ("write" | "read", window), or ("before", k): the
    # equation's k-th operand is the array as before the loop (see _Read)
    roles: dict[int, tuple[str, int]]
    # Reads of arrays the loop does not write, at windows adjacent from one
    # iteration to the next (``A[i]``): equation number -> window. They are
    # sliced as one block before the body runs (under vmap, a gather).
    blocks: dict[int, _Write] = dataclasses.field(default_factory=dict)
    # Equations whose results nothing uses (a slice read's zeroed copy that a
    # product leaves unused): the batched body skips them.
    dead: set[int] = dataclasses.field(default_factory=set)
    # Reads that must touch nothing an earlier iteration writes (see _unwritten).
    old: list[_Read] = dataclasses.field(default_factory=list)


def fori_loop(lower: int, upper: int, body_fun: Callable[[Any, Any], Any], init_val: Any) -> Any:
    """``mutjax.fori_loop`` over static bounds, as one batched operation where provably equal.

    Args:
        lower, upper: Python ints with ``lower < upper``.
        body_fun, init_val: as for ``mutjax.fori_loop``.

    Returns:
        The final loop value; the arrays the body wrote hold their final contents.
    """
    trace = current_mut_trace()
    if trace is None or _control._discovering(trace):
        return _control.fori_loop(lower, upper, body_fun, init_val)
    init = _control._unwrap(trace, init_val)
    span = (lower, upper - 1)

    def body(inner: MutTrace, i: Any, val: Any) -> Any:
        _ranges.register(trace.scope.root.intervals, i, *span)
        return _control._unwrap(inner, body_fun(i, _control._wrap(inner, val)))

    with _compat.set_current_trace(trace.parent_trace):
        # weakly typed, as jax.lax.fori_loop traces an index of Python int bounds:
        # the traced-slice analysis then sees the values it sees in a plain loop
        i0 = jax.ShapeDtypeStruct((), jnp.result_type(lower, upper), weak_type=True)

    def run(cells: list[Cell], start: list[Any], threaded: list[Callable[..., Any]]) -> Any:
        def step(i: Any, values: list[Any], val: Any) -> Any:
            return threaded[0](values, i, val)

        closed, out_shape = jax.make_jaxpr(step, return_shape=True)(i0, start, init)
        out_tree = jax.tree_util.tree_structure(out_shape)
        try:
            plan = _plan(closed, len(start), lower, upper)
        except Exception:  # a jaxpr the proof does not know stays a loop
            # The proof only ever answers "batched" or "a loop"; running the
            # traced body as a loop is always right, whatever the proof met.
            plan = None
        if plan is None:
            return _sequential(closed, out_tree, lower, upper, start, init)
        # The name shows in the jaxpr's name stacks and the compiled program's op names.
        with jax.named_scope(SCOPE):
            return _batched(closed, plan, out_tree, lower, upper, start, init)

    return _control._run_threaded(trace, [body], (i0, init), run)


@dataclasses.dataclass
class Shifted:
    """A loop over a traced range, run as ``fori_loop_bounded(0, trip, body)``: index ``start + k``.

    Every index lies in the static interval ``cover``, and ``start`` (a
    parent-trace value) in ``starts``; the step is 1; the range may be
    ``empty``. ``run`` traces the body once and runs the loop as one batched
    operation where provably equal (see ``_traced``).
    """

    start: Any
    cover: tuple[int, int]
    starts: tuple[int, int]
    empty: bool = True

    def run(
        self, body: Callable[[Any, Any], Any], lower: Any, upper: Any, carry: Any
    ) -> tuple[Any, Callable[[Any, Any], Any]]:
        """The loop ``fori_loop(lower, upper, body, carry)`` batched, or None; and its body, traced.

        ``lower`` is 0 and ``upper`` the trip count. The second result
        replays the body's trace (a loop that traces it again gets the same
        equations without running the Python body again).
        """
        index = jnp.result_type(lower, upper)
        lo = jnp.asarray(lower, index)
        # the trip count as it is: a conversion here would stay in the program unused
        closed, out_shape = jax.make_jaxpr(_promote.indexed(body, lo, upper), return_shape=True)(
            lo, carry
        )
        out_tree: Any = jax.tree_util.tree_structure(out_shape)
        fun, consts = _compat.hoist_consts(closed)

        def replay(i: Any, state: Any) -> Any:
            out = fun(*consts, i, *jax.tree_util.tree_leaves(state))
            return jax.tree_util.tree_unflatten(out_tree, out)

        cover = (self.cover[0], self.cover[1] + 1)
        if out_tree != jax.tree_util.tree_structure(carry) or cover[1] <= cover[0]:
            return None, replay  # a carry changing structure: the loop reports it
        values, init = carry
        try:
            plan = _plan(closed, len(values), *cover, _Symbol(self.start, self.starts))
        except Exception:  # as in fori_loop: the proof answers "batched" or "a loop"
            plan = None
        if plan is None:
            return None, replay
        with jax.named_scope(SCOPE):
            out = _traced(closed, plan, out_tree, cover, (self.start, upper, self.empty), carry)
            return out, replay


def _traced(
    closed: Any,
    plan: _Plan,
    out_tree: Any,
    cover: tuple[int, int],
    bounds: tuple[Any, Any, bool],
    carry: Any,
) -> Any:
    """A loop over ``range(first, first + trip)`` inside ``range(*cover)``, every iteration at once.

    ``closed`` is the body by ``k``, the index less ``first``; ``bounds`` is
    ``(first, trip, empty)``, ``empty`` whether ``trip`` may be 0. It runs
    for every index of the cover; those outside the range keep their windows
    as before the loop. Its derivative is that of the loop
    over the cover whose body is masked by a ``cond``: a masked lane's
    value is discarded, but its derivative (``1 / 0`` in a lane that never
    runs) would not be.
    """
    lower, upper = cover
    first, trip, empty = bounds
    fun, _ = _compat.hoist_consts(closed)
    index = _aval(closed.jaxpr.invars[0]).dtype

    def active(t: Any, first: Any, trip: Any) -> Any:
        return (t >= first) & (t < first + trip)

    @jax.custom_jvp
    def loop(first: Any, trip: Any, consts: list[Any], values: list[Any], carry: Any) -> Any:
        body = closed.replace(consts=consts)
        on = active(jnp.arange(lower, upper, dtype=index), first, trip)

        def batched(state: Any) -> Any:
            values, carry = state
            return _batched(body, plan, out_tree, lower, upper, values, carry, on, first)

        if not empty:
            return batched((values, carry))
        # With no iteration, none computes in the others' place. The
        # conditional is not free: around LU's loop at n = 60 it added 35 of
        # 220 ms of compile time (and took 20 of 310 µs off the run).
        return jax.lax.cond(trip > 0, batched, lambda state: state, (values, carry))

    @loop.defjvp
    def loop_jvp(primals: Any, tangents: Any) -> Any:
        first, trip, *_ = primals

        def masked(consts: list[Any], values: list[Any], carry: Any) -> Any:
            def step(t: Any, state: Any) -> Any:
                def run(state: Any) -> Any:
                    out = fun(*consts, t - first, *jax.tree_util.tree_leaves(state))
                    return jax.tree_util.tree_unflatten(out_tree, out)

                return jax.lax.cond(active(t, first, trip), run, lambda s: s, state)

            # static bounds: a scan, which reverse mode can transpose
            bounds = jnp.arange(lower, upper, dtype=index)
            return jax.lax.fori_loop(
                0, upper - lower, lambda k, c: step(bounds[k], c), (values, carry)
            )

        return jax.jvp(masked, tuple(primals[2:]), tuple(tangents[2:]))

    first = jnp.asarray(first, index)
    trip = jnp.asarray(trip, index)
    return loop(first, trip, list(closed.consts), *carry)


def _sequential(
    closed: Any, out_tree: Any, lower: int, upper: int, start: list[Any], init: Any
) -> Any:
    """The loop as ``jax.lax.fori_loop`` of the traced body (what the loop was before)."""
    fun, consts = _compat.hoist_consts(closed)

    def lax_body(i: Any, state: Any) -> Any:
        out = fun(*consts, i, *jax.tree_util.tree_leaves(state))
        return jax.tree_util.tree_unflatten(out_tree, out)

    # A body touching one loop-invariant block of an array carries only it (see
    # _promote); the body traced here serves it, unless its carry changes structure.
    if out_tree == jax.tree_util.tree_structure((start, init)):
        return _promote.traced_fori_loop(lower, upper, closed, (start, init))
    return _promote.fori_loop(lower, upper, lax_body, (start, init))


# -- the proof -----------------------------------------------------------------------


def _aval(x: Any) -> Any:
    return _compat.typeof_var(x)


def _is_var(x: Any) -> bool:
    return not isinstance(x, _compat.Literal)


def _static_int(x: Any) -> int | None:
    if isinstance(x, (int, np.integer)) and not isinstance(x, bool):
        return int(x)
    if isinstance(x, (np.ndarray, np.generic)) or _compat.is_concrete_array(x):
        a = np.asarray(x)
        if a.shape == () and np.issubdtype(a.dtype, np.integer):
            return int(a)
    return None


def _inputs(jaxpr: Any, consts: Sequence[Any], sym: _Symbol | None) -> dict[Any, _Form]:
    """The forms (see ``_affine``) of ``jaxpr``'s index and of its static and start constants."""
    # with a start, the body's index counts from it: ``t - s``
    known: dict[Any, _Form] = {jaxpr.invars[0]: (1, 0, 0)}
    first = None if sym is None else _static_int(sym.value)
    if sym is not None:
        known[jaxpr.invars[0]] = (1, 0, -1) if first is None else (1, -first, 0)
    for v, c in zip(jaxpr.constvars, consts):
        s = _static_int(c)
        if s is not None:
            known[v] = (0, s, 0)
        elif sym is not None and c is sym.value:
            known[v] = (0, 0, 1)
    return known


def _affine(
    jaxpr: Any, consts: Sequence[Any], lower: int, upper: int, sym: _Symbol | None = None
) -> dict[Any, _Form]:
    """The integer scalars of ``jaxpr`` known as ``a*t + b + c*s`` of its first input ``t``.

    ``t`` runs over ``range(lower, upper)``; ``s`` is the traced start of a
    loop over a traced range (``sym``), whose constant it is, within its
    interval; ``c`` is 0 without one. With it, the first input is ``t - s``.
    A negative index's wrap-around (``select_n(x < 0, x, x + n)``) of an
    ``x`` never negative there is ``x``.
    """
    known = _inputs(jaxpr, consts, sym)
    s_lo, s_hi = (0, 0) if sym is None else sym.interval
    negative: dict[Any, _Form] = {}  # `x < 0` -> the form of x

    def form(x: Any) -> _Form | None:
        if not _is_var(x):
            v = _static_int(x.val)
            return None if v is None else (0, v, 0)
        return known.get(x)

    for eqn in jaxpr.eqns:
        if len(eqn.outvars) != 1 or _aval(eqn.outvars[0]).shape != ():
            continue
        name, out = eqn.primitive.name, eqn.outvars[0]
        test = eqn.invars[0] if eqn.invars else None
        if name == "select_n" and len(eqn.invars) == 3 and _is_var(test) and test in negative:
            f = negative[test]
            least = min(f[0] * lower, f[0] * (upper - 1)) + f[1] + min(f[2] * s_lo, f[2] * s_hi)
            if form(eqn.invars[1]) == f and least >= 0:
                known[out] = f
            continue
        maybe = [form(x) for x in eqn.invars]
        forms = [f for f in maybe if f is not None]
        if len(forms) != len(maybe):
            continue
        if name == "lt" and forms[1] == (0, 0, 0):
            negative[out] = forms[0]
            continue
        combined = _combine(name, forms, eqn.params)
        if combined is not None and np.issubdtype(_aval(out).dtype, np.integer):
            known[out] = combined
    return known


def _combine(name: str, forms: list[_Form], params: dict[str, Any]) -> _Form | None:
    const = [f[0] == f[2] == 0 for f in forms]
    if name in ("add", "sub"):
        sign = 1 if name == "add" else -1
        return tuple(p + sign * q for p, q in zip(forms[0], forms[1]))  # type: ignore[return-value]
    if name == "neg":
        return -forms[0][0], -forms[0][1], -forms[0][2]
    if name == "mul" and any(const):
        k, f = (forms[0][1], forms[1]) if const[0] else (forms[1][1], forms[0])
        return k * f[0], k * f[1], k * f[2]
    if name == "convert_element_type" and np.issubdtype(params["new_dtype"], np.integer):
        return forms[0]
    if name in ("max", "min") and all(const):  # a slice's clamped length
        pick = max if name == "max" else min
        return 0, pick(forms[0][1], forms[1][1]), 0
    return None


# ``iota op s``, as the positions it holds: ("from", s) for ``>= s``, ("below", s) for ``< s``.
_SIDES = {"ge": ("from", 0), "gt": ("from", 1), "lt": ("below", 0), "le": ("below", 1)}
# ``s op iota`` is ``iota op' s``.
_FLIPPED = {"ge": "le", "gt": "lt", "lt": "gt", "le": "ge"}

# A mask as the bounds that all hold: (axis, "from" | "below", a, b, c) for
# ``iota(axis) >= a*t + b + c*s`` / ``< a*t + b + c*s`` (``s``: see _affine).
_Bounds = tuple[tuple[int, str, int, int, int], ...]


def _masks(jaxpr: Any, affine: dict[Any, Any]) -> dict[Any, _Bounds]:
    """The boolean arrays of ``jaxpr`` that hold exactly within affine bounds along axes.

    A traced slice's mask (``x[i + 1:]``: ``iota >= i + 1``; ``x[i:i + w]``: the
    ``and`` of two), kept through ``broadcast_in_dim``.
    """

    def form(x: Any) -> _Form | None:
        if not _is_var(x):
            v = _static_int(x.val)
            return None if v is None else (0, v, 0)
        return affine.get(x)

    iotas: dict[Any, int] = {}
    masks: dict[Any, _Bounds] = {}
    for eqn in jaxpr.eqns:
        name, out = eqn.primitive.name, eqn.outvars[0] if eqn.outvars else None
        ins = [x if _is_var(x) else None for x in eqn.invars]
        if name == "iota" and np.issubdtype(eqn.params["dtype"], np.signedinteger):
            iotas[out] = eqn.params["dimension"]  # unsigned, a negative bound would wrap
        elif name in _SIDES and len(ins) == 2:
            x, y = eqn.invars
            if ins[1] in iotas:
                x, y, name = y, x, _FLIPPED[name]
            f = form(y)
            if _is_var(x) and x in iotas and f is not None and _aval(y).shape == ():
                side, shift = _SIDES[name]
                masks[out] = ((iotas[x], side, f[0], f[1] + shift, f[2]),)
        elif name == "and" and len(ins) == 2 and all(x in masks for x in ins):
            masks[out] = masks[ins[0]] + masks[ins[1]]
        elif name == "broadcast_in_dim" and ins[0] in masks:
            dims, shape = eqn.params["broadcast_dimensions"], _aval(ins[0]).shape
            if all(shape[k] == _aval(out).shape[dims[k]] for k, *_ in masks[ins[0]]):
                masks[out] = tuple((dims[k], *rest) for k, *rest in masks[ins[0]])
    return masks


def _uses(jaxpr: Any) -> dict[Any, list[tuple[int, int]]]:
    """Each variable of ``jaxpr`` -> the (equation, operand position) pairs using it."""
    uses: dict[Any, list[tuple[int, int]]] = {}
    for e, eqn in enumerate(jaxpr.eqns):
        for k, x in enumerate(eqn.invars):
            if _is_var(x):
                uses.setdefault(x, []).append((e, k))
    return uses


def _unit_reshape(src: Sequence[int], dst: Sequence[int], axes: Sequence[Any]) -> Any:
    """A reshape that only drops or adds unit axes: the read's axis of each result axis."""
    kept = [a for n, a in zip(src, axes) if n != 1]
    if [n for n in dst if n != 1] != [n for n in src if n != 1]:
        return None
    it = iter(kept)
    return tuple(next(it) if n != 1 else None for n in dst)


def _selected(
    jaxpr: Any, var: Any, ndim: int, masks: dict[Any, _Bounds], uses: dict[Any, Any]
) -> list[list[list[Any]]] | None:
    """Where a read's value ``var`` (``ndim`` axes) reaches anything, if only through masks.

    Per ``select_n`` that takes it (through unit reshapes) under a mask, the
    mask's bounds along each of the read's axes; None if it is used otherwise.
    """
    outs = {v for v in jaxpr.outvars if _is_var(v)}
    found: list[list[list[Any]]] = []
    todo = [(var, tuple(range(ndim)))]
    while todo:
        v, axes = todo.pop()
        if v in outs:
            return None
        for e, k in uses.get(v, []):
            eqn = jaxpr.eqns[e]
            pred = eqn.invars[0]
            if eqn.primitive.name == "reshape" and eqn.params.get("dimensions") is None:
                new = _unit_reshape(_aval(v).shape, _aval(eqn.outvars[0]).shape, axes)
                if new is None:
                    return None
                todo.append((eqn.outvars[0], new))
                continue
            if eqn.primitive.name != "select_n" or len(eqn.invars) != 3 or k == 0:
                return None
            bounds = masks.get(pred) if _is_var(pred) else None
            if bounds is None or eqn.invars[3 - k] is v or (k == 1 and len(bounds) != 1):
                return None
            if k == 1:  # the value where the mask is false
                ((axis, side, a, b, c),) = bounds
                bounds = ((axis, "below" if side == "from" else "from", a, b, c),)
            per: list[list[Any]] = [[] for _ in range(ndim)]
            for axis, side, *form in bounds:
                if axes[axis] is not None:
                    per[axes[axis]].append((side, *form))
            found.append(per)
    return found


def _tainted(jaxpr: Any, roots: set[Any]) -> set[Any]:
    """The variables of ``jaxpr`` computed from any of ``roots``."""
    out = set(roots)
    for eqn in jaxpr.eqns:
        if any(_is_var(x) and x in out for x in eqn.invars):
            out.update(eqn.outvars)
    return out


def _key(
    atoms: Sequence[Any], affine: dict[Any, Any], state: set[Any]
) -> tuple[_Start, ...] | None:
    """The starts of a window as _Start keys; None if one depends on the carried state."""
    keys: list[_Start] = []
    for x in atoms:
        if not _is_var(x):
            keys.append(("affine", 0, _static_int(x.val)))
        elif x in state:
            return None
        elif x in affine and affine[x][2] == 0:
            keys.append(("affine", *affine[x][:2]))
        elif x in affine:  # one key for one value, whichever variable holds it
            keys.append(("sym", *affine[x]))
        else:
            keys.append(("var", x))
    return tuple(keys)


class _Versions:
    """The versions of the written arrays met while walking a body's equations."""

    def __init__(
        self,
        cells: Sequence[Any],
        affine: dict[Any, Any],
        state: set[Any],
        masks: dict[Any, _Bounds],
        follow: Callable[[Any, int], list[list[list[Any]]] | None] = lambda v, n: None,
    ) -> None:
        self.cells = list(cells)
        self.follow = follow  # see _selected
        self.of = {c: k for k, c in enumerate(cells)}  # every version of an array -> array
        self.head = list(cells)
        self.writes: list[_Write] = []
        self.roles: dict[int, tuple[str, int]] = {}
        self.reads: list[tuple[int, int, tuple[Any, ...], bool]] = []
        self.outs: dict[int, Any] = {}  # a read's equation -> its value
        self.affine = affine
        self.state = state
        self.masks = masks
        self.old: list[_Read] = []

    def touches(self, eqn: Any) -> bool:
        return any(_is_var(x) and x in self.of for x in eqn.invars)

    def _window(self, c: int, starts: tuple[_Start, ...], shape: tuple[int, ...]) -> int | None:
        for j, w in enumerate(self.writes):
            if w.cell == c and (w.starts, w.shape) == (starts, shape):
                return j
        return None

    def step(self, e: int, eqn: Any) -> bool:
        """Record equation ``e``, which uses a version; False if it is not a window's write or read."""
        if eqn.primitive.name == "select_n":
            return self._select(e, eqn)
        first = eqn.invars[0]
        uses = sum(_is_var(x) and x in self.of for x in eqn.invars)
        if uses != 1 or not _is_var(first) or first not in self.of:
            return False
        c = self.of[first]
        name = eqn.primitive.name
        if name == "dynamic_update_slice":
            starts = _key(eqn.invars[2:], self.affine, self.state)
            shape = tuple(_aval(eqn.invars[1]).shape)
            if first is not self.head[c] or starts is None:
                return False
            j = self._window(c, starts, shape)
            if j is None:
                j = len(self.writes)
                self.writes.append(_Write(c, starts, tuple(eqn.invars[2:]), shape))
            self.head[c] = eqn.outvars[0]
            self.of[eqn.outvars[0]] = c
            self.roles[e] = ("write", j)
            return True
        if name == "dynamic_slice":
            starts = _key(eqn.invars[1:], self.affine, self.state)
            window = (starts, tuple(eqn.params["slice_sizes"]))
            self.reads.append((e, c, window, first is self.cells[c]))
            self.outs[e] = eqn.outvars[0]
            return starts is not None
        if name == "slice" and first is self.cells[c]:
            # a static window (a strided one touches part of it)
            ends = list(zip(eqn.params["start_indices"], eqn.params["limit_indices"]))
            starts = tuple(("affine", 0, a) for a, _ in ends)
            # a mask over a strided window's value counts positions in strides
            out = eqn.outvars[0] if set(eqn.params["strides"] or (1,)) == {1} else None
            self._before(e, c, out, starts, tuple(b - a for a, b in ends))
            return True
        return False

    def _before(self, e: int, c: int, out: Any, starts: tuple[_Start, ...], shape: Any) -> None:
        """Equation ``e`` reads window ``starts, shape`` of array ``c`` as before the iteration.

        Where its value reaches only selects under masks, it reads only where they select.
        """
        window = [("slice", k, n) for k, n in zip(starts, shape)]
        selected = None if out is None else self.follow(out, len(shape))
        for bounds in [[[]] * len(shape)] if selected is None else selected:
            self.old.append(_Read(c, tuple((*w, *b) for w, b in zip(window, bounds))))
        self.roles[e] = ("before", 0)

    def _select(self, e: int, eqn: Any) -> bool:
        """A select_n of an array as before the iteration where a mask holds (or does not)."""
        at = [k for k, x in enumerate(eqn.invars) if _is_var(x) and x in self.of]
        pred = eqn.invars[0]
        if len(eqn.invars) != 3 or at not in ([1], [2]) or not _is_var(pred):
            return False
        version, mask = eqn.invars[at[0]], self.masks.get(pred)
        c = self.of[version]
        if mask is None or version is not self.cells[c]:
            return False
        if at[0] == 1:  # the array where the mask is false: one bound, reversed
            if len(mask) != 1:
                return False
            ((axis, side, a, b, c),) = mask
            mask = ((axis, "below" if side == "from" else "from", a, b, c),)
        axes: list[tuple[Any, ...]] = [("mask",)] * len(_aval(version).shape)
        for axis, *bound in mask:
            axes[axis] = (*axes[axis], tuple(bound))
        self.old.append(_Read(c, tuple(axes)))
        self.roles[e] = ("before", at[0])
        return True

    def plan(self, outvars: Sequence[Any]) -> _Plan | None:
        """The plan once every equation is walked: each array written, read at its windows."""
        n = len(self.cells)
        if any(h is not o for h, o in zip(self.head, outvars[:n])):
            return None
        if any(_is_var(o) and o in self.of for o in outvars[n:]):
            return None
        if {w.cell for w in self.writes} != set(range(n)):
            return None
        for e, c, (starts, shape), original in self.reads:
            j = self._window(c, starts, shape)
            if j is not None:
                self.roles[e] = ("read", j)
                self.writes[j].read |= original
            elif original:  # before the iteration writes: _unwritten decides
                self._before(e, c, self.outs[e], starts, shape)
            else:
                return None
        return _Plan(self.writes, self.roles, old=self.old)


def _chains(jaxpr: Any, n_cells: int, affine: dict[Any, Any], state: set[Any]) -> _Plan | None:
    """Each written array's versions in the body: its windows written, read at them or as before."""
    masks, uses = _masks(jaxpr, affine), _uses(jaxpr)
    versions = _Versions(
        jaxpr.invars[1 : 1 + n_cells],
        affine,
        state,
        masks,
        lambda v, n: _selected(jaxpr, v, n, masks, uses),
    )
    for e, eqn in enumerate(jaxpr.eqns):
        if versions.touches(eqn) and not versions.step(e, eqn):
            return None
    return versions.plan(jaxpr.outvars)


def _apart(v: _Write, w: _Write) -> bool:
    """Two windows of one iteration never overlap: some axis puts them apart."""
    for d, (p, q) in enumerate(zip(v.starts, w.starts)):
        if p[0] == q[0] == "affine" and p[1] == q[1]:
            if p[2] + v.shape[d] <= q[2] or q[2] + w.shape[d] <= p[2]:
                return True
    return False


def _disjoint(
    ws: Sequence[_Write], dims: Sequence[int], lower: int, upper: int, moving: set[Any]
) -> bool:
    """Choose the axis along which the windows of two iterations never overlap.

    ``ws``: the windows of one array. Along that axis each starts at
    ``a*t + b_j`` with one ``a``, and all lie within ``|a|`` of each other,
    so that two iterations' windows are apart; inside one iteration each two
    are apart on some axis. The windows must lie inside the array along it
    for every index (a ``dynamic_update_slice`` would clamp one that does not,
    onto its neighbour).
    """
    if not all(_apart(v, w) for i, v in enumerate(ws) for w in ws[i + 1 :]):
        return False
    for k in range(len(dims)):
        forms = [w.starts[k] for w in ws]
        if any(f[0] != "affine" for f in forms) or len({f[1] for f in forms}) != 1:
            continue
        a = forms[0][1]
        lo = min(f[2] for f in forms)
        hi = max(f[2] + w.shape[k] for f, w in zip(forms, ws))
        ends = (a * lower, a * (upper - 1))
        if a == 0 or hi - lo > abs(a) or min(ends) + lo < 0 or max(ends) + hi > dims[k]:
            continue
        for w in ws:
            w.axis = k
            others = [x for j, x in enumerate(w.atoms) if j != k and _is_var(x)]
            w.contiguous = abs(a) == 1 and w.shape[k] == 1 and not any(x in moving for x in others)
        return True
    return False


def _read_span(spec: tuple[Any, ...], dim: int, ts: Any, ss: Any) -> tuple[Any, Any] | None:
    """Per index ``t`` and start ``s``, the positions ``[lo, hi)`` a read may touch along one axis.

    ``ts`` and ``ss`` broadcast against each other; None: any position.
    """
    ts, ss = np.broadcast_arrays(ts, ss)
    if spec[0] == "slice":  # bounds after it: of the masks selecting from the window
        _, start, size, *bounds = spec
        if start[0] == "affine":
            at = start[1] * ts + start[2]
        elif start[0] == "sym":
            at = start[1] * ts + start[2] + start[3] * ss
        else:
            return None
        origin = np.clip(at, 0, dim - size)  # a dynamic_slice clamps it
        lo, hi = origin, origin + size
    else:
        origin, lo, hi = 0, np.zeros_like(ts), np.full_like(ts, dim)
        bounds = list(spec[1:])
    for side, a, b, c in bounds:  # a mask's positions count from the window's origin
        if side == "from":
            lo = np.maximum(lo, origin + a * ts + b + c * ss)
        else:
            hi = np.minimum(hi, origin + a * ts + b + c * ss)
    return lo, hi


def _writers(span: tuple[Any, Any], a: int, b: int, width: int) -> tuple[Any, Any]:
    """Per ``t``, the iterations ``s`` whose window ``[a*s + b, +width)`` meets the span: ``[first, last]``."""
    lo, hi = span
    none = np.iinfo(np.int64).max // 4
    meets = hi > lo  # an empty read meets nothing
    if a == 0:
        meets &= (b < hi) & (b + width > lo)
        first, last = np.full_like(lo, -none), np.full_like(lo, none)
    else:
        # a*s + b < hi and a*s + b + width > lo, in integers
        first, last = lo - b - width + 1, hi - b - 1
        if a < 0:
            a, first, last = -a, -last, -first
        first, last = -((-first) // a), last // a
    return np.where(meets, first, none), np.where(meets, last, -none)


def _inside(start: _Start, width: int, dim: int, lower: int, upper: int) -> bool:
    """An affine start whose window lies inside the axis for every index (none is clamped)."""
    if start[0] != "affine":
        return False
    ends = (start[1] * lower + start[2], start[1] * (upper - 1) + start[2])
    return min(ends) >= 0 and max(ends) + width <= dim


def _unwritten(
    read: _Read,
    ws: Sequence[_Write],
    dims: Sequence[int],
    lower: int,
    upper: int,
    sym: _Symbol | None = None,
) -> bool:
    """No earlier iteration writes what iteration ``t`` reads: it reads the array as before the loop.

    For each window ``w`` of the array and each ``t``, the iterations ``s`` whose
    ``w`` may meet the read along every axis form a range (each axis gives one,
    from the affine starts; an axis whose read or write start is not known
    gives all); no ``s < t`` may lie in it. Later iterations may write there:
    the sequential loop, too, reads the values from before they do.

    With ``sym``, for each value of the traced start ``s`` in its interval,
    only the iterations ``t >= s`` run (see ``_traced``): the earlier
    iterations are those from ``s``, and an index below ``s`` reads nothing
    that matters.
    """
    ts = np.arange(lower, upper, dtype=np.int64)
    ss = np.zeros((1, 1), np.int64)
    if sym is not None:
        ss = np.arange(sym.interval[0], sym.interval[1] + 1, dtype=np.int64)[:, None]
    ts, ss = np.broadcast_arrays(ts[None, :], ss)
    for w in ws:
        first = np.maximum(lower, ss) if sym is not None else np.full_like(ts, lower)
        last = np.where(ts >= ss, ts - 1, lower - 1) if sym is not None else ts - 1
        for k, (spec, start, dim) in enumerate(zip(read.axes, w.starts, dims)):
            span = _read_span(spec, dim, ts, ss)
            if span is None or not _inside(start, w.shape[k], dim, lower, upper):
                continue
            f, g = _writers(span, start[1], start[2], w.shape[k])
            first, last = np.maximum(first, f), np.minimum(last, g)
        if np.any(first <= last):
            return False
    return True


def _apart_in_time(
    plan: _Plan,
    cells: Sequence[Any],
    lower: int,
    upper: int,
    moving: set[Any],
    sym: _Symbol | None = None,
) -> bool:
    """No two iterations write one element, and none reads what an earlier one writes."""
    for c, cell in enumerate(cells):
        ws = [w for w in plan.writes if w.cell == c]
        if not _disjoint(ws, _aval(cell).shape, lower, upper, moving):
            return False
    return all(
        _unwritten(
            read,
            [w for w in plan.writes if w.cell == read.cell],
            _aval(cells[read.cell]).shape,
            lower,
            upper,
            sym,
        )
        for read in plan.old
    )


def _plan(
    closed: Any, n_cells: int, lower: int, upper: int, sym: _Symbol | None = None
) -> _Plan | None:
    """The proof that the loop's iterations are independent (see the module doc), or None.

    With ``sym``, of a loop over a traced range starting at ``sym``'s value
    whose indices lie in ``range(lower, upper)`` (see ``_traced``).
    """
    jaxpr = closed.jaxpr
    if jaxpr.effects or n_cells == 0:
        return None
    carried = set(jaxpr.invars[1 + n_cells :])
    state = _tainted(jaxpr, set(jaxpr.invars[1:]))
    affine = _affine(jaxpr, closed.consts, lower, upper, sym)
    plan = _chains(jaxpr, n_cells, affine, state)
    if plan is None:
        return None
    from_carry = _tainted(jaxpr, carried)
    updates = [jaxpr.eqns[e].invars[1] for e, (role, _) in plan.roles.items() if role == "write"]
    if any(_is_var(u) and u in from_carry for u in updates):
        return None
    for v_in, v_out in zip(jaxpr.invars[1 + n_cells :], jaxpr.outvars[n_cells:]):
        if v_out is not v_in and _is_var(v_out) and v_out in from_carry:
            return None  # a local the next iteration reads: a loop-carried value
    moving = _tainted(jaxpr, {jaxpr.invars[0]})
    cells = jaxpr.invars[1 : 1 + n_cells]
    if not _apart_in_time(plan, cells, lower, upper, moving, sym):
        return None
    versions = {jaxpr.eqns[e].outvars[0] for e, (role, _) in plan.roles.items() if role == "write"}
    batched = (moving | _tainted(jaxpr, set(cells))) - versions  # a version is only its window
    live = _live(jaxpr)
    if not _affordable(jaxpr, upper - lower, batched & live):
        return None
    plan.dead = _unused(jaxpr, live)
    for e, eqn in enumerate(jaxpr.eqns):
        if eqn.primitive.name != "dynamic_slice" or plan.roles.get(e, ("before", 0)) != (
            "before",
            0,
        ):
            continue
        # a written array read as before the loop (role "before") is sliced as one block too
        cell = cells.index(eqn.invars[0]) if e in plan.roles else -1
        block = _block(eqn, affine, state, moving, lower, upper, cell)
        if block is not None:
            plan.blocks[e] = block
    return plan


def _block(
    eqn: Any,
    affine: dict[Any, Any],
    state: set[Any],
    moving: set[Any],
    lower: int,
    upper: int,
    cell: int = -1,
) -> _Write | None:
    """The window of a ``dynamic_slice``, if adjacent across iterations.

    Of a loop-invariant array (``cell`` -1), or of written array ``cell`` as before the loop.
    """
    operand = eqn.invars[0]
    if cell < 0 and (not _is_var(operand) or operand in state or operand in moving):
        return None
    starts = _key(eqn.invars[1:], affine, state)
    if starts is None:
        return None
    w = _Write(cell, starts, tuple(eqn.invars[1:]), tuple(eqn.params["slice_sizes"]))
    if not _disjoint([w], _aval(operand).shape, lower, upper, moving) or not w.contiguous:
        return None
    return w


# How much larger than the largest array a loop touches one value of its
# batched body may be. A value computed per iteration from a masked window
# (`(X[:, i:] * 2).sum(0)`: the select before the sum) is a copy of its array
# per iteration: batched, at n = 400 that is 256 MB, slower than the loop on
# CPU, whose copy stays in cache. A masked product makes no such copy (it
# multiplies the window's array itself, see mutjax._masked._products), so
# covariance- and triangular-multiply-style loops pass.
MAX_GROWTH = 4


def _live(jaxpr: Any) -> set[Any]:
    """The variables of ``jaxpr`` that its outputs depend on (the others XLA drops)."""
    live = {v for v in jaxpr.outvars if _is_var(v)}
    for eqn in reversed(jaxpr.eqns):
        if eqn.effects or any(v in live for v in eqn.outvars):
            live.update(x for x in eqn.invars if _is_var(x))
            live.update(eqn.outvars)
    return live


def _unused(jaxpr: Any, live: set[Any]) -> set[int]:
    """The equations of ``jaxpr`` none of whose results is in ``live``."""
    return {e for e, eqn in enumerate(jaxpr.eqns) if not live.intersection(eqn.outvars)}


def _affordable(jaxpr: Any, trips: int, batched: set[Any]) -> bool:
    """No value of the batched body (``trips`` copies of each in ``batched``) is too large.

    ``batched`` holds only values something uses (see ``_live``). A ``cond``'s branches are not looked
    into: a masked product's branch for non-finite data (see
    mutjax._masked._products) runs only when the data holds an ``inf``.
    """

    def size(v: Any) -> int:
        return int(np.prod(_aval(v).shape, dtype=np.int64)) if hasattr(_aval(v), "shape") else 1

    largest = max((size(v) for v in (*jaxpr.constvars, *jaxpr.invars)), default=1)
    return all(
        trips * size(v) <= MAX_GROWTH * largest
        for eqn in jaxpr.eqns
        for v in eqn.outvars
        if v in batched
    )


# -- the batched run ---------------------------------------------------------------------


class _Version:
    """A written array's value inside ``_rows``: its window as before the loop, or as written."""

    __slots__ = ("cell", "windows")

    def __init__(self, cell: int, windows: dict[int, Any]) -> None:
        self.cell = cell
        self.windows = windows  # window number -> as written; the others as before the loop


def _rows(
    closed: Any,
    plan: _Plan,
    t: Any,
    before: dict[int, Any],
    blocks: dict[int, Any],
    arrays: list[Any],
    carried: list[Any],
) -> tuple[list[Any], list[Any], list[Any]]:
    """One iteration's windows, their starts and its locals: the body, written arrays aside.

    ``before[j]``: window ``j`` before the loop, where it is contiguous and
    read; otherwise a read slices its array in ``arrays``. ``blocks[e]``:
    this iteration's window of the ``e``-th equation's read (see ``_Plan.blocks``).
    """
    jaxpr = closed.jaxpr
    n = len(arrays)
    env: dict[Any, Any] = dict(zip(jaxpr.constvars, closed.consts))
    env[jaxpr.invars[0]] = t
    env.update((v, _Version(c, {})) for c, v in enumerate(jaxpr.invars[1 : 1 + n]))
    env.update(zip(jaxpr.invars[1 + n :], carried))

    def read(x: Any) -> Any:
        return env[x] if _is_var(x) else x.val

    for e, eqn in enumerate(jaxpr.eqns):
        role = plan.roles.get(e)
        if e in plan.dead:
            continue
        if e in plan.blocks:
            env[eqn.outvars[0]] = blocks[e]
        elif role is None:
            env.update(zip(eqn.outvars, _compat.bind_equation(eqn, [read(x) for x in eqn.invars])))
        elif role[0] == "before":  # the array as before the loop, where it is read
            args = [read(x) for x in eqn.invars]
            args[role[1]] = arrays[args[role[1]].cell]
            env.update(zip(eqn.outvars, _compat.bind_equation(eqn, args)))
        elif role[0] == "write":
            src = read(eqn.invars[0])
            written = {**src.windows, role[1]: read(eqn.invars[1])}
            env[eqn.outvars[0]] = _Version(src.cell, written)
        else:
            src, j = read(eqn.invars[0]), role[1]
            if j in src.windows:
                env[eqn.outvars[0]] = src.windows[j]
            elif j in before:
                env[eqn.outvars[0]] = before[j]
            else:  # a window read as before the loop
                starts = [read(x) for x in eqn.invars[1:]]
                sizes = eqn.params["slice_sizes"]
                env[eqn.outvars[0]] = jax.lax.dynamic_slice(
                    arrays[src.cell], starts, sizes, allow_negative_indices=False
                )
    final = [read(v) for v in jaxpr.outvars[:n]]
    windows = [final[w.cell].windows[j] for j, w in enumerate(plan.writes)]
    # a contiguous window's start is the block's (see _block_starts)
    starts = [
        None if w.contiguous else jnp.stack([jnp.asarray(read(x), jnp.int32) for x in w.atoms])
        for w in plan.writes
    ]
    return windows, starts, [read(v) for v in jaxpr.outvars[n:]]


def _outside(closed: Any, atoms: Sequence[Any], t: int) -> list[Any]:
    """The values of ``atoms`` at index ``t``, computed before the body (no carried value feeds them)."""
    jaxpr = closed.jaxpr
    needed = {x for x in atoms if _is_var(x)}
    wanted = []
    for eqn in reversed(jaxpr.eqns):
        if any(v in needed for v in eqn.outvars):
            wanted.append(eqn)
            needed.update(x for x in eqn.invars if _is_var(x))
    env: dict[Any, Any] = dict(zip(jaxpr.constvars, closed.consts))
    env[jaxpr.invars[0]] = jnp.asarray(t, _aval(jaxpr.invars[0]).dtype)

    def read(x: Any) -> Any:
        return env[x] if _is_var(x) else x.val

    for eqn in reversed(wanted):
        env.update(zip(eqn.outvars, _compat.bind_equation(eqn, [read(x) for x in eqn.invars])))
    return [read(x) for x in atoms]


def _block_starts(closed: Any, w: _Write, lower: int, upper: int) -> list[Any]:
    starts = _outside(closed, w.atoms, lower)
    _, a, b = w.starts[w.axis]
    starts[w.axis] = min(a * lower + b, a * (upper - 1) + b)
    return starts


def _stacked_before(array: Any, w: _Write, starts: list[Any], trips: int) -> Any:
    """The windows of a contiguous write as they are before the loop, one per iteration."""
    shape = list(w.shape)
    shape[w.axis] = trips
    # the starts are the body's own, already normalized (no negative index)
    block = jax.lax.dynamic_slice(array, starts, shape, allow_negative_indices=False)
    rows = jnp.moveaxis(block, w.axis, 0).reshape((trips, *w.shape))
    return rows[::-1] if w.starts[w.axis][1] < 0 else rows


def _write_block(array: Any, w: _Write, rows: Any, starts: list[Any]) -> Any:
    if w.starts[w.axis][1] < 0:
        rows = rows[::-1]
    block = jnp.moveaxis(jnp.squeeze(rows, w.axis + 1), 0, w.axis)
    return jax.lax.dynamic_update_slice(array, block, starts, allow_negative_indices=False)


def _scatter(array: Any, w: _Write, rows: Any, starts: Any, on: Any = None) -> Any:
    """Every iteration's window written at once; the windows are disjoint (see _disjoint).

    Where ``on`` is False the iteration writes nothing (its window lies
    outside the array, and the scatter drops it).
    """
    trips = rows.shape[0]
    index = []
    for d, size in enumerate(w.shape):
        # a dynamic_update_slice clamps its start so that the window fits
        s = jnp.clip(starts[:, d], 0, array.shape[d] - size)
        if on is not None:
            s = jax.lax.select(on, s, jnp.full_like(s, array.shape[d]))
        grid = s.reshape((trips,) + (1,) * len(w.shape)) + jnp.arange(size).reshape(
            (1,) * (d + 1) + (size,) + (1,) * (len(w.shape) - d - 1)
        )
        index.append(jnp.broadcast_to(grid, rows.shape))
    if on is None:
        return array.at[tuple(index)].set(rows, unique_indices=True)
    return array.at[tuple(index)].set(rows, unique_indices=True, mode="drop")


def _batched(
    closed: Any,
    plan: _Plan,
    out_tree: Any,
    lower: int,
    upper: int,
    start: list[Any],
    init: Any,
    on: Any = None,
    first: Any = None,
) -> Any:
    """Every iteration at once (the body under ``jax.vmap``), then one write per window.

    With ``on`` (one per index), the body's index counts from ``first``, an
    index that runs; where ``on`` is False the iteration does not run (it
    computes ``first``'s values in its place): its windows keep their
    values, and the locals are the last running one's.
    """
    trips = upper - lower
    ts = jnp.arange(lower, upper, dtype=_aval(closed.jaxpr.invars[0]).dtype)
    carried = jax.tree_util.tree_leaves(init)
    at = {
        j: _block_starts(closed, w, lower, upper) for j, w in enumerate(plan.writes) if w.contiguous
    }
    before = {
        j: _stacked_before(start[w.cell], w, at[j], trips)
        for j, w in enumerate(plan.writes)
        if w.contiguous and (w.read or on is not None)
    }
    blocks = {}
    for e, w in plan.blocks.items():
        if w.cell >= 0:
            operand = start[w.cell]
        else:
            (operand,) = _outside(closed, [closed.jaxpr.eqns[e].invars[0]], lower)
        blocks[e] = _stacked_before(operand, w, _block_starts(closed, w, lower, upper), trips)

    def one(t: Any, rows: dict[int, Any], windows: dict[int, Any]) -> Any:
        return _rows(closed, plan, t, rows, windows, start, carried)

    # An iteration that does not run computes the first one's values, which it
    # discards: its own index may lie where the loop never reads (checkify
    # would report a read the loop does not make).
    runs = ts if on is None else jax.lax.select(on, ts, jnp.full_like(ts, first)) - first
    windows, starts, locals_ = jax.vmap(one)(runs, before, blocks)
    values = list(start)
    for j, w in enumerate(plan.writes):  # disjoint windows: any order
        c = w.cell
        if w.contiguous:
            rows = windows[j]
            if on is not None:
                mask = jax.lax.broadcast_in_dim(on, rows.shape, (0,))
                rows = jax.lax.select(mask, rows, before[j])
            values[c] = _write_block(values[c], w, rows, at[j])
        else:
            values[c] = _scatter(values[c], w, windows[j], starts[j], on)
    if on is None or not locals_:
        last = [x[-1] for x in locals_]
    else:  # the last iteration that runs; none: the locals as before the loop
        k = jnp.max(jnp.where(on, jnp.arange(trips), -1))
        last = [
            jnp.where(k >= 0, x[jnp.maximum(k, 0)], c).astype(jnp.result_type(c))
            for x, c in zip(locals_, carried)
        ]
    _, carry = jax.tree_util.tree_unflatten(out_tree, [*values, *last])
    return values, carry
