"""Elementwise operations on masked values: aligning run-time axes position by position.

Operands on one output axis combine in place when their layouts agree (one
read, or one mask); otherwise every one is packed to the front and trimmed to
the smallest static size. A traced slice of run-time length 1 broadcasts, as
NumPy's length-1 axis does; an operand of fixed length there is refused.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from jax import lax

from . import _lengths
from ._base import MaskedBase, origin_of, runtime_axes
from ._layout import Axis, broadcast_unit, front, resize, same_value
from ._origin import dynamic_shape_error

# Per output axis: (operand, its axis, layout) of every run-time axis there.
_Seen = list[list[tuple[int, int, Axis]]]


def elementwise(fn: Any, *operands: Any) -> Any:
    """``fn`` applied to operands of which some are masked, position by position."""
    shapes = [_shape(x) for x in operands]
    ndim = max(len(s) for s in shapes)
    ops, sizes = _common_layouts(operands, ndim)
    _check_no_fixed_length(ops, shapes, sizes, origin_of(*operands))
    datas, seen = _trimmed(ops, sizes)
    if any(s and _apart(s) for s in seen):
        # NumPy raises where those lengths differ (and neither is 1).
        _lengths.check_lengths("broadcast", [_lengths.operand_shape(x) for x in operands])
    out_axes = [None if not s else _output_axis(s, datas, sizes[oax]) for oax, s in enumerate(seen)]
    out = fn(*datas)
    first = next((x for x in operands if isinstance(x, MaskedBase)), None)
    return out if first is None else first._with(out, tuple(out_axes))


def _shape(x: Any) -> tuple[int, ...]:
    if isinstance(x, MaskedBase):
        return tuple(x.data.shape)
    if isinstance(x, (list, tuple)):
        return np.shape(x)
    return tuple(x.shape) if hasattr(x, "shape") else tuple(np.shape(x))


def _needs_front(operands: Any, ndim: int) -> list[bool]:
    """Per output axis: whether the masked operands there hold their elements apart."""
    layouts: list[list[Axis]] = [[] for _ in range(ndim)]
    for x in operands:
        if isinstance(x, MaskedBase):
            for ax, a in runtime_axes(x):
                layouts[ndim - x.ndim + ax].append(a)
    return [bool(ls) and not all(ls[0].same_layout(b) for b in ls[1:]) for ls in layouts]


def _common_layouts(operands: Any, ndim: int) -> tuple[list[Any], list[int | None]]:
    """The operands, packed to the front where their layouts differ, and per output
    axis the common static size of its run-time axes (None for a static axis)."""
    need_front = _needs_front(operands, ndim)
    sizes: list[int | None] = [None] * ndim
    ops = list(operands)
    for i, x in enumerate(ops):
        if not isinstance(x, MaskedBase):
            continue
        off = ndim - x.ndim
        if any(need_front[off + ax] and a.kind != "front" for ax, a in runtime_axes(x)):
            x = ops[i] = x.compacted()
        for ax, _ in runtime_axes(x):
            n = x.data.shape[ax]
            s = sizes[off + ax]
            sizes[off + ax] = n if s is None else min(s, n)
    return ops, sizes


def _check_no_fixed_length(
    ops: list[Any], shapes: list[Any], sizes: list[Any], origin: str
) -> None:
    """Refuse a static axis longer than 1 where another operand has a run-time one."""
    ndim = len(sizes)
    for x, shp in zip(ops, shapes):
        off = ndim - len(shp)
        for ax, d in enumerate(shp):
            runtime = isinstance(x, MaskedBase) and x.axes[ax] is not None
            if sizes[off + ax] is not None and d != 1 and not runtime:
                raise dynamic_shape_error(
                    f"combining it with an operand of fixed length {d} on that axis "
                    "(NumPy requires equal lengths: slice the other operand with the "
                    "same traced bound; for a length-1 slice `A[k:k + 1, :]`, write "
                    "`A[None, k, :]`, whose length is static)",
                    origin,
                )


def _trimmed(ops: list[Any], sizes: list[int | None]) -> tuple[list[Any], _Seen]:
    """The operands' arrays, every run-time axis cut to the common size."""
    ndim = len(sizes)
    datas: list[Any] = []
    seen: _Seen = [[] for _ in range(ndim)]
    for i, x in enumerate(ops):
        if not isinstance(x, MaskedBase):
            datas.append(x)
            continue
        off = ndim - x.ndim
        data = x.data
        for ax, a in runtime_axes(x):
            n = sizes[off + ax]
            assert n is not None  # set for every run-time axis
            data = resize(data, ax, n)
            a = Axis(a.kind, a.valid[:n], a.length, a.key) if a.valid.shape[0] != n else a
            seen[off + ax].append((i, ax, a))
        datas.append(data)
    return datas, seen


def _apart(entries: list[tuple[int, int, Axis]]) -> bool:
    """Whether the run-time axes meeting on one output axis may differ in length."""
    first = entries[0][2]
    if first.kind != "front" or all(a is first for _, _, a in entries):
        return False  # one read, or one mask: the same positions
    # Two reads with one run-time length: nothing broadcasts.
    return not all(same_value(a.length, first.length) for _, _, a in entries)


def _output_axis(entries: list[tuple[int, int, Axis]], datas: list[Any], size: Any) -> Axis:
    """The layout of one output axis; broadcasts ``datas`` there in place when needed."""
    first = entries[0][2]
    if not _apart(entries):
        return first
    # Two slices read apart: NumPy broadcasts one whose run-time length is
    # 1 (`A[k + 1:, k:k + 1] * A[k:k + 1, k + 1:]`), which only the run
    # time knows. Otherwise the lengths are equal (NumPy raises if not).
    length = first.length
    for _, _, a in entries[1:]:
        length = lax.select(length == 1, a.length, length)
    for i, ax, a in entries:
        datas[i] = broadcast_unit(datas[i], ax, a.length)
    return front(length, size)
