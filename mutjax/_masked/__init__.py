"""Values whose length is known only at run time: traced slices and masks.

Once a loop index is traced, ``L[i, :i]`` has ``i`` elements and JAX cannot
form it. ``x[a:b]`` with a traced bound and ``x[m]`` with a traced boolean
``m`` therefore give a ``MaskedArray``: data of a static *maximal* shape
plus, per axis of run-time length, a validity vector and the run-time length.
Operations keep it masked; reductions, ``dot`` and writes look only at the
valid positions, so no dynamic shape is ever formed.

The value: ``_layout`` (one run-time axis), ``_base`` (its state and
refusals), ``_elementwise`` / ``_indexing`` / ``_reduce`` / ``_products``
(NumPy's operations on it), ``_gather`` (an integer index of run-time
length), ``_value`` (the operators that call them). The
lowering: ``_dynamic`` (which indices are dynamic, traced slice bounds),
``_read`` and ``_write``. ``_origin`` locates the user's line for the errors.
"""

from ._dynamic import is_dynamic as is_dynamic
from ._gather import gather as gather
from ._layout import Axis as Axis
from ._origin import dynamic_shape_error as dynamic_shape_error
from ._read import read as read
from ._value import MaskedArray as MaskedArray
from ._write import same_index as same_index
from ._write import write as write
