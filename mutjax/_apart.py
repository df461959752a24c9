"""Slices of a loop-carried array that its own new value reads: taken apart, before it.

Floyd-Warshall's body, ``path[:] = np.minimum(path[:], np.add.outer(path[:, k],
path[k, :]))``, computes the new ``path`` from the old one and from a row and
a column of it at the loop index. XLA's CPU backend fuses the two
``dynamic_slice`` equations into the loop fusion that computes the new value;
that fusion then reads the old array at positions other than the one it
writes, so it cannot write in place: it fills a temporary, and the loop copies
the whole array back every iteration (and recomputes the slices' positions
per element). Taking the slices out of the fusion lets it update the array in
place: at N = 200, 1.17 ms to 0.37 ms a call, beside 1.17 ms for the same loop
written by hand with ``lax.fori_loop``.

XLA's CPU backend removes ``lax.optimization_barrier`` before it fuses
(``OptimizationBarrierExpander``) and fuses any other cheap producer, so a
slice is kept apart as the result of a ``lax.cond`` whose two branches are
that same slice: its value is the slice's whatever the test says. The
conditional costs about 0.15 us an iteration, against the copy of the array it
saves, so it is made for arrays of at least ``MIN_SIZE`` elements and slices of
at most ``1 / MIN_RATIO`` of them, and only where the array's new value is
not a ``dynamic_update_slice`` (which XLA already updates in place, its
slices read apart: LU's element updates). It also costs compile time,
about 30 ms a conditional on XLA's CPU backend whatever its branches hold,
so one conditional reads all the slices of a body (Floyd-Warshall's first
call at N = 200: about 70 ms without it, 110 to 130 ms with it), and only in
a loop of static length whose copies saved add up to about that time on one
call (``MIN_WORK``): the first call is then no slower than without it, and
every later call faster. Floyd-Warshall at N = 200 saves 0.85 ms a call and
is left as it is; at N = 700 and above it is taken apart. It is made
for CPU alone (``lax.platform_dependent``): a GPU conditional reads its test
on the host.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import jax
import numpy as np
from jax import lax

from . import _compat

MIN_SIZE = 4096  # elements of the carried array: 16 KiB of float32, a copy of ~1 us
MIN_RATIO = 8  # the array has at least this many times the slice's elements
# Elements times iterations: copies of about 0.1 ns an element in cache (measured,
# Floyd-Warshall at N = 200) add up to the conditional's ~30 ms of compile time.
MIN_WORK = 3 * 10**8

# A carried array whose new value one of these computes is updated in place already.
_IN_PLACE = frozenset({"dynamic_update_slice", "scatter", "scatter-add", "scatter_add"})

# Equations XLA does not fuse into the computation of their result's users: a
# slice that reaches the new value only through one of them is read apart
# already (Gram-Schmidt's column feeds an inner loop: nothing to gain there).
_OPAQUE = frozenset(
    {"while", "cond", "scan", "dot_general", "conv_general_dilated", "sort", "fft"}
    | {"custom_linear_solve", "triangular_solve", "cholesky", "lu", "qr", "svd", "eig", "eigh"}
)


def _opaque(eqn: Any) -> bool:
    name = eqn.primitive.name
    return name in _OPAQUE or name in _IN_PLACE or name.startswith(("reduce_", "arg", "cum"))


def _shape(v: Any) -> tuple[int, ...]:
    return tuple(v.aval.shape)


def _size(v: Any) -> int:
    return int(np.prod(_shape(v), dtype=np.int64))


def _fused_into(jaxpr: Any, producer: dict[Any, int], k: int) -> set[int]:
    """Equation ``k`` and those whose results reach it through equations XLA fuses."""
    seen, todo = {k}, [k]
    while todo:
        e = jaxpr.eqns[todo.pop()]
        if _opaque(e):
            continue
        for v in e.invars:
            d = None if isinstance(v, _compat.Literal) else producer.get(v)
            if d is not None and d not in seen:
                seen.add(d)
                todo.append(d)
    return seen


def _apart(jaxpr: Any, trips: int) -> set[int]:
    """The equations (their positions) to take apart in body ``jaxpr``: ``(i, *carry) -> carry``.

    A ``dynamic_slice`` of carried ``x`` at a traced start is one when it reaches the
    new value of ``x`` through equations XLA fuses into one computation, in a loop of
    ``trips`` iterations whose copies of ``x`` would pay for the conditional.
    """
    producer = {v: k for k, e in enumerate(jaxpr.eqns) for v in e.outvars}
    found: set[int] = set()
    for x, y in zip(jaxpr.invars[1:], jaxpr.outvars, strict=True):
        k = producer.get(y) if not isinstance(y, _compat.Literal) else None
        small = _size(x) < MIN_SIZE or trips * _size(x) < MIN_WORK
        if k is None or small or _opaque(jaxpr.eqns[k]):
            continue
        for d in _fused_into(jaxpr, producer, k):
            e = jaxpr.eqns[d]
            if (
                e.primitive.name == "dynamic_slice"
                and e.invars[0] is x
                and _size(e.outvars[0]) * MIN_RATIO <= _size(x)
                and any(not isinstance(s, _compat.Literal) for s in e.invars[1:])
            ):
                found.add(d)
    return found


def apart(closed: Any, lower: Any, upper: Any) -> Callable[..., Any] | None:
    """``closed``, the body ``(i, *carry) -> carry`` of a loop from ``lower`` to ``upper``, as a
    function whose slices of a carried array that feed its new value are taken apart;
    None where there is none (also where the bounds are traced)."""
    jaxpr = closed.jaxpr
    if len(jaxpr.invars) != len(jaxpr.outvars) + 1 or _shape(jaxpr.invars[0]) != ():
        return None
    if not all(isinstance(b, (int, np.integer)) for b in (lower, upper)):
        return None
    targets = _apart(jaxpr, int(upper) - int(lower))
    if not targets:
        return None

    def run(*args: Any) -> list[Any]:
        env: dict[Any, Any] = dict(zip(jaxpr.constvars, closed.consts, strict=True))
        env.update(zip(jaxpr.invars, args, strict=True))

        def read(v: Any) -> Any:
            return v.val if isinstance(v, _compat.Literal) else env[v]

        def ready(k: int) -> bool:
            return all(isinstance(v, _compat.Literal) or v in env for v in jaxpr.eqns[k].invars)

        for k, e in enumerate(jaxpr.eqns):
            if k not in targets:
                env.update(zip(e.outvars, _compat.stage_equation(e, [read(v) for v in e.invars])))
            elif e.outvars[0] not in env:
                # Every slice whose operands exist by now, in one conditional:
                # each costs XLA's CPU backend about 30 ms of compile time.
                group = [jaxpr.eqns[d] for d in sorted(targets) if d >= k and ready(d)]
                outs = _taken_apart(group, args[0], [[read(v) for v in g.invars] for g in group])
                env.update((g.outvars[0], o) for g, o in zip(group, outs, strict=True))
        return [read(v) for v in jaxpr.outvars]

    return run


def _taken_apart(eqns: list[Any], i: Any, ins: list[list[Any]]) -> list[Any]:
    """The ``dynamic_slice`` equations ``eqns`` of ``ins``, on CPU as a conditional's results."""

    def plain(ins: list[list[Any]]) -> list[Any]:
        return [_compat.bind_equation(e, list(a))[0] for e, a in zip(eqns, ins, strict=True)]

    def cpu(ins: list[list[Any]]) -> list[Any]:
        # Both branches are the slices: the values do not depend on the test,
        # which only has to be one XLA cannot decide.
        return lax.cond(lax.ne(i, np.zeros((), i.dtype)), plain, plain, ins)

    return list(jax.lax.platform_dependent(ins, cpu=cpu, default=plain))
