"""Checks of what NumPy would raise for, that only ``jax.experimental.checkify`` sees.

Under ``jit`` neither a traced out-of-bounds index nor two unequal run-time
lengths can raise: reads clamp and writes drop (see docs/indexing.md), an
elementwise result takes the first operand's length and an assignment
writes the target's positions (see docs/dynamic-shapes.md). Each check is a
primitive with no outputs and no effects, so it lowers to nothing and
``jit``'s dead-code elimination removes it: users who do not checkify pay
nothing at run time.

- ``index_check_p`` carries the original traced index values, the axes they
  index and those axes' sizes. Under
  ``checkify(f, errors=checkify.index_checks)`` its rule reports the first
  out-of-bounds value as NumPy would word it, with the original
  (un-normalized) index and the axis of the indexed array.
- ``length_check_p`` carries the run-time lengths of the operands of one
  elementwise operation, assignment or product, and their shapes around
  them. Under ``checkify(f, errors={LengthError})`` (with any other set,
  ``checkify.index_checks | {mutjax.LengthError}``) its rule reports
  NumPy's ``ValueError`` for those shapes, in NumPy's words. No set of
  checkify's own fits: ``index_checks`` words every error as an index out of
  bounds, ``user_checks`` as a failed ``checkify.check`` (and is on by
  default, which would make every checkified function pay for the lengths).
  Where every length is known at trace time there is nothing to check at
  run time: NumPy's ``ValueError`` is raised at once.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from . import _compat, _errors, _scope


def _inert(name: str, batch: Any) -> Any:
    """A check primitive: no outputs, no effects, lowered to nothing, inert under ``jvp``.

    ``batch(p, args, dims, **params)`` is its batching rule.
    """
    p = _compat.Primitive(name)
    p.multiple_results = True
    p.def_impl(lambda *args, **params: [])
    p.def_abstract_eval(lambda *args, **params: [])
    _compat.register_lowering(p, lambda ctx, *args, **params: [])
    _compat.primitive_jvps[p] = lambda primals, tangents, **params: (p.bind(*primals, **params), [])
    _compat.primitive_batchers[p] = lambda args, dims, **params: batch(p, args, dims, **params)
    return p


def _batch(p: Any, args: Any, dims: Any, **params: Any) -> tuple[list, list]:
    # The check is over every element, whichever axis is batched.
    return p.bind(*args, **params), []


index_check_p = _inert("mutjax_index_check", _batch)


def _checkify_rule(error: Any, enabled_errors: Any, *indices: Any, axes, sizes, shape) -> Any:
    if _compat.CheckifyOOBError not in enabled_errors:
        return error, []
    for i, axis, size in zip(indices, axes, sizes):
        i = jnp.ravel(i)
        if jnp.issubdtype(i.dtype, jnp.unsignedinteger):
            oob = i >= size
        else:
            oob = (i < -size) | (i >= size)
        first = jnp.argmax(oob) if i.size else 0
        bad = i[first] if i.size else jnp.zeros((), np.int32)
        payload = jnp.array([bad.astype(np.int32), axis, size], np.int32)
        err = _compat.CheckifyOOBError(_compat.checkify_traceback(), "mutjax index", shape, payload)
        error = _compat.checkify_assert(error, jnp.any(oob), err)
    return error, []


if _compat.checkify_rules is not None:
    _compat.checkify_rules[index_check_p] = _checkify_rule


def check_indices(indices: list[Any], axes: list[int], shape: tuple[int, ...]) -> None:
    """Record a bounds check of traced ``indices`` (one per axis in ``axes``).

    Args:
        indices: traced integer scalars or arrays, as the user wrote them.
        axes: the axis of the indexed array each one indexes.
        shape: the indexed array's shape.
    """
    if indices:
        collectors = _scope.local.index_checks
        if collectors and collectors[-1] is not None:  # an eager call (see _loops._bounds)
            collectors[-1].append((indices, axes, tuple(shape[a] for a in axes)))
        index_check_p.bind(
            *indices,
            axes=tuple(axes),
            sizes=tuple(shape[a] for a in axes),
            shape=tuple(shape),
        )


# -- run-time lengths ------------------------------------------------------------------

# A shape in a length check: per axis a static size, or None where the next
# run-time length operand of the check goes.
Dims = tuple[int | None, ...]


def _length_batch(p: Any, args: Any, dims: Any, **params: Any) -> tuple[list, list]:
    # Every length gets the batch axis at the front (an unbatched one
    # repeated), so all keep one shape; the rule checks each element.
    n = next(a.shape[d] for a, d in zip(args, dims) if d is not _compat.NOT_MAPPED)
    front = [
        jnp.broadcast_to(a, (n, *jnp.shape(a)))
        if d is _compat.NOT_MAPPED
        else jnp.moveaxis(a, d, 0)
        for a, d in zip(args, dims)
    ]
    return p.bind(*front, **params), []


length_check_p = _inert("mutjax_length_check", _length_batch)


class LengthError(_compat.CheckifyException, ValueError):  # type: ignore[misc]
    """NumPy's ``ValueError`` for run-time lengths that differ, as ``checkify`` reports it.

    NumPy raises ``ValueError`` when two operands' lengths differ
    (``x[:k] + y[:j]``), when a value's length differs from its target's
    (``x[:k] = y[:j]``) and when a product's contracted lengths differ
    (``x[:k] @ y[:j]``), unless a length is 1 where NumPy broadcasts, or
    ``np.vdot``'s flattened sizes (``np.vdot(x[:k], y[:j])``: no broadcasting). With a
    traced ``k`` or ``j`` this cannot raise under ``jit`` (see the guide
    [Dynamic shapes][values-whose-length-is-known-only-at-run-time]). Add
    this class to the error set of ``jax.experimental.checkify.checkify``
    to have such lengths reported with NumPy's message; without it the check
    lowers to nothing. An error of this class is a ``ValueError``, as
    NumPy's is: ``err.get_exception()`` returns it (``err.throw()`` raises
    checkify's own ``JaxRuntimeError``, a ``ValueError`` too).

    Example:
        ```python
        import jax
        import jax.numpy as jnp
        from jax.experimental import checkify
        import mutjax


        @mutjax.mutable
        def head_sums(x, y, k, j):
            x[:k] += y[:j]
            return x


        checked = checkify.checkify(
            jax.jit(head_sums), errors=checkify.index_checks | {mutjax.LengthError}
        )
        err, _ = checked(jnp.zeros(5), jnp.ones(5), 3, 4)
        assert isinstance(err.get_exception(), ValueError)
        assert err.get() == "operands could not be broadcast together with shapes (3,) (4,) (3,) "
        err, out = checked(jnp.zeros(5), jnp.ones(5), 3, 1)  # length 1 broadcasts
        assert err.get() is None and out.tolist() == [1, 1, 1, 0, 0]
        ```
    """

    def __init__(self, traceback_info: Any, kind: str, shapes: Any, axes: Any, payload: Any):
        super().__init__(traceback_info)
        self.kind = kind
        self.shapes = shapes
        self.axes = axes
        self._payload = payload

    def tree_flatten(self) -> tuple[list[Any], tuple[Any, ...]]:
        return [self._payload], (self.traceback_info, self.kind, self.shapes, self.axes)

    @classmethod
    def tree_unflatten(cls, metadata: Any, payload: Any) -> LengthError:
        traceback_info, kind, shapes, axes = metadata
        return cls(traceback_info, kind, shapes, axes, payload[0])

    def get_effect_type(self) -> Any:
        spec = jax.ShapeDtypeStruct(tuple(np.shape(self._payload)), np.int32)
        return _compat.CheckifyErrorEffect(LengthError, (spec,))

    def __str__(self) -> str:
        lengths = [int(v) for v in np.asarray(self._payload).ravel()]
        return length_message(self.kind, filled(self.shapes, lengths), self.axes)


def filled(shapes: Sequence[Dims], lengths: Sequence[Any]) -> list[tuple[Any, ...]]:
    """``shapes`` with their run-time slots taken from ``lengths``, in order."""
    it = iter(lengths)
    return [tuple(next(it) if d is None else d for d in shp) for shp in shapes]


def _shape_str(shape: Sequence[int]) -> str:
    return "(" + ",".join(str(d) for d in shape) + ("," if len(shape) == 1 else "") + ")"


def _apart(d: Any, e: Any) -> Any:
    """Whether sizes ``d`` and ``e`` on one axis do not broadcast (traced or not)."""
    return (d != 1) & (e != 1) & (d != e)


def _no_broadcast(shapes: Sequence[tuple[Any, ...]]) -> Any:
    """Whether ``shapes`` do not broadcast together (aligned on the right)."""
    bad: Any = False
    ndim = max((len(s) for s in shapes), default=0)
    for k in range(1, ndim + 1):
        dims = [s[-k] for s in shapes if len(s) >= k]
        for i, d in enumerate(dims):
            for e in dims[i + 1 :]:
                bad = bad | _apart(d, e)
    return bad


def _larger_than_out(ins: Sequence[tuple[Any, ...]], out: tuple[Any, ...]) -> Any:
    """Whether inputs that broadcast with ``out`` broadcast to more than it."""
    bad: Any = False
    for k in range(1, len(out) + 1):
        for s in ins:
            if len(s) >= k:
                bad = bad | ((out[-k] == 1) & (s[-k] != 1))
    return bad


def _value_apart(value: tuple[Any, ...], target: tuple[Any, ...]) -> Any:
    """Whether an assigned ``value`` does not broadcast into ``target``."""
    bad: Any = False
    for k in range(1, min(len(value), len(target)) + 1):
        v, t = value[-k], target[-k]
        bad = bad | ((v != 1) & (v != t))
    return bad


def _size(shape: tuple[Any, ...]) -> Any:
    size: Any = 1
    for d in shape:
        size = size * d
    return size


def length_fails(kind: str, shapes: Sequence[tuple[Any, ...]], axes: tuple[int, ...]) -> Any:
    """Whether NumPy raises for ``shapes`` in an operation of ``kind`` (a traced
    bool where a size is traced).

    Kinds: ``"broadcast"`` (the operands of an elementwise operation),
    ``"inplace"`` (its operands, then the ``out`` they are written into),
    ``"assign"`` and ``"mask_assign"`` (the value, then the target),
    ``"dot"`` and ``"matmul"`` (two operands, contracted along ``axes``),
    ``"vdot"`` (two operands, flattened: their sizes must be equal).
    """
    if kind == "broadcast":
        return _no_broadcast(shapes)
    if kind == "inplace":
        return _no_broadcast(shapes) | _larger_than_out(shapes[:-1], shapes[-1])
    if kind in ("assign", "mask_assign"):
        return _value_apart(shapes[0], shapes[1])
    if kind == "vdot":
        return _size(shapes[0]) != _size(shapes[1])
    (a, b), (ax_a, ax_b) = shapes, axes
    return a[ax_a] != b[ax_b]


def length_message(kind: str, shapes: Sequence[tuple[int, ...]], axes: tuple[int, ...]) -> str:
    """NumPy's message for ``shapes`` that fail in an operation of ``kind``."""
    words = " ".join(_shape_str(s) for s in shapes)
    if kind == "broadcast" or (kind == "inplace" and _no_broadcast(shapes)):
        return f"operands could not be broadcast together with shapes {words} "
    if kind == "inplace":
        ins, out = shapes[:-1], shapes[-1]
        ndim = max(len(s) for s in ins)
        padded = [(1,) * (ndim - len(s)) + tuple(s) for s in ins]
        wide = tuple(max(dims) if 0 not in dims else 0 for dims in zip(*padded))
        return _errors.out_shape_error(tuple(out), wide).args[0]
    if kind == "vdot":  # NumPy flattens both operands: the second to the first's size
        return f"cannot reshape array of size {_size(shapes[1])} into shape ({_size(shapes[0])},)"
    value, target = (_shape_str(s) for s in shapes)
    if kind == "assign":
        return f"could not broadcast input array from shape {value} into shape {target}"
    if kind == "mask_assign":
        if len(shapes[0]) == 1:
            return (
                f"NumPy boolean array indexing assignment cannot assign {shapes[0][0]} "
                f"input values to the {shapes[1][0]} output values where the mask is true"
            )
        return (
            f"shape mismatch: value array of shape {value} could not be broadcast "
            f"to indexing result of shape {target}"
        )
    (a, b), (ax_a, ax_b) = shapes, axes
    if kind == "matmul":
        return (
            f"matmul: Input operand 1 has a mismatch in its core dimension 0, with gufunc "
            f"signature (n?,k),(k,m?)->(n?,m?) (size {b[ax_b]} is different from {a[ax_a]})"
        )
    return (
        f"shapes {value} and {target} not aligned: {a[ax_a]} (dim {ax_a}) != {b[ax_b]} (dim {ax_b})"
    )


def _length_rule(
    error: Any, enabled_errors: Any, *lengths: Any, kind: str, shapes: Any, axes: Any
) -> Any:
    if LengthError not in enabled_errors:
        return error, []
    batch = jnp.broadcast_shapes(*(jnp.shape(n) for n in lengths))
    if 0 in batch:
        return error, []
    lengths = tuple(jnp.broadcast_to(jnp.asarray(n).astype(np.int32), batch) for n in lengths)
    bad = jnp.broadcast_to(jnp.asarray(length_fails(kind, filled(shapes, lengths), axes)), batch)
    first = jnp.argmax(jnp.ravel(bad))
    payload = jnp.stack([jnp.ravel(n)[first] for n in lengths])
    err = LengthError(_compat.checkify_traceback(), kind, shapes, axes, payload)
    return _compat.checkify_assert(error, jnp.any(bad), err), []


if _compat.checkify_rules is not None:
    _compat.checkify_rules[length_check_p] = _length_rule


# How many run-time lengths an eager loop's flag holds (see mutjax._loops._bounds).
FLAG_LENGTHS = 15


def record_lengths(lengths: list[Any], kind: str, shapes: tuple[Dims, ...], axes: Any) -> None:
    """Record the check that NumPy's ``kind`` of ``shapes`` (run-time ``lengths`` where
    ``shapes`` holds None) makes: for ``checkify``, and in an eager call for
    ``mutjax._loops._bounds`` to raise after the loop."""
    collectors = _scope.local.index_checks
    if collectors and collectors[-1] is not None and len(lengths) <= FLAG_LENGTHS:
        # (more run-time lengths than a flag holds: left to checkify, not met in practice)
        collectors[-1].append(("length", lengths, kind, shapes, axes))
    length_check_p.bind(*lengths, kind=kind, shapes=shapes, axes=axes)
