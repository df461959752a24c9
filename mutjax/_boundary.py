"""Mutations that cross a ``jax.jit`` or ``jax.checkpoint`` boundary.

``jax.jit(mutjax.mutable(helper))(x)`` called inside a mutable scope on a
mutable array ``x``: jit traces ``helper`` with a fresh input in place of
``x``, so ``helper``'s ``mutable`` starts a new scope and its writes land in a
copy. To get them back to the caller, that inner ``mutable`` records, for each
input it wrote, a ``mutjax_writeback`` equation pairing the input with its
final value. The enclosing scope's trace then meets the ``jit`` (or
``checkpoint``) primitive in ``process_primitive``
and calls ``call_with_writeback``: it removes those equations, makes their
final values extra outputs of the call, and stores them into the mutable
arrays the call was given.

The equation is recorded only while another mutable scope is open in this
thread; whether one is open is part of jit's cache key (a user context), so a
function jitted at top level never carries it. Under ``vmap`` or ``grad``
applied inside the scope, the batching rule passes the equation on to the
enclosing trace (batch axis moved to where the input had it), and when it
reaches the scope's own trace, ``apply`` stores the final values. Under
``grad``/``jvp`` the write to an argument raises ``ForeignTraceError``: never
a dropped write.
"""

from __future__ import annotations

import weakref
from typing import Any

import jax

from . import _compat, _errors, _scope, _trace
from ._trace import MutArray

writeback_p = _compat.Primitive("mutjax_writeback")
writeback_p.multiple_results = True
writeback_p.def_impl(lambda *args: [])
writeback_p.def_abstract_eval(lambda *avals: [])
_compat.register_lowering(writeback_p, lambda ctx, *args: [])


def _writeback_batched(args: Any, dims: Any) -> tuple[list[Any], list[Any]]:
    # vmap of a mutable helper inside a scope: hand the batched final values
    # on to the enclosing trace, batch axis where the input had it.
    out = []
    for src, final, ds, df in zip(args[::2], args[1::2], dims[::2], dims[1::2]):
        if ds is _compat.NOT_MAPPED:
            if df is not _compat.NOT_MAPPED:
                raise _errors.foreign_write(
                    "written under jax.vmap with a batched value, but not batched itself"
                )
        elif df is _compat.NOT_MAPPED:
            final = jax.lax.broadcast_in_dim(
                final, src.shape, [d for d in range(src.ndim) if d != ds]
            )
        elif df != ds:
            final = jax.numpy.moveaxis(final, df, ds)
        out += [src, final]
    writeback_p.bind(*out)
    return [], []


def _writeback_jvp(primals: Any, tangents: Any) -> tuple[list[Any], list[Any]]:
    # grad/jvp of a mutable helper that writes its own argument, inside a
    # scope: JAX may stage this rule into a jaxpr evaluated later, so the
    # write cannot be passed on reliably. Refuse rather than drop it.
    raise _errors.foreign_write(
        "an argument written by a mutable function differentiated with "
        "jax.grad/jax.jvp inside a mutable scope; write the new value back "
        "explicitly (`x[...] = new`) outside the differentiated function"
    )


_compat.primitive_batchers[writeback_p] = _writeback_batched
_compat.primitive_jvps[writeback_p] = _writeback_jvp


@_trace.register(writeback_p)
def apply(trace: Any, primitive: Any, tracers: Any, params: dict[str, Any]) -> list[Any]:
    """A writeback bound directly on a mutable scope's trace: store each final value."""
    for src, final in zip(tracers[::2], tracers[1::2]):
        if isinstance(src, MutArray) and src._trace.tag is trace.tag:
            src._store(trace.unwrap(final))
    return []


# Part of jit's cache key: a function jitted outside any scope and called
# again inside one is traced anew, so that its inner `mutable` records its
# writebacks (jit's cache does not tell the current trace apart).
_in_scope = jax.make_user_context(default_value=False)


class open_scope:
    """Context manager counting the mutable scopes open in this thread."""

    def __enter__(self) -> None:
        _scope.local.depth += 1
        self._ctx = _in_scope(True)
        self._ctx.__enter__()

    def __exit__(self, *exc: object) -> None:
        self._ctx.__exit__(*exc)
        _scope.local.depth -= 1


def record(inputs: list[Any], finals: list[Any]) -> None:
    """In a nested call traced by jit/checkpoint: pair each written input with its final value."""
    # depth counts the scope of the call itself: another one must be open.
    if _scope.local.depth < 2 or not inputs:
        return
    pairs = [v for pair in zip(inputs, finals) for v in pair]
    writeback_p.bind(*pairs)


CALL_PRIMITIVES = (_compat.jit_p, _compat.remat_p)
LOOP_PRIMITIVES = (_compat.scan_p, _compat.while_p, _compat.cond_p)


def _inner(eqn: Any) -> Any:
    j = eqn.params["jaxpr"]
    return j.jaxpr if eqn.primitive is _compat.jit_p else j


def _with_outputs(eqn_params: dict[str, Any], prim: Any, jaxpr: Any, extra: int) -> dict[str, Any]:
    """Call params whose jaxpr is replaced by ``jaxpr`` (which has ``extra`` more outputs)."""
    params = dict(eqn_params)
    if prim is _compat.jit_p:
        params["jaxpr"] = params["jaxpr"].replace(jaxpr=jaxpr)
        params["out_shardings"] = params["out_shardings"] + (_compat.UNSPECIFIED,) * extra
        params["out_layouts"] = params["out_layouts"] + (None,) * extra
    else:
        params["jaxpr"] = jaxpr
    return params


def _split(jaxpr: Any) -> tuple[Any, list[int], list[Any]]:
    """``jaxpr`` with its top-level writebacks turned into extra outputs.

    Returns the new jaxpr, the input positions written and their final values.
    Writebacks of calls nested in it (a jit inside a jit) are first lifted to
    its top level.
    """
    jaxpr = _hoist(jaxpr)
    position = {v: k for k, v in enumerate(jaxpr.invars)}
    targets: list[int] = []
    finals: list[Any] = []
    for eqn in jaxpr.eqns:
        if eqn.primitive is writeback_p:
            for src, final in zip(eqn.invars[::2], eqn.invars[1::2]):
                k = position.get(src)
                if k is not None:  # else the helper got a value made inside the call
                    targets.append(k)
                    finals.append(final)
    if not any(e.primitive is writeback_p for e in jaxpr.eqns):
        return jaxpr, [], []
    new = jaxpr.replace(
        eqns=[e for e in jaxpr.eqns if e.primitive is not writeback_p],
        outvars=list(jaxpr.outvars) + finals,
        debug_info=jaxpr.debug_info.with_unknown_names(),
    )
    return new, targets, finals


def _hoist(jaxpr: Any) -> Any:
    """Lift the writebacks of nested jit/checkpoint calls to ``jaxpr``'s top level."""
    eqns = []
    changed = False
    for eqn in jaxpr.eqns:
        if eqn.primitive in CALL_PRIMITIVES and _has_writeback(_inner(eqn)):
            inner, targets, finals = _split(_inner(eqn))
            outs = [_compat.Var(_compat.typeof_var(f)) for f in finals]
            params = _with_outputs(eqn.params, eqn.primitive, inner, len(finals))
            eqns.append(eqn.replace(params=params, outvars=list(eqn.outvars) + outs))
            pairs = [v for k, o in zip(targets, outs) for v in (eqn.invars[k], o)]
            if pairs:
                eqns.append(_compat.new_jaxpr_eqn(pairs, [], writeback_p, {}, _compat.no_effects))
            changed = True
        else:
            eqns.append(eqn)
    return jaxpr.replace(eqns=eqns) if changed else jaxpr


# Jaxprs are immutable and hash by identity; jax.numpy's jitted functions hand
# the same jaxpr object to every call with the same avals, so remembering the
# answer turns the walk done for every `jnp` operation on a mutable array into
# a lookup (about 8% of the trace time of an unrolled kernel, benchmarks'
# Gauss-Seidel). Weakly: an answer lives as long as its jaxpr, and a jaxpr of
# a finished trace is not kept alive by it.
_WRITEBACK: weakref.WeakKeyDictionary[Any, bool] = weakref.WeakKeyDictionary()


def _has_writeback(jaxpr: Any) -> bool:
    found = _WRITEBACK.get(jaxpr)
    if found is None:
        found = any(
            eqn.primitive is writeback_p
            or any(_has_writeback(sub) for sub in _compat.jaxprs_in_params(eqn.params))
            for eqn in jaxpr.eqns
        )
        _WRITEBACK[jaxpr] = found
    return found


def _writes_outside(jaxpr: Any) -> bool:
    """A writeback in ``jaxpr`` whose target is not one of its own inputs.

    ``jax.lax.fori_loop(0, n, mutjax.mutable(body), carry)`` records
    writebacks of the body's own carry: those are copies the loop returns
    anyway, not arrays of an enclosing scope.
    """
    jaxpr = getattr(jaxpr, "jaxpr", jaxpr)
    invars = set(jaxpr.invars)
    for eqn in jaxpr.eqns:
        if eqn.primitive is writeback_p:
            if any(src not in invars for src in eqn.invars[::2]):
                return True
        elif any(_has_writeback(sub) for sub in _compat.jaxprs_in_params(eqn.params)):
            return True
    return False


@_trace.register(*LOOP_PRIMITIVES)
def check_loop(trace: Any, primitive: Any, tracers: Any, params: dict[str, Any]) -> Any:
    """Refuse a plain lax loop/cond whose body calls a jitted mutable helper on our arrays."""
    if any(_writes_outside(sub) for sub in _compat.jaxprs_in_params(params)):
        raise _errors.foreign_write(
            f"written by a mutable function inside jax.lax.{primitive.name}"
        )
    return trace.default(primitive, tracers, params)


@_trace.register(*CALL_PRIMITIVES)
def call_with_writeback(trace: Any, primitive: Any, tracers: Any, params: dict[str, Any]) -> Any:
    """Bind a jit/checkpoint call on ``trace``'s parent, applying recorded writebacks."""
    jaxpr = params["jaxpr"].jaxpr if primitive is _compat.jit_p else params["jaxpr"]
    if not _has_writeback(jaxpr):
        return trace.default(primitive, tracers, params)
    new, targets, finals = _split(jaxpr)
    if _has_writeback(new):  # left inside a plain lax loop of the call
        raise _errors.foreign_write("written by a mutable function inside a jax.lax loop")
    params = _with_outputs(params, primitive, new, len(finals))
    values = [trace.unwrap(t) for t in tracers]
    with _compat.set_current_trace(trace.parent_trace):
        outs = primitive.bind(*values, **params)
    n = len(outs) - len(finals)
    for k, value in zip(targets, outs[n:]):
        t = tracers[k]
        if isinstance(t, MutArray) and t._trace.tag is trace.tag:
            with _compat.set_current_trace(trace.parent_trace):
                t._store(value)
    return [trace._wrap_out(o) for o in outs[:n]]
