"""``mutjax.jit``: the one entry point for running NumPy code unchanged under JAX.

``mutjax.jit(fun)`` is ``jax.jit(mutjax.mutable(fun, loops=True))``: in-place
writes, Python loops and branches compiled as loops, and the kernel's own NumPy
scratch buffers made mutable. :func:`mutjax.mutable` stays the building block
for library code (see docs/python-loops.md, "Which entry point").
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

import jax

from ._mutable import mutable


def jit(
    fun: Callable[..., Any] | None = None, *, return_args: bool = False, **jit_kwargs: Any
) -> Any:
    """Compile a NumPy-style function: ``jax.jit(mutjax.mutable(fun, loops=True))``.

    Inside ``fun`` arrays are mutable (``x[i] = v``, ``x[1:] *= 2``), its
    Python ``for``/``while``/``if`` statements (and those of the functions it
    calls) become compiled loops and branches, and NumPy's creation functions
    (``np.zeros``, ``np.empty_like``, ``np.array([...])``...) make mutable
    arrays, whatever name the module imported NumPy as.

    Example::

        import numpy as np
        import mutjax

        @mutjax.jit(static_argnums=1)
        def smooth(u, passes):
            out = np.empty_like(u)
            for _ in range(passes):
                out[1:-1] = 0.5 * (u[:-2] + u[2:])
                u[1:-1] = out[1:-1]
            return u

        smooth(np.arange(6.0), 3)

    Args:
        fun: the function; ``mutjax.jit`` also works as ``@mutjax.jit(...)``
            with keyword arguments only.
        return_args: as for :func:`mutjax.mutable`: also return the final
            values of the arguments, ``(out, args, kwargs)``, for
            out-parameter kernels.
        **jit_kwargs: passed to :func:`jax.jit` (``static_argnums``,
            ``static_argnames``, ``donate_argnums``, ...).

    Returns:
        The jitted function, with ``fun``'s signature; the caller's arrays
        never change.

    Raises:
        TypeError: ``fun`` is not callable.
    """
    if fun is None:
        return functools.partial(jit, return_args=return_args, **jit_kwargs)
    return jax.jit(mutable(fun, loops=True, return_args=return_args), **jit_kwargs)
