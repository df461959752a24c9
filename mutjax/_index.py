"""Index analysis: a Python index plus an array shape -> a static description.

This is the first of the two stages of ``x[idx]`` and ``x[idx] = v`` (the
second is :mod:`mutjax._lower`). Every entry of the index is classified once,
following NumPy's ``prepare_index`` (``numpy/_core/src/multiarray/mapping.c``);
NumPy's errors are raised here, at trace time, for everything that is static.
Nothing in here touches trace state: traced parts of the index arrive as
values of the parent trace and are kept as they are.
"""

from __future__ import annotations

import dataclasses
import operator
from typing import Any

import numpy as np

from . import _compat
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
    """A slice whose start, stop or step is traced (a run-time length)."""

    start: Any
    stop: Any
    step: Any


@dataclasses.dataclass(frozen=True)
class Adv:
    """An axis indexed by the advanced block (integer array, mask, or int)."""


NEW = "new"  # an output axis of length 1 that the index inserts
ADV = "adv"  # the place of the advanced block in the output


@dataclasses.dataclass(frozen=True, eq=False)
class Index:
    """The static description of one index into an array of ``shape``.

    ``entries`` has one item per axis of ``shape`` (after ``...`` is expanded
    and masks are split into integer arrays): an :class:`Int`, a
    :class:`Slice`, a :class:`DynSlice` or :data:`ADV_ENTRY`. ``out`` lists the
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


def _classify(item: Any) -> tuple[str, Any]:
    """One entry of the index -> (kind, payload)."""
    if item is None:
        return "new", None
    if item is Ellipsis:
        return "ellipsis", None
    if isinstance(item, (bool, np.bool_)):
        return "bool0", bool(item)
    if isinstance(item, slice):
        return "slice", item
    if isinstance(item, (int, np.integer)):
        return "int", int(item)
    if isinstance(item, (float, complex, str, bytes, dict, set, np.floating)):
        raise IndexError(_VALID)
    if (
        _is_traced(item)
        or isinstance(item, (np.ndarray, list, tuple))
        or hasattr(item, "__jax_array__")
        or _compat.is_concrete_array(item)
    ):
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
            if value.ndim == 0:
                if arr is not None:
                    return "bool0", bool(arr)
                return "tmask", value
            return ("mask", arr) if arr is not None else ("tmask", value)
        if not np.issubdtype(dtype, np.integer):
            raise IndexError("arrays used as indices must be of integer (or boolean) type")
        if value.ndim == 0:
            return ("int", int(arr)) if arr is not None else ("tint", value)
        return ("array", arr) if arr is not None else ("tarray", value)
    try:
        return "int", operator.index(item)
    except TypeError:
        raise IndexError(_VALID) from None


def _slice_part(x: Any, name: str) -> Any:
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
        The :class:`Index`.

    Raises:
        IndexError, ValueError, TypeError: as NumPy for the same index.
    """
    items = idx if type(idx) is tuple else (idx,)
    classified = [_classify(item) for item in items]

    consumed = 0
    n_ellipsis = 0
    for kind, payload in classified:
        if kind == "ellipsis":
            n_ellipsis += 1
        elif kind in ("mask", "tmask"):
            consumed += payload.ndim
        elif kind not in ("new", "bool0"):
            consumed += 1
    if n_ellipsis > 1:
        raise IndexError("an index can only have a single ellipsis ('...')")
    ndim = len(shape)
    if consumed > ndim:
        raise IndexError(
            f"too many indices for array: array is {ndim}-dimensional, but {consumed} were indexed"
        )

    # Expand `...` (or pad at the end) so that every axis has an entry; split
    # static masks into integer arrays, one per axis they cover.
    expanded: list[tuple[str, Any, int | None]] = []  # kind, payload, axis
    axis = 0
    have_ellipsis = False
    for kind, payload in classified:
        if kind == "ellipsis":
            have_ellipsis = True
            if ndim == consumed:
                # A zero-length `...` still separates advanced entries.
                expanded.append(("gap", None, None))
            for _ in range(ndim - consumed):
                expanded.append(("slice", slice(None), axis))
                axis += 1
        elif kind in ("new", "bool0"):
            expanded.append((kind, payload, None))
        elif kind in ("mask", "tmask") and 0 in payload.shape:
            # An empty boolean index selects nothing whatever its values (a
            # traced one too), and NumPy does not check its axes of length 0
            # against the array: `x[..., np.zeros(0, bool)]` is valid for any
            # last axis. Its other axes must still match.
            k = payload.ndim
            for j in range(k):
                if payload.shape[j] and payload.shape[j] != shape[axis + j]:
                    raise IndexError(
                        "boolean index did not match indexed array along axis "
                        f"{axis + j}; size of axis is {shape[axis + j]} but size of "
                        f"corresponding boolean axis is {payload.shape[j]}"
                    )
            for j in range(k):
                expanded.append(("array", np.zeros(0, np.intp), axis + j))
            axis += k
        elif kind == "mask":
            k = payload.ndim
            if payload.shape != tuple(shape[axis : axis + k]):
                for j in range(k):
                    if payload.shape[j] != shape[axis + j]:
                        raise IndexError(
                            "boolean index did not match indexed array along axis "
                            f"{axis + j}; size of axis is {shape[axis + j]} but size of "
                            f"corresponding boolean axis is {payload.shape[j]}"
                        )
            for j, arr in enumerate(np.nonzero(payload)):
                expanded.append(("array", arr, axis + j))
            axis += k
        elif kind == "tmask":
            k = payload.ndim
            if tuple(payload.shape) != tuple(shape[axis : axis + k]):
                for j in range(k):
                    if payload.shape[j] != shape[axis + j]:
                        raise IndexError(
                            "boolean index did not match indexed array along axis "
                            f"{axis + j}; size of axis is {shape[axis + j]} but size of "
                            f"corresponding boolean axis is {payload.shape[j]}"
                        )
            expanded.append((kind, payload, axis))
            axis += k
        else:
            expanded.append((kind, payload, axis))
            axis += 1
    del have_ellipsis
    for _ in range(ndim - axis):
        expanded.append(("slice", slice(None), axis))
        axis += 1

    tmasks = [e for e in expanded if e[0] == "tmask"]
    if tmasks:
        return _analyze_traced_mask([e for e in expanded if e[0] != "gap"], tmasks, shape)

    # NumPy treats a scalar boolean as a 0-d boolean array, i.e. an advanced
    # index (``x[0, :, True]`` has shape (1, 3, 4) for x of shape (2, 3, 4)).
    has_array = any(k in ("array", "tarray", "bool0") for k, _, _ in expanded)
    bool0_adv = has_array
    ext_shape: list[int] = []
    ext_entries: list[Any] = []
    adv_ext: list[int] = []

    entries: list[Any] = [None] * ndim
    out: list[Any] = []
    adv_arrays: list[Any] = []
    adv_dims: list[int] = []
    adv_positions: list[int] = []
    prepared: list[Any] = []
    empty_new = False
    array_errors: list[IndexError | None] = []
    for pos, (kind, payload, ax) in enumerate(expanded):
        if kind == "gap":
            continue
        if kind == "new":
            out.append(NEW)
            prepared.append(None)
        elif kind == "bool0":
            if bool0_adv:
                # NumPy: a scalar boolean among index arrays is an index array
                # of shape (1,) or (0,) over a new axis of length one.
                adv_positions.append(pos)
                adv_arrays.append(np.zeros(1 if payload else 0, np.intp))
                adv_dims.append(-1)
                adv_ext.append(len(ext_shape))
                ext_shape.append(1)
                ext_entries.append(ADV_ENTRY)
                prepared.append(None)
                prepared.append(np.zeros(1 if payload else 0, np.intp))
            else:
                out.append(NEW)
                empty_new = empty_new or not payload
                prepared.append(payload)
        elif kind == "slice":
            assert ax is not None  # only gap, new and bool0 entries have no axis
            parts = (payload.start, payload.stop, payload.step)
            start, stop, step = (_slice_part(p, "slice") for p in parts)
            if isinstance(step, int) and step == 0:
                raise ValueError("slice step cannot be zero")
            ext_shape.append(shape[ax])
            if any(_is_traced(p) for p in (start, stop, step)):
                entries[ax] = DynSlice(start, stop, step)
                out.append(ax)
                prepared.append(slice(start, stop, step))
            else:
                sl = normalize_slice(slice(start, stop, step), shape[ax])
                entries[ax] = sl
                out.append(ax)
                prepared.append(slice(start, stop, step))
            ext_entries.append(entries[ax])
        elif kind in ("int", "tint"):
            assert ax is not None  # only gap, new and bool0 entries have no axis
            value = _check_int(payload, ax, shape[ax]) if kind == "int" else payload
            ext_shape.append(shape[ax])
            if has_array:
                adv_ext.append(len(ext_entries))
                ext_entries.append(ADV_ENTRY)
                entries[ax] = ADV_ENTRY
                adv_positions.append(pos)
                adv_arrays.append(np.asarray(value, np.intp) if kind == "int" else value)
                adv_dims.append(ax)
            else:
                entries[ax] = Int(value)
                ext_entries.append(entries[ax])
            prepared.append(value)
        else:  # array, tarray
            assert ax is not None  # only gap, new and bool0 entries have no axis
            if kind == "array":
                value, err = _check_array(payload, ax, shape[ax])
                array_errors.append(err)
            else:
                value = payload
            adv_ext.append(len(ext_entries))
            ext_shape.append(shape[ax])
            ext_entries.append(ADV_ENTRY)
            entries[ax] = ADV_ENTRY
            adv_positions.append(pos)
            adv_arrays.append(value)
            adv_dims.append(ax)
            prepared.append(value)

    adv_shape: tuple[int, ...] = ()
    pending = None
    if adv_arrays:
        shapes = [tuple(a.shape) for a in adv_arrays]
        try:
            adv_shape = tuple(np.broadcast_shapes(*shapes))
        except ValueError:
            raise IndexError(
                "shape mismatch: indexing arrays could not be broadcast together "
                "with shapes " + " ".join(_shape_str(s) for s in shapes) + " "
            ) from None
        adv_arrays = [
            np.broadcast_to(a, adv_shape) if isinstance(a, np.ndarray) else a for a in adv_arrays
        ]
        # NumPy checks the bounds of index arrays while it iterates over
        # their broadcast: an empty broadcast checks nothing.
        if 0 not in adv_shape:
            pending = next((e for e in array_errors if e is not None), None)
        contiguous = adv_positions == list(
            range(adv_positions[0], adv_positions[0] + len(adv_positions))
        )
        if contiguous:
            # Insert the block where the first advanced entry stood.
            before = sum(
                1
                for kind, _, _ in expanded[: adv_positions[0]]
                if kind in ("new", "slice", "bool0")
            )
            out.insert(before, ADV)
        else:
            out.insert(0, ADV)

    result_shape: list[int] = []
    for o in out:
        if o is NEW:
            result_shape.append(1)
        elif o is ADV:
            result_shape.extend(adv_shape)
        else:
            entry = entries[o]
            result_shape.append(entry.length if type(entry) is Slice else -1)
    if empty_new:
        result_shape[out.index(NEW)] = 0  # scalar False: a length-0 new axis
        # (several scalar booleans multiply; NumPy's result is empty either way)
    if pending is not None and not for_write:
        raise pending
    scalar = (
        n_ellipsis == 0
        and len(classified) == ndim
        and all(kind in ("int", "tint") for kind, _ in classified)
    )
    mask_count = None
    if len(classified) == 1 and classified[0][0] in ("mask", "bool0"):
        payload = classified[0][1]
        if np.ndim(payload) == ndim:
            mask_count = int(np.count_nonzero(payload))
    return Index(
        shape=tuple(shape),
        entries=tuple(entries),
        out=tuple(out),
        adv=tuple(adv_arrays),
        adv_dims=tuple(adv_dims),
        adv_shape=adv_shape,
        result_shape=tuple(result_shape),
        prepared=tuple(prepared),
        empty_new=empty_new,
        scalar=scalar,
        mask_count=mask_count,
        pending=pending,
        ext_shape=tuple(ext_shape),
        ext_entries=tuple(ext_entries),
        adv_ext=tuple(adv_ext),
    )


def _analyze_traced_mask(expanded: list, tmasks: list, shape: tuple[int, ...]) -> Index:
    """A traced boolean mask: only a lone mask over the leading axes is described.

    Its selection has a length known only at run time, so it has no static
    result shape; the lowering turns assignments into ``jnp.where``.
    """
    kinds = [k for k, _, _ in expanded]
    mask = tmasks[0][1]
    if (
        len(tmasks) != 1
        or kinds[0] != "tmask"
        or any(k != "slice" or p != slice(None) for k, p, _ in expanded[1:])
    ):
        from ._errors import DynamicShapeError

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
