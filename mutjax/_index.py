"""Index analysis: a Python index plus an array shape -> a static description.

This is the first of the two stages of ``x[idx]`` and ``x[idx] = v`` (the
second is ``mutjax._lower``). Every entry of the index is classified once,
following NumPy's ``prepare_index`` (``numpy/_core/src/multiarray/mapping.c``);
NumPy's errors are raised here, at trace time, for everything that is static.

``analyze`` runs four stages, each a pure function of the one before:
``parse`` classifies every raw entry into one kind, ``expand`` gives
every axis one entry (``...``, implicit trailing slices, masks split per
axis), ``normalize`` checks each entry against its axis, and the
advanced block is broadcast and placed (``out_axes``) before
``result_shape`` reads the result off. Nothing in here touches trace state: traced parts of the index arrive as
values of the parent trace and are kept as they are.
"""

from __future__ import annotations

import dataclasses
import operator
from typing import Any, NamedTuple

import numpy as np

from . import _compat
from ._errors import DynamicShapeError
from ._errors import shape_str as _shape_str

_VALID = (
    "only integers, slices (`:`), ellipsis (`...`), numpy.newaxis (`None`) "
    "and integer or boolean arrays are valid indices"
)


@dataclasses.dataclass(frozen=True)
class Int:
    """An integer on one axis: a Python int (normalized, in bounds) or traced.

    ``known``: for a traced integer, a static interval ``(lo, hi)`` it is
    known to lie in (a loop index, see mutjax._ranges), else None.
    """

    value: Any
    known: tuple[int, int] | None = None

    @property
    def static(self) -> bool:
        return isinstance(self.value, int)


@dataclasses.dataclass(frozen=True)
class Slice:
    """A static slice on one axis, normalized to ``start + step * k``, k < length."""

    start: int
    step: int
    length: int


@dataclasses.dataclass(frozen=True)
class DynSlice:
    """A slice whose start, stop or step is traced (a run-time length).

    ``known``: per bound (start, stop, step), a static interval ``(lo, hi)``
    a traced one is known to lie in (see mutjax._ranges), else None.
    """

    start: Any
    stop: Any
    step: Any
    known: tuple[tuple[int, int] | None, ...] = (None, None, None)


@dataclasses.dataclass(frozen=True)
class Adv:
    """An axis indexed by the advanced block (integer array, mask, or int)."""


NEW = "new"  # an output axis of length 1 that the index inserts
ADV = "adv"  # the place of the advanced block in the output


@dataclasses.dataclass(frozen=True, eq=False)
class Index:
    """The static description of one index into an array of ``shape``.

    ``entries`` has one item per axis of ``shape`` (after ``...`` is expanded
    and masks are split into integer arrays): an ``Int``, a
    ``Slice``, a ``DynSlice`` or ``ADV_ENTRY``. ``out`` lists the
    result's axes in order: an input axis number (a sliced axis), ``NEW``, or
    ``ADV`` once for the whole advanced block. ``adv`` holds one integer array
    per advanced axis, broadcast to ``adv_shape`` (static arrays are NumPy,
    normalized to non-negative; traced ones are kept raw). ``prepared`` is the
    index rebuilt as a tuple JAX's own indexing accepts, with the same meaning.
    """

    shape: tuple[int, ...]
    entries: tuple[Any, ...]
    out: tuple[Any, ...]
    adv: tuple[Any, ...]
    adv_dims: tuple[int, ...]
    adv_shape: tuple[int, ...]
    result_shape: tuple[int, ...]
    prepared: tuple[Any, ...]
    mask: Any = None  # a traced boolean mask over the leading axes, if any
    empty_new: bool = False  # a scalar False made the result empty
    # An integer on every axis and nothing else: NumPy assigns one element and
    # refuses any value with a dimension ("setting an array element with a
    # sequence"), even one of size 1.
    scalar: bool = False
    mask_count: int | None = None  # the index is one static mask over every axis
    pending: Exception | None = None  # raised by the write, see analyze(for_write=)
    # The advanced lowering's view of the operand: one axis per entry of the
    # index that consumes or (scalar booleans) inserts an axis, in order. A
    # scalar boolean among advanced indices is an index array over a new axis
    # of length one, so the operand gets that axis (``ext_shape``) and
    # ``adv_ext`` names, per array of ``adv``, the operand axis it indexes.
    ext_shape: tuple[int, ...] = ()
    ext_entries: tuple[Any, ...] = ()
    adv_ext: tuple[int, ...] = ()

    @property
    def is_basic(self) -> bool:
        return not self.adv_dims and self.mask is None

    @property
    def is_static(self) -> bool:
        return all(
            type(e) in (Slice, Adv) or (type(e) is Int and e.static) for e in self.entries
        ) and all(isinstance(a, np.ndarray) for a in self.adv)


ADV_ENTRY = Adv()


@dataclasses.dataclass(frozen=True, eq=False)
class ZeroDArray:
    """A 0-d mutable array in an index that stands for a NumPy 0-d *array*.

    A 0-d mutable array seen through a view (``x[..., np.array(0)]``,
    ``a.reshape(())``, ``a[...]`` on a 0-d ``a``) is an ndarray in NumPy, not
    a NumPy scalar, so NumPy reads it as an integer that makes the result a
    copy (see ``is_scalar_array``). The interpreter wraps its value in this
    before unwrapping the index; ``value`` is a value of the parent trace.
    """

    value: Any


def _is_traced(x: Any) -> bool:
    return isinstance(x, _compat.Tracer)


def _static_array(x: Any) -> np.ndarray | None:
    """``x`` as a NumPy array if its value is known now, else None."""
    if isinstance(x, np.ndarray):
        return x
    if _compat.is_concrete_array(x):
        return np.asarray(x)
    if _is_traced(x):
        concrete = _compat.to_concrete_value(x)
        return None if concrete is None else np.asarray(concrete)
    if isinstance(x, (list, tuple)):
        if _has_tracer(x):
            return None
        try:
            arr = np.asarray(x)
        except ValueError as e:  # ragged nested lists: NumPy's own error
            raise ValueError(str(e)) from None
        if arr.dtype == object:
            raise IndexError(_VALID)
        if arr.size == 0 and arr.dtype == np.float64:
            arr = arr.astype(np.intp)  # NumPy reads `[]` as an empty intp array
        return arr
    return None


def _has_tracer(seq: Any) -> bool:
    return any(_is_traced(i) or (isinstance(i, (list, tuple)) and _has_tracer(i)) for i in seq)


# --------------------------------------------------------------------------
# Stage 1, parse: each raw entry of the index -> one kind, checked once.
#
#   "new"       None                    "ellipsis"  ...
#   "int"       a static integer        "tint"      a traced integer scalar
#   "slice"     a slice                 "bool0"     a static scalar boolean
#   "array"     a static integer array  "tarray"    a traced integer array
#   "mask"      a static boolean array  "tmask"     a traced boolean array
#               of one or more axes                 (scalar or not)


class Parsed(NamedTuple):
    kind: str
    value: Any  # the entry as the later stages read it (see the kinds above)


_NOT_AN_INDEX = (float, complex, str, bytes, dict, set, np.floating)


def _is_array_like(item: Any) -> bool:
    return (
        _is_traced(item)
        or isinstance(item, (np.ndarray, list, tuple))
        or hasattr(item, "__jax_array__")
        or _compat.is_concrete_array(item)
    )


def _classify(item: Any) -> Parsed:
    """One entry of the index -> its kind and value."""
    if item is None:
        return Parsed("new", None)
    if item is Ellipsis:
        return Parsed("ellipsis", None)
    if type(item) is ZeroDArray:
        return _classify_array(item.value)
    if isinstance(item, (bool, np.bool_)):
        return Parsed("bool0", bool(item))
    if isinstance(item, slice):
        return Parsed("slice", item)
    if isinstance(item, (int, np.integer)):
        return Parsed("int", int(item))
    if isinstance(item, _NOT_AN_INDEX):
        raise IndexError(_VALID)
    if _is_array_like(item):
        return _classify_array(item)
    try:
        return Parsed("int", operator.index(item))
    except TypeError:
        pass
    if hasattr(item, "__array__"):
        return _classify_array(_from_array_protocol(item))
    raise IndexError(_VALID)


def _from_array_protocol(item: Any) -> np.ndarray:
    # NumPy's prepare_index converts any other object with `np.asarray`
    # (after trying `__index__`); an empty result is an intp index array
    # whatever its dtype.
    arr = np.asarray(item)
    if arr.dtype == object:
        raise IndexError(_VALID)
    return arr.astype(np.intp) if arr.size == 0 else arr


def _classify_array(item: Any) -> Parsed:
    """An array-like entry (NumPy, JAX, traced, nested list) -> its kind."""
    arr = _static_array(item)
    value: Any  # a NumPy array, or a JAX array / tracer
    if arr is not None:
        value = arr
    elif isinstance(item, (list, tuple)):
        # A list holding traced scalars (`A[[k, p]]` with a traced pivot):
        # one traced integer array. The caller runs us under the parent trace.
        import jax.numpy as jnp

        value = jnp.asarray(item)
    else:
        value = item
    dtype = np.dtype(value.dtype)
    if dtype == np.bool_:
        if arr is None:
            return Parsed("tmask", value)
        return Parsed("bool0", bool(arr)) if arr.ndim == 0 else Parsed("mask", arr)
    if not np.issubdtype(dtype, np.integer):
        raise IndexError("arrays used as indices must be of integer (or boolean) type")
    if arr is None:
        return Parsed("tint" if value.ndim == 0 else "tarray", value)
    return Parsed("int", int(arr)) if arr.ndim == 0 else Parsed("array", arr)


def entries_of(idx: Any) -> tuple[Any, ...]:
    """The raw entries of a Python index.

    NumPy reads any tuple, a subclass included (a namedtuple), as a tuple of
    entries, through the subclass's own iteration (``unpack_indices`` in
    ``mapping.c`` calls ``PySequence_Tuple``); anything else is one entry.
    """
    return tuple(idx) if isinstance(idx, tuple) else (idx,)


def is_scalar_array(item: Any) -> bool:
    """Whether NumPy reads entry ``item`` as a 0-d integer *array* (not an integer).

    NumPy's ``HAS_SCALAR_ARRAY``: a 0-d ndarray, or an object it converts
    with ``__array__`` (it tries ``__index__`` first). Among other entries it
    counts as an integer, but the result is then a copy: a 0-d array, not a
    view and not a NumPy scalar.
    """
    if isinstance(item, np.ndarray):
        return item.ndim == 0
    if type(item) is ZeroDArray:
        return True
    if _is_array_like(item) or hasattr(item, "__index__") or not hasattr(item, "__array__"):
        return False
    return np.ndim(np.asarray(item)) == 0


def parse(idx: Any) -> list[Parsed]:
    """The entries of a Python index, each classified (NumPy's errors for bad ones)."""
    return [_classify(item) for item in entries_of(idx)]


def _width(p: Parsed, ellipsis_width: int = 0) -> int:
    """How many axes of the array the entry consumes."""
    if p.kind in ("mask", "tmask"):
        return int(p.value.ndim)
    if p.kind == "ellipsis":
        return ellipsis_width
    return 0 if p.kind in ("new", "bool0") else 1


def count_axes(parsed: list[Parsed], ndim: int) -> int:
    """The axes the entries other than ``...`` consume; NumPy's count errors."""
    if sum(p.kind == "ellipsis" for p in parsed) > 1:
        raise IndexError("an index can only have a single ellipsis ('...')")
    consumed = sum(_width(p) for p in parsed)
    if consumed > ndim:
        raise IndexError(
            f"too many indices for array: array is {ndim}-dimensional, but {consumed} were indexed"
        )
    return consumed


# --------------------------------------------------------------------------
# Stage 2, expand: one entry per axis. `...` and the implicit trailing axes
# become full slices; a static mask becomes one integer array per axis it
# covers (its `np.nonzero`).


class Expanded(NamedTuple):
    kind: str  # a parsed kind except "ellipsis" and "mask", or "gap"
    value: Any
    axis: int | None  # the axis it consumes; None for "new", "bool0", "gap"


_GAP = Expanded("gap", None, None)  # a zero-length `...`


def _full_slices(start: int, stop: int) -> list[Expanded]:
    return [Expanded("slice", slice(None), ax) for ax in range(start, stop)]


def _check_mask_shape(mshape: tuple[int, ...], axis: int, shape: tuple[int, ...]) -> None:
    # NumPy does not check a boolean index's axes of length 0 against the
    # array: `x[..., np.zeros(0, bool)]` is valid for any last axis.
    for j, m in enumerate(mshape):
        if m and m != shape[axis + j]:
            raise IndexError(
                "boolean index did not match indexed array along axis "
                f"{axis + j}; size of axis is {shape[axis + j]} but size of "
                f"corresponding boolean axis is {m}"
            )


def _expand_mask(p: Parsed, axis: int, shape: tuple[int, ...]) -> list[Expanded]:
    mshape = tuple(p.value.shape)
    _check_mask_shape(mshape, axis, shape)
    if 0 in mshape:
        # An empty boolean index selects nothing whatever its values (a
        # traced one too).
        return [Expanded("array", np.zeros(0, np.intp), axis + j) for j in range(len(mshape))]
    if p.kind == "mask":
        return [Expanded("array", a, axis + j) for j, a in enumerate(np.nonzero(p.value))]
    return [Expanded("tmask", p.value, axis)]


def _expand_entry(p: Parsed, axis: int, width: int, shape: tuple[int, ...]) -> list[Expanded]:
    if p.kind == "ellipsis":
        # A zero-length `...` still separates advanced entries.
        return _full_slices(axis, axis + width) or [_GAP]
    if p.kind in ("new", "bool0"):
        return [Expanded(p.kind, p.value, None)]
    if p.kind in ("mask", "tmask"):
        return _expand_mask(p, axis, shape)
    return [Expanded(p.kind, p.value, axis)]


def expand(parsed: list[Parsed], shape: tuple[int, ...], consumed: int) -> list[Expanded]:
    """Every axis of ``shape`` covered by one entry, in order; mask shape errors."""
    ndim = len(shape)
    expanded: list[Expanded] = []
    axis = 0
    for p in parsed:
        width = _width(p, ellipsis_width=ndim - consumed)
        expanded.extend(_expand_entry(p, axis, width, shape))
        axis += width
    return expanded + _full_slices(axis, ndim)


# --------------------------------------------------------------------------
# Stage 3, normalize: each expanded entry checked against its axis and
# turned into what it contributes to the description.


@dataclasses.dataclass(frozen=True)
class Part:
    kind: str  # "new", "gap", "slice", "int" (basic), or "adv"
    axis: int | None  # the input axis; None for "new", "gap" and scalar booleans
    entry: Any = None  # Slice, DynSlice or Int; for "adv" the index array
    prepared: tuple[Any, ...] = ()  # what it adds to ``Index.prepared``
    error: IndexError | None = None  # an out-of-bounds static index array


def _slice_bound(x: Any) -> Any:
    if x is None or isinstance(x, int):
        return x
    if isinstance(x, np.integer):
        return int(x)
    arr = _static_array(x) if not isinstance(x, (float, str)) else None
    if arr is not None and arr.ndim == 0 and np.issubdtype(arr.dtype, np.integer):
        return int(arr)
    if _is_traced(x) and np.issubdtype(np.dtype(x.dtype), np.integer) and x.ndim == 0:
        return x
    try:
        return operator.index(x)
    except TypeError:
        raise TypeError(
            "slice indices must be integers or None or have an __index__ method"
        ) from None


def _check_int(i: int, axis: int, size: int) -> int:
    if not -size <= i < size:
        raise IndexError(f"index {i} is out of bounds for axis {axis} with size {size}")
    return i + size if i < 0 else i


def _check_array(a: np.ndarray, axis: int, size: int) -> tuple[np.ndarray, IndexError | None]:
    """Normalize an index array; the error NumPy would raise for it, if any."""
    a = a.astype(np.int64) if a.dtype.kind == "u" else a
    err = None
    if a.size:
        bad = a[(a < -size) | (a >= size)]
        if bad.size:
            err = IndexError(
                f"index {int(bad.flat[0])} is out of bounds for axis {axis} with size {size}"
            )
    return np.where(a < 0, a + size, a).astype(np.intp), err


def normalize_slice(s: slice, size: int) -> Slice:
    """A static slice on an axis of ``size`` -> start, step, length."""
    start, stop, step = s.indices(size)
    length = len(range(start, stop, step))
    return Slice(start, step, length)


def _slice_part(s: slice, axis: int, size: int) -> Part:
    start, stop, step = (_slice_bound(b) for b in (s.start, s.stop, s.step))
    if isinstance(step, int) and step == 0:
        raise ValueError("slice step cannot be zero")
    prepared = (slice(start, stop, step),)
    if any(_is_traced(b) for b in (start, stop, step)):
        return Part("slice", axis, DynSlice(start, stop, step), prepared)
    return Part("slice", axis, normalize_slice(slice(start, stop, step), size), prepared)


def _empty_axis(axis: int) -> IndexError:
    # No index is valid on an axis of length 0, so a traced one is refused
    # now, in JAX's words (the value is not known).
    return IndexError(f"index is out of bounds for axis {axis} with size 0")


def _int_part(e: Expanded, axis: int, size: int, has_array: bool) -> Part:
    static = e.kind == "int"
    if not static and size == 0:
        raise _empty_axis(axis)  # NumPy checks integers at once, even among arrays
    value = _check_int(e.value, axis, size) if static else e.value
    if not has_array:
        return Part("int", axis, Int(value), (value,))
    # Among index arrays an integer is a 0-d index array.
    return Part("adv", axis, np.asarray(value, np.intp) if static else value, (value,))


def _array_part(e: Expanded, axis: int, size: int) -> Part:
    if e.kind == "tarray":
        # On an empty axis, refused only where the broadcast is not empty.
        err = _empty_axis(axis) if size == 0 else None
        return Part("adv", axis, e.value, (e.value,), err)
    value, err = _check_array(e.value, axis, size)
    return Part("adv", axis, value, (value,), err)


def _bool0_part(value: bool) -> Part:
    # NumPy: a scalar boolean is a 0-d boolean array, i.e. an advanced index
    # (``x[0, :, True]`` has shape (1, 3, 4) for x of shape (2, 3, 4)): an
    # index array of shape (1,) or (0,) over a new axis of length one.
    n = 1 if value else 0
    return Part("adv", None, np.zeros(n, np.intp), (None, np.zeros(n, np.intp)))


def _normalize_entry(e: Expanded, shape: tuple[int, ...], has_array: bool) -> Part:
    if e.kind == "gap":
        return Part("gap", None)
    if e.kind == "new":
        return Part("new", None, prepared=(None,))
    if e.kind == "bool0":
        return _bool0_part(e.value)
    assert e.axis is not None  # only gap, new and bool0 entries have no axis
    if e.kind == "slice":
        return _slice_part(e.value, e.axis, shape[e.axis])
    if e.kind in ("int", "tint"):
        return _int_part(e, e.axis, shape[e.axis], has_array)
    return _array_part(e, e.axis, shape[e.axis])


def normalize(expanded: list[Expanded], shape: tuple[int, ...]) -> list[Part]:
    """Each entry checked in order (NumPy's errors for ints and slices)."""
    has_array = any(e.kind in ("array", "tarray", "bool0") for e in expanded)
    return [_normalize_entry(e, shape, has_array) for e in expanded]


# --------------------------------------------------------------------------
# Stage 4, the advanced block: broadcast its arrays and place its dimensions.


def broadcast_advanced(arrays: list[Any]) -> tuple[tuple[Any, ...], tuple[int, ...]]:
    """The index arrays broadcast together (static ones now), and their shape."""
    if not arrays:
        return (), ()
    shapes = [tuple(a.shape) for a in arrays]
    try:
        adv_shape = tuple(np.broadcast_shapes(*shapes))
    except ValueError:
        # NumPy lists the index arrays, not the integers among them (the only
        # 0-d entries here): `x[[0, 1], [0, 1, 2], 0]` names (2,) and (3,).
        listed = " ".join(_shape_str(s) for s in shapes if s)
        raise IndexError(
            f"shape mismatch: indexing arrays could not be broadcast together with shapes {listed} "
        ) from None
    adv = tuple(np.broadcast_to(a, adv_shape) if isinstance(a, np.ndarray) else a for a in arrays)
    return adv, adv_shape


def out_axes(parts: list[Part]) -> tuple[Any, ...]:
    """The result's axes: sliced input axes and ``NEW`` in order, ``ADV`` placed.

    NumPy's rule: advanced entries next to each other put the block where the
    first of them stood; separated by anything (a slice, a newaxis, even a
    zero-length ``...``), the block goes first.
    """
    out: list[Any] = [
        NEW if p.kind == "new" else p.axis for p in parts if p.kind in ("new", "slice")
    ]
    positions = [i for i, p in enumerate(parts) if p.kind == "adv"]
    if not positions:
        return tuple(out)
    first = positions[0]
    if positions == list(range(first, first + len(positions))):
        out.insert(sum(p.kind in ("new", "slice") for p in parts[:first]), ADV)
    else:
        out.insert(0, ADV)
    return tuple(out)


def result_shape(
    out: tuple[Any, ...], entries: tuple[Any, ...], adv_shape: tuple[int, ...]
) -> tuple[int, ...]:
    """The shape of ``x[idx]``; -1 for the run-time length of a traced slice."""
    shape: list[int] = []
    for o in out:
        if o is NEW:
            shape.append(1)
        elif o is ADV:
            shape.extend(adv_shape)
        else:
            entry = entries[o]
            shape.append(entry.length if type(entry) is Slice else -1)
    return tuple(shape)


def operand_axes(parts: list[Part], shape: tuple[int, ...]) -> tuple[tuple[Any, ...], ...]:
    """``entries``, ``ext_shape``, ``ext_entries`` and ``adv_ext`` of the description.

    The advanced lowering's operand has one axis per entry that consumes an
    axis, plus one of length 1 per scalar boolean; ``entries`` is the same
    without those.
    """
    ext = [p for p in parts if p.kind in ("slice", "int", "adv")]
    ext_entries = tuple(ADV_ENTRY if p.kind == "adv" else p.entry for p in ext)
    entries = tuple(e for e, p in zip(ext_entries, ext) if p.axis is not None)
    ext_shape = tuple(1 if p.axis is None else shape[p.axis] for p in ext)
    adv_ext = tuple(i for i, p in enumerate(ext) if p.kind == "adv")
    return entries, ext_shape, ext_entries, adv_ext


def _pending(parts: list[Part], adv_shape: tuple[int, ...]) -> IndexError | None:
    # NumPy checks the bounds of index arrays while it iterates over their
    # broadcast: an empty broadcast checks nothing.
    if 0 in adv_shape:
        return None
    return next((p.error for p in parts if p.error is not None), None)


def _is_scalar(parsed: list[Parsed], ndim: int) -> bool:
    # An integer on every axis and nothing else: NumPy assigns one element
    # and refuses any value with a dimension, even one of size 1.
    return len(parsed) == ndim and all(p.kind in ("int", "tint") for p in parsed)


def _mask_count(parsed: list[Parsed], ndim: int) -> int | None:
    """Selected elements, where the index is one static mask over every axis."""
    if len(parsed) != 1 or parsed[0].kind not in ("mask", "bool0"):
        return None
    value = parsed[0].value
    return int(np.count_nonzero(value)) if np.ndim(value) == ndim else None


def analyze(idx: Any, shape: tuple[int, ...], for_write: bool = False) -> Index:
    """Describe ``idx`` applied to an array of ``shape``; raise NumPy's errors.

    Args:
        idx: the Python index (traced parts are parent-trace values).
        shape: the indexed array's shape.
        for_write: NumPy checks an assigned value's shape before the bounds
            of index arrays; with this set, an out-of-bounds index array is
            left in ``Index.pending`` for the lowering to raise after the
            value has been prepared.

    Returns:
        The ``Index``.

    Raises:
        IndexError, ValueError, TypeError: as NumPy for the same index.
    """
    parsed = parse(idx)
    ndim = len(shape)
    expanded = expand(parsed, shape, count_axes(parsed, ndim))
    tmasks = [e for e in expanded if e.kind == "tmask"]
    if tmasks:
        return _analyze_traced_mask([e for e in expanded if e.kind != "gap"], tmasks, shape)
    parts = normalize(expanded, shape)
    adv_parts = [p for p in parts if p.kind == "adv"]
    adv, adv_shape = broadcast_advanced([p.entry for p in adv_parts])
    adv_dims = tuple(-1 if p.axis is None else p.axis for p in adv_parts)
    pending = _pending(parts, adv_shape)
    if pending is not None and not for_write:
        raise pending
    entries, ext_shape, ext_entries, adv_ext = operand_axes(parts, shape)
    out = out_axes(parts)
    return Index(
        shape=tuple(shape),
        entries=entries,
        out=out,
        adv=adv,
        adv_dims=adv_dims,
        adv_shape=adv_shape,
        result_shape=result_shape(out, entries, adv_shape),
        prepared=tuple(x for p in parts for x in p.prepared),
        scalar=_is_scalar(parsed, ndim),
        mask_count=_mask_count(parsed, ndim),
        pending=pending,
        ext_shape=ext_shape,
        ext_entries=ext_entries,
        adv_ext=adv_ext,
    )


def _analyze_traced_mask(
    expanded: list[Expanded], tmasks: list[Expanded], shape: tuple[int, ...]
) -> Index:
    """A traced boolean mask: only a lone mask over the leading axes is described.

    Its selection has a length known only at run time, so it has no static
    result shape; the lowering turns assignments into ``jnp.where``.
    """
    mask = tmasks[0].value
    if (
        len(tmasks) != 1
        or expanded[0].kind != "tmask"
        or any(e.kind != "slice" or e.value != slice(None) for e in expanded[1:])
    ):
        raise DynamicShapeError(
            "mutjax: a traced boolean mask is supported alone over the leading "
            "axes (`x[m] = v`, `x[m] op= v` with `m.shape == x.shape[:m.ndim]`). "
            "Combine other indices with `jnp.where(m, new, x)` instead, or make "
            "the mask static."
        )
    return Index(
        shape=tuple(shape),
        entries=(),
        out=(),
        adv=(),
        adv_dims=(),
        adv_shape=(),
        result_shape=(-1,) + tuple(shape[mask.ndim :]),
        prepared=(mask,),
        mask=mask,
    )
