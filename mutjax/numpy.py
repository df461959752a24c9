"""``mutjax.numpy``: NumPy, with creation functions that make mutable arrays.

Write ``import mutjax.numpy as np`` at the top of a kernel module and leave the
kernel unchanged: inside :func:`mutjax.mutable`, ``np.zeros(n)``,
``np.empty_like(x)``, ``np.array([...])``, ``np.ndarray((n,), dtype)`` and the
other creation functions make mutable arrays (so ``buf[i] = traced`` works
under ``jax.jit``); outside a mutable scope they are NumPy's own. Every other
name is NumPy's (``np.sin``, ``np.add.at``, ``np.linalg``...), which
dispatches to mutjax when given mutable arrays. Converted code
(``mutjax.jit``, ``loops=True``) gets the same creation functions without
changing the import (see :mod:`mutjax._creation`).
"""

from __future__ import annotations

from typing import Any

import numpy as _np

from ._creation import FUNCTIONS as _FUNCTIONS
from ._creation import ndarray as ndarray

globals().update(_FUNCTIONS)


def __getattr__(name: str) -> Any:
    return getattr(_np, name)


def __dir__() -> list[str]:
    return sorted(set(dir(_np)) | set(_FUNCTIONS))
