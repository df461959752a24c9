"""Mutations that cross a ``jax.jit`` or ``jax.checkpoint`` boundary.

``jax.jit(mutjax.mutable(helper))(x)`` called inside a mutable scope on a
mutable array ``x``: jit traces ``helper`` with a fresh input in place of
``x``, so ``helper``'s ``mutable`` starts a new scope and its writes land in a
copy. To get them back to the caller, that inner ``mutable`` records, for each
input it wrote, a ``mutjax_writeback`` equation pairing the input with its
final value. The enclosing scope's trace then meets the ``jit`` (or
``checkpoint``) primitive in :meth:`~mutjax._trace.MutTrace.process_primitive`
and calls :func:`call_with_writeback`: it removes those equations, makes their
final values extra outputs of the call, and stores them into the mutable
arrays the call was given.

The equation is recorded only while some mutable scope is open in this thread,
which is part of jit's cache key (the current trace is), so a function jitted
at top level never carries it. Where no mutable scope receives the call
(``vmap`` or ``grad`` applied inside the scope), the equation is a no-op and
disappears: its inputs there are copies that no caller can see.
"""

from __future__ import annotations

import threading
from typing import Any

from jax.interpreters import ad, batching, mlir

from . import _compat

writeback_p = _compat.Primitive("mutjax_writeback")
writeback_p.multiple_results = True
writeback_p.def_impl(lambda *args: [])
writeback_p.def_abstract_eval(lambda *avals: [])
mlir.register_lowering(writeback_p, lambda ctx, *args: [])
batching.primitive_batchers[writeback_p] = lambda args, dims: ([], [])
ad.primitive_jvps[writeback_p] = lambda primals, tangents: ([], [])

_local = threading.local()


class open_scope:
    """Context manager counting the mutable scopes open in this thread."""

    def __enter__(self) -> None:
        _local.depth = getattr(_local, "depth", 0) + 1

    def __exit__(self, *exc: object) -> None:
        _local.depth -= 1


def record(inputs: list[Any], finals: list[Any]) -> None:
    """In a nested call traced by jit/checkpoint: pair each written input with its final value."""
    # depth counts the scope of the call itself: another one must be open.
    if getattr(_local, "depth", 0) < 2 or not inputs:
        return
    pairs = [v for pair in zip(inputs, finals) for v in pair]
    writeback_p.bind(*pairs)


CALL_PRIMITIVES = ("jit", "remat2", "checkpoint")


def call_with_writeback(trace: Any, primitive: Any, tracers: Any, params: dict[str, Any]) -> Any:
    """Bind a jit/checkpoint call on ``trace``'s parent, applying recorded writebacks.

    Returns None when the called jaxpr records none (bind it as any primitive).
    """
    closed = primitive.name == "jit"
    jaxpr = params["jaxpr"].jaxpr if closed else params["jaxpr"]
    writes = [e for e in jaxpr.eqns if e.primitive is writeback_p]
    if not writes:
        return None
    position = {v: k for k, v in enumerate(jaxpr.invars)}
    targets, finals = [], []
    for eqn in writes:
        for src, final in zip(eqn.invars[::2], eqn.invars[1::2]):
            k = position.get(src)
            if k is not None:  # else the helper got a value computed inside the call
                targets.append(k)
                finals.append(final)
    eqns = [e for e in jaxpr.eqns if e.primitive is not writeback_p]
    new = jaxpr.replace(
        eqns=eqns,
        outvars=list(jaxpr.outvars) + finals,
        debug_info=jaxpr.debug_info.with_unknown_names(),
    )
    params = dict(params)
    if closed:
        params["jaxpr"] = params["jaxpr"].replace(jaxpr=new)
        params["out_shardings"] = params["out_shardings"] + (_compat.UNSPECIFIED,) * len(finals)
        params["out_layouts"] = params["out_layouts"] + (None,) * len(finals)
    else:
        params["jaxpr"] = new
    values = [trace.unwrap(t) for t in tracers]
    with _compat.set_current_trace(trace.parent_trace):
        outs = primitive.bind(*values, **params)
    n = len(outs) - len(finals)
    from ._trace import MutArray

    for k, value in zip(targets, outs[n:]):
        t = tracers[k]
        if isinstance(t, MutArray) and t._trace.tag is trace.tag:
            with _compat.set_current_trace(trace.parent_trace):
                t._store(value)
    return [trace._wrap_out(o) for o in outs[:n]]
