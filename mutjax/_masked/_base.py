"""The state of a masked value: its data, layouts and origin, and what it refuses.

``MaskedBase`` holds ``data`` of a static *maximal* shape and, per axis,
None (a static axis) or an ``Axis`` of run-time length. The operations
(elementwise, reductions, products, indexing) take this class and build their
results with ``MaskedBase._with``, so they sit below
``mutjax.MaskedArray``, which adds NumPy's operators on top of them.

Masked positions always hold a finite filler: every operation that mixes
positions (reductions, ``dot``, shifts, writes) selects the valid positions
with ``where`` first, and the read selects the filler with ``where`` too, so
neither values nor gradients of masked positions reach a result (the
double-``where`` pattern).
"""

from __future__ import annotations

import sys
from typing import Any, NoReturn, Self

import jax.numpy as jnp
import numpy as np

from ._layout import Axis, all_along, front, iota, select, shift, take
from ._origin import dynamic_shape_error


class MaskedBase:
    """A value whose length along some axes is known only at run time (its state)."""

    __slots__ = ("_data", "_raw", "axes", "origin", "target", "version", "clean")

    def __init__(
        self,
        data: Any,
        axes: tuple[Axis | None, ...],
        origin: str,
        target: Any = None,
        clean: bool = False,
        raw: Any = None,
    ) -> None:
        self._data = data
        self._raw = raw  # a slice read's data before its masked positions were zeroed
        self.axes = tuple(axes)
        self.origin = origin
        # True when masked positions are known to hold 0 (a fresh read, a
        # flip of one): products and sums then need no select of their own.
        self.clean = clean
        # A traced *slice* is a view in NumPy: (array, index) it was read
        # from, so that later writes to the array show through and in-place
        # operators write back. A mask read is a copy (target None).
        self.target = target
        self.version = None if target is None else target[0]._cell.version

    @property
    def data(self) -> Any:
        target = self.target
        if target is not None and target[0]._cell.version != self.version:
            fresh = target[0][target[1]]
            self._data, self._raw, self.version = fresh._data, fresh._raw, fresh.version
        return self._data

    @property
    def raw(self) -> Any:
        """``data`` as read, masked positions not zeroed (for products: see ``_products``)."""
        data = self.data
        return data if self._raw is None else self._raw

    # -- what cannot work ----------------------------------------------------

    def _refuse(self, what: str) -> NoReturn:
        raise dynamic_shape_error(what, self.origin)

    @property
    def shape(self) -> tuple[int, ...]:
        return self._refuse("`.shape`")

    @property
    def size(self) -> int:
        return self._refuse("`.size`")

    def __len__(self) -> int:
        return self._refuse("`len()`")

    def __iter__(self) -> Any:
        return self._refuse("iteration")

    def __int__(self) -> int:
        return self._refuse("`int()`")

    def __float__(self) -> float:
        return self._refuse("`float()`")

    def __complex__(self) -> complex:
        return self._refuse("`complex()`")

    def __index__(self) -> int:
        return self._refuse("use as an index")

    def __bool__(self) -> bool:
        return self._refuse("`bool()` (an `if` or `and`/`or`)")

    def __array__(self, dtype: Any = None, copy: Any = None) -> np.ndarray:
        return self._refuse("conversion to a NumPy array")

    @property
    def __jax_array__(self) -> Any:
        # JAX's operators (`alpha * v` with a JAX array alpha) look this up and
        # return NotImplemented when it is absent, which lets Python call our
        # reflected operator; every jax.numpy function calls it to convert its
        # input, which must refuse. Tell the two apart by the caller's module.
        caller = sys._getframe(1).f_globals.get("__name__", "")
        if caller == "jax._src.numpy.array_methods":
            # Absent, for both spellings of that lookup: jax 0.10.2 uses
            # getattr(x, "__jax_array__", None), jax 0.10.0 uses hasattr().
            raise AttributeError("__jax_array__")
        return self._refuse("a jax.numpy / jax.lax function")

    # -- static facts ----------------------------------------------------------

    @property
    def ndim(self) -> int:
        return len(self.axes)

    @property
    def dtype(self) -> Any:
        return self.data.dtype

    def __repr__(self) -> str:
        try:
            aval = self._data._aval if hasattr(self._data, "_aval") else self._data.aval
            dims = ",".join("?" if a is not None else str(d) for a, d in zip(self.axes, aval.shape))
            what = f"{aval.dtype}[{dims}]"
        except Exception:  # repr must never raise
            what = "?"
        return f"MaskedArray<{what} (read at {self.origin})>"

    # -- the valid positions ---------------------------------------------------

    def valid(self) -> Any:
        """A boolean array broadcastable to ``data``: the valid positions."""
        return all_along([(ax, a.valid) for ax, a in runtime_axes(self)], self.ndim)

    def filled(self, value: Any) -> Any:
        """``data`` with masked positions set to ``value``."""
        v = self.valid()
        if v is None or (self.clean and np.ndim(value) == 0 and value == 0):
            return self.data
        return select(v, self.data, np.asarray(value, self.data.dtype))

    def compacted(self) -> Self:
        """The same value with every run-time axis packed to the front."""
        if all(a.kind == "front" for _, a in runtime_axes(self)):
            return self
        data = self.data
        axes = list(self.axes)
        for ax, a in runtime_axes(self):
            if a.kind == "place":
                n = data.shape[ax]
                axes[ax] = front(a.length, n)
                # A slice's start lies in [0, n] (`slice.indices`).
                data = shift(data, a.key, ax, (0, n))
            elif a.kind != "front":
                n = data.shape[ax]
                idx = _true_positions(a.valid)
                axes[ax] = front(a.length, n)
                data = take(data, idx, ax)
        out = self._with(data, tuple(axes))
        return out._with(out.filled(0), out.axes, clean=True)

    def _with(
        self, data: Any, axes: tuple[Axis | None, ...] | None = None, clean: bool = False
    ) -> Any:
        """``data`` as a masked value read where this one was; plain with no run-time axis."""
        axes = self.axes if axes is None else axes
        if all(a is None for a in axes):
            return data
        return type(self)(data, axes, self.origin, clean=clean)


def _true_positions(valid: Any) -> Any:
    """The positions where ``valid`` is true, in order, then zeros (as
    ``jnp.nonzero(valid, size=n, fill_value=0)``).

    ``jnp.nonzero`` counts with a scatter that drops out-of-bounds indices,
    which ``checkify.index_checks`` reports in every valid program; here the
    positions that are not true go to one extra slot, cut off after."""
    n = valid.shape[0]
    dest = jnp.where(valid, jnp.cumsum(valid.astype(np.int32)) - 1, np.int32(n))
    slots = jnp.zeros(n + 1, np.int32).at[dest].set(iota(n), mode="promise_in_bounds")
    return slots[:n]


def runtime_axes(m: MaskedBase) -> list[tuple[int, Axis]]:
    """``(axis, layout)`` of every axis of ``m`` whose length is known only at run time."""
    return [(ax, a) for ax, a in enumerate(m.axes) if a is not None]


def origin_of(*xs: Any) -> str:
    """Where the first masked value among ``xs`` was read."""
    for x in xs:
        if isinstance(x, MaskedBase):
            return x.origin
    return "<unknown line>"
