"""``jax.shard_map`` inside a mutable scope: the body writes its blocks, the caller sees it.

``shard_map(body, mesh=mesh, in_specs=P("x"), out_specs=P("x"))(a)`` called
inside a ``mutable`` function on a mutable array ``a`` runs ``body`` once per
device on that device's block of ``a``. The body is plain Python: mutjax
makes every block mutable (``b[0] = 1``, ``b[1:] += b[:-1]``), as it makes
the arguments of a ``mutable`` function mutable, and the body may read any
mutable array of the scope (the whole array, on every device). A body that
is itself ``mutjax.mutable`` works the same (on the blocks by reference).

What the body writes lands in the caller's arrays, as if each device wrote
its block in place:

- a written block goes back into the argument it came from, assembled by
  the argument's own ``in_spec``: the final blocks are extra outputs of the
  ``shard_map`` with that spec, stored into the argument (a view writes
  through to its base) when it returns. Arguments are stored in order, so
  two overlapping views of one array passed as two arguments keep the later
  one's writes where they overlap.
- a written array of the scope that the body closes over (not an argument)
  is one array seen whole by every device: its final value is an extra
  output replicated over the mesh (``P()``), so every device must write the
  same thing.

Under ``check_vma=True`` (the default) JAX knows which mesh axes a value
varies over, and a write whose value varies over an axis that the array's
spec replicates it over (a block of a ``P()`` argument, a closed-over array)
raises ``mutjax.ShardMapWriteError``: there is no single result.

The body runs under a frame (``mutjax._control._frame``): a child trace of
the body's own trace on the scope's stack, so that the scope's arrays read
and write there. Which arrays of the scope it writes is found first, as the
loop combinators find it, by a trace of the body whose writes are undone; the
real trace's frame gives those arrays their old values back when it closes,
and this module stores the ``shard_map``'s outputs instead. JAX may trace
the body more than once (differentiation re-traces it): each trace returns
its own writes as outputs, and the last one counts.
"""

from __future__ import annotations

from typing import Any

import jax

from . import _compat, _errors, _trace
from ._control import _frame
from ._trace import MutArray, MutTrace

_P = jax.sharding.PartitionSpec


def _axes(spec: Any) -> tuple[str, ...]:
    """The mesh axes a ``PartitionSpec`` splits over, in order."""
    names: list[str] = []
    for part in spec:
        for name in part if isinstance(part, tuple) else (part,):
            if name is not None and name not in names:
                names.append(name)
    return tuple(names)


def _as_spec(value: Any, spec: Any, manual: frozenset[str], what: str) -> Any:
    """``value`` typed to vary over exactly the axes of ``spec`` (``check_vma``'s rule).

    ``manual``: the mesh axes this ``shard_map`` makes manual (an enclosing
    one's axes pass through it).

    Raises:
        mutjax.ShardMapWriteError: ``value`` varies over an axis ``spec``
            replicates it over (a device-dependent write to a shared array).
    """
    axes = _axes(spec)
    varying = _compat.varying_axes(_compat.typeof(value))
    extra = (varying & manual) - set(axes)
    if extra:
        raise _errors.shard_map_write(what, spec, extra)
    missing = tuple(a for a in axes if a not in varying)
    return jax.lax.pcast(value, missing, to="varying") if missing else value


class _Writes:
    """What the latest trace of the body wrote: argument positions and closed-over cells."""

    def __init__(self) -> None:
        self.args: list[int] = []
        self.cells: list[Any] = []


def _closure_writes(trace: MutTrace, fun: Any, blocks: tuple[Any, ...]) -> list[Any]:
    """The cells of the scope (not blocks) that ``fun`` writes, found by a first trace.

    As ``mutjax._control._discover``, on the blocks' own types (their
    varying axes included) and inside the body's context, so that
    collectives over the mesh axes trace.
    """
    written: dict[Any, None] = {}

    def probe(*bs: Any) -> None:
        with _frame(trace, (), (), record=True) as (inner, recorder):
            fun(*[inner.new(b) for b in bs])
            written.update(dict.fromkeys(recorder))

    jax.make_jaxpr(probe)(*[_compat.typeof(b) for b in blocks])
    return [c for c in written if not c.scope.closed]


def _body(trace: MutTrace, fun: Any, params: dict[str, Any], writes: _Writes) -> Any:
    """``fun`` (shard_map's own body wrapper) run on mutable blocks, its writes as outputs."""
    in_specs = tuple(params["in_specs"])
    manual = _compat.shard_map_manual_axes(params)

    def body(*blocks: Any) -> Any:
        cells = _closure_writes(trace, fun, blocks)
        with _frame(trace, cells, [c.value for c in cells], record=False) as (inner, _):
            args = [inner.new(b) for b in blocks]
            out, _, rebuild = _compat.shard_map_outputs(fun(*args))
            out = [inner.unwrap(o) for o in out]
            written = [k for k, a in enumerate(args) if a._cell.version]
            with _compat.set_current_trace(inner.parent_trace):
                finals = [args[k]._cell.value for k in written] + [c.value for c in cells]
                specs = [in_specs[k] for k in written] + [_P()] * len(cells)
                if params["check_vma"]:
                    what = [f"argument {k}" for k in written] + [
                        f"a closed-over {c.aval.str_short()} array" for c in cells
                    ]
                    finals = [_as_spec(v, s, manual, w) for v, s, w in zip(finals, specs, what)]
        writes.args, writes.cells = written, cells
        return rebuild(out, finals, tuple(specs))

    return body


@_trace.register(_compat.shard_map_p)
def shard_map(trace: MutTrace, primitive: Any, tracers: Any, params: dict[str, Any]) -> Any:
    """Bind ``shard_map`` on the parent trace with a body on mutable blocks; store its writes."""
    params = dict(params)
    (fun,) = params.pop("subfuns")
    writes = _Writes()
    body = _body(trace, fun, params, writes)
    values = tuple(trace.unwrap(t) for t in tracers)
    avals = [_compat.typeof(v) for v in values]
    result = primitive.bind_with_trace(
        trace.parent_trace, values, avals, dict(params, subfuns=(body,))
    )
    out, finals = _compat.shard_map_extra(result, trace._wrap_out)
    with _compat.set_current_trace(trace.parent_trace):
        for k, value in zip(writes.args, finals):
            target = tracers[k]
            if isinstance(target, MutArray) and target._trace.tag is trace.tag:
                target._store(value)
        for cell, value in zip(writes.cells, finals[len(writes.args) :]):
            cell.set(value)
    return out
