"""``mutjax.numpy``: NumPy, with creation functions that make mutable arrays.

Write ``import mutjax.numpy as np`` at the top of a kernel module and leave the
kernel unchanged: inside `mutjax.mutable`, ``np.zeros(n)``,
``np.empty_like(x)``, ``np.array([...])``, ``np.ndarray((n,), dtype)`` and the
other creation functions make mutable arrays (so ``buf[i] = traced`` works
under ``jax.jit``); outside a mutable scope they are NumPy's own. Every other
name is NumPy's (``np.sin``, ``np.add.at``, ``np.linalg``...), which
dispatches to mutjax when given mutable arrays. Converted code
(`mutjax.jit`, ``loops=True``) gets the same creation functions without
changing the import.

The creation functions, each taking NumPy's arguments:

| functions | inside ``mutjax.mutable`` |
|---|---|
| ``zeros``, ``ones``, ``empty``, ``full`` | a new mutable array of the shape |
| ``zeros_like``, ``ones_like``, ``empty_like``, ``full_like`` | a new mutable array shaped like an array |
| ``array``, ``asarray``, ``asanyarray``, ``ascontiguousarray``, ``copy`` | a mutable array of the data (``asarray`` and the other ``as*`` of a mutable array of the same dtype is that array) |
| ``arange``, ``linspace``, ``logspace``, ``geomspace`` | a mutable array of the range |
| ``eye``, ``identity``, ``tri``, ``indices``, ``fromfunction``, ``frombuffer`` | a mutable array of the result |
| ``ndarray(shape, dtype)`` | a mutable scratch buffer, as ``empty`` |

Example:
    ```python
    import jax
    import numpy
    import mutjax
    import mutjax.numpy as np

    @jax.jit
    @mutjax.mutable
    def running_max(x):
        out = np.empty_like(x)  # a mutable array: it can hold traced values
        out[0] = x[0]
        for i in range(1, x.shape[0]):
            out[i] = np.maximum(out[i - 1], x[i])
        return out

    x = numpy.array([1.0, 3.0, 2.0, 5.0])
    assert numpy.array_equal(running_max(x), numpy.maximum.accumulate(x))
    assert isinstance(np.zeros(2), numpy.ndarray)  # NumPy's own outside
    ```
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
