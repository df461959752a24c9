"""Where run-time lengths meet: the checks NumPy's shape rules make of masked operands.

An elementwise operation, an assignment, an in-place operator or a product
of values whose lengths are known only at run time records, through
``mutjax._checks.record_lengths``, the check NumPy would make of their
shapes; lengths known at trace time are checked at once. ``one_check`` and
``quiet`` let an operation made of several steps be checked once, in the
words NumPy uses for the whole.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Iterator, Sequence
from typing import Any

import numpy as np

from .. import _checks, _compat
from ._base import MaskedBase
from ._layout import int_constant, same_value


class _Quiet(threading.local):
    depth = 0


_quiet = _Quiet()


def check_lengths(kind: str, shapes: Sequence[tuple[Any, ...]], axes: tuple[int, ...] = ()) -> None:
    """Record the check that NumPy's operation ``kind`` (see ``length_fails``)
    makes of ``shapes``: per axis an int or a run-time length (an integer scalar).

    A size known at trace time is one; where all are, NumPy's ``ValueError``
    is raised at once if it fails, and nothing is recorded. Inside
    ``one_check`` nothing is recorded either.
    """
    if _quiet.depth:
        return
    known: list[_checks.Dims] = []
    lengths: list[Any] = []
    for shp in shapes:
        dims: list[int | None] = []
        for d in shp:
            c = _known(d)
            dims.append(c)
            if c is None:
                lengths.append(d)
        known.append(tuple(dims))
    if not lengths:
        concrete = [tuple(int(d) for d in s) for s in known]  # type: ignore[arg-type]
        if _checks.length_fails(kind, concrete, axes):
            raise ValueError(_checks.length_message(kind, concrete, axes))
        return
    _checks.record_lengths(lengths, kind, tuple(known), tuple(axes))


def _known(d: Any) -> int | None:
    """``d`` as an int where it is known at trace time, else None."""
    c = int_constant(d)
    if c is None and not isinstance(d, _compat.Tracer) and np.ndim(d) == 0:
        c = int(np.asarray(d))
    return c


def operand_shape(x: Any) -> tuple[Any, ...]:
    """NumPy's shape of an operand: a masked value's run-time axes hold its lengths."""
    if isinstance(x, MaskedBase):
        return tuple(d if a is None else a.length for a, d in zip(x.axes, x.data.shape))
    return tuple(np.shape(x)) if not hasattr(x, "shape") else tuple(x.shape)


def undecided(shapes: Sequence[tuple[Any, ...]]) -> bool:
    """Whether two sizes on one axis of ``shapes`` (aligned on the right) could
    differ at run time: a run-time length against another size that is
    neither 1 nor provably the same value."""
    ndim = max((len(s) for s in shapes), default=0)
    for k in range(1, ndim + 1):
        dims = [s[-k] for s in shapes if len(s) >= k and not _is_one(s[-k])]
        for i, d in enumerate(dims):
            for e in dims[i + 1 :]:
                if (
                    isinstance(d, _compat.Tracer) or isinstance(e, _compat.Tracer)
                ) and not same_value(d, e):
                    return True
    return False


def _is_one(d: Any) -> bool:
    return isinstance(d, (int, np.integer)) and d == 1


def check_contracted(a: Any, b: Any, ax_a: int, ax_b: int, kind: str = "dot") -> None:
    """Record the check that ``a``'s axis ``ax_a`` and ``b``'s ``ax_b``, which a
    product contracts, have one length (NumPy's ``dot`` or ``matmul`` error)."""
    if _quiet.depth:
        return
    sa, sb = operand_shape(a), operand_shape(b)
    if not same_value(sa[ax_a], sb[ax_b]):
        check_lengths(kind, [sa, sb], (ax_a, ax_b))


def check_operands(kind: str, operands: Sequence[Any]) -> None:
    """Record the check of ``operands`` (masked or not) as ``kind``, where their
    lengths could differ at run time (see ``undecided``)."""
    if _quiet.depth:
        return
    shapes = [operand_shape(x) for x in operands]
    if undecided(shapes):
        check_lengths(kind, shapes)


@contextlib.contextmanager
def one_check(kind: str, operands: Sequence[Any]) -> Iterator[None]:
    """Check ``operands`` as ``kind`` once, for the whole block: the steps inside
    (an in-place operator's operation and its write back, the ``dot`` under
    ``matmul``) record no length check of their own, which would word the
    same mismatch another way.

    ``"matmul"``: two operands, contracted as ``@`` contracts them;
    ``"inplace"``: the operands, then the ``out`` they are written into (an
    ``out`` of fewer axes than an operand is left to the steps).
    """
    if kind == "matmul":
        a, b = operands
        na, nb = len(operand_shape(a)), len(operand_shape(b))
        if na and nb:
            check_contracted(a, b, na - 1, 0 if nb == 1 else nb - 2, "matmul")
    else:
        ndims = [len(operand_shape(x)) for x in operands]
        if max(ndims[:-1]) > ndims[-1]:
            yield
            return
        check_operands(kind, operands)
    with quiet():
        yield


@contextlib.contextmanager
def quiet() -> Iterator[None]:
    """Record no length check in the block: its operation is checked as a whole,
    in the words NumPy uses for it."""
    _quiet.depth += 1
    try:
        yield
    finally:
        _quiet.depth -= 1
