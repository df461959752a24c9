"""mutjax: NumPy's in-place mutation syntax for JAX.

Inside a function decorated with :func:`mutjax.mutable`, ``x[i] = y``,
``x[1:] *= 2`` and ``a[i][j] = v`` work as in NumPy, and the function still
composes with ``jax.jit``, ``jax.grad`` and ``jax.vmap``.
"""

from ._control import cond as cond
from ._control import fori_loop as fori_loop
from ._control import scan as scan
from ._control import switch as switch
from ._control import while_loop as while_loop
from ._errors import DynamicShapeError as DynamicShapeError
from ._errors import ForeignTraceError as ForeignTraceError
from ._errors import MutjaxError as MutjaxError
from ._errors import NumpyArrayError as NumpyArrayError
from ._errors import ScopeEndedError as ScopeEndedError
from ._loops import LoopConversionError as LoopConversionError
from ._loops import LoopConversionWarning as LoopConversionWarning
from ._masked import MaskedArray as MaskedArray
from ._numpy_api import UnsupportedNumpyError as UnsupportedNumpyError
from ._trace import MutArray as MutableArray
from ._trace import mutable as mutable

__version__ = "0.1.0"

__all__ = [
    "DynamicShapeError",
    "ForeignTraceError",
    "LoopConversionError",
    "LoopConversionWarning",
    "MaskedArray",
    "MutableArray",
    "MutjaxError",
    "NumpyArrayError",
    "ScopeEndedError",
    "UnsupportedNumpyError",
    "cond",
    "fori_loop",
    "mutable",
    "scan",
    "switch",
    "while_loop",
]
