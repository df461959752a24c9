"""``mutjax.numpy``: NumPy, with creation functions that make mutable arrays.

Write ``import mutjax.numpy as np`` at the top of a kernel module and leave the
kernel unchanged: inside :func:`mutjax.mutable`, ``np.zeros(n)``,
``np.empty_like(x)``, ``np.array([...])`` and the other creation functions
make mutable arrays (so ``buf[i] = traced`` works under ``jax.jit``); outside
a mutable scope they are NumPy's own. Every other name is NumPy's
(``np.sin``, ``np.add.at``, ``np.linalg``...), which dispatches to mutjax when
given mutable arrays.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

import jax.numpy as _jnp
import numpy as _np

from . import _compat
from ._trace import MutArray as _MutArray
from ._trace import current_mut_trace as _current_mut_trace

# NumPy creation functions and the jax.numpy function computing each.
_CREATION = (
    "zeros", "ones", "empty", "full", "zeros_like", "ones_like", "empty_like",
    "full_like", "arange", "eye", "identity", "array", "asarray", "asanyarray",
    "ascontiguousarray", "copy", "linspace", "logspace", "geomspace", "tri",
    "indices", "fromfunction", "frombuffer",
)  # fmt: skip

# NumPy-only keywords that change nothing for a JAX array.
_IGNORED = ("order", "like", "subok")


def _unwrap(x: Any, trace: Any) -> Any:
    if isinstance(x, _MutArray):
        return trace.unwrap(x) if x._trace.tag is trace.tag else x
    if type(x) in (list, tuple):
        return type(x)(_unwrap(v, trace) for v in x)
    return x


def _make(name: str) -> Callable[..., Any]:
    np_fun = getattr(_np, name)
    jnp_fun = getattr(_jnp, name, None)

    @functools.wraps(np_fun)
    def create(*args: Any, **kwargs: Any) -> Any:
        trace = _current_mut_trace()
        if trace is None or jnp_fun is None:
            return np_fun(*args, **kwargs)
        if name in ("asarray", "asanyarray", "ascontiguousarray") and args:
            # NumPy's asarray returns its argument itself when nothing changes.
            x = args[0]
            dtype = kwargs.get("dtype", args[1] if len(args) > 1 else None)
            if (
                isinstance(x, _MutArray)
                and x._trace.tag is trace.tag
                and (dtype is None or _np.dtype(dtype) == _np.dtype(x.dtype))
            ):
                return x
        for k in _IGNORED:
            kwargs.pop(k, None)
        if name == "array" and kwargs.get("copy") is False:
            kwargs.pop("copy")
        args, kwargs = _unwrap((args, kwargs), trace)
        # Computed on the parent trace and stored in a new cell, so that the
        # result never aliases an argument (np.array(x) is a copy).
        with _compat.set_current_trace(trace.parent_trace):
            value = jnp_fun(*args, **kwargs)
            value = _jnp.asarray(value)
        return trace.new(value)

    create.__doc__ = (
        f"``numpy.{name}``, making a mutable array inside ``mutjax.mutable``.\n\n"
        f"Outside a mutable scope this is ``numpy.{name}`` itself.\n"
    )
    return create


for _name in _CREATION:
    globals()[_name] = _make(_name)
del _name


def __getattr__(name: str) -> Any:
    return getattr(_np, name)


def __dir__() -> list[str]:
    return sorted(set(dir(_np)) | set(_CREATION))
