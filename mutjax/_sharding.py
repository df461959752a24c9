"""Arrays on a mesh with ``Explicit`` axes: views and writes keep JAX's sharding.

On a mesh with ``jax.sharding.AxisType.Explicit`` axes the sharding is part of
an array's type (``float32[16@x, 8]``, replicated ones included) and every
``lax`` operation checks it.
Two rules follow for mutable arrays, both values in, values out:

- A view's type is the type JAX gives its read: ``view_aval`` evaluates
  the view chain abstractly on the base's type, so ``a.T`` of a
  ``float32[16@x, 8]`` is ``float32[8, 16@x]``, and ``a[1:]``, which JAX
  cannot type (15 rows do not split 4 ways), raises JAX's own
  ``ShardingTypeError``, as ``a[1:]`` does on a ``jax.Array``.
- A write keeps the written array's type, as a NumPy in-place write keeps its
  array's dtype: ``keep`` runs the lowering with the mesh's explicit axes
  made automatic and gives the result the array's sharding back, as
  ``jax.sharding.auto_axes`` does. That is what JAX's
  ``x.at[idx].set(v, out_sharding=x.sharding)`` does; a bare
  ``x.at[idx].set(v)`` refuses most writes into a sharded axis and asks for
  that ``out_sharding``.

On ``Auto`` meshes (and inside a ``shard_map`` over every axis, whose manual
axes are not part of the sharding) no axis is ``Explicit``: both rules cost
nothing.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Any

import jax
import numpy as np

from . import _compat
from ._scope import Handle

_P = jax.sharding.PartitionSpec


def explicit(aval: Any) -> bool:
    """True when ``aval`` lives on a mesh with ``Explicit`` axes (its sharding is typed)."""
    mesh = getattr(getattr(aval, "sharding", None), "mesh", None)
    return bool(getattr(mesh, "explicit_axes", ()))


def view_aval(base: Any, parent: Any, shape: tuple[int, ...], read: Callable[[Any], Any]) -> Any:
    """The abstract value of a view of shape ``shape`` derived from an array typed ``parent``.

    ``base`` is the type of the array the view chain starts from and
    ``read`` the chain's read (a function of the base's value).

    Raises:
        jax's ShardingTypeError: where JAX cannot type the read itself.
    """
    if not explicit(base):
        return parent.update(shape=shape)
    out = jax.make_jaxpr(read)(base).out_avals[0]
    return out.update(weak_type=parent.weak_type)


def replace_whole(aval: Any, base: Any, new: Any) -> Any:
    """``new`` as the whole new value of an array typed ``aval`` whose value was ``base``.

    On a mesh of several devices with ``Auto`` axes the compiler gives a
    value the sharding its producer suggests: a value written over the
    whole array (``x[...] = 0``) would lose the array's sharding.
    ``x.at[...].set(v)`` keeps it, being a scatter into the old array; so is
    this, there. Elsewhere ``new`` itself.
    """
    mesh: Any = getattr(getattr(aval, "sharding", None), "mesh", None)
    if new is base or mesh is None or not mesh.auto_axes or mesh.size == 1:
        return new
    dnums = jax.lax.ScatterDimensionNumbers(
        update_window_dims=tuple(range(len(aval.shape))),
        inserted_window_dims=(),
        scatter_dims_to_operand_dims=(),
    )
    return jax.lax.scatter(
        base,
        np.zeros((0,), np.int32),
        new,
        dnums,
        indices_are_sorted=True,
        unique_indices=True,
        mode=jax.lax.GatherScatterMode.FILL_OR_DROP,
    )


def keep(aval: Any, lower: Callable[..., Any], *args: Any) -> Any:
    """``lower(*args)`` (a new value of an array typed ``aval``), given ``aval``'s sharding.

    ``args`` may hold arrays inside tuples, lists and dataclasses (an index
    description, a view chain): each is seen by ``lower`` with the explicit
    axes made automatic, as ``jax.sharding.auto_axes`` sees its arguments.
    """
    if not explicit(aval):
        return lower(*args)
    mesh = aval.sharding.mesh
    auto = mesh.update_axis_types({a: jax.sharding.AxisType.Auto for a in mesh.explicit_axes})
    with jax.sharding.use_abstract_mesh(auto):
        out = lower(*_untyped(args))
    return jax.sharding.reshard(out, aval.sharding)


def _untyped(x: Any) -> Any:
    """``x`` with every array in it left for XLA to shard (call on the automatic mesh).

    Not ``auto_axes``' own input constraints: on jax 0.10.2, with a replicated
    operand constrained as replicated (every array made on an ``Explicit``
    mesh is), XLA's partitioner miscompiles a strided write (a pad with
    interior padding, then a select against a sharded slice: "Operands to
    select must be the same shape"). An unconstrained sharding avoids it.
    """
    if isinstance(x, (tuple, list)):
        items = [_untyped(i) for i in x]
        if all(a is b for a, b in zip(items, x)):
            return x
        return items if isinstance(x, list) else tuple(items)
    if dataclasses.is_dataclass(x) and not isinstance(x, type):
        changes = {}
        for f in dataclasses.fields(x):
            old = getattr(x, f.name)
            new = _untyped(old)
            if new is not old:
                changes[f.name] = new
        return dataclasses.replace(x, **changes) if changes else x
    if isinstance(x, (jax.Array, _compat.Tracer)) and not isinstance(x, Handle):
        if explicit(_compat.typeof(x)):
            x = jax.sharding.reshard(x, _P())
            return jax.lax.with_sharding_constraint(x, _P(*[_P.UNCONSTRAINED] * x.ndim))
    return x
