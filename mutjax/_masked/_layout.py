"""One axis of run-time length: its layout (``Axis``) and the ``lax`` steps along it.

Layouts of a run-time axis:

- ``"front"``: the valid elements are packed at the front, in NumPy's order
  (position ``k`` holds the ``k``-th element). Every traced slice reads this
  way, so ``L[i, :i] @ x[:i]`` or ``np.flip(r[:k]) * y[:k]`` combine position
  by position, as NumPy (which requires equal lengths) does.
- ``"place"``: ``x[a:b]`` with a traced bound and a step of 1 keeps its
  elements where they are, at ``a + k`` (``key`` holds the start ``a``).
  Two values read at one start and length combine in place, and an
  assignment back to that slice is a ``where``: ``A[k + 1:, k + 1:] -= u``
  moves nothing. Anything else packs them to the front first (one shift).
- ``"mask"``: ``x[m]`` keeps the elements in place (the mask's leading axes
  flattened), valid where ``m`` is true. Two values read with the same mask
  combine in place and an assignment with that mask is a ``where``; anything
  else packs them to the front first.

The helpers take and return plain arrays of the current trace; none of them
knows a masked value.
"""

from __future__ import annotations

import dataclasses
import weakref
from typing import Any

import jax.numpy as jnp
import numpy as np
from jax import lax

from .. import _compat


@dataclasses.dataclass(frozen=True, eq=False)
class Axis:
    """The layout of one axis whose length is known only at run time."""

    kind: str  # "front", "place" or "mask"
    valid: Any  # bool vector over the axis' static (maximal) size
    length: Any  # the run-time length (an integer scalar)
    # For "mask": the mask it was read with (compared by identity); for
    # "place": the position of the first element.
    key: Any = None

    def same_layout(self, other: Axis) -> bool:
        """Whether the two axes hold their valid elements at the same positions."""
        if self.kind != other.kind:
            return False
        if self.kind == "place":
            return same_value(self.key, other.key) and same_value(self.length, other.length)
        return self.kind == "front" or self.key is other.key


# Deterministic scalar arithmetic: equal operands give equal results.
_PURE = frozenset(
    ("add", "sub", "mul", "neg", "max", "min", "abs", "clamp", "select_n", "convert_element_type")
    + ("lt", "le", "gt", "ge", "eq", "ne", "and", "or", "not", "div", "rem", "floor_divide")
)


def same_value(a: Any, b: Any) -> bool:
    """Whether ``a`` and ``b`` are provably one value: the same object, equal
    constants, the same pure arithmetic on the same operands, or integer sums
    of the same terms (``i + 1`` and ``1 + i``, ``n - (k + 1)`` and ``n - k - 1``).

    Two reads with one traced bound compute their run-time lengths apart
    (``i + 1`` twice); comparing how they were computed tells that the
    lengths are equal, where comparing the objects cannot. False means only
    "not proven".
    """
    if _same_tree(a, b, 0):
        return True
    la, lb = _linear(a, 0), _linear(b, 0)
    if la is None or lb is None or la[1] != lb[1]:
        return False
    # Terms by identity (comparing tracers with == would trace a comparison).
    return {i: c for i, (_, c) in la[0].items()} == {i: c for i, (_, c) in lb[0].items()}


def _same_tree(a: Any, b: Any, depth: int) -> bool:
    """The same object, equal integer constants, or the same pure equation on
    operands that are the same in turn."""
    if a is b:
        return True
    a, b = _source(a), _source(b)
    if a is b:
        return True
    ca, cb = int_constant(a), int_constant(b)
    if ca is not None or cb is not None:
        return ca == cb
    if depth > 8:
        return False
    ea, eb = _compat.producing_equation(a), _compat.producing_equation(b)
    if ea is None or eb is None or ea[0] != eb[0] or ea[0] not in _PURE or ea[2] != eb[2]:
        return False
    return len(ea[1]) == len(eb[1]) and all(
        _same_tree(x, y, depth + 1) for x, y in zip(ea[1], eb[1])
    )


def int_constant(x: Any) -> int | None:
    """The value of ``x`` if it is an integer scalar known at trace time, else None."""
    c = _compat.literal_value(x) if isinstance(x, _compat.Tracer) else x
    if isinstance(c, (bool, np.bool_)):
        return None
    if isinstance(c, (int, np.integer)):
        return int(c)
    # jax 0.10.x keeps a literal's value as a 0-d typed NumPy array.
    if isinstance(c, np.ndarray) and c.shape == () and np.issubdtype(c.dtype, np.integer):
        return int(c)
    return None


def _source(x: Any) -> Any:
    """``x`` without what cannot change its integer value: a mutable array's
    cell, a conversion to its own dtype, a loop body's lifting of an outer value."""
    for _ in range(8):
        x = _parent(x)
        outer = _compat.lifted_from(x)
        if outer is not None:
            x = outer
            continue
        eq = _compat.producing_equation(x)
        if eq is None or eq[0] != "convert_element_type" or len(eq[1]) != 1:
            return x
        inner = eq[1][0]
        if getattr(inner, "dtype", None) != getattr(x, "dtype", None):
            return x
        x = inner
    return x


# A sum of integer terms: {id(term): (term, coefficient)} and a constant.
_Linear = tuple[dict[int, tuple[Any, int]], int]


def _linear(x: Any, depth: int) -> _Linear | None:
    """``x`` as a sum of traced terms with integer coefficients plus a
    constant, through add, sub, neg and products with a constant; None for
    a value that is not an integer scalar."""
    x = _source(x)
    c = int_constant(x)
    if c is not None:
        return {}, c
    dtype = getattr(x, "dtype", None)
    if dtype is None or getattr(x, "shape", None) != () or not np.issubdtype(dtype, np.integer):
        return None
    eq = _compat.producing_equation(x) if depth < 16 else None
    prim = eq[0] if eq is not None else None
    if eq is not None and prim in ("add", "sub", "neg", "mul"):
        parts = [_linear(y, depth + 1) for y in eq[1]]
        combined = None if any(p is None for p in parts) else _combine(prim, parts)
        if combined is not None:
            return combined
    return {id(x): (x, 1)}, 0


def _combine(prim: str, parts: list[Any]) -> _Linear | None:
    if prim == "neg":
        return _scaled(parts[0], -1)
    a, b = parts
    if prim == "mul":
        # Only a product with a constant stays a sum of terms.
        return _scaled(b, a[1]) if not a[0] else _scaled(a, b[1]) if not b[0] else None
    return _added(a, b if prim == "add" else _scaled(b, -1))


def _scaled(a: _Linear, k: int) -> _Linear:
    return {i: (t, c * k) for i, (t, c) in a[0].items() if c * k}, a[1] * k


def _added(a: _Linear, b: _Linear) -> _Linear:
    terms = dict(a[0])
    for i, (t, c) in b[0].items():
        c += terms[i][1] if i in terms else 0
        if c:
            terms[i] = (t, c)
        else:
            terms.pop(i, None)
    return terms, a[1] + b[1]


def _parent(x: Any) -> Any:
    """A mutable array's current value (a run-time length is kept as one)."""
    cell = getattr(x, "_cell", None)
    if cell is None or getattr(x, "_view", None) is not None:
        return x
    return cell.value


def front(length: Any, n: int) -> Axis:
    """A front-packed axis of static size ``n`` holding ``length`` elements."""
    length = i32(length)
    return Axis("front", prefix(n, length), length)


def prefix(n: int, length: Any) -> Any:
    """``iota(n) < length``, one array for lengths provably equal (``same_value``).

    Two reads with one traced bound (``C[i, :i + 1]`` and ``A[:i + 1, k]``)
    and the write back each need the mask of their length; with one array
    XLA's CPU loops keep syrk's row update in place, with three equal but
    separate ones they did not (223 us against 70 us).
    """
    return _bound_mask("lt", n, length)


def suffix(n: int, start: Any) -> Any:
    """``iota(n) >= start``, one array for starts provably equal (as ``prefix``)."""
    return _bound_mask("ge", n, start)


# (comparison, trace, size, sum of terms) -> (the mask, its terms), held
# weakly: an entry whose mask or a term is gone is stale (an id is reused).
_MASKS: dict[Any, tuple[Any, tuple[Any, ...]]] = {}


def _bound_mask(op: str, n: int, bound: Any) -> Any:
    trace = getattr(bound, "_trace", None) if isinstance(bound, _compat.Tracer) else None
    form = None if trace is None else _linear(bound, 0)
    if form is None:
        return _compare(op, n, bound)
    key = (op, id(trace), n, form[1], frozenset((i, c) for i, (_, c) in form[0].items()))
    hit = _MASKS.get(key)
    if hit is not None:
        mask = hit[0]()
        alive = all(ref() is not None for ref in hit[1])
        if alive and mask is not None and getattr(mask, "_trace", None) is trace:
            return mask
    mask = _compare(op, n, bound)
    if len(_MASKS) > 512:
        for k in [k for k, (m, _) in _MASKS.items() if m() is None]:
            del _MASKS[k]
    _MASKS[key] = (weakref.ref(mask), tuple(weakref.ref(t) for t, _ in form[0].values()))
    return mask


def _compare(op: str, n: int, bound: Any) -> Any:
    return iota(n) < bound if op == "lt" else iota(n) >= bound


def in_slice(n: int, start: Any, length: Any, to_end: bool) -> Any:
    """The positions ``start <= t < start + length`` of an axis of size ``n``
    (``to_end``: the slice runs to the end of the axis, one comparison)."""
    if isinstance(start, int) and start == 0:
        return prefix(n, length)
    if to_end:
        return suffix(n, start)
    t = iota(n)
    return (t >= start) & (t < start + length)


def runs_to_end(stop: Any, n: int) -> bool:
    """Whether a slice bound ``stop`` (step 1) is the end of an axis of size ``n``."""
    return stop is None or (isinstance(stop, int) and stop >= n)


def iota(n: int) -> Any:
    return lax.iota(np.int32, n)


def i32(v: Any) -> Any:
    v = jnp.asarray(v) if not hasattr(v, "dtype") else v
    return v if v.dtype == np.int32 else lax.convert_element_type(v, np.int32)


def bcast_axis(v: Any, ndim: int, axis: int) -> Any:
    """A vector laid out along ``axis`` of an ``ndim``-d array."""
    return lax.broadcast_in_dim(
        v, tuple(v.shape[0] if d == axis else 1 for d in range(ndim)), (axis,)
    )


def all_along(vectors: list[tuple[int, Any]], ndim: int) -> Any:
    """The ``&`` of bool vectors, each laid along its axis of an ``ndim``-d array.

    None for no vectors; ``(axis, vector)`` pairs in any order.
    """
    out = None
    for ax, v in vectors:
        b = bcast_axis(v, ndim, ax)
        out = b if out is None else out & b
    return out


def select(c: Any, a: Any, b: Any) -> Any:
    """``where(c, a, b)`` at the lax level (``c`` broadcastable to ``a``)."""
    shape = tuple(a.shape)
    if tuple(c.shape) != shape:
        c = lax.broadcast_in_dim(c, shape, tuple(range(len(shape) - c.ndim, len(shape))))
    if not hasattr(b, "shape") or tuple(b.shape) != shape:
        b = lax.full(shape, b, a.dtype) if np.ndim(b) == 0 else jnp.broadcast_to(b, shape)
    return lax.select(c, a, b)


def take(data: Any, idx: Any, axis: int) -> Any:
    """``data[idx]`` along ``axis``, ``idx`` clipped into range."""
    n = data.shape[axis]
    return jnp.take(data, jnp.clip(idx, 0, max(n - 1, 0)), axis=axis) if n else data


def shift(data: Any, offset: Any, axis: int, span: tuple[int, int] | None = None) -> Any:
    """``out[k] = data[k + offset]`` along ``axis`` (zeros where out of range).

    ``span``: a static interval holding ``offset``. One of a single sign pads
    one side only, by no more than the offset can reach (a flip's offset lies
    in ``[0, n]``: twice the length, not three times).
    """
    n = data.shape[axis]
    if n == 0:
        return data
    lo, hi = (-n, n) if span is None else (max(span[0], -n), min(span[1], n))
    before, after = max(-lo, 0), max(hi, 0)
    cfg = [(0, 0, 0)] * data.ndim
    cfg[axis] = (before, after, 0)
    padded = lax.pad(data, jnp.zeros((), data.dtype), cfg)
    if isinstance(offset, int):
        start = offset + before
    else:
        start = i32(offset) + np.int32(before) if before else i32(offset)
    starts = [np.int32(0)] * data.ndim
    starts[axis] = start
    # The start is in [0, before + after] by the span: no wrap-around select.
    return lax.dynamic_slice(padded, starts, data.shape, allow_negative_indices=False)


def resize(data: Any, axis: int, n: int) -> Any:
    """Truncate or zero-pad ``axis`` to size ``n``."""
    m = data.shape[axis]
    if m == n:
        return data
    if m > n:
        return lax.slice_in_dim(data, 0, n, axis=axis)
    cfg = [(0, 0, 0)] * data.ndim
    cfg[axis] = (0, n - m, 0)
    return lax.pad(data, jnp.zeros((), data.dtype), cfg)


def broadcast_unit(data: Any, axis: int, length: Any) -> Any:
    """``data`` with its first element repeated along ``axis`` where ``length == 1``."""
    if data.shape[axis] <= 1:
        return data
    first = lax.slice_in_dim(data, 0, 1, axis=axis)
    spread = lax.broadcast_in_dim(first, tuple(data.shape), tuple(range(data.ndim)))
    return lax.select(length == 1, spread, data)
