"""NumPy's array-creation functions, making mutable arrays inside a mutable scope.

``zeros(n)``, ``empty_like(x)``, ``array([...])``, ``ndarray((n,), dtype)``
and the rest of ``NAMES`` compute with their ``jax.numpy`` namesake and
return a new mutable array when called inside ``mutjax.mutable``, and are
NumPy's own outside one. Two places hand them to user code: the
``mutjax.numpy`` namespace, and converted code (``loops=True``), where a call
of NumPy's own creation function is replaced by its counterpart here
(``BY_NUMPY_FUNCTION``), whatever name the module bound NumPy to.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

import jax.numpy as jnp
import numpy as np

from . import _compat
from ._trace import MutArray, current_mut_trace

# NumPy creation functions, each computed by the jax.numpy function of its name.
NAMES = (
    "zeros", "ones", "empty", "full", "zeros_like", "ones_like", "empty_like",
    "full_like", "arange", "eye", "identity", "array", "asarray", "asanyarray",
    "ascontiguousarray", "copy", "linspace", "logspace", "geomspace", "tri",
    "indices", "fromfunction", "frombuffer",
)  # fmt: skip

# The call each function's docstring example makes (a small array of each).
_EXAMPLE_CALLS = {
    "zeros": "zeros(3)",
    "ones": "ones(3)",
    "empty": "empty(3)",
    "full": "full(3, 2.0)",
    "zeros_like": "zeros_like(x)",
    "ones_like": "ones_like(x)",
    "empty_like": "empty_like(x)",
    "full_like": "full_like(x, 7.0)",
    "arange": "arange(3.0)",
    "eye": "eye(3)",
    "identity": "identity(3)",
    "array": "array([1.0, 2.0, 3.0])",
    "asarray": "asarray([1.0, 2.0, 3.0])",
    "asanyarray": "asanyarray(x)",
    "ascontiguousarray": "ascontiguousarray(x)",
    "copy": "copy(x)",
    "linspace": "linspace(0.0, 1.0, 5)",
    "logspace": "logspace(0.0, 2.0, 3)",
    "geomspace": "geomspace(1.0, 8.0, 4)",
    "tri": "tri(3)",
    "indices": "indices((2, 3))",
    "fromfunction": "fromfunction(lambda i, j: i + j, (2, 3))",
    "frombuffer": "frombuffer(bytes(8), dtype=numpy.float32)",
}


def _doc(name: str) -> str:
    call = _EXAMPLE_CALLS[name]
    # An `empty` array's other elements are arbitrary: the example sets them.
    fill = "        out[1:] = 0.0\n" if name.startswith("empty") else ""
    expected = f"numpy.array(numpy.{call.replace('(x', '(x0')})" + (" * 0" if fill else "")
    if not hasattr(jnp, name):
        return (
            f"``numpy.{name}``, also inside ``mutjax.mutable``: ``jax.numpy`` has no\n"
            "namesake, so it returns a NumPy array there too, and a traced mutable\n"
            "array argument raises ``mutjax.NumpyArrayError``. Use ``np.asarray``\n"
            "inside a mutable function.\n\n"
            "Example:\n"
            "    ```python\n"
            "    import numpy\n"
            "    import mutjax.numpy as np\n\n"
            "    x0 = numpy.arange(3.0)\n"
            f"    assert np.{name}(x0) is x0\n"
            "    ```\n"
        )
    return (
        f"``numpy.{name}``, making a mutable array inside ``mutjax.mutable``.\n\n"
        f"Outside a mutable scope this is ``numpy.{name}`` itself. Import it as\n"
        "``import mutjax.numpy as np``; converted code (``mutjax.jit``) gets it\n"
        f"for NumPy's own ``np.{name}`` without that import.\n\n"
        "Example:\n"
        "    ```python\n"
        "    import jax\n"
        "    import numpy\n"
        "    import mutjax\n"
        "    import mutjax.numpy as np\n\n"
        "    @jax.jit\n"
        "    @mutjax.mutable\n"
        "    def kernel(x, v):\n"
        f"        out = np.{call}  # a mutable array\n"
        f"{fill}"
        "        out[0] = v  # v is traced: a NumPy array could not hold it\n"
        "        return out\n\n"
        "    x0 = numpy.arange(3.0)\n"
        f"    expected = {expected}\n"
        "    expected[0] = 5.0\n"
        "    assert numpy.allclose(kernel(x0, 5.0), expected)\n"
        f"    assert isinstance(np.{call.replace('(x', '(x0')}, numpy.ndarray)  # NumPy's own outside\n"
        "    ```\n"
    )


# NumPy-only keywords that change nothing for a JAX array.
_IGNORED = ("order", "like", "subok")


def _unwrap(x: Any, trace: Any) -> Any:
    if isinstance(x, MutArray):
        return trace.unwrap(x) if x._trace.tag is trace.tag else x
    if type(x) in (list, tuple):
        return type(x)(_unwrap(v, trace) for v in x)
    return x


def _same_array(name: str, args: tuple[Any, ...], kwargs: dict[str, Any], trace: Any) -> bool:
    """Whether NumPy's ``asarray``-like ``name`` would return its argument itself."""
    if name not in ("asarray", "asanyarray", "ascontiguousarray") or not args:
        return False
    x = args[0]
    dtype = kwargs.get("dtype", args[1] if len(args) > 1 else None)
    return (
        isinstance(x, MutArray)
        and x._trace.tag is trace.tag
        and not x._scalar  # NumPy makes a 0-d array of a NumPy scalar
        and (dtype is None or np.dtype(dtype) == np.dtype(x.dtype))
        and (name != "ascontiguousarray" or x.ndim > 0)
    )


# NumPy functions jax.numpy has no namesake for, and what computes them.
_JNP_STANDINS: dict[str, Callable[..., Any]] = {
    "asanyarray": jnp.asarray,
    # NumPy's ascontiguousarray gives at least one dimension.
    "ascontiguousarray": lambda a, dtype=None, **kw: jnp.atleast_1d(jnp.asarray(a, dtype)),
}


def _make(name: str) -> Callable[..., Any]:
    np_fun = getattr(np, name)
    jnp_fun = _JNP_STANDINS.get(name, getattr(jnp, name, None))

    @functools.wraps(np_fun)
    def create(*args: Any, **kwargs: Any) -> Any:
        trace = current_mut_trace()
        if trace is None or jnp_fun is None:
            return np_fun(*args, **kwargs)
        if _same_array(name, args, kwargs, trace):
            return args[0]
        for k in _IGNORED:
            kwargs.pop(k, None)
        if name == "array" and kwargs.get("copy") is False:
            kwargs.pop("copy")
        args, kwargs = _unwrap((args, kwargs), trace)
        # Computed on the parent trace and stored in a new cell, so that the
        # result never aliases an argument (np.array(x) is a copy).
        with _compat.set_current_trace(trace.parent_trace):
            value = jnp.asarray(jnp_fun(*args, **kwargs))
        out = trace.new(value)
        out._ndarray = True  # a 0-d one is a 0-d array in NumPy, not a NumPy scalar
        return out

    create.__doc__ = _doc(name)
    return create


FUNCTIONS: dict[str, Callable[..., Any]] = {name: _make(name) for name in NAMES}


def new_ndarray(
    shape: Any,
    dtype: Any = float,
    buffer: Any = None,
    offset: int = 0,
    strides: Any = None,
    order: Any = None,
) -> Any:
    """``numpy.ndarray(shape, dtype)`` used as a scratch buffer: ``empty(shape, dtype)``.

    Outside a mutable scope, or given a ``buffer`` to view, NumPy's constructor.
    """
    if current_mut_trace() is None or buffer is not None:
        return np.ndarray(shape, dtype, buffer, offset, strides, order)
    return FUNCTIONS["empty"](shape, dtype)


class _NdarrayType(type):
    # `isinstance(x, np.ndarray)` must keep working where `np` is mutjax.numpy.
    def __instancecheck__(cls, obj: Any) -> bool:
        return isinstance(obj, np.ndarray)

    def __subclasscheck__(cls, sub: type) -> bool:
        return issubclass(sub, np.ndarray)

    def __call__(cls, *args: Any, **kwargs: Any) -> Any:
        return new_ndarray(*args, **kwargs)


class ndarray(metaclass=_NdarrayType):
    """``numpy.ndarray``: its constructor makes a mutable array inside ``mutjax.mutable``.

    ``ndarray(shape, dtype)`` used as a scratch buffer is ``empty(shape,
    dtype)``; outside a mutable scope, or given a ``buffer`` to view, it is
    NumPy's constructor. ``isinstance(x, ndarray)`` is ``isinstance(x,
    numpy.ndarray)``.

    Example:
        ```python
        import jax
        import numpy
        import mutjax
        import mutjax.numpy as np

        @jax.jit
        @mutjax.mutable
        def kernel(v):
            out = np.ndarray((3,), numpy.float32)  # a mutable scratch buffer
            out[:] = v
            return out

        assert kernel(2.0).tolist() == [2.0, 2.0, 2.0]
        assert isinstance(numpy.zeros(2), np.ndarray)
        assert isinstance(np.ndarray((2,)), numpy.ndarray)  # NumPy's own outside
        ```
    """


# NumPy's own creation callables -> their counterparts above, for converted code.
BY_NUMPY_FUNCTION: dict[Any, Callable[..., Any]] = {
    **{getattr(np, name): f for name, f in FUNCTIONS.items()},
    np.ndarray: new_ndarray,
}
