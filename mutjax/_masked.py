"""Values whose length is known only at run time: traced slices and masks.

Once a loop index is traced, ``L[i, :i]`` has ``i`` elements and JAX cannot
form it. ``x[a:b]`` with a traced bound and ``x[m]`` with a traced boolean
``m`` therefore give a :class:`MaskedArray`: data of a static *maximal* shape
plus, per axis of run-time length, a validity vector and the run-time length.
Operations keep it masked; reductions, ``dot`` and writes look only at the
valid positions, so no dynamic shape is ever formed.

Layouts of a run-time axis (:class:`Axis`):

- ``"front"``: the valid elements are packed at the front, in NumPy's order
  (position ``k`` holds the ``k``-th element). Every traced slice reads this
  way, so ``L[i, :i] @ x[:i]`` or ``np.flip(r[:k]) * y[:k]`` combine position
  by position, as NumPy (which requires equal lengths) does.
- ``"mask"``: ``x[m]`` keeps the elements in place (the mask's leading axes
  flattened), valid where ``m`` is true. Two values read with the same mask
  combine in place and an assignment with that mask is a ``where``; anything
  else packs them to the front first.

Masked positions always hold a finite filler: every operation that mixes
positions (reductions, ``dot``, shifts, writes) selects the valid positions
with ``where`` first, and the read selects the filler with ``where`` too, so
neither values nor gradients of masked positions reach a result (the
double-``where`` pattern).
"""

from __future__ import annotations

import dataclasses
import linecache
import os
import sys
from types import FrameType
from typing import Any

import jax.numpy as jnp
import numpy as np
from jax import lax

from . import _compat, _errors, _index, _lower, _values

_PKG = os.path.dirname(os.path.abspath(__file__))


def _user_line() -> str:
    """``file:line: code`` of the first frame outside mutjax, JAX and NumPy."""
    f: FrameType | None = sys._getframe(1)
    jax_root = os.path.dirname(os.path.dirname(os.path.abspath(jnp.__file__)))
    while f is not None:
        fn = os.path.abspath(f.f_code.co_filename)
        if not fn.startswith((_PKG, jax_root, os.path.dirname(np.__file__))):
            code = linecache.getline(fn, f.f_lineno).strip()
            return f"{os.path.basename(fn)}:{f.f_lineno}: `{code}`"
        f = f.f_back
    return "<unknown line>"


def dynamic_shape_error(what: str, origin: str) -> _errors.DynamicShapeError:
    return _errors.DynamicShapeError(
        f"mutjax: {what} needs the exact shape of a value whose length is known "
        f"only at run time (read at {origin}, where a slice bound or a boolean "
        "mask is traced). Keep it masked (elementwise operations, reductions, "
        "dot and assignment back into a traced slice work), or give it a "
        "static shape: `jnp.where(jnp.arange(n) < i, x, 0)` over the whole "
        "axis, or `x[jnp.nonzero(m, size=N)]` with a static bound N."
    )


@dataclasses.dataclass(frozen=True, eq=False)
class Axis:
    """The layout of one axis whose length is known only at run time."""

    kind: str  # "front" or "mask"
    valid: Any  # bool vector over the axis' static (maximal) size
    length: Any  # the run-time length (an integer scalar)
    key: Any = None  # for "mask": the mask it was read with (compared by identity)

    def same_layout(self, other: Axis) -> bool:
        if self.kind != other.kind:
            return False
        return self.kind == "front" or self.key is other.key


def _iota(n: int) -> Any:
    return lax.iota(np.int32, n)


def _front(length: Any, n: int) -> Axis:
    length = _i32(length)
    return Axis("front", _iota(n) < length, length)


def _bcast_axis(v: Any, ndim: int, axis: int) -> Any:
    """A vector laid out along ``axis`` of an ``ndim``-d array."""
    return lax.broadcast_in_dim(
        v, tuple(v.shape[0] if d == axis else 1 for d in range(ndim)), (axis,)
    )


def _take(data: Any, idx: Any, axis: int) -> Any:
    n = data.shape[axis]
    return jnp.take(data, jnp.clip(idx, 0, max(n - 1, 0)), axis=axis) if n else data


def _shift(data: Any, offset: Any, axis: int) -> Any:
    """``out[k] = data[k + offset]`` along ``axis`` (zeros where out of range)."""
    n = data.shape[axis]
    if n == 0:
        return data
    cfg = [(0, 0, 0)] * data.ndim
    cfg[axis] = (n, n, 0)
    padded = lax.pad(data, jnp.zeros((), data.dtype), cfg)
    start = offset + n if isinstance(offset, int) else _i32(offset) + np.int32(n)
    return lax.dynamic_slice_in_dim(padded, start, n, axis)


def _resize(data: Any, axis: int, n: int) -> Any:
    """Truncate or zero-pad ``axis`` to size ``n``."""
    m = data.shape[axis]
    if m == n:
        return data
    if m > n:
        return lax.slice_in_dim(data, 0, n, axis=axis)
    cfg = [(0, 0, 0)] * data.ndim
    cfg[axis] = (0, n - m, 0)
    return lax.pad(data, jnp.zeros((), data.dtype), cfg)


class MaskedArray:
    """A value whose length along some axes is known only at run time.

    ``data`` has a static maximal shape; ``axes`` holds, per axis, None (a
    static axis) or an :class:`Axis`. Instances come from reading a traced
    slice or a traced boolean mask of a mutable array; they support NumPy's
    elementwise operators and ufuncs, ``np.flip`` / ``[::-1]``, reductions,
    ``dot`` / ``@`` / ``vdot`` and assignment into a traced slice or mask.
    Whatever needs the exact shape raises :class:`mutjax.DynamicShapeError`.
    """

    __slots__ = ("_data", "axes", "origin", "target", "version", "clean")
    __array_priority__ = 3000

    def __init__(
        self,
        data: Any,
        axes: tuple[Axis | None, ...],
        origin: str,
        target: Any = None,
        clean: bool = False,
    ) -> None:
        self._data = data
        self.axes = tuple(axes)
        self.origin = origin
        # True when masked positions are known to hold 0 (a fresh read, a
        # flip of one): products and sums then need no select of their own.
        self.clean = clean
        # A traced *slice* is a view in NumPy: (array, index) it was read
        # from, so that later writes to the array show through and in-place
        # operators write back. A mask read is a copy (target None).
        self.target = target
        self.version = None if target is None else target[0]._cell.version

    @property
    def data(self) -> Any:
        target = self.target
        if target is not None and target[0]._cell.version != self.version:
            fresh = target[0][target[1]]
            self._data, self.version = fresh._data, fresh.version
        return self._data

    # -- what cannot work ----------------------------------------------------

    def _refuse(self, what: str) -> Any:
        raise dynamic_shape_error(what, self.origin)

    @property
    def shape(self) -> tuple[int, ...]:
        return self._refuse("`.shape`")

    @property
    def size(self) -> int:
        return self._refuse("`.size`")

    def __len__(self) -> int:
        return self._refuse("`len()`")

    def __iter__(self) -> Any:
        return self._refuse("iteration")

    def __int__(self) -> int:
        return self._refuse("`int()`")

    def __float__(self) -> float:
        return self._refuse("`float()`")

    def __complex__(self) -> complex:
        return self._refuse("`complex()`")

    def __index__(self) -> int:
        return self._refuse("use as an index")

    def __bool__(self) -> bool:
        return self._refuse("`bool()` (an `if` or `and`/`or`)")

    def __array__(self, dtype: Any = None, copy: Any = None) -> np.ndarray:
        return self._refuse("conversion to a NumPy array")

    @property
    def __jax_array__(self) -> Any:
        # JAX's operators (`alpha * v` with a JAX array alpha) look this up and
        # return NotImplemented when it is absent, which lets Python call our
        # reflected operator; every jax.numpy function calls it to convert its
        # input, which must refuse. Tell the two apart by the caller's module.
        caller = sys._getframe(1).f_globals.get("__name__", "")
        if caller == "jax._src.numpy.array_methods":
            # Absent, for both spellings of that lookup: jax 0.10.2 uses
            # getattr(x, "__jax_array__", None), jax 0.10.0 uses hasattr().
            raise AttributeError("__jax_array__")
        return self._refuse("a jax.numpy / jax.lax function")

    # -- static facts ----------------------------------------------------------

    @property
    def ndim(self) -> int:
        return len(self.axes)

    @property
    def dtype(self) -> Any:
        return self.data.dtype

    def __repr__(self) -> str:
        try:
            aval = self._data._aval if hasattr(self._data, "_aval") else self._data.aval
            dims = ",".join("?" if a is not None else str(d) for a, d in zip(self.axes, aval.shape))
            what = f"{aval.dtype}[{dims}]"
        except Exception:  # noqa: BLE001 - repr must never raise
            what = "?"
        return f"MaskedArray<{what} (read at {self.origin})>"

    # -- helpers ---------------------------------------------------------------

    def valid(self) -> Any:
        """A boolean array broadcastable to ``data``: the valid positions."""
        out = None
        for ax, a in enumerate(self.axes):
            if a is not None:
                v = _bcast_axis(a.valid, self.ndim, ax)
                out = v if out is None else out & v
        return out

    def filled(self, value: Any) -> Any:
        """``data`` with masked positions set to ``value``."""
        v = self.valid()
        if v is None or (self.clean and np.ndim(value) == 0 and value == 0):
            return self.data
        return _select(v, self.data, np.asarray(value, self.data.dtype))

    def compacted(self) -> MaskedArray:
        """The same value with every run-time axis packed to the front."""
        if all(a is None or a.kind == "front" for a in self.axes):
            return self
        data = self.data
        axes = list(self.axes)
        for ax, a in enumerate(self.axes):
            if a is not None and a.kind != "front":
                n = data.shape[ax]
                (idx,) = jnp.nonzero(a.valid, size=n, fill_value=0)
                axes[ax] = _front(a.length, n)
                data = _take(data, idx, ax)
        out = MaskedArray(data, tuple(axes), self.origin)
        return MaskedArray(out.filled(0), out.axes, self.origin, clean=True)

    def _with(self, data: Any, axes: tuple[Axis | None, ...] | None = None) -> Any:
        axes = self.axes if axes is None else axes
        if all(a is None for a in axes):
            return data
        return MaskedArray(data, axes, self.origin)

    # -- elementwise -------------------------------------------------------------

    def __array_ufunc__(self, ufunc: Any, method: str, *inputs: Any, **kwargs: Any) -> Any:
        out = kwargs.pop("out", None)
        if isinstance(out, tuple):
            out = out[0] if len(out) == 1 else self._refuse("several `out=` arrays")
        if out is not None and not (
            method == "__call__" and isinstance(out, MaskedArray) and out.target is not None
        ):
            return self._refuse(f"`np.{ufunc.__name__}(..., out=)` into this array")
        if method == "__call__":
            fn = getattr(jnp, ufunc.__name__, None)
            if fn is None:
                return NotImplemented
            result = elementwise(lambda *a: fn(*a, **kwargs), *inputs)
            if out is not None:
                # `np.add(v, 1, out=v)` with `v = x[:k]` writes x, as NumPy's view does.
                return out._inplace(lambda _, r: r, ufunc.__name__, result)
            return result
        if method == "reduce" and len(inputs) == 1:
            name = _UFUNC_REDUCTIONS.get(ufunc.__name__)
            if name is not None:
                return reduce(name, inputs[0], **kwargs)
        return self._refuse(f"`np.{ufunc.__name__}.{method}`")

    def __array_function__(self, func: Any, types: Any, args: Any, kwargs: Any) -> Any:
        impl = _FUNCTIONS.get(func.__name__)
        if impl is None:
            return self._refuse(f"`np.{func.__name__}`")
        return impl(*args, **kwargs)

    def astype(self, dtype: Any) -> Any:
        """The same masked value cast to ``dtype``."""
        return self._with(self.data.astype(dtype))

    def transpose(self, *axes: Any) -> MaskedArray:
        """NumPy's ``transpose`` (a copy here, not a view)."""
        if len(axes) == 1 and (axes[0] is None or isinstance(axes[0], (tuple, list))):
            axes = tuple(axes[0]) if axes[0] is not None else ()
        perm = tuple(int(a) % self.ndim for a in axes) or tuple(reversed(range(self.ndim)))
        data = lax.transpose(self.data, perm)
        return MaskedArray(data, tuple(self.axes[p] for p in perm), self.origin, clean=self.clean)

    @property
    def T(self) -> MaskedArray:  # noqa: N802 - NumPy's name
        return self.transpose()

    def copy(self) -> MaskedArray:
        return self

    def conj(self) -> Any:
        return elementwise(jnp.conj, self)

    conjugate = conj

    @property
    def real(self) -> Any:
        return elementwise(jnp.real, self)

    @property
    def imag(self) -> Any:
        return elementwise(jnp.imag, self)

    def __neg__(self) -> Any:
        return elementwise(jnp.negative, self)

    def __pos__(self) -> Any:
        return self

    def __abs__(self) -> Any:
        return elementwise(jnp.abs, self)

    def __invert__(self) -> Any:
        return elementwise(jnp.invert, self)

    # -- indexing a masked value ---------------------------------------------------

    def __getitem__(self, idx: Any) -> Any:
        items = list(idx if type(idx) is tuple else (idx,))
        real = [it for it in items if it is not None and it is not Ellipsis]
        ell = [i for i, it in enumerate(items) if it is Ellipsis]
        if len(ell) > 1 or len(real) > self.ndim:
            return self._refuse("this index")
        fill = [slice(None)] * (self.ndim - len(real))
        items = items[: ell[0]] + fill + items[ell[0] + 1 :] if ell else items + fill
        out: Any = self
        drop: list[tuple[int, int]] = []  # (axis, integer index)
        new_axes: list[int] = []  # output positions of the axes `None` inserts
        ax = 0
        for it in items:
            if it is None:
                new_axes.append(ax - len(drop) + len(new_axes))
                continue
            if isinstance(it, slice) and it == slice(None, None, -1):
                out = flip(out, ax)
            elif isinstance(it, (int, np.integer)) and (
                (lay := self.axes[ax]) is None or lay.kind == "front"
            ):
                drop.append((ax, int(it)))
            elif not (isinstance(it, slice) and it == slice(None)):
                return self._refuse("this index")
            ax += 1
        if not drop and not new_axes:
            return out
        out = out.compacted() if isinstance(out, MaskedArray) and drop else out
        data = out.data
        axes = list(out.axes)
        for ax, i in sorted(drop, reverse=True):
            if i < 0:
                if axes[ax] is not None:
                    return self._refuse("a negative index")
                i += data.shape[ax]
            data = lax.index_in_dim(data, i, ax, keepdims=False)
            del axes[ax]
        for pos in new_axes:
            data = lax.expand_dims(data, (pos,))
            axes.insert(pos, None)
        return (
            MaskedArray(data, tuple(axes), self.origin, clean=out.clean)
            if any(a is not None for a in axes)
            else data
        )

    def __setitem__(self, idx: Any, value: Any) -> None:
        self._refuse("assignment into a masked value (assign into the array it was read from)")

    def _inplace(self, fn: Any, name: str, other: Any) -> Any:
        new = elementwise(fn, self, other)
        if self.target is None:
            return new  # a copy, as NumPy's `x[m]`: Python rebinds the name
        rdtype, dtype = np.dtype(new.dtype), np.dtype(self.dtype)
        if rdtype != dtype and not np.can_cast(rdtype, dtype, "same_kind"):
            raise _errors.ufunc_cast_error(name, rdtype, dtype)
        arr, raw = self.target
        arr[raw] = new
        return self

    # -- reductions and products ------------------------------------------------------

    def sum(self, axis: Any = None, dtype: Any = None, keepdims: bool = False) -> Any:
        """NumPy's ``sum`` over the valid elements (see :func:`reduce`)."""
        return reduce("sum", self, axis=axis, dtype=dtype, keepdims=keepdims)

    def prod(self, axis: Any = None, dtype: Any = None, keepdims: bool = False) -> Any:
        """NumPy's ``prod`` over the valid elements (see :func:`reduce`)."""
        return reduce("prod", self, axis=axis, dtype=dtype, keepdims=keepdims)

    def max(self, axis: Any = None, keepdims: bool = False) -> Any:
        """NumPy's ``max`` over the valid elements; of none, ``-inf`` / the dtype's min."""
        return reduce("max", self, axis=axis, keepdims=keepdims)

    def min(self, axis: Any = None, keepdims: bool = False) -> Any:
        """NumPy's ``min`` over the valid elements; of none, ``inf`` / the dtype's max."""
        return reduce("min", self, axis=axis, keepdims=keepdims)

    def mean(self, axis: Any = None, dtype: Any = None, keepdims: bool = False) -> Any:
        """NumPy's ``mean`` over the valid elements (NaN for none)."""
        return reduce("mean", self, axis=axis, dtype=dtype, keepdims=keepdims)

    def any(self, axis: Any = None, keepdims: bool = False) -> Any:
        """NumPy's ``any`` over the valid elements."""
        return reduce("any", self, axis=axis, keepdims=keepdims)

    def all(self, axis: Any = None, keepdims: bool = False) -> Any:
        """NumPy's ``all`` over the valid elements."""
        return reduce("all", self, axis=axis, keepdims=keepdims)

    def argmax(self, axis: Any = None) -> Any:
        """NumPy's ``argmax``: an index into the valid elements, in NumPy's order."""
        return argreduce("argmax", self, axis)

    def argmin(self, axis: Any = None) -> Any:
        """NumPy's ``argmin``: an index into the valid elements, in NumPy's order."""
        return argreduce("argmin", self, axis)

    def dot(self, other: Any) -> Any:
        """NumPy's ``dot`` (see :func:`dot`)."""
        return dot(self, other)

    def __matmul__(self, other: Any) -> Any:
        return matmul(self, other)

    def __rmatmul__(self, other: Any) -> Any:
        return matmul(other, self)


def _iop(fn: Any, name: str) -> Any:
    return lambda self, other: self._inplace(fn, name, other)


def _binop(fn: Any, reflected: bool) -> Any:
    if reflected:
        return lambda self, other: elementwise(lambda a, b: fn(b, a), self, other)
    return lambda self, other: elementwise(fn, self, other)


for _name, _fn in {
    "add": jnp.add,
    "sub": jnp.subtract,
    "mul": jnp.multiply,
    "truediv": jnp.true_divide,
    "floordiv": jnp.floor_divide,
    "mod": jnp.remainder,
    "pow": jnp.power,
    "and": jnp.bitwise_and,
    "or": jnp.bitwise_or,
    "xor": jnp.bitwise_xor,
    "lshift": jnp.left_shift,
    "rshift": jnp.right_shift,
}.items():
    setattr(MaskedArray, f"__{_name}__", _binop(_fn, False))
    setattr(MaskedArray, f"__r{_name}__", _binop(_fn, True))
    setattr(MaskedArray, f"__i{_name}__", _iop(_fn, _name))
for _name, _fn in {
    "lt": jnp.less,
    "le": jnp.less_equal,
    "gt": jnp.greater,
    "ge": jnp.greater_equal,
    "eq": jnp.equal,
    "ne": jnp.not_equal,
}.items():
    setattr(MaskedArray, f"__{_name}__", _binop(_fn, False))
del _name, _fn
MaskedArray.__hash__ = None  # type: ignore[assignment]


def _origin_of(*xs: Any) -> str:
    for x in xs:
        if isinstance(x, MaskedArray):
            return x.origin
    return "<unknown line>"


def elementwise(fn: Any, *operands: Any) -> Any:
    """``fn`` applied to operands of which some are masked, position by position."""
    origin = _origin_of(*operands)
    shapes = []
    for x in operands:
        if isinstance(x, MaskedArray):
            shapes.append(tuple(x.data.shape))
        elif isinstance(x, (list, tuple)):
            shapes.append(np.shape(x))
        else:
            shapes.append(tuple(np.shape(x)) if not hasattr(x, "shape") else tuple(x.shape))
    ndim = max(len(s) for s in shapes)
    # Per output axis: the layouts of the masked operands on it.
    layouts: list[list[Axis]] = [[] for _ in range(ndim)]
    for x in operands:
        if isinstance(x, MaskedArray):
            off = ndim - x.ndim
            for ax, a in enumerate(x.axes):
                if a is not None:
                    layouts[off + ax].append(a)
    need_front = [bool(ls) and not all(ls[0].same_layout(b) for b in ls[1:]) for ls in layouts]
    sizes: list[int | None] = [None] * ndim  # the common static size of each run-time axis
    ops = list(operands)
    for i, x in enumerate(ops):
        if isinstance(x, MaskedArray):
            off = ndim - x.ndim
            if any(
                need_front[off + ax] and a is not None and a.kind != "front"
                for ax, a in enumerate(x.axes)
            ):
                x = ops[i] = x.compacted()
            for ax, a in enumerate(x.axes):
                if a is not None:
                    n = x.data.shape[ax]
                    s = sizes[off + ax]
                    sizes[off + ax] = n if s is None else min(s, n)
    for x, shp in zip(ops, shapes):
        off = ndim - len(shp)
        for ax, d in enumerate(shp):
            if (
                sizes[off + ax] is not None
                and d != 1
                and not (isinstance(x, MaskedArray) and x.axes[ax] is not None)
            ):
                raise dynamic_shape_error(
                    f"combining it with an operand of fixed length {d} on that axis "
                    "(NumPy requires equal lengths: slice the other operand with the "
                    "same traced bound; for a length-1 slice `A[k:k + 1, :]`, write "
                    "`A[None, k, :]`, whose length is static)",
                    origin,
                )
    datas: list[Any] = []
    # Per output axis: (operand, its axis, layout) of every run-time axis there.
    seen: list[list[tuple[int, int, Axis]]] = [[] for _ in range(ndim)]
    for i, x in enumerate(ops):
        if not isinstance(x, MaskedArray):
            datas.append(x)
            continue
        off = ndim - x.ndim
        data = x.data
        for ax, a in enumerate(x.axes):
            if a is None:
                continue
            n = sizes[off + ax]
            assert n is not None  # set above for every run-time axis
            data = _resize(data, ax, n)
            a = Axis(a.kind, a.valid[:n], a.length, a.key) if a.valid.shape[0] != n else a
            seen[off + ax].append((i, ax, a))
        datas.append(data)
    out_axes: list[Axis | None] = [None] * ndim
    for oax, entries in enumerate(seen):
        if not entries:
            continue
        first = entries[0][2]
        if first.kind != "front" or all(a is first for _, _, a in entries):
            out_axes[oax] = first  # one read, or one mask: the same positions
            continue
        # Two slices read apart: NumPy broadcasts one whose run-time length is
        # 1 (`A[k + 1:, k:k + 1] * A[k:k + 1, k + 1:]`), which only the run
        # time knows. Otherwise the lengths are equal (NumPy raises if not).
        length = first.length
        for _, _, a in entries[1:]:
            length = lax.select(length == 1, a.length, length)
        for i, ax, a in entries:
            datas[i] = _broadcast_unit(datas[i], ax, a.length)
        size = sizes[oax]
        assert size is not None  # set above: a masked operand has a run-time axis here
        out_axes[oax] = _front(length, size)
    out = fn(*datas)
    if all(a is None for a in out_axes):
        return out
    return MaskedArray(out, tuple(out_axes), origin)


def _broadcast_unit(data: Any, axis: int, length: Any) -> Any:
    """``data`` with its first element repeated along ``axis`` where ``length == 1``."""
    if data.shape[axis] <= 1:
        return data
    first = lax.slice_in_dim(data, 0, 1, axis=axis)
    spread = lax.broadcast_in_dim(first, tuple(data.shape), tuple(range(data.ndim)))
    return lax.select(length == 1, spread, data)


# -- flips ------------------------------------------------------------------------------


def flip(m: Any, axis: Any = None) -> Any:
    """NumPy's ``flip`` of a masked value: reverse the valid elements of each axis."""
    if not isinstance(m, MaskedArray):
        return jnp.flip(m, axis)
    axes = range(m.ndim) if axis is None else (axis,) if isinstance(axis, int) else axis
    m = m.compacted()
    data = m.data
    for ax in axes:
        ax = ax % m.ndim
        data = lax.rev(data, (ax,))
        a = m.axes[ax]
        if a is not None:
            # rev puts element k at n-1-k; NumPy's flip of the valid part puts it at
            # length-1-k: shift by the run-time count of masked positions.
            data = _shift(data, data.shape[ax] - a.length, ax)
    return MaskedArray(data, m.axes, m.origin, clean=m.clean)


# -- reductions -----------------------------------------------------------------------

_UFUNC_REDUCTIONS = {
    "add": "sum",
    "multiply": "prod",
    "maximum": "max",
    "minimum": "min",
    "logical_and": "all",
    "logical_or": "any",
}


def _identity(name: str, dtype: Any) -> Any:
    dtype = np.dtype(dtype)
    if name in ("sum", "mean", "any"):
        return np.zeros((), dtype)
    if name in ("prod", "all"):
        return np.ones((), dtype)
    big = name == "min"
    if dtype == np.bool_:
        return np.bool_(big)
    if np.issubdtype(dtype, np.inexact):
        return np.array(np.inf if big else -np.inf, dtype)
    info = np.iinfo(dtype)
    return np.array(info.max if big else info.min, dtype)


def _norm_axes(axis: Any, ndim: int) -> tuple[int, ...]:
    if axis is None:
        return tuple(range(ndim))
    axes = (axis,) if isinstance(axis, (int, np.integer)) else tuple(axis)
    out = []
    for a in axes:
        a = int(a)
        if not -ndim <= a < ndim:
            raise np.exceptions.AxisError(a, ndim)
        out.append(a % ndim)
    return tuple(out)


def reduce(
    name: str, m: Any, axis: Any = None, dtype: Any = None, keepdims: bool = False, **kw: Any
) -> Any:
    """``sum`` / ``prod`` / ``max`` / ``min`` / ``mean`` / ``any`` / ``all`` of a masked value.

    Masked positions contribute the reduction's identity (``-inf`` for ``max``
    of floats, the smallest integer for ints). NumPy refuses ``max`` / ``min``
    of an empty selection; under ``jit`` that cannot raise, so it gives the
    identity. ``mean`` of an empty selection is NaN, as in NumPy.
    """
    if kw.get("initial") is not None or kw.get("where") is not None:
        raise dynamic_shape_error(f"`{name}` with initial= or where=", _origin_of(m))
    if not isinstance(m, MaskedArray):
        return getattr(jnp, name)(m, axis=axis, keepdims=keepdims)
    axes = _norm_axes(axis, m.ndim)
    data = m.data
    if name in ("any", "all"):
        data = data.astype(bool)
    base = "sum" if name == "mean" else name
    kwargs: dict[str, Any] = {}
    if dtype is not None and name in ("sum", "prod", "mean"):
        kwargs["dtype"] = dtype
    fill = _identity(base, data.dtype)
    valid = m.valid()
    # Double where: masked positions are replaced before the reduction, so
    # neither their values nor their gradients reach the result.
    filled = data if m.clean and base == "sum" else _select(valid, data, fill)
    out = getattr(jnp, base)(filled, axis=axes, keepdims=keepdims, **kwargs)
    if name == "mean":
        count = None
        for ax in axes:
            a = m.axes[ax]
            c = a.length if a is not None else data.shape[ax]
            count = c if count is None else count * c
        if count is None:
            count = 1
        if not jnp.issubdtype(out.dtype, jnp.inexact):
            out = out.astype(jnp.result_type(float))
        out = out / jnp.asarray(count).astype(out.dtype)
    rest = tuple(None if ax in axes else a for ax, a in enumerate(m.axes))
    if keepdims:
        return m._with(out, rest)
    return m._with(out, tuple(a for ax, a in enumerate(m.axes) if ax not in axes))


def argreduce(name: str, m: Any, axis: Any = None) -> Any:
    """``argmax`` / ``argmin`` of a masked value, as indices into the valid elements."""
    if not isinstance(m, MaskedArray):
        return getattr(jnp, name)(m, axis=axis)
    m = m.compacted()
    fill = _identity("max" if name == "argmax" else "min", m.dtype)
    filled = jnp.where(m.valid(), m.data, fill)
    if axis is not None:
        (ax,) = _norm_axes(axis, m.ndim)
        out = getattr(jnp, name)(filled, axis=ax)
        return m._with(out, tuple(a for i, a in enumerate(m.axes) if i != ax))
    flat = getattr(jnp, name)(filled)
    if m.ndim == 1:
        return flat
    # Index into the flattened *valid* array: re-ravel with the run-time lengths.
    coords = jnp.unravel_index(flat, m.data.shape)
    out = jnp.zeros((), flat.dtype)
    for ax, c in enumerate(coords):
        a = m.axes[ax]
        extent = a.length if a is not None else m.data.shape[ax]
        out = out * jnp.asarray(extent).astype(flat.dtype) + c
    return out


# -- products -------------------------------------------------------------------------------


def _zeroed(x: Any) -> Any:
    return x.filled(0) if isinstance(x, MaskedArray) else x


def _contract(a: Any, b: Any, ax_a: int, ax_b: int, fn: Any) -> Any:
    """``fn(a, b)`` contracting axis ``ax_a`` of ``a`` with ``ax_b`` of ``b``."""
    origin = _origin_of(a, b)
    la = a.axes[ax_a] if isinstance(a, MaskedArray) else None
    lb = b.axes[ax_b] if isinstance(b, MaskedArray) else None
    if (la is None) != (lb is None):
        d = (b if la is not None else a).shape
        raise dynamic_shape_error(
            f"a product with an operand of fixed length {d[ax_b if la is not None else ax_a]} "
            "on the contracted axis (NumPy requires equal lengths; slice it with the same "
            "traced bound)",
            origin,
        )
    # lb is not None whenever la is not (checked above); the test only tells mypy.
    if la is not None and lb is not None and not la.same_layout(lb):
        a, b = a.compacted(), b.compacted()
        la, lb = a.axes[ax_a], b.axes[ax_b]
    da, db = _zeroed(a), _zeroed(b)
    if la is not None:
        n = min(da.shape[ax_a], db.shape[ax_b])
        da, db = _resize(da, ax_a, n), _resize(db, ax_b, n)
    out = fn(da, db)
    axes_a: list[Axis | None] = list(a.axes) if isinstance(a, MaskedArray) else [None] * np.ndim(a)
    axes_b: list[Axis | None] = list(b.axes) if isinstance(b, MaskedArray) else [None] * np.ndim(b)
    del axes_a[ax_a]
    del axes_b[ax_b]
    out_axes = tuple(axes_a + axes_b)
    if all(x is None for x in out_axes):
        return out
    return MaskedArray(out, out_axes, origin)


def _ndim(x: Any) -> int:
    return x.ndim if isinstance(x, MaskedArray) else np.ndim(x)


def dot(a: Any, b: Any, out: Any = None) -> Any:
    """NumPy's ``dot`` where either operand may be masked."""
    if out is not None:
        raise dynamic_shape_error("`np.dot(..., out=)`", _origin_of(a, b))
    na, nb = _ndim(a), _ndim(b)
    if na == 0 or nb == 0:
        return elementwise(jnp.multiply, a, b)
    if na > 2 or nb > 2:
        raise dynamic_shape_error("`dot` of arrays with more than two axes", _origin_of(a, b))
    return _contract(a, b, na - 1, 0 if nb == 1 else nb - 2, jnp.dot)


def matmul(a: Any, b: Any) -> Any:
    """NumPy's ``matmul`` (``@``) where either operand may be masked."""
    if _ndim(a) == 0 or _ndim(b) == 0:
        raise ValueError("matmul: Input operand does not have enough dimensions")
    return dot(a, b)


def vdot(a: Any, b: Any) -> Any:
    """NumPy's ``vdot``: the conjugated dot product of the flattened operands."""
    return reduce("sum", elementwise(lambda x, y: jnp.conj(x) * y, a, b))


def outer(a: Any, b: Any, out: Any = None) -> Any:
    """NumPy's ``outer`` of two vectors, either of them masked."""
    if out is not None or _ndim(a) != 1 or _ndim(b) != 1:
        raise dynamic_shape_error("`np.outer` of other than two vectors, or out=", _origin_of(a, b))
    return elementwise(jnp.multiply, a[:, None], b[None, :])


def inner(a: Any, b: Any) -> Any:
    if _ndim(a) == 1 and _ndim(b) == 1:
        return dot(a, b)
    raise dynamic_shape_error("`np.inner` of arrays with more than one axis", _origin_of(a, b))


def _where(cond: Any, x: Any, y: Any) -> Any:
    return elementwise(jnp.where, cond, x, y)


def _ufunc_like(fn: Any) -> Any:
    return lambda *a, **k: elementwise(lambda *d: fn(*d, **k), *a)


_FUNCTIONS: dict[str, Any] = {
    "flip": flip,
    "dot": dot,
    "matmul": matmul,
    "vdot": vdot,
    "inner": inner,
    "outer": outer,
    "sum": lambda a, axis=None, dtype=None, out=None, keepdims=False, **k: reduce(
        "sum", a, axis, dtype, keepdims, **k
    ),
    "prod": lambda a, axis=None, dtype=None, out=None, keepdims=False, **k: reduce(
        "prod", a, axis, dtype, keepdims, **k
    ),
    "mean": lambda a, axis=None, dtype=None, out=None, keepdims=False, **k: reduce(
        "mean", a, axis, dtype, keepdims, **k
    ),
    "max": lambda a, axis=None, out=None, keepdims=False, **k: reduce(
        "max", a, axis, None, keepdims, **k
    ),
    "amax": lambda a, axis=None, out=None, keepdims=False, **k: reduce(
        "max", a, axis, None, keepdims, **k
    ),
    "min": lambda a, axis=None, out=None, keepdims=False, **k: reduce(
        "min", a, axis, None, keepdims, **k
    ),
    "amin": lambda a, axis=None, out=None, keepdims=False, **k: reduce(
        "min", a, axis, None, keepdims, **k
    ),
    "any": lambda a, axis=None, out=None, keepdims=False, **k: reduce(
        "any", a, axis, None, keepdims, **k
    ),
    "all": lambda a, axis=None, out=None, keepdims=False, **k: reduce(
        "all", a, axis, None, keepdims, **k
    ),
    "argmax": lambda a, axis=None, out=None, **k: argreduce("argmax", a, axis),
    "argmin": lambda a, axis=None, out=None, **k: argreduce("argmin", a, axis),
    "where": _where,
    "abs": _ufunc_like(jnp.abs),
    "clip": _ufunc_like(jnp.clip),
    "real": _ufunc_like(jnp.real),
    "imag": _ufunc_like(jnp.imag),
    "copy": lambda a, **k: a,
    "transpose": lambda a, axes=None: a.transpose(axes),
}


# -- reading and writing a mutable array through a traced slice or mask ----------------------


def same_index(a: Any, b: Any) -> bool:
    """Whether two raw indices are the same, traced parts compared by identity."""
    if type(a) is not type(b):
        return False
    if isinstance(a, tuple):
        return len(a) == len(b) and all(same_index(x, y) for x, y in zip(a, b))
    if isinstance(a, slice):
        return all(
            same_index(x, y) for x, y in zip((a.start, a.stop, a.step), (b.start, b.stop, b.step))
        )
    if a is None or isinstance(a, (int, np.integer, type(Ellipsis))):
        return a == b
    return a is b


def is_dynamic(ix: _index.Index) -> bool:
    """True when ``ix`` has a traced slice bound or a traced boolean mask."""
    return ix.mask is not None or any(type(e) is _index.DynSlice for e in ix.entries)


def _i32(v: Any) -> Any:
    v = jnp.asarray(v) if not hasattr(v, "dtype") else v
    return v if v.dtype == np.int32 else lax.convert_element_type(v, np.int32)


def _select(c: Any, a: Any, b: Any) -> Any:
    """``where(c, a, b)`` at the lax level (``c`` broadcastable to ``a``)."""
    shape = tuple(a.shape)
    if tuple(c.shape) != shape:
        c = lax.broadcast_in_dim(c, shape, tuple(range(len(shape) - c.ndim, len(shape))))
    if not hasattr(b, "shape") or tuple(b.shape) != shape:
        b = lax.full(shape, b, a.dtype) if np.ndim(b) == 0 else jnp.broadcast_to(b, shape)
    return lax.select(c, a, b)


def _clamp_bound(v: Any, default: int, lo: int, hi: int, n: int) -> Any:
    """One bound of a slice with a static step, as ``slice.indices`` clamps it."""
    if v is None:
        return default
    if isinstance(v, int):
        v = v + n if v < 0 else v
        return min(max(v, lo), hi)
    v = _i32(v)
    v = lax.select(v < 0, v + np.int32(n), v)
    return lax.clamp(np.int32(lo), v, np.int32(hi))


def _slice_bounds(d: _index.DynSlice, n: int) -> tuple[Any, Any, Any]:
    """NumPy's ``slice.indices`` with traced parts: (start, step, length).

    Static parts stay Python ints, so ``x[:i]`` costs one comparison.
    """
    step = 1 if d.step is None else d.step
    if isinstance(step, int):
        if step > 0:
            start = _clamp_bound(d.start, 0, 0, n, n)
            stop = _clamp_bound(d.stop, n, 0, n, n)
            span = stop if isinstance(start, int) and start == 0 else stop - start
        else:
            start = _clamp_bound(d.start, n - 1, -1, n - 1, n)
            stop = _clamp_bound(d.stop, -1, -1, n - 1, n)
            span = start - stop
        a = abs(step)
        if isinstance(span, int):
            return start, step, max(0, -(-span // a))
        length = span if a == 1 else (span + np.int32(a - 1)) // np.int32(a)
        return start, step, lax.max(_i32(length), np.int32(0))
    # A traced step: both signs computed, selected at run time.
    stepv = _i32(step)
    s_up, _, l_up = _slice_bounds(_index.DynSlice(d.start, d.stop, 1), n)
    s_dn, _, l_dn = _slice_bounds(_index.DynSlice(d.start, d.stop, -1), n)
    neg = stepv < 0
    safe = lax.select(stepv == 0, np.int32(1), lax.abs(stepv))
    start = lax.select(neg, _i32(s_dn), _i32(s_up))
    span = lax.select(neg, _i32(l_dn), _i32(l_up))
    # A traced step of 0 cannot raise under jit: it selects nothing.
    length = lax.select(stepv == 0, np.int32(0), (span + safe - 1) // safe)
    return start, stepv, length


def _static_part(ix: _index.Index) -> tuple[_index.Index, list[tuple[int, _index.DynSlice]]]:
    """The index with every traced slice widened to ``:``, and where those axes land."""
    prepared = list(ix.prepared)
    dyn_in = [ax for ax, e in enumerate(ix.entries) if type(e) is _index.DynSlice]
    for p, item in enumerate(prepared):
        if isinstance(item, slice) and any(
            isinstance(v, _compat.Tracer) for v in (item.start, item.stop, item.step)
        ):
            prepared[p] = slice(None)
    static = _index.analyze(tuple(prepared), ix.shape)
    return static, [(static.out.index(ax), ix.entries[ax]) for ax in dyn_in]


def _check_supported(ix: _index.Index, origin: str) -> None:
    if ix.mask is None and not ix.is_basic:
        raise dynamic_shape_error(
            "a traced slice bound combined with integer or boolean arrays in one index",
            origin,
        )


def read(value: Any, ix: _index.Index) -> tuple[Any, list[Any], str]:
    """``value[ix]`` for a dynamic index, as (data, per-axis layout parts, origin).

    Runs under the parent trace. The layout parts are, per result axis, None
    or ``(kind, valid, length, key)``; the caller wraps the arrays.
    """
    origin = _user_line()
    if ix.mask is not None:
        m = ix.mask
        trailing = tuple(ix.shape[m.ndim :])
        data = lax.reshape(value, (int(np.prod(m.shape, dtype=np.int64)),) + trailing)
        valid = lax.reshape(m, (data.shape[0],))
        length = jnp.sum(valid, dtype=np.int32)
        # Masked positions hold the filler: see the module docstring.
        data = _select(_bcast_axis(valid, data.ndim, 0), data, np.zeros((), data.dtype))
        return data, [("mask", valid, length, m)] + [None] * len(trailing), origin
    _check_supported(ix, origin)
    static, dyn = _static_part(ix)
    data = _lower.basic_read(value, static)
    parts: list[Any] = [None] * data.ndim
    for ax, d in dyn:
        n = data.shape[ax]
        start, step, length = _slice_bounds(d, n)
        if isinstance(step, int) and abs(step) == 1:
            if step == -1:
                if not (isinstance(start, int) and start == n - 1):
                    data = _shift(lax.rev(data, (ax,)), n - 1 - start, ax)
                else:
                    data = lax.rev(data, (ax,))
            elif not (isinstance(start, int) and start == 0):
                data = _shift(data, start, ax)
        else:
            data = _take(data, start + step * _iota(n), ax)
        valid = _iota(n) < length
        parts[ax] = ("front", valid, length, None)
    valid_full = None
    for ax, p in enumerate(parts):
        if p is not None:
            v = _bcast_axis(p[1], data.ndim, ax)
            valid_full = v if valid_full is None else valid_full & v
    data = _select(valid_full, data, np.zeros((), data.dtype))
    return data, parts, origin


def _to_mask_layout(v: MaskedArray, mask_valid: Any) -> Any:
    """Data of a front-packed axis 0 spread over the true positions of ``mask_valid``."""
    v = v.compacted()
    src = jnp.cumsum(mask_valid.astype(np.int32)) - 1
    data = _resize(v.data, 0, mask_valid.shape[0])
    return _take(data, src, 0)


def write(value: Any, ix: _index.Index, v: Any, dtype: Any) -> Any:
    """``value`` with ``value[ix] = v`` for a dynamic index; under the parent trace.

    ``v`` is a :class:`MaskedArray` (its arrays already unwrapped to the parent
    trace) or an ordinary value; only the valid positions are written.
    """
    origin = _user_line()
    if ix.mask is not None:
        if not isinstance(v, MaskedArray):
            trailing = tuple(ix.shape[ix.mask.ndim :])
            vshape = tuple(np.shape(v))
            while len(vshape) > len(trailing) and vshape[0] == 1:
                vshape = vshape[1:]
            if len(vshape) > len(trailing):
                raise _errors.DynamicShapeError(
                    f"mutjax: `x[m] = v` with a traced boolean mask `m` and a value of "
                    f"shape {vshape} (at {origin}): the value's length must equal the "
                    "mask's count, which is known only at run time. Assign a value "
                    "read with the same mask (`x[m] = y[m] * 10`), a scalar or a value "
                    "that broadcasts to one element, or use `jnp.where(m, new, x)`, or "
                    "`x[jnp.nonzero(m, size=N)] = v` with a static bound N."
                )
            return _lower.masked_write(value, ix, v)
        m = ix.mask
        trailing = tuple(ix.shape[m.ndim :])
        flat_valid = lax.reshape(m, (int(np.prod(m.shape, dtype=np.int64)),))
        a0 = v.axes[0] if v.ndim else None
        if v.ndim != 1 + len(trailing) or a0 is None or any(a is not None for a in v.axes[1:]):
            raise dynamic_shape_error("assigning a value of another shape into `x[m]`", v.origin)
        if a0.kind == "mask" and a0.key is m:
            data = v.data
        else:
            data = _to_mask_layout(v, flat_valid)
        data = _values.prepare_value(data, (flat_valid.shape[0],) + trailing, dtype)
        data = lax.reshape(data, tuple(ix.shape))
        full = lax.broadcast_in_dim(m, tuple(ix.shape), tuple(range(m.ndim)))
        return lax.select(full, data, value)
    _check_supported(ix, origin)
    static, dyn = _static_part(ix)
    window = _lower.basic_read(value, static)
    wshape = tuple(window.shape)
    if isinstance(v, MaskedArray):
        v = v.compacted()
        if v.ndim > len(wshape):
            raise dynamic_shape_error("assigning a value with more axes than the target", v.origin)
        off = len(wshape) - v.ndim
        dyn_axes = {ax for ax, _ in dyn}
        data = v.data
        for ax, a in enumerate(v.axes):
            if a is not None:
                if off + ax not in dyn_axes:
                    raise dynamic_shape_error(
                        "assigning a value of run-time length into an axis of fixed length",
                        v.origin,
                    )
                data = _resize(data, ax, wshape[off + ax])
        vdata = _values.prepare_value(data, wshape, dtype)
    else:
        # An ordinary value broadcasts against the run-time axes (length 1 there).
        vdata = _values.prepare_value(v, wshape, dtype)
    hit = None
    for ax, d in dyn:
        n = wshape[ax]
        start, step, length = _slice_bounds(d, n)
        t = _iota(n)
        if isinstance(step, int) and step == 1:
            if isinstance(start, int) and start == 0:
                h = t < length
            else:
                vdata = _shift(vdata, -start, ax)
                h = (t >= start) & (t < start + length)
        elif isinstance(step, int) and step == -1:
            # target t holds element start - t
            vdata = _take(vdata, start - t, ax)
            h = (t <= start) & (t > start - length)
        else:
            safe = step if isinstance(step, int) else lax.select(step == 0, np.int32(1), step)
            k = (t - start) // safe
            vdata = _take(vdata, k, ax)
            h = ((t - start) % safe == 0) & (k >= 0) & (k < length)
        h = _bcast_axis(h, len(wshape), ax)
        hit = h if hit is None else hit & h
    new_window = _select(hit, vdata, window)
    return _lower.basic_write(value, static, new_window)


__all__ = [
    "Axis",
    "MaskedArray",
    "dot",
    "dynamic_shape_error",
    "elementwise",
    "flip",
    "is_dynamic",
    "matmul",
    "read",
    "reduce",
    "vdot",
    "write",
]
