"""What converted code calls in place of NumPy's creation functions, ``math``, ``np.random``.

Every call in converted code goes through ``converted_call``, which asks
``substitute`` first. The stand-in is chosen by the identity of the
callable, so it does not matter which name the module bound NumPy to
(``import numpy as np``, ``import numpy``, ``from numpy import zeros``):

- NumPy's array-creation functions and ``np.ndarray(shape, dtype)`` make
  mutable arrays, as ``mutjax.numpy``'s do (``mutjax._creation``), so a
  kernel's own scratch buffers hold traced values;
- ``math.sqrt``, ``math.exp``, ... compute with ``jax.numpy`` when an argument
  is traced (``math`` would ask for a Python float, which a traced value
  cannot give), and are ``math``'s own otherwise;
- drawing from NumPy's random generators raises: traced once, the draw
  would be one constant for every iteration and every call.
"""

from __future__ import annotations

import linecache
import math
import sys
from collections.abc import Callable
from typing import Any

import jax
import jax.numpy as jnp
import jax.scipy.special as jsp
import numpy as np

from .. import _compat, _creation
from .._numpy_api import UnsupportedNumpyError

# math's functions and the jax.numpy function computing each on traced values.
_MATH: dict[str, Callable[..., Any]] = {
    "sqrt": jnp.sqrt, "exp": jnp.exp, "expm1": jnp.expm1, "log": jnp.log,
    "log2": jnp.log2, "log10": jnp.log10, "log1p": jnp.log1p, "pow": jnp.power,
    "sin": jnp.sin, "cos": jnp.cos, "tan": jnp.tan, "asin": jnp.arcsin,
    "acos": jnp.arccos, "atan": jnp.arctan, "atan2": jnp.arctan2, "sinh": jnp.sinh,
    "cosh": jnp.cosh, "tanh": jnp.tanh, "asinh": jnp.arcsinh, "acosh": jnp.arccosh,
    "atanh": jnp.arctanh, "fabs": jnp.abs, "hypot": jnp.hypot,
    "copysign": jnp.copysign, "isnan": jnp.isnan, "isinf": jnp.isinf,
    "isfinite": jnp.isfinite, "degrees": jnp.degrees, "radians": jnp.radians,
    "erf": jsp.erf, "erfc": jsp.erfc,
    "lgamma": jsp.gammaln,
}  # fmt: skip
# math's functions returning a Python int: on a traced value, JAX's default int.
_MATH_INT: dict[str, Callable[..., Any]] = {
    "floor": jnp.floor,
    "ceil": jnp.ceil,
    "trunc": jnp.trunc,
}

_INT = jax.dtypes.canonicalize_dtype(int)

# Methods of NumPy's generators that do not draw a number.
_NOT_DRAWING = frozenset(["seed", "get_state", "set_state", "bit_generator", "spawn"])


def _traced(x: Any) -> bool:
    return isinstance(x, _compat.Tracer)


def _math_function(name: str) -> Callable[..., Any]:
    py = getattr(math, name)
    jfun = _MATH.get(name) or _MATH_INT[name]
    to_int = name in _MATH_INT

    def call(*args: Any) -> Any:
        if not any(_traced(a) for a in args):
            return py(*args)
        out = jfun(*args)
        return out.astype(_INT) if to_int else out

    call.__name__ = name
    call.__doc__ = f"``math.{name}``, computed with jax.numpy on traced values."
    return call


_BY_CALLABLE: dict[Any, Callable[..., Any]] = {
    **_creation.BY_NUMPY_FUNCTION,
    **{getattr(math, n): _math_function(n) for n in (*_MATH, *_MATH_INT)},
}


def _line(frame: Any) -> str:
    """``file:line: `code``` of ``frame``."""
    code = linecache.getline(frame.f_code.co_filename, frame.f_lineno).strip()
    return f"{frame.f_code.co_filename}:{frame.f_lineno}: `{code}`"


def _random_error(f: Any, where: str) -> UnsupportedNumpyError:
    name = getattr(f, "__name__", "?")
    return UnsupportedNumpyError(
        f"mutjax: NumPy's random generator (`{name}`) was called in converted code, at "
        f"{where}. It would draw once, while tracing, and give that "
        "same number to every iteration and every call. Draw with jax.random instead: "
        "pass a key (`key = jax.random.key(0)`) and split it per draw "
        "(`key, sub = jax.random.split(key)`; `jax.random.uniform(sub, shape)`), or draw "
        "with NumPy outside the converted function and pass the numbers in."
    )


def _draws_random(f: Any) -> bool:
    owner = getattr(f, "__self__", None)
    return (
        isinstance(owner, (np.random.RandomState, np.random.Generator))
        and getattr(f, "__name__", "") not in _NOT_DRAWING
    )


def substitute(f: Any, depth: int = 2) -> Callable[..., Any] | None:
    """The stand-in converted code calls instead of ``f``, or None to call ``f``.

    Args:
        f: the callable that converted code is about to call.
        depth: how many frames above this one the converted code's call is
            (``converted_call``'s caller: 2), for the line named in messages.

    Raises:
        mutjax.UnsupportedNumpyError: ``f`` draws from a NumPy random generator.
    """
    try:
        special = _BY_CALLABLE.get(f)
    except TypeError:  # unhashable callable
        return None
    if special is None and _draws_random(f):
        raise _random_error(f, _line(sys._getframe(depth)))
    return special
