"""Dynamic indices: telling one apart, and a traced slice's bounds in its static window.

An index is dynamic when it has a traced slice bound or a traced boolean
mask. A traced slice is read as its static window (the slice widened to
``:``) plus its run-time start, step and length, computed as NumPy's
``slice.indices`` would.
"""

from __future__ import annotations

import dataclasses
from typing import Any

import numpy as np
from jax import lax

from .. import _compat, _index
from ._layout import i32
from ._origin import dynamic_shape_error


def is_dynamic(ix: _index.Index) -> bool:
    """True when ``ix`` has a traced slice bound or a traced boolean mask."""
    return ix.mask is not None or any(type(e) is _index.DynSlice for e in ix.entries)


def check_supported(ix: _index.Index, origin: str) -> None:
    """Refuse a traced slice combined with integer or boolean arrays."""
    if ix.mask is None and not ix.is_basic:
        raise dynamic_shape_error(
            "a traced slice bound combined with integer or boolean arrays in one index",
            origin,
        )


Interval = tuple[int, int]


def _clamp_bound(
    v: Any, known: Interval | None, default: int, lo: int, hi: int, n: int
) -> tuple[Any, Interval]:
    """One bound of a slice with a static step, as ``slice.indices`` clamps it,
    and a static interval holding the result.

    What ``known`` (the bound's interval, see mutjax._ranges) proves is not
    computed: a loop index already in ``[lo, hi]`` is its own bound.
    """
    if v is None:
        return default, (default, default)
    if isinstance(v, int):
        v = v + n if v < 0 else v
        v = min(max(v, lo), hi)
        return v, (v, v)
    v = i32(v)
    klo, khi = known if known is not None else (-(2**31), 2**31 - 1)
    if klo >= 0:
        span = (klo, khi)
    elif khi < 0:
        v, span = v + np.int32(n), (klo + n, khi + n)
    else:
        v, span = lax.select(v < 0, v + np.int32(n), v), (min(klo + n, 0), max(khi, n - 1))
    if span[0] < lo or span[1] > hi:
        v = lax.clamp(np.int32(lo), v, np.int32(hi))
    return v, (min(max(span[0], lo), hi), max(min(span[1], hi), lo))


def slice_bounds(d: _index.DynSlice, n: int) -> tuple[Any, Any, Any]:
    """NumPy's ``slice.indices`` with traced parts: (start, step, length).

    Static parts stay Python ints, so ``x[:i]`` costs one comparison, and a
    bound proven in range (``DynSlice.known``) costs none.
    """
    step = 1 if d.step is None else d.step
    if not isinstance(step, int):
        return _traced_step_bounds(d, step, n)
    if step > 0:
        start, s_iv = _clamp_bound(d.start, d.known[0], 0, 0, n, n)
        stop, e_iv = _clamp_bound(d.stop, d.known[1], n, 0, n, n)
        span = stop if isinstance(start, int) and start == 0 else stop - start
        least = e_iv[0] - s_iv[1]
    else:
        start, s_iv = _clamp_bound(d.start, d.known[0], n - 1, -1, n - 1, n)
        stop, e_iv = _clamp_bound(d.stop, d.known[1], -1, -1, n - 1, n)
        span = start - stop
        least = s_iv[0] - e_iv[1]
    a = abs(step)
    if isinstance(span, int):
        return start, step, max(0, -(-span // a))
    length = span if a == 1 else (span + np.int32(a - 1)) // np.int32(a)
    return start, step, i32(length) if least >= 0 else lax.max(i32(length), np.int32(0))


def _traced_step_bounds(d: _index.DynSlice, step: Any, n: int) -> tuple[Any, Any, Any]:
    """``slice_bounds`` for a traced step: both signs computed, selected at run time."""
    stepv = i32(step)
    s_up, _, l_up = slice_bounds(_index.DynSlice(d.start, d.stop, 1), n)
    s_dn, _, l_dn = slice_bounds(_index.DynSlice(d.start, d.stop, -1), n)
    neg = stepv < 0
    safe = lax.select(stepv == 0, np.int32(1), lax.abs(stepv))
    start = lax.select(neg, i32(s_dn), i32(s_up))
    span = lax.select(neg, i32(l_dn), i32(l_up))
    # A traced step of 0 cannot raise under jit: it selects nothing.
    length = lax.select(stepv == 0, np.int32(0), (span + safe - 1) // safe)
    return start, stepv, length


def static_part(ix: _index.Index) -> tuple[_index.Index, list[tuple[int, _index.DynSlice]]]:
    """The index with every traced slice widened to ``:``, and where those axes land."""
    prepared = list(ix.prepared)
    dyn_in = [ax for ax, e in enumerate(ix.entries) if type(e) is _index.DynSlice]
    for p, item in enumerate(prepared):
        if isinstance(item, slice) and any(
            isinstance(v, _compat.Tracer) for v in (item.start, item.stop, item.step)
        ):
            prepared[p] = slice(None)
    static = _index.analyze(tuple(prepared), ix.shape)
    # The traced integers keep what is known of them (mutjax._ranges).
    entries = tuple(
        _index.Int(s.value, o.known) if type(s) is _index.Int and type(o) is _index.Int else s
        for s, o in zip(static.entries, ix.entries)
    )
    static = dataclasses.replace(static, entries=entries)
    return static, [(static.out.index(ax), ix.entries[ax]) for ax in dyn_in]
