"""Products of masked values: ``dot``, ``matmul``, ``vdot``, ``inner``, ``outer``.

A product takes a traced slice's data as read (``raw``: the array's own
values at masked positions), not the zeroed copy the read also makes.

A contracted run-time axis is summed over its valid positions only: the
operands are zeroed along it (see ``_product``) and cut to the same static
size, so no dynamic shape is formed. A masked-out position may hold ``inf``
or ``nan``, and ``0 * inf`` is ``nan``.

A run-time axis that the product does not contract (a free axis) is not
zeroed: each output position along it comes from one position of the
operand, so the product of the unmasked data, masked along that axis, is the
product of the selected part, summed over the same elements in the same
order. That keeps ``a @ X[:, i:]`` one product with ``X`` itself (the zeroed
copy is left unused): under ``jax.vmap`` over ``i`` (a batched loop) ``X``
stays unbatched and the stacked ``a`` make one matrix product, where zeroing
``X`` first would copy it per iteration. Differentiated, that product would
give the other operand the cotangent of the masked-out outputs (zero) times
``X`` there, ``nan`` where ``X`` is not finite; its derivative rule
(``_free_masked``) multiplies the tangents by the operands with their
masked-out free positions zeroed instead, so the data NumPy does not read
reaches no gradient, and the forward product is unchanged.
"""

from __future__ import annotations

from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
from jax import lax

from . import _lengths
from ._base import MaskedBase, origin_of
from ._elementwise import elementwise
from ._layout import Axis, bcast_axis, resize, same_value, select
from ._origin import dynamic_shape_error
from ._reduce import reduce


def _zeroed_along(x: MaskedBase, axis: int) -> Any:
    """The data of ``x`` with its masked positions along ``axis`` set to 0 (the others as read)."""
    layout = x.axes[axis]
    if x.clean or layout is None:
        return x.data if x.clean else x.raw
    return select(bcast_axis(layout.valid, x.ndim, axis), x.raw, np.zeros((), x.dtype))


def _raw(x: Any) -> Any:
    return x.raw if isinstance(x, MaskedBase) else x


def _size(x: MaskedBase) -> int:
    return int(np.prod(x.data.shape, dtype=np.int64))


def _product(a: MaskedBase, b: MaskedBase, ax_a: int, ax_b: int, fn: Any) -> Any:
    """``fn`` of ``a`` and ``b``, summed over the valid positions of the contracted axes.

    The smaller operand is zeroed along its contracted axis; the larger one
    is too only where its data as read is not all finite (``0 * inf``), a
    test made once on the whole of it, so that ``L[i, :i + 1] @ B[: i + 1]``
    is one product with ``B`` itself when ``B`` is finite (a ``cond``: under
    ``jax.vmap`` over ``i`` the test is not batched, and only the branch
    taken runs).
    """
    n = min(a.data.shape[ax_a], b.data.shape[ax_b])
    swap = _size(a) > _size(b)
    small, large, ax_s, ax_l = (b, a, ax_b, ax_a) if swap else (a, b, ax_a, ax_b)
    ds = _zeroed_along(small, ax_s)

    def ordered(dl: Any, ds: Any) -> Any:
        da, db = (dl, ds) if swap else (ds, dl)
        return fn(resize(da, ax_a, n), resize(db, ax_b, n))

    if not jnp.issubdtype(large.dtype, jnp.inexact):
        return ordered(large.raw, ds)  # no inf: 0 * x is 0
    if (large.clean and large.raw is large.data) or _size(large) == _size(small):
        return ordered(_zeroed_along(large, ax_l), ds)
    layout = large.axes[ax_l]
    if layout is None:  # not reached: _contract calls with both contracted axes run-time
        return ordered(large.raw, ds)

    def zeroed(dl: Any, ds: Any, valid: Any) -> Any:
        # Operands, not closures: the select must be traced into the branch.
        return ordered(select(bcast_axis(valid, dl.ndim, ax_l), dl, np.zeros((), dl.dtype)), ds)

    return lax.cond(
        jnp.all(jnp.isfinite(large.raw)),
        lambda dl, ds, _: ordered(dl, ds),
        zeroed,
        large.raw,
        ds,
        layout.valid,
    )


def _free_masks(x: Any, contracted: int) -> list[tuple[int, Any]]:
    """``(axis, valid)`` of the run-time axes of ``x`` that a product leaves free."""
    if not isinstance(x, MaskedBase) or (x.clean and x.raw is x.data):
        return []  # the product takes the zeros it holds at its masked positions
    return [(ax, a.valid) for ax, a in enumerate(x.axes) if a is not None and ax != contracted]


def _free_masked(fn: Any, masks_a: list[tuple[int, Any]], masks_b: list[tuple[int, Any]]) -> Any:
    """``fn``, a product of two operands, whose tangents see masked-out free positions as 0.

    The value is ``fn``'s. Each output position along a free axis comes from
    one position of the operand there, so zeroing the operand at masked-out
    free positions changes only outputs that are masked out themselves; the
    tangent uses the zeroed operands and so stays finite there (``0 * inf``).
    The masks are arguments, not closed over: the rule runs when the program
    is differentiated, after the mutable scope that made them has returned.
    """
    axes_a, axes_b = [ax for ax, _ in masks_a], [ax for ax, _ in masks_b]
    valids = [v for _, v in masks_a + masks_b]

    def zeroed(x: Any, axes: list[int], valids: list[Any]) -> Any:
        for ax, valid in zip(axes, valids, strict=True):
            x = select(bcast_axis(valid, x.ndim, ax), x, np.zeros((), x.dtype))
        return x

    @jax.custom_jvp
    def product(x: Any, y: Any, *valids: Any) -> Any:
        out = fn(x, y)
        # The value depends on a mask as the tangent does, through a select of
        # itself: under jax.vmap over the masks alone (a batched loop over a
        # loop-invariant product) both are then batched alike, as custom_jvp
        # requires of its rule. Unbatched, XLA removes the select.
        first = lax.reshape(lax.slice(valids[0], (0,) * valids[0].ndim, (1,) * valids[0].ndim), ())
        return lax.select(first, out, out)

    @product.defjvp
    def _(primals: Any, tangents: Any) -> Any:
        x, y, *valids = primals
        tx, ty = tangents[:2]
        za = zeroed(x, axes_a, valids[: len(axes_a)])
        zb = zeroed(y, axes_b, valids[len(axes_a) :])
        return fn(x, y), fn(tx, zb) + fn(za, ty)

    return lambda x, y: product(x, y, *valids)


def _ndim(x: Any) -> int:
    return x.ndim if isinstance(x, MaskedBase) else np.ndim(x)


def _axes(x: Any) -> list[Axis | None]:
    return list(x.axes) if isinstance(x, MaskedBase) else [None] * np.ndim(x)


def _contract(a: Any, b: Any, ax_a: int, ax_b: int, fn: Any) -> Any:
    """``fn(a, b)`` contracting axis ``ax_a`` of ``a`` with ``ax_b`` of ``b``."""
    la, lb = _axes(a)[ax_a], _axes(b)[ax_b]
    if (la is None) != (lb is None):
        d = (b if la is not None else a).shape
        raise dynamic_shape_error(
            f"a product with an operand of fixed length {d[ax_b if la is not None else ax_a]} "
            "on the contracted axis (NumPy requires equal lengths; slice it with the same "
            "traced bound)",
            origin_of(a, b),
        )
    # lb is not None whenever la is not (checked above); the test only tells mypy.
    if la is not None and lb is not None and not la.same_layout(lb):
        a, b = a.compacted(), b.compacted()
    # The free axes keep their masks in the result's layouts (see the module doc).
    masks_a, masks_b = _free_masks(a, ax_a), _free_masks(b, ax_b)
    if masks_a or masks_b:
        fn = _free_masked(fn, masks_a, masks_b)
    out = _product(a, b, ax_a, ax_b, fn) if la is not None else fn(_raw(a), _raw(b))
    axes_a, axes_b = _axes(a), _axes(b)
    del axes_a[ax_a]
    del axes_b[ax_b]
    owner = a if isinstance(a, MaskedBase) else b
    return owner._with(out, tuple(axes_a + axes_b)) if isinstance(owner, MaskedBase) else out


def dot(a: Any, b: Any, out: Any = None) -> Any:
    """NumPy's ``dot`` where either operand may be masked."""
    if out is not None:
        raise dynamic_shape_error("`np.dot(..., out=)`", origin_of(a, b))
    na, nb = _ndim(a), _ndim(b)
    if na == 0 or nb == 0:
        return elementwise(jnp.multiply, a, b)
    if na > 2 or nb > 2:
        raise dynamic_shape_error("`dot` of arrays with more than two axes", origin_of(a, b))
    _lengths.check_contracted(a, b, na - 1, 0 if nb == 1 else nb - 2)  # NumPy's ValueError
    return _contract(a, b, na - 1, 0 if nb == 1 else nb - 2, jnp.dot)


def matmul(a: Any, b: Any) -> Any:
    """NumPy's ``matmul`` (``@``) where either operand may be masked."""
    if _ndim(a) == 0 or _ndim(b) == 0:
        raise ValueError(
            f"matmul: Input operand {0 if _ndim(a) == 0 else 1} does not have enough "
            "dimensions (has 0, gufunc core with signature (n?,k),(k,m?)->(n?,m?) requires 1)"
        )
    return dot(a, b)


def vdot(a: Any, b: Any) -> Any:
    """NumPy's ``vdot``: the conjugated dot product of the flattened operands.

    Nothing broadcasts: NumPy flattens both and requires one size (its
    ``ValueError`` otherwise, checked as the other products' lengths are).
    Two vectors are one product; operands of more axes multiply position by
    position, so their axes must match (a run-time one with a run-time one,
    a static one with one of the same size); an operand of one element
    (static) multiplies the other's sum.
    """
    sa, sb = _lengths.operand_shape(a), _lengths.operand_shape(b)
    if not (len(sa) == len(sb) and all(same_value(d, e) for d, e in zip(sa, sb))):
        _lengths.check_lengths("vdot", [sa, sb])  # NumPy's ValueError
    one = [_static_size(s) == 1 for s in (sa, sb)]
    with _lengths.quiet():  # checked above, as NumPy words it
        if _ndim(a) == 1 and _ndim(b) == 1 and not any(one):
            return _contract(a, b, 0, 0, jnp.vdot)
        if any(one) or (len(sa) == len(sb) and all(_matching(d, e) for d, e in zip(sa, sb))):
            terms = elementwise(lambda x, y: jnp.conj(x) * y, a, b)
            return reduce("sum", terms, dtype=terms.dtype)  # vdot's dtype, not sum's wider one
    raise dynamic_shape_error(
        "`np.vdot` of operands whose axes differ (NumPy flattens them; give both one shape)",
        origin_of(a, b),
    )


def _static_size(shape: tuple[Any, ...]) -> int | None:
    """The size of an operand of static ``shape``; None where a length is run-time."""
    if any(not isinstance(d, (int, np.integer)) for d in shape):
        return None
    return int(np.prod(shape, dtype=np.int64))


def _matching(d: Any, e: Any) -> bool:
    """Whether two axes of vdot's operands pair up: both run-time, or one static size."""
    static_d, static_e = isinstance(d, (int, np.integer)), isinstance(e, (int, np.integer))
    return (not static_d and not static_e) or (static_d and static_e and d == e)


def outer(a: Any, b: Any, out: Any = None) -> Any:
    """NumPy's ``outer`` of two vectors, either of them masked."""
    if out is not None or _ndim(a) != 1 or _ndim(b) != 1:
        raise dynamic_shape_error("`np.outer` of other than two vectors, or out=", origin_of(a, b))
    return elementwise(jnp.multiply, a[:, None], b[None, :])


def inner(a: Any, b: Any) -> Any:
    """NumPy's ``inner`` of two vectors, either of them masked."""
    if _ndim(a) == 1 and _ndim(b) == 1:
        return dot(a, b)
    raise dynamic_shape_error("`np.inner` of arrays with more than one axis", origin_of(a, b))
