"""Every import of non-public JAX API lives here.

Each shim names the JAX versions it serves. The supported range is stated in
``pyproject.toml``; when JAX moves one of these names, this is the only file to
change.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Sequence
from typing import Any

import jax
import jax.extend.core as _jexc
import jax.extend.linear_util as lu  # noqa: F401  (jax >= 0.4.36)
from jax import core as _core

# jax >= 0.4.36: the "stackless" core. Traces are objects, the current trace is
# a context variable, and tracers of a trace are recognised by its tag.
Trace = _core.Trace
Tracer = _core.Tracer
ShapedArray = _core.ShapedArray
TraceTag = _jexc.TraceTag
Primitive = _jexc.Primitive
# The primitives whose bodies mutjax inspects (jax.extend, public).
jit_p = _jexc.primitives.jit_p
remat_p = _jexc.primitives.remat_p
scan_p = _jexc.primitives.scan_p
while_p = _jexc.primitives.while_p
cond_p = _jexc.primitives.cond_p
take_current_trace = _jexc.take_current_trace
set_current_trace = _jexc.set_current_trace

# jax 0.10.x: the current trace is readable only through the private tracing
# context; `find_top_trace` ignores its argument and returns it.
from jax._src import core as _src_core  # noqa: E402


def current_trace() -> object:
    """The trace that a primitive bound now would be processed by."""
    return _src_core.trace_ctx.trace


def is_eager() -> bool:
    """True when a primitive bound now runs at once (no transformation is tracing)."""
    return isinstance(_src_core.trace_ctx.trace, _src_core.EvalTrace)


def is_concrete_array(x: object) -> bool:
    """True for a value whose contents are known now (no tracer inside)."""
    return isinstance(x, jax.Array) and not isinstance(x, Tracer)


def to_concrete_value(x: object) -> object:
    """The concrete value behind ``x``, or None when it is traced."""
    return _src_core.to_concrete_value(x)


def typeof(x: object) -> ShapedArray:
    """The abstract value of ``x`` (public as ``jax.typeof`` since 0.6)."""
    return jax.typeof(x)


# jax >= 0.4.36: building and walking jaxprs (jax.extend.core).
Var = _jexc.Var
new_jaxpr_eqn = _jexc.new_jaxpr_eqn
no_effects = _jexc.no_effects
jaxprs_in_params = _jexc.jaxprs_in_params
Literal = _jexc.Literal
jaxpr_as_fun = _jexc.jaxpr_as_fun


def bind_equation(eqn: Any, args: list[Any]) -> list[Any]:
    """Bind jaxpr equation ``eqn`` to ``args`` as ``jax.core.eval_jaxpr`` does; its outputs.

    jax 0.10.x: ``get_bind_params`` returns the parameters alone (call
    primitives put their subfunctions among them).
    """
    params = eqn.primitive.get_bind_params(eqn.params)
    with eqn.ctx.manager:
        out = eqn.primitive.bind(*args, **params)
    return list(out) if eqn.primitive.multiple_results else [out]


def typeof_var(v: object) -> _src_core.AbstractValue:
    """The abstract value of a jaxpr variable or literal."""
    return v.aval  # type: ignore[attr-defined]


# jax 0.10.x: the out_shardings entry of a jit output left to the compiler.
from jax._src.named_sharding import UNSPECIFIED  # noqa: E402, F401

# jax 0.10.x: the error JAX raises when a tracer meets np.asarray.
TracerArrayConversionError = jax.errors.TracerArrayConversionError


# jax 0.10.x: rules for mutjax's own primitive (mutjax._boundary). The
# jax.interpreters modules are only semi-public and have moved before.
from jax.interpreters import ad as _ad  # noqa: E402
from jax.interpreters import batching as _batching  # noqa: E402
from jax.interpreters import mlir as _mlir  # noqa: E402

primitive_batchers = _batching.primitive_batchers
primitive_jvps = _ad.primitive_jvps
register_lowering = _mlir.register_lowering
NOT_MAPPED = None  # a vmap batching rule's "this argument is not batched"

# jax 0.10.x: checkify's per-primitive rule table and its out-of-bounds error,
# used to let `checkify(..., errors=index_checks)` see mutjax's own index
# check, and the base and effect of its length error (see mutjax/_checks.py). None where this JAX lays checkify out
# differently: the check then only costs nothing and reports nothing.
checkify_rules: dict[Primitive, Callable[..., Any]] | None
try:
    from jax._src import checkify as _checkify

    checkify_rules = _checkify.error_checks
    checkify_assert = _checkify.assert_func
    CheckifyOOBError = _checkify.OOBError
    CheckifyException: type = _checkify.JaxException  # base of checkify's errors
    CheckifyErrorEffect = _checkify.ErrorEffect
    checkify_traceback = _checkify.get_traceback
except (ImportError, AttributeError):  # pragma: no cover - other JAX layouts
    checkify_rules = None
    CheckifyException = Exception


# -- loops=True (mutjax._loops): reading how a traced value was computed. --


def literal_value(x: object) -> object:
    """The constant behind a tracer of a jaxpr being built, or None.

    jax 0.10.x: a Python constant lifted into a jaxpr (the 1 of ``i + 1``) is a
    tracer whose ``.val`` is a ``Literal``.
    """
    val = getattr(x, "val", None) if isinstance(x, Tracer) else None
    return val.val if isinstance(val, _src_core.Literal) else None


def lifted_from(x: object) -> object:
    """The outer value that a tracer of an inner jaxpr stands for, or None.

    jax 0.10.x: a value closed over by a loop body is lifted into the body's
    jaxpr as a constant; its frame keeps the outer value in ``constvar_to_val``.
    """
    trace = getattr(x, "_trace", None) if isinstance(x, Tracer) else None
    frame = getattr(trace, "frame", None)
    consts = getattr(frame, "constvar_to_val", None)
    val = getattr(x, "val", None)
    if consts is None or val is None or isinstance(val, _src_core.Literal):
        return None
    try:
        return consts.get(val)
    except TypeError:
        return None


def producing_equation(x: object) -> tuple[str, list[object], dict] | None:
    """(primitive name, inputs, params) of the equation that computed ``x``.

    jax 0.10.x: a tracer of a jaxpr being built (under jit or inside a loop
    body) keeps its equation as ``.parent``. None for anything else.
    """
    eqn = getattr(x, "parent", None) if isinstance(x, Tracer) else None
    if eqn is None or not hasattr(eqn, "primitive") or not hasattr(eqn, "in_tracers"):
        return None
    return eqn.primitive.name, list(eqn.in_tracers), dict(eqn.params)


# jax 0.10.x: the traces of forward- and reverse-mode differentiation.
from jax._src.interpreters import ad as _src_ad  # noqa: E402


def under_differentiation(trace: object) -> bool:
    """True when ``trace`` or one of its parents differentiates (jvp, grad)."""
    while trace is not None:
        if isinstance(trace, (_src_ad.JVPTrace, _src_ad.LinearizeTrace)):
            return True
        trace = getattr(trace, "parent_trace", None)
    return False


from jax._src.interpreters import partial_eval as _pe  # noqa: E402


def in_staged_body(trace: object) -> bool:
    """True when ``trace`` stages a body inside another staged program.

    A loop or branch body, an inner ``jit``, or a ``jit`` under another
    transformation, as opposed to a ``jit`` traced straight from Python
    (``DynamicJaxprTrace.parent_trace`` is then the eval trace; jax >= 0.10).
    """
    parent = getattr(trace, "parent_trace", None)
    return isinstance(trace, _pe.DynamicJaxprTrace) and not isinstance(
        parent, (_src_core.EvalTrace, type(None))
    )


def stages_jit(trace: object) -> bool:
    """True when ``trace`` stages a ``jit`` (or ``make_jaxpr``), not a loop or branch body.

    Its frame's ``debug_info.traced_for`` says what it traces (``"jit"``,
    ``"fori_loop"``, ``"scan"``, ``"while_body"``, ``"cond"``; jax >= 0.7).
    """
    info = getattr(getattr(trace, "frame", None), "debug_info", None)
    return getattr(info, "traced_for", None) == "jit"


def hoist_consts(closed: _jexc.ClosedJaxpr) -> tuple[Callable[..., Any], list[Any]]:
    """A closed jaxpr as ``(fun, consts)``: ``fun(*consts, *args)`` evaluates it.

    Unlike ``jax.closure_convert``, every constant is hoisted, integer ones
    too, so ``fun`` holds no value of the trace that built it and can be
    traced again later (a custom derivative rule run at ``grad`` time).
    """
    jaxpr = _pe.convert_constvars_jaxpr(closed.jaxpr)
    return functools.partial(eval_staged, jaxpr, ()), list(closed.consts)


# jax 0.10.x: a staging trace's own way of copying a jaxpr's equations into it
# (what ``jit`` inlining does, ``partial_eval.inline_jaxpr_into_trace``).
from jax._src import source_info_util as _source_info  # noqa: E402


def eval_staged(jaxpr: _jexc.Jaxpr, consts: Sequence[Any], *args: Any) -> list[Any]:
    """``jax.core.eval_jaxpr(jaxpr, consts, *args)``, copying the equations where it stages.

    Binding each equation again (``eval_jaxpr``) re-runs its abstract
    evaluation and staging rule to rebuild the equation it already is: a
    loop body traced once and then run by ``jax.lax.fori_loop`` paid for
    its tracing twice. In a trace that builds a jaxpr, each equation is
    emitted as it is, with its own source information under the current
    name stack (what ``eval_jaxpr`` gives it) and constant folding as a
    bind would do it; elsewhere (a differentiation or batching trace) it is
    ``eval_jaxpr``.
    """
    trace = _src_core.trace_ctx.trace
    if type(trace) is not _pe.DynamicJaxprTrace or trace.requires_low or jaxpr.effects:
        return _src_core.eval_jaxpr(jaxpr, consts, *args)
    here = _source_info.current()
    env: dict[Any, Any] = {}
    for v, x in zip((*jaxpr.constvars, *jaxpr.invars), (*consts, *args), strict=True):
        env[v] = trace.to_jaxpr_tracer(x, here)

    def read(a: Any, source: Any) -> Any:
        if isinstance(a, _src_core.Literal):
            return _pe.DynamicJaxprTracer(trace, a.aval, a, source)
        return env[a]

    stack = here.name_stack
    for eqn in jaxpr.eqns:
        source = eqn.source_info.replace(name_stack=stack + eqn.source_info.name_stack)
        outs = _emit(trace, eqn, [read(a, source) for a in eqn.invars], source)
        env.update(zip(eqn.outvars, outs))
    return [a.val if isinstance(a, _src_core.Literal) else env[a] for a in jaxpr.outvars]


def _emit(trace: Any, eqn: Any, ins: list[Any], source: Any) -> list[Any]:
    """Equation ``eqn`` on ``trace``'s tracers ``ins`` (of its operands' types), as it is."""
    avals = [v.aval for v in eqn.outvars]
    folded = _pe.try_constant_folding(eqn.primitive, ins, eqn.params, avals)
    if folded is not None:
        return [trace.new_const(c, source_info=source, aval=a) for c, a in zip(folded, avals)]
    return list(trace.emit_eqn(ins, avals, eqn.primitive, eqn.params, eqn.effects, source, eqn.ctx))


def stage_equation(eqn: Any, args: list[Any]) -> list[Any]:
    """``bind_equation(eqn, args)``, emitting ``eqn`` as it is where that gives the same.

    That is in a trace that builds a jaxpr, for operands of exactly the
    types ``eqn`` was traced with (see ``eval_staged``); a changed operand
    type, or another trace, binds it again.
    """
    trace = _src_core.trace_ctx.trace
    if type(trace) is not _pe.DynamicJaxprTrace or trace.requires_low or eqn.effects:
        return bind_equation(eqn, args)
    info = eqn.source_info
    source = info.replace(name_stack=_source_info.current_name_stack() + info.name_stack)
    ins = []
    for a, x in zip(eqn.invars, args, strict=True):
        if isinstance(a, _src_core.Literal) and x is a.val:
            ins.append(_pe.DynamicJaxprTracer(trace, a.aval, a, source))
        elif _same_type(x, a.aval):
            ins.append(trace.to_jaxpr_tracer(x, source))
        else:
            return bind_equation(eqn, args)
    return _emit(trace, eqn, ins, source)


def _same_type(x: Any, aval: Any) -> bool:
    try:
        return bool(_src_core.typeof(x) == aval)
    except TypeError:  # not a JAX type: the bind says what it is
        return False


# -- shard_map inside a mutable scope (mutjax._shard_map) --

# jax 0.10.x: `jax.shard_map` binds its primitive through the hook
# `Trace.process_shard_map(prim, fun, args, **params)`; `fun` takes the
# blocks and returns a FlatTree of outputs whose aux is the flat out_specs.
from jax._src import shard_map as _src_shard_map  # noqa: E402
from jax._src.tree_util import FlatTree as _FlatTree  # noqa: E402

shard_map_p = _src_shard_map.shard_map_p


def shard_map_outputs(returned: Any) -> tuple[list[Any], tuple[Any, ...], Callable[..., Any]]:
    """What shard_map's body wrapper returned: its outputs, their specs, and ``rebuild``.

    ``rebuild(outputs, extra, extra_specs)`` is what a body returns to give
    shard_map ``extra`` outputs after its own, with ``extra_specs``; after
    the bind, ``shard_map_extra`` splits them off again.
    """
    outs, specs = returned.unpack_aux()

    def rebuild(values: list[Any], extra: list[Any], extra_specs: tuple[Any, ...]) -> Any:
        both = _FlatTree.pack((outs.update(values), _FlatTree.flatten(list(extra))))
        return both.with_aux(tuple(specs) + tuple(extra_specs))

    return list(outs.vals), tuple(specs), rebuild


def shard_map_extra(result: Any, wrap: Callable[[Any], Any]) -> tuple[Any, list[Any]]:
    """shard_map's result as bound: its own outputs (each through ``wrap``) and the extra ones."""
    outs, extra = result.unpack()
    return outs.map(wrap), list(extra.vals)


def varying_axes(aval: object) -> frozenset[str]:
    """The manual mesh axes over which a value inside ``shard_map`` varies (its vma)."""
    return aval.mat.varying  # type: ignore[attr-defined]


def shard_map_manual_axes(params: dict[str, Any]) -> frozenset[str]:
    """The mesh axes a ``shard_map`` equation makes manual.

    jax >= 0.10.2 names the parameter ``newly_manual_axes``; 0.10.0 ``manual_axes``.
    """
    return frozenset(
        params["newly_manual_axes"] if "newly_manual_axes" in params else params["manual_axes"]
    )
