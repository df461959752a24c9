"""``mutjax.jit``: the one entry point for running NumPy code unchanged under JAX.

``mutjax.jit(fun)`` is ``jax.jit(mutjax.mutable(fun, loops=True))``: in-place
writes, Python loops and branches compiled as loops, and the kernel's own NumPy
scratch buffers made mutable. ``mutjax.mutable`` stays the building block
for library code (the Python loops guide's "Which entry point" says which to use).
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any, overload

import jax
import jax.stages

from ._mutable import mutable


@overload
def jit(
    fun: Callable[..., Any], *, return_args: bool = False, **jit_kwargs: Any
) -> jax.stages.Wrapped: ...
@overload
def jit(
    fun: None = None, *, return_args: bool = False, **jit_kwargs: Any
) -> Callable[[Callable[..., Any]], jax.stages.Wrapped]: ...


def jit(
    fun: Callable[..., Any] | None = None, *, return_args: bool = False, **jit_kwargs: Any
) -> jax.stages.Wrapped | Callable[[Callable[..., Any]], jax.stages.Wrapped]:
    """Compile a NumPy-style function: ``jax.jit(mutjax.mutable(fun, loops=True))``.

    Inside ``fun`` arrays are mutable (``x[i] = v``, ``x[1:] *= 2``), its
    Python ``for``/``while``/``if`` statements (and those of the functions it
    calls) become compiled loops and branches, and NumPy's creation functions
    (``np.zeros``, ``np.empty_like``, ``np.array([...])``...) make mutable
    arrays, whatever name the module imported NumPy as.

    Args:
        fun: the function; ``mutjax.jit`` also works as ``@mutjax.jit(...)``
            with keyword arguments only.
        return_args: as for `mutjax.mutable`: also return the final
            values of the arguments, ``(out, args, kwargs)``, for
            out-parameter kernels.
        **jit_kwargs: passed to ``jax.jit`` (``static_argnums``,
            ``static_argnames``, ``donate_argnums``, ...).

    Returns:
        The jitted function, with ``fun``'s signature; the caller's arrays
        never change.

    Raises:
        TypeError: ``fun`` is not callable.

    Example:
        ```python
        import numpy as np
        import mutjax

        @mutjax.jit(static_argnums=1)
        def smooth(u, passes):
            out = np.empty_like(u)  # a mutable scratch buffer under mutjax.jit
            for _ in range(passes):  # one compiled loop
                out[1:-1] = 0.5 * (u[:-2] + u[2:])
                u[1:-1] = out[1:-1]
            return u

        u = np.array([0.0, 0.0, 4.0, 0.0, 0.0])
        assert smooth(u, 1).tolist() == [0.0, 2.0, 0.0, 2.0, 0.0]
        assert u.tolist() == [0.0, 0.0, 4.0, 0.0, 0.0]  # the caller's array is unchanged
        ```
    """
    if fun is None:
        return functools.partial(jit, return_args=return_args, **jit_kwargs)
    return jax.jit(mutable(fun, loops=True, return_args=return_args), **jit_kwargs)
