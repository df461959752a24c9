"""Where a masked value was read: the user's line, and the error that names it.

A value of run-time length fails far from where it was made (at a ``.shape``,
a ``jax.numpy`` call, a return); the error points back at the line that read
it and names the ways out.
"""

from __future__ import annotations

import linecache
import os
import sys
from types import FrameType

import jax.numpy as jnp
import numpy as np

from .. import _errors

# The mutjax package (one level above this one): its frames are not the user's.
_PKG = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def user_line() -> str:
    """``file:line: code`` of the first frame outside mutjax, JAX and NumPy."""
    f: FrameType | None = sys._getframe(1)
    jax_root = os.path.dirname(os.path.dirname(os.path.abspath(jnp.__file__)))
    while f is not None:
        fn = os.path.abspath(f.f_code.co_filename)
        if not fn.startswith((_PKG, jax_root, os.path.dirname(np.__file__))):
            code = linecache.getline(fn, f.f_lineno).strip()
            return f"{os.path.basename(fn)}:{f.f_lineno}: `{code}`"
        f = f.f_back
    return "<unknown line>"


def dynamic_shape_error(what: str, origin: str) -> _errors.DynamicShapeError:
    """The error for ``what``, which needs the exact shape of a value read at ``origin``."""
    return _errors.DynamicShapeError(
        f"mutjax: {what} needs the exact shape of a value whose length is known "
        f"only at run time (read at {origin}, where a slice bound or a boolean "
        "mask is traced). Keep it masked (elementwise operations, reductions, "
        "dot and assignment back into a traced slice work), or give it a "
        "static shape: `jnp.where(jnp.arange(n) < i, x, 0)` over the whole "
        "axis, or `x[jnp.nonzero(m, size=N)]` with a static bound N."
    )
