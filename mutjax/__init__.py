"""mutjax: NumPy's in-place mutation syntax for JAX.

``@mutjax.jit`` compiles a NumPy kernel as it is written: in-place writes,
Python loops and the kernel's own NumPy buffers. Inside a function decorated
with `mutjax.mutable`, ``x[i] = y``, ``x[1:] *= 2`` and ``a[i][j] = v``
work as in NumPy, and the function still composes with ``jax.jit``,
``jax.grad`` and ``jax.vmap``.
"""

from importlib import metadata as _metadata

from . import (
    _numpy_api,  # noqa: F401 - installs NumPy's dispatch on mutable arrays
    _shard_map,  # noqa: F401 - registers the rule for jax.shard_map in a scope
)
from ._checks import LengthError as LengthError
from ._control import cond as cond
from ._control import fori_loop as fori_loop
from ._control import scan as scan
from ._control import switch as switch
from ._control import while_loop as while_loop
from ._errors import DynamicShapeError as DynamicShapeError
from ._errors import ForeignThreadError as ForeignThreadError
from ._errors import ForeignTraceError as ForeignTraceError
from ._errors import MutjaxError as MutjaxError
from ._errors import NumpyArrayError as NumpyArrayError
from ._errors import ScopeEndedError as ScopeEndedError
from ._errors import ShardMapWriteError as ShardMapWriteError
from ._errors import TracedValueError as TracedValueError
from ._errors import UnsupportedTransformError as UnsupportedTransformError
from ._jit import jit as jit
from ._loops import LoopConversionError as LoopConversionError
from ._loops import LoopConversionWarning as LoopConversionWarning
from ._masked import MaskedArray as MaskedArray
from ._mutable import mutable as mutable
from ._numpy_api import UnsupportedNumpyError as UnsupportedNumpyError
from ._trace import MutArray as MutableArray

try:
    __version__ = _metadata.version("mutjax")
except _metadata.PackageNotFoundError:  # run from a source tree that is not installed
    __version__ = "0+unknown"

__all__ = [
    "DynamicShapeError",
    "ForeignThreadError",
    "ForeignTraceError",
    "LengthError",
    "LoopConversionError",
    "LoopConversionWarning",
    "MaskedArray",
    "MutableArray",
    "MutjaxError",
    "NumpyArrayError",
    "ScopeEndedError",
    "ShardMapWriteError",
    "TracedValueError",
    "UnsupportedNumpyError",
    "UnsupportedTransformError",
    "cond",
    "fori_loop",
    "jit",
    "mutable",
    "scan",
    "switch",
    "while_loop",
]
