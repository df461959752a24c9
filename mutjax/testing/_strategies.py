"""Hypothesis strategies for arrays, index expressions and assigned values.

Every index a strategy draws is one NumPy accepts for the given shape, and
every value ``values_for`` draws broadcasts to that index's result, so a
property test can assert "mutjax gives NumPy's answer" without filtering.
"""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

_DEFAULT_DTYPE = np.dtype(np.float32)


def _elements(dtype: np.dtype) -> st.SearchStrategy[Any]:
    # Moderate magnitudes: float32 and NumPy's float64 agree on them, and
    # sums of a few of them neither overflow nor lose all precision.
    if dtype.kind == "f":
        width: Any = min(dtype.itemsize * 8, 64)
        return st.floats(-100, 100, width=width, allow_subnormal=False)
    if dtype.kind == "c":
        return st.complex_numbers(max_magnitude=100, allow_nan=False, allow_infinity=False)
    if dtype.kind in "iu":
        info = np.iinfo(dtype)
        return st.integers(max(info.min, -100), min(info.max, 100))
    if dtype.kind == "b":
        return st.booleans()
    raise ValueError(f"mutjax.testing: unsupported dtype {dtype}")


def arrays(
    dtype: Any = np.float32,
    shape: tuple[int, ...] | st.SearchStrategy[tuple[int, ...]] | None = None,
    *,
    min_dims: int = 1,
    max_dims: int = 3,
    min_side: int = 1,
    max_side: int = 5,
    elements: st.SearchStrategy[Any] | None = None,
) -> st.SearchStrategy[np.ndarray]:
    """NumPy arrays with values both NumPy and JAX compute alike.

    Args:
        dtype: a NumPy dtype (default float32, JAX's default width) or a
            strategy of dtypes.
        shape: a fixed shape or a strategy of shapes; by default a shape with
            ``min_dims..max_dims`` axes of ``min_side..max_side`` elements.
        min_dims: the fewest axes of a drawn shape.
        max_dims: the most axes of a drawn shape.
        min_side: the shortest axis of a drawn shape.
        max_side: the longest axis of a drawn shape.
        elements: a strategy for the elements; by default finite values in
            [-100, 100] (no NaN, infinity or subnormals).

    Returns:
        A strategy of ``np.ndarray``.

    Example:
        ```python
        import numpy as np
        from hypothesis import given, settings
        from mutjax.testing import arrays, assert_matches_numpy

        def double(x):
            x *= 2

        @settings(max_examples=5, deadline=None)
        @given(arrays(np.float32, max_dims=2))
        def test_double(x):
            assert_matches_numpy(double, x, modes=("eager",))

        test_double()
        ```
    """
    if shape is None:
        shape = hnp.array_shapes(
            min_dims=min_dims, max_dims=max_dims, min_side=min_side, max_side=max_side
        )
    if isinstance(dtype, st.SearchStrategy):
        return dtype.flatmap(lambda d: arrays(d, shape, elements=elements))
    dtype = np.dtype(dtype)
    return hnp.arrays(dtype, shape, elements=elements or _elements(dtype))


def basic_indices(
    shape: tuple[int, ...], *, allow_newaxis: bool = True, allow_ellipsis: bool = True
) -> st.SearchStrategy[Any]:
    """Basic indices for ``shape``: ints, slices of any step, ``...``, ``None``.

    Args:
        shape: the shape of the array to index.
        allow_newaxis: also draw ``None`` entries.
        allow_ellipsis: also draw ``...``.

    Returns:
        A strategy of indices (an int, a slice, ``...``, ``None`` or a tuple).

    Example:
        ```python
        import numpy as np
        from hypothesis import given, settings
        from mutjax.testing import assert_matches_numpy, basic_indices

        def write(x, idx):
            x[idx] = -1.0

        @settings(max_examples=5, deadline=None)
        @given(basic_indices((4, 3)))
        def test_write(idx):
            assert_matches_numpy(write, np.zeros((4, 3), np.float32), idx, modes=("eager",))

        test_write()
        ```
    """
    return hnp.basic_indices(  # type: ignore[call-overload]
        tuple(shape), min_dims=0, allow_newaxis=allow_newaxis, allow_ellipsis=allow_ellipsis
    )


def _int_arrays(
    sizes: tuple[int, ...], index_shape: tuple[int, ...], draw: Any
) -> tuple[np.ndarray, ...]:
    """One integer array per axis of ``sizes``, each broadcasting to ``index_shape``."""
    out = []
    for size in sizes:
        # Each array has index_shape with some axes set to 1 (or dropped from
        # the front): NumPy broadcasts the index arrays together.
        shape = tuple(draw(st.sampled_from([n, 1])) for n in index_shape)
        shape = shape[draw(st.integers(0, len(shape))) :]
        dtype = draw(st.sampled_from([np.int32, np.int64, np.uint8] if size <= 255 else [np.int64]))
        lo = 0 if np.dtype(dtype).kind == "u" else -size
        out.append(draw(hnp.arrays(dtype, shape, elements=st.integers(lo, size - 1))))
    return tuple(out)


@st.composite
def integer_array_indices(
    draw: Any, shape: tuple[int, ...], *, max_index_dims: int = 2, max_side: int = 4
) -> tuple[np.ndarray, ...]:
    """Integer-array indices for the leading axes of ``shape``.

    Arrays of ``int32``, ``int64`` or ``uint8`` with negative entries and
    repeats (duplicate targets) allowed, broadcasting to one common shape.

    Args:
        shape: the shape of the array to index (at least one axis, no zero
            length axis among those indexed).
        max_index_dims: the most axes of the index arrays' broadcast shape.
        max_side: the longest axis of that broadcast shape.

    Returns:
        (SearchStrategy[tuple[np.ndarray, ...]]): A strategy of tuples of
            integer arrays, one per indexed leading axis.

    Example:
        ```python
        import numpy as np
        from hypothesis import given, settings
        from mutjax.testing import assert_matches_numpy, integer_array_indices

        def add_one(x, idx):
            x[idx] += 1  # repeated indices: NumPy's last write wins

        @settings(max_examples=5, deadline=None)
        @given(integer_array_indices((5, 2)))
        def test_add_one(idx):
            assert_matches_numpy(add_one, np.zeros((5, 2), np.float32), idx, modes=("eager",))

        test_add_one()
        ```
    """
    shape = tuple(shape)
    usable = 0
    while usable < len(shape) and shape[usable] > 0:
        usable += 1
    if not usable:
        raise ValueError(f"mutjax.testing: no axis of {shape} can take an integer array index")
    k = draw(st.integers(1, usable))
    index_shape = draw(hnp.array_shapes(min_dims=0, max_dims=max_index_dims, max_side=max_side))
    return _int_arrays(shape[:k], index_shape, draw)


@st.composite
def mask_indices(draw: Any, shape: tuple[int, ...]) -> np.ndarray:
    """Boolean masks over the leading axes of ``shape`` (all of them or fewer).

    Args:
        shape: the shape of the array to index (at least one axis).

    Returns:
        (SearchStrategy[np.ndarray]): A strategy of boolean arrays whose shape
            is a prefix of ``shape``.

    Example:
        ```python
        import numpy as np
        from hypothesis import given, settings
        from mutjax.testing import assert_matches_numpy, mask_indices

        def clear(x, mask):
            x[mask] = 0.0

        @settings(max_examples=5, deadline=None)
        @given(mask_indices((3, 2)))
        def test_clear(mask):
            assert_matches_numpy(clear, np.ones((3, 2), np.float32), mask, modes=("eager",))

        test_clear()
        ```
    """
    shape = tuple(shape)
    k = draw(st.integers(1, len(shape)))
    return draw(hnp.arrays(np.bool_, shape[:k]))


@st.composite
def mixed_indices(draw: Any, shape: tuple[int, ...]) -> tuple[Any, ...]:
    """Tuples mixing ints, slices, integer arrays, a mask, ``None`` and ``...``.

    Integer arrays on several axes may be separated by a slice, which moves
    the advanced dimensions to the front of the result as NumPy specifies.

    Args:
        shape: the shape of the array to index.

    Returns:
        (SearchStrategy[tuple[Any, ...]]): A strategy of index tuples valid
            for ``shape``.

    Example:
        ```python
        import numpy as np
        from hypothesis import given, settings
        from mutjax.testing import assert_matches_numpy, mixed_indices

        def read(x, idx):
            return x[idx]

        @settings(max_examples=5, deadline=None)
        @given(mixed_indices((3, 4)))
        def test_read(idx):
            assert_matches_numpy(read, np.arange(12.0, dtype=np.float32).reshape(3, 4), idx,
                                 modes=("eager",))

        test_read()
        ```
    """
    shape = tuple(shape)
    kinds = [
        draw(st.sampled_from(["int", "slice", "array", "mask"] if n else ["slice"])) for n in shape
    ]
    # At most one 1-d mask: it stands for an integer array of its count, so
    # the other index arrays are drawn to broadcast with that count.
    masks = [i for i, kind in enumerate(kinds) if kind == "mask"]
    for i in masks[1:]:
        kinds[i] = "array"
    index_shape: tuple[int, ...]
    mask = None
    if masks:
        mask = draw(hnp.arrays(np.bool_, (shape[masks[0]],)))
        index_shape = (int(mask.sum()),)
    else:
        index_shape = draw(hnp.array_shapes(min_dims=0, max_dims=2, max_side=3))
    entries: list[Any] = []
    for n, kind in zip(shape, kinds):
        if kind == "int":
            entries.append(draw(st.integers(-n, n - 1)))
        elif kind == "slice":
            entries.append(draw(st.slices(n)))
        elif kind == "mask":
            entries.append(mask)
        else:
            (arr,) = _int_arrays((n,), index_shape, draw)
            entries.append(arr)
    # Trailing full slices may become an ellipsis; None may go anywhere.
    if draw(st.booleans()):
        cut = draw(st.integers(0, len(entries)))
        entries = entries[:cut] + [Ellipsis]
    for _ in range(draw(st.integers(0, 2))):
        entries.insert(draw(st.integers(0, len(entries))), None)
    return tuple(entries)


def indices(shape: tuple[int, ...]) -> st.SearchStrategy[Any]:
    """Index expressions of every kind for ``shape``: basic, integer arrays, masks, mixed.

    Args:
        shape: the shape of the array to index.

    Returns:
        A strategy of indices valid for ``shape`` (NumPy accepts them both in
        ``x[idx]`` and in ``x[idx] = v``).

    Example:
        ```python
        import numpy as np
        from hypothesis import given, settings
        from mutjax.testing import assert_matches_numpy, indices

        def negate(x, idx):
            x[idx] = -x[idx]

        @settings(max_examples=5, deadline=None)
        @given(indices((4, 3)))
        def test_negate(idx):
            x = np.arange(12.0, dtype=np.float32).reshape(4, 3)
            assert_matches_numpy(negate, x, idx, modes=("eager",))

        test_negate()
        ```
    """
    shape = tuple(shape)
    kinds = [basic_indices(shape)]
    if shape:
        kinds.append(mask_indices(shape))
        kinds.append(mixed_indices(shape))
        if shape[0] > 0:
            kinds.append(integer_array_indices(shape))
    return st.one_of(kinds)


def _result_shape(shape: tuple[int, ...], index: Any) -> tuple[int, ...]:
    return np.empty(shape, dtype=np.bool_)[index].shape


@st.composite
def values_for(
    draw: Any, shape: tuple[int, ...], index: Any, dtype: Any = np.float32
) -> np.ndarray:
    """Values that broadcast to the result of ``x[index]`` for ``x`` of ``shape``.

    Drawn shapes keep a suffix of the result's shape with some axes set to 1
    and may add leading axes of length 1 (which NumPy's assignment drops), so
    ``x[index] = value`` is valid NumPy.

    Args:
        shape: the shape of the array being assigned to.
        index: the index (for example drawn from ``indices``).
        dtype: the dtype of the values (default float32).

    Returns:
        (SearchStrategy[np.ndarray]): A strategy of ``np.ndarray`` (possibly 0-d).

    Example:
        ```python
        import numpy as np
        from hypothesis import given, settings
        from hypothesis import strategies as st
        from mutjax.testing import assert_matches_numpy, indices, values_for

        def assign(x, idx, v):
            x[idx] = v

        @settings(max_examples=5, deadline=None)
        @given(st.data())
        def test_assign(data):
            shape = (4, 3)
            idx = data.draw(indices(shape))
            v = data.draw(values_for(shape, idx))
            assert_matches_numpy(assign, np.zeros(shape, np.float32), idx, v, modes=("eager",))

        test_assign()
        ```
    """
    target = _result_shape(tuple(shape), index)
    keep = draw(st.integers(0, len(target)))
    suffix = target[len(target) - keep :]
    value_shape = tuple(draw(st.sampled_from([n, 1])) for n in suffix)
    value_shape = (1,) * draw(st.integers(0, 1)) + value_shape
    # NumPy refuses some shapes that broadcast: any value with a dimension
    # for a full-integer index ("setting an array element with a sequence"),
    # more than one dimension for a lone full mask. Fall back to shapes NumPy
    # takes there.
    for candidate in (value_shape, value_shape[1:] if value_shape[:1] == (1,) else None, ()):
        if candidate is not None and _assignable(tuple(shape), index, candidate, dtype):
            return draw(arrays(dtype, candidate))
    raise AssertionError(f"no value shape assigns to {index!r} on shape {shape}")


def _assignable(
    shape: tuple[int, ...], index: Any, value_shape: tuple[int, ...], dtype: Any
) -> bool:
    # Warnings count as refusals: NumPy 2.2-2.3 only warn about what 2.4
    # refuses (a size-1 array into one element), and a drawn value should be
    # valid under every NumPy we support.
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        try:
            np.zeros(shape, dtype=dtype)[index] = np.zeros(value_shape, dtype=dtype)
        except (ValueError, TypeError, DeprecationWarning):
            return False
    return True
