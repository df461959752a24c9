"""Values written into arrays: NumPy's broadcasting and setitem casting.

Before any update is lowered, the right-hand side of ``x[idx] = v`` is made
an array of the indexed shape and of ``x``'s dtype, exactly as NumPy's
setitem would make it, and refused where NumPy refuses it (a sequence into
one element, ``-1`` into ``uint8``, a complex into a real array). The
operands of NumPy's operators and ufuncs follow NumPy's rules too: a list is
an array, and a Python int that does not fit an integer array's dtype is
refused (NEP 50) instead of wrapping. Pure functions on parent-trace values.
"""

from __future__ import annotations

import functools
import warnings
from typing import Any

import jax.numpy as jnp
import numpy as np
from jax import lax

from . import _errors
from ._index import _shape_str


def _numpy_dtype(dtype: Any) -> np.dtype:
    return np.dtype(dtype)


def _target_shape(value_shape: tuple[int, ...], shape: tuple[int, ...]) -> None:
    """Raise NumPy's error unless ``value_shape`` broadcasts into ``shape``."""
    vs = value_shape
    while len(vs) > len(shape) and vs[0] == 1:
        vs = vs[1:]  # NumPy drops leading length-1 axes of the value
    ok = len(vs) <= len(shape) and all(v == s or v == 1 for v, s in zip(vs[::-1], shape[::-1]))
    if not ok:
        raise ValueError(
            f"could not broadcast input array from shape {_shape_str(value_shape)} "
            f"into shape {_shape_str(shape)}"
        )


_SEQUENCE = "setting an array element with a sequence."


# NumPy 2.4 expired the deprecation of assigning a 1-element array with
# ndim > 0 to a single element; older NumPy accepts it with a warning. We
# follow the NumPy that is installed, since NumPy is the oracle.
_SIZE1_TO_SCALAR_IS_ERROR = np.lib.NumpyVersion(np.__version__) >= "2.4.0"


def prepare_value(
    value: Any,
    shape: tuple[int, ...],
    dtype: Any,
    scalar: bool = False,
    basic: bool = True,
    mask_count: int | None = None,
) -> Any:
    """``value`` broadcast to ``shape`` and cast to ``dtype`` as NumPy's setitem does.

    Static values (Python scalars, nested lists, NumPy arrays) are cast by
    NumPy itself, so that the values NumPy refuses raise NumPy's exception.
    Traced values are cast with ``lax.convert_element_type``.

    Args:
        value: the right side of ``x[idx] = value``.
        shape: the shape of ``x[idx]``.
        dtype: ``x``'s dtype.
        scalar: the index is an integer on every axis (no value with a
            dimension is accepted, as in NumPy).
        basic: the index is basic. NumPy copies a nested list into a basic
            view with at most the view's number of dimensions, but converts
            it freely (dropping leading length-1 axes) for advanced indices.
        mask_count: for an index that is one static boolean mask over every
            axis, its count: NumPy then wants a value of at most one dimension
            with 1 or ``mask_count`` elements.

    Returns:
        A parent-trace array of ``shape`` and ``dtype``.

    Raises:
        ValueError: the value does not broadcast (NumPy's message).
        OverflowError, TypeError: a static value NumPy refuses to cast.
    """
    np_dtype = _numpy_dtype(dtype)
    if any(d < 0 for d in shape):
        raise _errors.dynamic_slice_error()
    if scalar:
        return _scalar_value(value, np_dtype)
    if mask_count is not None:
        _check_mask_value(value, mask_count)
    vshape = tuple(np.shape(value))
    if not basic and 0 in shape and 0 in vshape:
        # NumPy's advanced assignment of an empty value into an empty
        # selection ignores the value's extra leading axes, but its trailing
        # axes must still broadcast.
        _target_shape(vshape[max(len(vshape) - len(shape), 0) :], shape)
        return lax.full(shape, 0, np_dtype)
    if isinstance(value, (bool, int, float, complex, np.generic, str, bytes)):
        cast = np.empty((), np_dtype)
        cast[()] = value
        return lax.full(shape, cast, np_dtype) if shape else jnp.asarray(cast)
    if isinstance(value, (list, tuple, np.ndarray)):
        if isinstance(value, np.ndarray):
            arr = value
        else:
            try:
                arr = np.asarray(value)
            except ValueError as e:
                raise ValueError(f"{_SEQUENCE} {e}") from None
            if basic and arr.ndim > len(shape):
                raise ValueError(
                    f"{_SEQUENCE} The requested array would exceed the maximum "
                    f"number of dimension of {len(shape)}."
                )
        _target_shape(arr.shape, shape)
        cast = np.empty(arr.shape, np_dtype)
        with warnings.catch_warnings():
            # NumPy warns (not raises) for NaN and complex arrays; so do we, once.
            cast[...] = value if not isinstance(value, np.ndarray) else arr
        cast = cast.reshape(
            cast.shape[cast.ndim - len(shape) :] if cast.ndim > len(shape) else cast.shape
        )
        return (
            jnp.broadcast_to(jnp.asarray(cast), shape) if cast.shape != shape else jnp.asarray(cast)
        )
    value = jnp.asarray(value)
    vshape = tuple(value.shape)
    _target_shape(vshape, shape)
    if jnp.iscomplexobj(value) and not jnp.issubdtype(np_dtype, jnp.complexfloating):
        warnings.warn(
            "Casting complex values to real discards the imaginary part",
            np.exceptions.ComplexWarning,
            stacklevel=4,
        )
        value = jnp.real(value)
    if value.dtype != np_dtype:
        value = lax.convert_element_type(value, np_dtype)
    if len(vshape) > len(shape):
        value = lax.reshape(value, vshape[len(vshape) - len(shape) :])
        vshape = tuple(value.shape)
    if vshape != tuple(shape):
        value = (
            lax.broadcast_in_dim(value, shape, tuple(range(len(shape) - len(vshape), len(shape))))
            if len(vshape) < len(shape) or vshape != tuple(shape)
            else value
        )
    return value


def _scalar_value(value: Any, np_dtype: np.dtype) -> Any:
    """The value of ``x[i, j, ...] = value`` (an integer on every axis)."""
    if not hasattr(value, "shape") or isinstance(value, (np.ndarray, np.generic)):
        # NumPy's element assignment has its own rules (a list into an int
        # array is a TypeError, into a bool array its truth value): use it.
        cast = np.empty((), np_dtype)
        cast[()] = value
        return jnp.asarray(cast)
    if value.ndim > 0:
        if np_dtype == np.bool_ and value.size == 1:
            return lax.reshape(value, ()) != 0
        if np_dtype.kind == "c":
            raise TypeError("only 0-dimensional arrays can be converted to Python scalars")
        if _SIZE1_TO_SCALAR_IS_ERROR or value.size != 1:
            raise ValueError(_SEQUENCE)
        warnings.warn(
            "Conversion of an array with ndim > 0 to a scalar is deprecated",
            DeprecationWarning,
            stacklevel=5,
        )
        value = lax.reshape(value, ())
    return prepare_value(value, (), np_dtype)


def _check_mask_value(value: Any, count: int) -> None:
    """NumPy's rule for ``x[m] = value`` with one mask over every axis."""
    shape = tuple(value.shape) if hasattr(value, "shape") else np.shape(value)
    if len(shape) > 1:
        raise TypeError(
            "NumPy boolean array indexing assignment requires a 0 or 1-dimensional "
            f"input, input has {len(shape)} dimensions"
        )
    size = shape[0] if shape else 1
    if size not in (1, count):
        raise ValueError(
            f"NumPy boolean array indexing assignment cannot assign {size} input "
            f"values to the {count} output values where the mask is true"
        )


# -- operands of NumPy's operators and ufuncs ---------------------------------------
#
# JAX casts a Python int to the other operand's dtype and wraps it (`int8 + 300`
# is `int8 + 44`). NumPy 2 (NEP 50) refuses a Python int that does not fit an
# integer operand's dtype with OverflowError, except in comparisons, which it
# answers exactly (`int8 < 300` is True everywhere).

_COMPARISONS = frozenset(["less", "less_equal", "greater", "greater_equal", "equal", "not_equal"])


@functools.cache
def _int_range(dtype: np.dtype) -> tuple[int, int]:
    info = np.iinfo(dtype)
    return int(info.min), int(info.max)


def fits(value: int, dtype: Any) -> bool:
    """Whether the Python int ``value`` fits the integer ``dtype``."""
    lo, hi = _int_range(np.dtype(dtype))
    return lo <= value <= hi


def _int_dtypes(operands: tuple[Any, ...]) -> list[np.dtype]:
    dtypes = (np.dtype(v.dtype) for v in operands if hasattr(v, "dtype"))
    return [d for d in dtypes if d.kind in "iu"]


def python_int_operands(ufunc: np.ufunc, operands: tuple[Any, ...]) -> np.ndarray | None:
    """NumPy's rule for the Python ints among ``ufunc``'s operands (NEP 50).

    Args:
        ufunc: the NumPy ufunc the operation stands for.
        operands: its operands: arrays (anything with a dtype) and Python scalars.

    Returns:
        None, or for a comparison whose outcome an out-of-range Python int
        decides for every element, that outcome (a 0-d NumPy bool array).

    Raises:
        OverflowError: a Python int does not fit an integer operand's dtype
            where NumPy refuses it (NumPy's message).
        ValueError: an integer array raised to a negative Python int.
    """
    ints = [v for v in operands if type(v) is int]
    if not ints:
        return None
    dtypes = _int_dtypes(operands)
    if not dtypes:
        return None
    outside = any(not fits(v, d) for v in ints for d in dtypes)
    negative_power = ufunc is np.power and type(operands[1]) is int and operands[1] < 0
    if not (outside or negative_power):
        return None  # the common case: no NumPy call at trace time
    # NumPy decides on stand-ins of the operands' dtypes: its refusals do not
    # depend on the values, and neither does a comparison with an int beyond
    # the dtype's range.
    stand_ins = [np.zeros((), v.dtype) if hasattr(v, "dtype") else v for v in operands]
    with np.errstate(all="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            result = ufunc(*stand_ins)
        except (OverflowError, ValueError):
            raise
        except Exception:  # a refusal for other reasons: JAX's own error follows
            return None
    if outside and ufunc.__name__ in _COMPARISONS:
        return np.asarray(result)
    return None


def clip_bounds(dtype: Any, a_min: Any, a_max: Any) -> tuple[Any, Any]:
    """``clip``'s bounds as NumPy 2 takes them for an array of ``dtype``.

    A Python int bound beyond the dtype's range on the side that cannot clip
    is dropped (NumPy's ``_clip``); one beyond it on the other side raises
    NumPy's OverflowError, as ``np.maximum`` / ``np.minimum`` do.
    """
    dt = np.dtype(dtype)
    if dt.kind not in "iu":
        return a_min, a_max
    lo, hi = _int_range(dt)
    if type(a_min) is int and a_min <= lo:
        a_min = None
    if type(a_max) is int and a_max >= hi:
        a_max = None
    stand_in = np.zeros((), dt)
    if a_min is not None:
        python_int_operands(np.maximum, (stand_in, a_min))
    if a_max is not None:
        python_int_operands(np.minimum, (stand_in, a_max))
    return a_min, a_max


def check_fill(a: Any, fill_value: Any, dtype: Any = None, *args: Any, **kwargs: Any) -> None:
    """``np.full_like``'s refusal of a Python int that its dtype cannot hold (JAX wraps it)."""
    if type(fill_value) is int:
        np.array(fill_value, dtype=np.dtype(a.dtype if dtype is None else dtype))


def operand(value: Any) -> Any:
    """An operand of a NumPy operator: a list or tuple becomes an array, as in NumPy.

    A sequence of static values becomes a NumPy array (so NumPy refuses a
    ragged one); one holding traced or mutable arrays becomes a JAX array.
    """
    if type(value) not in (list, tuple):
        return value
    try:
        return np.asarray(value)
    except (TypeError, _errors.MutjaxError):
        return jnp.asarray(value)
