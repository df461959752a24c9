"""Slab promotion: a loop that touches one fixed block of a carried array carries only that block.

The block is a run of leading axes at loop-invariant starts (a row, below)
or one element at loop-invariant indices (see "element promotion").

A converted loop carries every array its body writes. When the body reads
and writes one loop-invariant row of a big array (``C[i, :] += ...`` in a
loop over ``k``), carrying the whole array costs a full-array update per
iteration. ``fori_loop`` traces the body once, and when every use of a
carried array is a ``dynamic_slice`` or ``dynamic_update_slice`` at the
same loop-invariant starts on a leading set of axes, it runs a loop that
carries only that block (the *slab*): read once before the loop, written
back once after it. Any other body runs as traced, unchanged.

Equal results: a ``dynamic_slice`` or ``dynamic_update_slice`` clamps its
start on each axis to ``[0, dim - size]``. All uses share the starts and
extents on the promoted axes, so they all clamp to the slab's start, and
inside the slab they address start 0; the other axes keep their starts and
their full extent, so they clamp as before.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Sequence
from typing import Any, NamedTuple, cast

import jax
import numpy as np

from . import _apart, _compat, _ranges

# Tests switch promotion off to compare a promoted loop with the loop as traced.
enabled = True


class _Slab(NamedTuple):
    """The block of carried leaf ``leaf`` that the body touches."""

    leaf: int  # position in the carry
    axes: int  # the leading axes promoted
    starts: tuple[Any, ...]  # one atom per promoted axis, loop-invariant
    sizes: tuple[int, ...]  # the slab's shape
    accesses: frozenset[int]  # positions of the slicing equations in the body


def fori_loop(
    lower: Any, upper: Any, body: Callable[[Any, Any], Any], init: Any, *, unroll: Any = None
) -> Any:
    """``jax.lax.fori_loop(lower, upper, body, init)``, carrying only the slabs it touches."""
    leaves, tree = jax.tree_util.tree_flatten(init)
    # The index as jax.lax.fori_loop traces it (weakly typed for Python int bounds):
    # mutjax's index analysis sees the same values either way.
    weak = all(isinstance(b, int) for b in (lower, upper))
    index = jax.ShapeDtypeStruct((), jax.numpy.result_type(lower, upper), weak_type=weak)

    out_trees: list[Any] = []

    def flat_body(i: Any, *leaves: Any) -> Any:
        out, out_tree = jax.tree_util.tree_flatten(
            body(i, jax.tree_util.tree_unflatten(tree, leaves))
        )
        out_trees.append(out_tree)
        return out

    closed = jax.make_jaxpr(indexed(flat_body, lower, upper))(index, *leaves)
    if out_trees[-1] != tree:  # JAX's own error for a body that changes the carry's structure
        return jax.lax.fori_loop(lower, upper, body, init, unroll=unroll)
    return traced_fori_loop(lower, upper, closed, init, unroll=unroll)


def traced_fori_loop(lower: Any, upper: Any, closed: Any, init: Any, *, unroll: Any = None) -> Any:
    """``fori_loop`` of a body already traced: ``closed`` maps ``(i, *leaves(init))``
    to the new leaves of a carry of ``init``'s structure."""
    leaves, tree = jax.tree_util.tree_flatten(init)
    slabs = _slabs(closed.jaxpr) if enabled else []
    elements = [] if slabs else element_plan(closed, lower, upper)
    if elements:
        out = run_elements(lower, upper, closed.jaxpr, closed.consts, elements, leaves, unroll)
        return jax.tree_util.tree_unflatten(tree, out)
    if not slabs:
        # the loop as traced: its equations are copied, the body is not traced again
        run = _apart.apart(closed, lower, upper) or functools.partial(
            _compat.eval_staged, closed.jaxpr, closed.consts
        )

        def traced(i: Any, carry: Any) -> Any:
            out = run(i, *jax.tree_util.tree_leaves(carry))
            return jax.tree_util.tree_unflatten(tree, out)

        return jax.lax.fori_loop(lower, upper, traced, init, unroll=unroll)
    return _promoted(lower, upper, closed, slabs, tree, leaves, unroll)


def _promoted(
    lower: Any,
    upper: Any,
    closed: Any,
    slabs: list[_Slab],
    tree: Any,
    leaves: list[Any],
    unroll: Any,
) -> Any:
    jaxpr = closed.jaxpr
    consts = dict(zip(jaxpr.constvars, closed.consts, strict=True))
    outside = _evaluate_invariants(jaxpr, consts, [a for s in slabs for a in s.starts])
    corners = {}
    bases = list(leaves)
    carry = list(leaves)
    for s in slabs:
        full = leaves[s.leaf]
        shape = np.shape(full)
        starts = [_read(outside, a) for a in s.starts] + [0] * (len(shape) - s.axes)
        # The body's slicing equations take their starts as they are (no
        # wrapping of negative ones) and clamp them; the slab's read and
        # write-back do the same. A clamp or a wrap written out here is one
        # scalar fusion per iteration of an enclosing loop that XLA's CPU
        # backend runs on its own (Seidel-2D's row loop: 1.3x the hand-written).
        corners[s.leaf] = starts
        update = _last_update(full, starts, s, corners[s.leaf])
        if update is None:
            carry[s.leaf] = jax.lax.dynamic_slice(
                full, corners[s.leaf], s.sizes, allow_negative_indices=False
            )
        else:
            bases[s.leaf], carry[s.leaf] = update
        carry[s.leaf] = jax.lax.reshape(carry[s.leaf], _carried_shape(s))
    rewrite: dict[int, Callable[[Any, list[Any]], Any]] = {
        e: functools.partial(_slab_access, slab=s) for s in slabs for e in s.accesses
    }
    index_dtype = jaxpr.invars[0].aval.dtype

    def step(i: Any, carry: list[Any]) -> list[Any]:
        env = dict(consts)
        i = jax.lax.convert_element_type(i, index_dtype)
        env.update(zip(jaxpr.invars, [i, *carry], strict=True))
        _interpret(jaxpr.eqns, env, rewrite)
        return [_read(env, v) for v in jaxpr.outvars]

    final = jax.lax.fori_loop(lower, upper, step, carry, unroll=unroll)
    out = list(final)
    for s in slabs:
        slab = jax.lax.reshape(final[s.leaf], s.sizes)
        out[s.leaf] = jax.lax.dynamic_update_slice(
            bases[s.leaf], slab, corners[s.leaf], allow_negative_indices=False
        )
    return jax.tree_util.tree_unflatten(tree, out)


def _last_update(
    full: Any, starts: list[Any], slab: _Slab, corner: list[Any]
) -> tuple[Any, Any] | None:
    """``(base, slab value)`` when ``full`` is ``base`` updated inside the slab alone.

    The loop then starts from the slab of ``base`` with that update applied
    and writes its last value into ``base``: the row written just before
    the loop (syrk's ``C[i] *= beta``, Seidel's ``A[i, 1:-1] += ...``) is
    one update of the array, not two. XLA's CPU loops copied the whole
    array for the second (two copies of C per row of syrk).
    """
    eqn = _compat.producing_equation(full)
    if eqn is None or eqn[0] != "dynamic_update_slice":
        return None
    base, update, *written = cast(list[Any], eqn[1])
    axes = slab.axes
    if len(written) != len(starts) or np.shape(update)[:axes] != slab.sizes[:axes]:
        return None
    if not all(_same(a, b) for a, b in zip(written[:axes], starts[:axes], strict=True)):
        return None
    # on the other axes the slab spans the array: the update's starts clamp as before
    inner = [np.zeros((), np.result_type(w)) for w in written[:axes]] + written[axes:]
    value = jax.lax.dynamic_slice(base, corner, slab.sizes, allow_negative_indices=False)
    return base, jax.lax.dynamic_update_slice_p.bind(value, update, *inner)


def _same(a: Any, b: Any) -> bool:
    """Whether two start indices are one value: the same tracer or equal constants."""
    if a is b:
        return True
    a, b = _constant(a), _constant(b)
    return a is not None and b is not None and int(a) == int(b)


def _constant(x: Any) -> Any:
    if isinstance(x, (int, np.integer, np.ndarray)):
        return x
    value = _compat.literal_value(x)
    return value if value is not None else _compat.to_concrete_value(x)


def _read(env: dict[Any, Any], atom: Any) -> Any:
    if isinstance(atom, int):  # a static slice's start
        return np.int32(atom)
    return atom.val if isinstance(atom, _compat.Literal) else env[atom]


def _carried_shape(slab: _Slab) -> tuple[int, ...]:
    """The slab's shape without its promoted axes of length 1 (a row ``C[i]``).

    XLA's CPU loops update a carried ``f32[70]`` in place, but copy a
    carried ``f32[1, 70]`` that the body reshapes to the row it computes
    with and back (syrk: 262 us against 71 us per call).
    """
    return tuple(n for d, n in enumerate(slab.sizes) if d >= slab.axes or n != 1)


def _interpret(
    eqns: Sequence[Any], env: dict[Any, Any], rewrite: dict[int, Callable[[Any, list[Any]], Any]]
) -> None:
    """Bind ``eqns`` in ``env``; those at positions in ``rewrite`` address a carried part.

    ``rewrite`` maps an equation's position to what computes its one output
    from the equation and its operands (the carried slab or element in
    place of the whole array).
    """
    for n, eqn in enumerate(eqns):
        args = [_read(env, a) for a in eqn.invars]
        if n in rewrite:
            env[eqn.outvars[0]] = rewrite[n](eqn, args)
            continue
        for v, x in zip(eqn.outvars, _compat.stage_equation(eqn, args), strict=True):
            env[v] = x


def _slab_access(eqn: Any, args: list[Any], slab: _Slab) -> Any:
    """Slicing equation ``eqn`` of the whole array, applied to its carried slab.

    A read of the whole slab is the slab and an update of the whole slab is
    the update (both clamp their starts to 0): no slicing equation is left
    between the carry and the values the body computes.
    """
    args[0] = jax.lax.reshape(args[0], slab.sizes)
    if eqn.primitive is jax.lax.slice_p:
        return _slab_slice(eqn, args[0], slab.axes)
    if eqn.primitive is jax.lax.dynamic_slice_p:
        if tuple(eqn.params["slice_sizes"]) == slab.sizes:
            return args[0]
        first = 1
    else:
        if tuple(np.shape(args[1])) == slab.sizes:
            return jax.lax.reshape(args[1], _carried_shape(slab))
        first = 2
    for d in range(slab.axes):
        args[first + d] = np.zeros((), eqn.invars[first + d].aval.dtype)
    (out,) = _compat.bind_equation(eqn, args)
    return out if first == 1 else jax.lax.reshape(out, _carried_shape(slab))


def _slab_slice(eqn: Any, slab: Any, axes: int) -> Any:
    """Static slice ``eqn`` of the whole array, taken of its slab."""
    starts = list(eqn.params["start_indices"])
    limits = list(eqn.params["limit_indices"])
    for d in range(axes):
        starts[d], limits[d] = 0, limits[d] - starts[d]
    return jax.lax.slice(slab, starts, limits)


def _evaluate_invariants(jaxpr: Any, consts: dict[Any, Any], atoms: list[Any]) -> dict[Any, Any]:
    """``consts`` plus the values of the loop-invariant ``atoms``, computed outside the loop."""
    needed = {a for a in atoms if not isinstance(a, (int, _compat.Literal))}
    chosen = []
    for n in reversed(range(len(jaxpr.eqns))):
        eqn = jaxpr.eqns[n]
        if needed.intersection(eqn.outvars):
            chosen.append(n)
            needed.update(a for a in eqn.invars if not isinstance(a, _compat.Literal))
    env = dict(consts)
    _interpret([jaxpr.eqns[n] for n in reversed(chosen)], env, {})
    return env


def _invariant_values(jaxpr: Any) -> dict[Any, Any]:
    """The body's values computed from its constants and literals alone, numbered.

    Two vars get the same number when they compute the same value the same
    way (``lax.dynamic_slice`` normalizes a start anew at every call).
    """
    numbers: dict[Any, Any] = {v: ("const", n) for n, v in enumerate(jaxpr.constvars)}
    for eqn in jaxpr.eqns:
        if eqn.effects or any(True for _ in _compat.jaxprs_in_params(eqn.params)):
            continue
        if all(isinstance(a, _compat.Literal) or a in numbers for a in eqn.invars):
            inputs = tuple(_number(numbers, a) for a in eqn.invars)
            op = (eqn.primitive.name, repr(sorted(eqn.params.items())), inputs)
            numbers.update((v, (op, k)) for k, v in enumerate(eqn.outvars))
    return numbers


def _number(numbers: dict[Any, Any], atom: Any) -> Any:
    if isinstance(atom, _compat.Literal):
        return ("literal", np.asarray(atom.val).item(), str(atom.aval))
    return numbers[atom]


def _uses(jaxpr: Any) -> dict[Any, list[tuple[int, int]]]:
    """Every var's uses: (equation position, operand position); -1 - k for output k."""
    uses: dict[Any, list[tuple[int, int]]] = {}
    for n, eqn in enumerate(jaxpr.eqns):
        for k, a in enumerate(eqn.invars):
            if not isinstance(a, _compat.Literal):
                uses.setdefault(a, []).append((n, k))
    for k, a in enumerate(jaxpr.outvars):
        if not isinstance(a, _compat.Literal):
            uses.setdefault(a, []).append((-1, -1 - k))
    return uses


def _touched(jaxpr: Any) -> tuple[list[tuple[int, list[int]]], dict[Any, Any]]:
    """Each carried array leaf the body accesses, with its accesses; the loop-invariant values."""
    uses = _uses(jaxpr)
    touched = []
    for leaf, var in enumerate(jaxpr.invars[1:]):
        if np.ndim(var.aval) >= 1:
            accesses = _accesses(jaxpr, uses, leaf, var)
            if accesses:
                touched.append((leaf, accesses))
    # the invariant values matter only to a leaf's accesses
    return touched, _invariant_values(jaxpr) if touched else {}


def _slabs(jaxpr: Any) -> list[_Slab]:
    """The carried leaves the body touches only through one invariant block each."""
    touched, invariant = _touched(jaxpr)
    slabs = [_block(jaxpr, leaf, accesses, invariant) for leaf, accesses in touched]
    return [slab for slab in slabs if slab is not None]


def _accesses(jaxpr: Any, uses: dict[Any, list[tuple[int, int]]], leaf: int, var: Any) -> list[int]:
    """The slicing equations reached from carried ``var``; [] when it has another use.

    The versions of the array (``var``, then each update's result) may be
    read by ``dynamic_slice``, updated by ``dynamic_update_slice`` and be
    the body's output for the same leaf; nothing else.
    """
    ndim = np.ndim(var.aval)
    accesses: list[int] = []
    versions = [var]
    returned = False
    while versions:
        for n, k in uses.get(versions.pop(), []):
            if n == -1:
                if k != -1 - leaf:
                    return []
                returned = True
                continue
            eqn = jaxpr.eqns[n]
            if k != 0:
                return []
            if _is_read(eqn, ndim):
                accesses.append(n)
            elif eqn.primitive is jax.lax.dynamic_update_slice_p and len(eqn.invars) == 2 + ndim:
                accesses.append(n)
                versions.append(eqn.outvars[0])
            else:
                return []
    return accesses if returned else []


def _is_read(eqn: Any, ndim: int) -> bool:
    if eqn.primitive is jax.lax.dynamic_slice_p:
        return len(eqn.invars) == 1 + ndim
    if eqn.primitive is not jax.lax.slice_p:
        return False
    strides = eqn.params["strides"]
    return strides is None or all(s == 1 for s in strides)


def _block(jaxpr: Any, leaf: int, accesses: list[int], invariant: dict[Any, Any]) -> _Slab | None:
    """The slab all ``accesses`` share on the longest run of leading axes, if smaller."""
    shape = jaxpr.invars[1 + leaf].aval.shape
    starts: list[Any] = []
    sizes: list[int] = []
    for d in range(len(shape)):
        found = [_access(jaxpr.eqns[n], d, invariant) for n in accesses]
        seen = [a for a in found if a is not None]
        if len(seen) < len(found) or len({(key, size) for key, _, size in seen}) != 1:
            break
        _, atom, size = seen[0]
        starts.append(atom)
        sizes.append(size)
    # an axis every access spans whole starts at 0 whatever its start says
    while starts and sizes[-1] == shape[len(sizes) - 1]:
        starts.pop()
        sizes.pop()
    axes = len(starts)
    if axes == 0 or np.prod(sizes) == np.prod(shape[:axes]):
        return None
    return _Slab(leaf, axes, tuple(starts), (*sizes, *shape[axes:]), frozenset(accesses))


def _access(eqn: Any, d: int, invariant: dict[Any, Any]) -> tuple[Any, Any, int] | None:
    """An access's start on axis ``d`` (its value's number and its atom) and its extent there.

    None when the start varies with the loop.
    """
    if eqn.primitive is jax.lax.slice_p:
        start = eqn.params["start_indices"][d]
        return ("start", start), start, eqn.params["limit_indices"][d] - start
    if eqn.primitive is jax.lax.dynamic_slice_p:
        atom, size = eqn.invars[1 + d], eqn.params["slice_sizes"][d]
    else:
        atom, size = eqn.invars[2 + d], eqn.invars[1].aval.shape[d]
    if isinstance(atom, _compat.Literal):
        return ("start", int(atom.val)), atom, int(size)
    if atom not in invariant:
        return None
    return invariant[atom], atom, int(size)


# -- element promotion --------------------------------------------------------
#
# A loop whose body reads and writes one element of a carried array at
# loop-invariant indices (Nussinov's ``table[i, j] = max(table[i, j],
# table[i, k] + table[k + 1, j])`` over ``k``) carries that element alone.
# The body's other reads of the array take the array as it was before the
# loop: the element is the only thing the loop writes. It is promoted when
# the index expressions and the loop's bounds (and those of the loops
# around it) prove that no other read touches the element in any
# iteration, and that on the axis that separates them the element's index
# and the read's window lie inside the array: an index past the end clamps,
# and a clamped read could land on the element. Any body not proved runs
# as traced.


class _Element(NamedTuple):
    """Carried leaf ``leaf`` whose body touches one element, at ``starts``."""

    leaf: int
    starts: tuple[Any, ...]  # one invariant atom per axis
    element: frozenset[int]  # positions of the reads and writes of the element
    others: frozenset[int]  # positions of the other reads


# An affine expression of integers: ({symbol: coefficient}, constant).
_Affine = tuple[dict[Any, int], int]


def element_plan(
    closed: Any, lower: Any, upper: Any, intervals: dict[int, tuple[Any, int, int]] | None = None
) -> list[_Element]:
    """The carried leaves of ``closed`` (a loop body) that the loop may carry as one element.

    ``lower`` and ``upper`` are the loop's bounds as the loop is called:
    values of the trace that ``closed``'s constants belong to; ``intervals``
    the static ranges of enclosing loops' indices (``mutjax._ranges``).
    """
    if not enabled:
        return []
    jaxpr = closed.jaxpr
    touched, invariant = _touched(jaxpr)
    found = [_element(jaxpr, leaf, accesses, invariant) for leaf, accesses in touched]
    candidates = [e for e in found if e is not None]
    if not candidates:  # the affine reading of the body has nothing to prove
        return []
    affine = _BodyAffine(jaxpr, closed.consts, intervals or {})
    span = _index_span(lower, upper, affine)
    if span is None:
        return []
    return [
        e
        for e in candidates
        if all(_disjoint(jaxpr.eqns[n], e.starts, affine, span) for n in e.others)
    ]


def _element(
    jaxpr: Any, leaf: int, accesses: list[int], invariant: dict[Any, Any]
) -> _Element | None:
    """The element every write of the leaf updates, and the reads split by whether they read it."""
    writes = [n for n in accesses if jaxpr.eqns[n].primitive is jax.lax.dynamic_update_slice_p]
    if not writes or any(jaxpr.eqns[n].primitive is jax.lax.slice_p for n in accesses):
        return None

    def key(eqn: Any) -> tuple[Any, ...] | None:
        first = 1 if eqn.primitive is jax.lax.dynamic_slice_p else 2
        sizes = eqn.params["slice_sizes"] if first == 1 else eqn.invars[1].aval.shape
        if any(int(s) != 1 for s in sizes):
            return None
        found = [_access(eqn, d, invariant) for d in range(len(eqn.invars) - first)]
        return None if any(f is None for f in found) else tuple(f[0] for f in found)  # type: ignore[index]

    target = key(jaxpr.eqns[writes[0]])
    if target is None or any(key(jaxpr.eqns[n]) != target for n in writes):
        return None
    element = frozenset(n for n in accesses if key(jaxpr.eqns[n]) == target)
    starts = tuple(jaxpr.eqns[writes[0]].invars[2:])
    return _Element(leaf, starts, element, frozenset(accesses) - element)


# How many producing equations an outer value is followed through.
_DEPTH = 16


class _BodyAffine:
    """Affine expressions of a body's integer scalars in its index and outer values.

    A body constant stands for the outer value it was closed over: the
    equations that computed that value (``i + 1`` of an outer index ``i``)
    are followed, so a loop from ``i + 1`` and a read at row ``i`` relate.
    A value no rule expresses is a symbol of its own.
    """

    def __init__(
        self, jaxpr: Any, consts: Sequence[Any], intervals: dict[int, tuple[Any, int, int]]
    ) -> None:
        self.intervals = intervals
        self.keep: list[Any] = []  # the outer values named by id stay alive
        # an enclosing loop's index: (depth, its first and last value)
        self.ranges: dict[Any, tuple[int, Any]] = {}
        self.known: dict[Any, _Affine] = {jaxpr.invars[0]: ({"index": 1}, 0)}
        # Outer values share the equations they come from (every start of a
        # triangular nest derives from the same indices): each is followed
        # once. id -> (the value, kept alive; its expression; how deep below
        # it the following went, None where it reached the depth limit).
        self.followed: dict[int, tuple[Any, _Affine, int | None]] = {}
        for v, c in zip(jaxpr.constvars, consts, strict=True):
            self.known[v] = self.outer(c)
        self.made = {v: eqn for eqn in jaxpr.eqns for v in eqn.outvars}

    def outer(self, x: Any, depth: int = 0) -> _Affine:
        return self._follow(x, depth)[0]

    def _follow(self, x: Any, depth: int) -> tuple[_Affine, int | None]:
        """``x``'s expression, and how many levels below ``depth`` it took (None: all)."""
        seen = self.followed.get(id(x))
        # The answer found from another depth holds if it never met the limit from here.
        if seen is not None and seen[0] is x and seen[2] is not None and depth + seen[2] < _DEPTH:
            return seen[1], seen[2]
        found, below = self._outer(x, depth)
        self.followed[id(x)] = (x, found, below)
        return found, below

    def _outer(self, x: Any, depth: int) -> tuple[_Affine, int | None]:
        value = _static_int(x)
        if value is not None:
            return ({}, value), 0
        if depth >= _DEPTH:
            return self._symbol(x), None
        below: int | None = 0

        def deeper(a: Any) -> _Affine:
            nonlocal below
            found, levels = self._follow(a, depth + 1)
            below = None if levels is None or below is None else max(below, levels + 1)
            return found

        eqn = _compat.producing_equation(x)
        if eqn is not None:
            prim, ins, _ = eqn
            terms = [deeper(a) for a in ins]
            found = _combine_affine(prim, terms)
            if found is not None:
                return found, below
        lifted = _compat.lifted_from(x)
        if lifted is not None:
            return deeper(lifted), below
        return self._symbol(x), below

    def _symbol(self, x: Any) -> _Affine:
        """``x`` as a symbol of its own, bounded where it is an enclosing loop's index."""
        self.keep.append(x)
        symbol = ("outer", id(x))
        static = self.intervals.get(id(x))
        if static is not None and static[0] is x:  # a loop over a static range, outermost
            self.ranges[symbol] = (-1, (({}, static[1]), ({}, static[2])))
        hit = _indices.get(id(x))
        if hit is not None and hit[0] is x and symbol not in self.ranges:
            self.ranges[symbol] = (hit[3], None)  # not itself in its range's expressions
            ends = _index_span(hit[1], hit[2], self)
            if ends is None:
                del self.ranges[symbol]
            else:
                self.ranges[symbol] = (hit[3], ends)
        return {symbol: 1}, 0

    def of(self, atom: Any) -> _Affine:
        if isinstance(atom, _compat.Literal):
            value = _static_int(atom.val)
            return ({("literal", id(atom)): 1}, 0) if value is None else ({}, value)
        if atom in self.known:
            return self.known[atom]
        eqn = self.made.get(atom)
        found = None
        if eqn is not None and len(eqn.outvars) == 1:
            found = _combine_affine(eqn.primitive.name, [self.of(a) for a in eqn.invars])
        self.known[atom] = found if found is not None else ({("body", id(atom)): 1}, 0)
        return self.known[atom]


def _static_int(x: Any) -> int | None:
    if isinstance(x, _compat.Literal):
        x = x.val
    lit = _compat.literal_value(x)
    value = _ranges.static(x if lit is None else lit)
    if value is None:
        return None
    value = np.asarray(value)
    if value.shape != () or not np.issubdtype(value.dtype, np.integer):
        return None
    return int(value)


def _combine_affine(prim: str, terms: list[_Affine]) -> _Affine | None:
    if prim in ("convert_element_type", "copy", "copy_p") and len(terms) == 1:
        return terms[0]
    if prim == "neg":
        return _scaled(terms[0], -1)
    if prim == "add":
        return _sum(terms[0], terms[1])
    if prim == "sub":
        return _sum(terms[0], _scaled(terms[1], -1))
    if prim == "mul":
        (a, c), (b, d) = terms
        if not a:
            return _scaled(terms[1], c)
        if not b:
            return _scaled(terms[0], d)
    return None


def _scaled(x: _Affine, k: int) -> _Affine:
    return {s: k * c for s, c in x[0].items() if k * c}, k * x[1]


def _sum(x: _Affine, y: _Affine) -> _Affine:
    terms = dict(x[0])
    for s, c in y[0].items():
        terms[s] = terms.get(s, 0) + c
    return {s: c for s, c in terms.items() if c}, x[1] + y[1]


def _index_span(lower: Any, upper: Any, affine: _BodyAffine) -> tuple[_Affine, _Affine] | None:
    """The first and last index of any iteration the loop runs, as affine expressions.

    ``upper`` may be ``max(c, n)`` (a trip count that is never negative):
    from a ``lower`` at least ``c``, an iteration's index is below ``n``.
    """
    first = affine.outer(lower)
    stop = affine.outer(upper)
    eqn = _compat.producing_equation(upper)
    while eqn is not None and eqn[0] == "convert_element_type":
        eqn = _compat.producing_equation(eqn[1][0])
    if eqn is not None and eqn[0] == "max" and not first[0]:
        bounds = [_static_int(a) for a in eqn[1]]
        for k, bound in enumerate(bounds):
            if bound is not None and bound <= first[1]:
                stop = affine.outer(eqn[1][1 - k])
    if any(isinstance(s, tuple) and s[0] == "body" for s in (*first[0], *stop[0])):
        return None
    return first, _sum(stop, ({}, -1))


def _disjoint(
    eqn: Any, element: tuple[Any, ...], affine: _BodyAffine, span: tuple[_Affine, _Affine]
) -> bool:
    """Whether read ``eqn`` misses the element on some axis in every iteration.

    On that axis the element's index and the read's window must also lie
    in the array in every iteration: an index past the end clamps, and a
    clamped window could reach the element.
    """
    sizes = eqn.params["slice_sizes"]
    shape = eqn.invars[0].aval.shape
    for d, (start, at) in enumerate(zip(eqn.invars[1:], element, strict=True)):
        first, index = affine.of(start), affine.of(at)
        last = _sum(first, ({}, int(sizes[d]) - 1))
        apart = _sum(index, _scaled(last, -1)), _sum(first, _scaled(index, -1))
        if not any(_least(gap, span, affine) >= 1 for gap in apart):
            continue
        inside = [_least(x, span, affine) >= 0 for x in (first, index)] + [
            _least(_sum(({}, shape[d] - 1), _scaled(x, -1)), span, affine) >= 0
            for x in (last, index)
        ]
        if all(inside):
            return True
    return False


def _least(x: _Affine, span: tuple[_Affine, _Affine], affine: _BodyAffine) -> float:
    """A lower bound of ``x`` over the loop's iterations; -inf if none is found.

    The loop's index, then each enclosing loop's index from the innermost
    out, is replaced by the end of its range that minimizes ``x``: a
    triangular nest (``k`` from ``i + 1`` to ``j``, ``j`` from ``i + 1``
    to ``n``) is bounded exactly.
    """
    terms, constant = x
    for _ in range(64):
        if not terms:
            return float(constant)
        ranged = [s for s in terms if s in affine.ranges]
        if "index" in terms:
            symbol, ends = "index", span
        elif ranged:
            symbol = max(ranged, key=lambda s: affine.ranges[s][0])
            ends = affine.ranges[symbol][1]
        else:
            return -np.inf
        k = terms[symbol]
        rest = {s: c for s, c in terms.items() if s != symbol}
        terms, constant = _sum((rest, constant), _scaled(ends[0] if k > 0 else ends[1], k))
    return -np.inf


# The indices of the loops whose bodies are being traced: id -> (index, lower,
# upper, depth). An inner loop's bounds and index expressions are bounded
# through them.
_indices: dict[int, tuple[Any, Any, Any, int]] = {}


def indexed(body: Callable[..., Any], lower: Any, upper: Any) -> Callable[..., Any]:
    """``body(i, ...)``, its index known to lie in ``[lower, upper)`` while it is traced."""

    def traced(i: Any, *args: Any) -> Any:
        _indices[id(i)] = (i, lower, upper, len(_indices))
        try:
            return body(i, *args)
        finally:
            _indices.pop(id(i), None)

    return traced


def run_elements(
    lower: Any,
    upper: Any,
    jaxpr: Any,
    consts: Sequence[Any],
    plan: list[_Element],
    leaves: list[Any],
    unroll: Any = None,
    updates: Sequence[Any] | None = None,
) -> list[Any]:
    """The leaves after ``fori_loop(lower, upper)`` of body ``jaxpr`` (constants
    ``consts``), carrying the elements of ``plan`` in place of their arrays.

    ``updates`` (from ``fold_updates``) gives per element the value written
    to it just before the loop, its leaf then being the array before that
    write; None where there is none.
    """
    env0 = dict(zip(jaxpr.constvars, consts, strict=True))
    outside = _evaluate_invariants(jaxpr, env0, [a for e in plan for a in e.starts])
    carry = list(leaves)
    updates = updates or [None] * len(plan)
    rewrite: dict[int, Callable[[Any, list[Any]], Any]] = {}
    corners = {}
    for e, update in zip(plan, updates, strict=True):
        base = leaves[e.leaf]
        corner = [_read(outside, a) for a in e.starts]
        corners[e.leaf] = corner
        if update is None:
            ones = (1,) * np.ndim(base)
            update = jax.lax.dynamic_slice(base, corner, ones, allow_negative_indices=False)
        carry[e.leaf] = update
        for n in e.element:
            rewrite[n] = _element_access
        for n in e.others:
            rewrite[n] = functools.partial(_other_read, base=base)
    index_dtype = jaxpr.invars[0].aval.dtype
    shift = _index_shift(jaxpr)
    offset: Any = 0
    if shift is not None:
        # the loop runs over start + i itself, the range loop's own index
        position, atom = shift
        offset = _evaluate_invariants(jaxpr, env0, [atom]).get(atom)
        rewrite[position] = lambda eqn, args: step_index[0]
        bound = jax.numpy.result_type(lower, upper)
        offset = jax.lax.convert_element_type(offset, bound)  # once, not per bound
        lower, upper = (
            offset if _static_int(b) == 0 else jax.lax.add(jax.numpy.asarray(b, bound), offset)
            for b in (lower, upper)
        )
    step_index: list[Any] = [None]
    # the index itself, where the body uses it other than for start + i
    shift_needs_index = shift is not None and _uses_index(jaxpr, shift[0])

    def step(i: Any, carry: list[Any]) -> list[Any]:
        env = dict(env0)
        i = jax.lax.convert_element_type(i, index_dtype)
        step_index[0] = i
        if shift is not None and shift_needs_index:
            i = i - jax.lax.convert_element_type(offset, index_dtype)
        env.update(zip(jaxpr.invars, [i, *carry], strict=True))
        _interpret(jaxpr.eqns, env, rewrite)
        return [_read(env, v) for v in jaxpr.outvars]

    final = list(jax.lax.fori_loop(lower, upper, step, carry, unroll=unroll))
    for e in plan:
        final[e.leaf] = jax.lax.dynamic_update_slice(
            leaves[e.leaf], final[e.leaf], corners[e.leaf], allow_negative_indices=False
        )
    return final


def _element_access(eqn: Any, args: list[Any]) -> Any:
    """A read or write of the element, given the element's current value as ``args[0]``."""
    if eqn.primitive is jax.lax.dynamic_slice_p:
        return args[0]
    return args[1]


def _other_read(eqn: Any, args: list[Any], *, base: Any) -> Any:
    """A read the plan proved apart from the element, of the array before the loop."""
    (window,) = _compat.bind_equation(eqn, [base, *args[1:]])
    return window


def fold_updates(
    closed: Any, plan: list[_Element], leaves: list[Any]
) -> tuple[list[Any], list[Any]]:
    """``(leaves, updates)`` for ``run_elements``: an element written just before
    the loop (Nussinov's ``table[i, j]`` before its k loop) starts the loop
    from the value written, and the loop's write-back is the only update of
    the array: XLA's CPU loops updated the whole table twice per cell.
    """
    consts = dict(zip(closed.jaxpr.constvars, closed.consts, strict=True))
    # equal starts may be distinct tracers (an outer index computed twice)
    affine = _BodyAffine(closed.jaxpr, closed.consts, {})
    leaves = list(leaves)
    updates: list[Any] = []
    for e in plan:
        eqn = _compat.producing_equation(leaves[e.leaf])
        found = None
        if eqn is not None and eqn[0] == "dynamic_update_slice":
            base, update, *written = cast(list[Any], eqn[1])
            starts = [_outer_atom(consts, a) for a in e.starts]
            if all(n == 1 for n in np.shape(update)) and len(written) == len(starts):
                if all(
                    b is not None and affine.outer(a) == affine.outer(b)
                    for a, b in zip(written, starts, strict=True)
                ):
                    leaves[e.leaf], found = base, update
        updates.append(found)
    return leaves, updates


def unfold_updates(
    jaxpr: Any,
    consts: Sequence[Any],
    plan: list[_Element],
    leaves: list[Any],
    updates: Sequence[Any],
) -> list[Any]:
    """The leaves as they were before ``fold_updates``: each update written back."""
    env = _evaluate_invariants(
        jaxpr, dict(zip(jaxpr.constvars, consts, strict=True)), [a for e in plan for a in e.starts]
    )
    leaves = list(leaves)
    for e, update in zip(plan, updates, strict=True):
        if update is not None:
            corner = [_read(env, a) for a in e.starts]
            leaves[e.leaf] = jax.lax.dynamic_update_slice(
                leaves[e.leaf], update, corner, allow_negative_indices=False
            )
    return leaves


def _outer_atom(consts: dict[Any, Any], atom: Any) -> Any:
    """The outer value a body's start stands for: a constant's, or a literal."""
    if isinstance(atom, _compat.Literal):
        return atom.val
    return consts.get(atom)


def _index_shift(jaxpr: Any) -> tuple[int, Any] | None:
    """``(position, start)`` when equation ``position`` computes ``start + i`` of
    the index ``i`` and a constant ``start`` (a range loop's index, as
    ``mutjax`` converts ``range(start, stop)``); the loop then runs over it."""
    index = jaxpr.invars[0]
    same = {index}
    consts = {v: v for v in jaxpr.constvars}  # a constant or its conversion: the constant
    for n, eqn in enumerate(jaxpr.eqns):
        name = eqn.primitive.name
        if len(eqn.outvars) != 1 or eqn.outvars[0].aval.dtype != index.aval.dtype:
            continue
        ins = eqn.invars
        if name == "mul" and ins[0] in same and _static_int(ins[1]) == 1:
            same.add(eqn.outvars[0])
        elif name == "convert_element_type" and ins[0] in consts:
            if ins[0].aval.dtype == index.aval.dtype:
                consts[eqn.outvars[0]] = consts[ins[0]]
        elif name == "add" and not isinstance(ins[0], _compat.Literal):
            for a, b in (ins, ins[::-1]):
                if a in consts and b in same:
                    return n, consts[a]
    return None


def _uses_index(jaxpr: Any, position: int) -> bool:
    """Whether the body reads its index other than through equation ``position``'s sum."""
    found = {jaxpr.invars[0]}
    for n, eqn in enumerate(jaxpr.eqns):
        if n != position and found.intersection(
            a for a in eqn.invars if not isinstance(a, _compat.Literal)
        ):
            if eqn.primitive.name != "mul" or n > position:
                return True
            found.update(eqn.outvars)
    return bool(found.intersection(jaxpr.outvars))
