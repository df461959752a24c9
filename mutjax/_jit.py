"""``mutjax.jit``: the one entry point for running NumPy code unchanged under JAX.

``mutjax.jit(fun)`` is ``jax.jit(mutjax.mutable(fun, loops=True))``: in-place
writes, Python loops and branches compiled as loops, and the kernel's own NumPy
scratch buffers made mutable. ``mutjax.mutable`` stays the building block
for library code (the Python loops guide's "Which entry point" says which to use).
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Sequence
from typing import Any, overload

import jax
import jax.stages

from . import _mutable, _returned


@overload
def jit(
    fun: Callable[..., Any],
    *,
    return_argnums: int | Sequence[int] | None = None,
    return_argnames: str | Sequence[str] | None = None,
    **jit_kwargs: Any,
) -> jax.stages.Wrapped: ...
@overload
def jit(
    fun: None = None,
    *,
    return_argnums: int | Sequence[int] | None = None,
    return_argnames: str | Sequence[str] | None = None,
    **jit_kwargs: Any,
) -> Callable[[Callable[..., Any]], jax.stages.Wrapped]: ...


@_returned.refusing_return_args("mutjax.jit")
def jit(
    fun: Callable[..., Any] | None = None,
    *,
    return_argnums: int | Sequence[int] | None = None,
    return_argnames: str | Sequence[str] | None = None,
    **jit_kwargs: Any,
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
        return_argnums: as for `mutjax.mutable`: the positional arguments
            whose final values the call also returns (an int or a sequence
            of ints, as ``static_argnums``).
        return_argnames: as for `mutjax.mutable`: the same, by name (a str or
            a sequence of str, as ``static_argnames``).
        **jit_kwargs: passed to ``jax.jit`` (``static_argnums``,
            ``static_argnames``, ``donate_argnums``, ...).

    Returns:
        (jax.stages.Wrapped): The jitted function, as ``jax.jit`` returns it
            (``@mutjax.jit(...)`` returns a decorator that makes one), with
            ``fun``'s signature; the caller's arrays never change. With
            ``return_argnums`` or ``return_argnames`` it returns ``fun``'s
            result followed by the final values of the selected arguments
            (only those when ``fun`` returns None), as for `mutjax.mutable`:
            ``perm, A = mutjax.jit(lu, return_argnums=0)(A)``.

    Raises:
        TypeError: ``fun`` is not callable; ``return_argnums`` or
            ``return_argnames`` has the wrong type, or a call did not pass a
            selected argument; ``return_args=`` (replaced by
            ``return_argnums``).
        ValueError: ``return_argnums`` or ``return_argnames`` names an
            argument ``fun``'s signature cannot take, as ``jax.jit`` raises
            for ``static_argnums``.

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

        @mutjax.jit(return_argnums=0)
        def normalize(x):  # in place, as NumPy code often is
            total = x.sum()
            x /= total
            return total

        total, x = normalize(np.array([1.0, 3.0]))
        assert float(total) == 4.0 and x.tolist() == [0.25, 0.75]
        ```
    """
    if fun is None:
        return functools.partial(
            jit, return_argnums=return_argnums, return_argnames=return_argnames, **jit_kwargs
        )
    _mutable.check_function(fun)
    chosen = _returned.selection(fun, return_argnums, return_argnames, "mutjax.jit")
    return jax.jit(_mutable.wrap(fun, True, chosen), **jit_kwargs)
