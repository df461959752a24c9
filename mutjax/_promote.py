"""Slab promotion: a loop that touches one fixed block of a carried array carries only that block.

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

from collections.abc import Callable, Sequence
from typing import Any, NamedTuple, cast

import jax
import numpy as np

from . import _compat

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

    closed = jax.make_jaxpr(flat_body)(index, *leaves)
    if out_trees[-1] != tree:  # JAX's own error for a body that changes the carry's structure
        return jax.lax.fori_loop(lower, upper, body, init, unroll=unroll)
    return traced_fori_loop(lower, upper, closed, init, unroll=unroll)


def traced_fori_loop(lower: Any, upper: Any, closed: Any, init: Any, *, unroll: Any = None) -> Any:
    """``fori_loop`` of a body already traced: ``closed`` maps ``(i, *leaves(init))``
    to the new leaves of a carry of ``init``'s structure."""
    leaves, tree = jax.tree_util.tree_flatten(init)
    slabs = _slabs(closed.jaxpr) if enabled else []
    if not slabs:
        # the loop as traced: evaluating the jaxpr does not trace the body again
        run = _compat.jaxpr_as_fun(closed)

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
    rewrite = {e: s for s in slabs for e in s.accesses}
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


def _interpret(eqns: Sequence[Any], env: dict[Any, Any], rewrite: dict[int, _Slab]) -> None:
    """Bind ``eqns`` in ``env``; those at positions in ``rewrite`` address a slab.

    ``rewrite`` maps an equation's position to its slab: its operand is then
    the slab as carried (``_carried_shape``), and its starts on the promoted
    axes are 0.
    """
    for n, eqn in enumerate(eqns):
        args = [_read(env, a) for a in eqn.invars]
        if n in rewrite:
            env[eqn.outvars[0]] = _slab_access(eqn, args, rewrite[n])
            continue
        for v, x in zip(eqn.outvars, _compat.bind_equation(eqn, args), strict=True):
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


def _slabs(jaxpr: Any) -> list[_Slab]:
    """The carried leaves the body touches only through one invariant block each."""
    uses = _uses(jaxpr)
    invariant = _invariant_values(jaxpr)
    slabs = []
    for leaf, var in enumerate(jaxpr.invars[1:]):
        if np.ndim(var.aval) >= 1:
            accesses = _accesses(jaxpr, uses, leaf, var)
            slab = _block(jaxpr, leaf, accesses, invariant) if accesses else None
            if slab is not None:
                slabs.append(slab)
    return slabs


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
