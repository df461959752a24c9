"""MaskedArray: NumPy's operators, methods and dispatch protocols on a masked value.

Everything here forwards to the operations below it (elementwise, reductions,
products, indexing), which take its base class. A traced slice is a view of
the array it was read from, so its in-place operators write back there; a
mask read is a copy.
"""

from __future__ import annotations

from typing import Any

import jax.numpy as jnp
import numpy as np
from jax import lax

from .. import _errors
from . import _lengths
from ._base import MaskedBase
from ._elementwise import elementwise
from ._gather import take_function
from ._indexing import flip, getitem, setitem
from ._products import dot, inner, matmul, outer, vdot
from ._reduce import UFUNC_REDUCTIONS, argreduce, norm, reduce


class MaskedArray(MaskedBase):
    """A value whose length along some axes is known only at run time.

    Reading a slice with a traced bound (``L[i, :i]`` in a loop over ``i``)
    or a traced boolean mask (``x[x > 0]`` under ``jax.jit``) gives a
    ``MaskedArray``: JAX cannot form an array of that length, so mutjax keeps
    the value at its largest possible length together with which elements
    are valid. You use it as the NumPy array it stands for: NumPy's
    elementwise operators and ufuncs, ``np.flip`` / ``[::-1]``, reductions
    (``sum``, ``max``, ``argmin``, ``np.linalg.norm``...), ``dot`` / ``@`` /
    ``vdot`` and assignment into a traced slice or mask (``x[:i] = v``,
    ``x[:i] -= y[:i]``) all look only at the valid elements. A traced slice is
    a view of the array it was read from: its in-place operators write
    there. What needs the exact shape (returning it from the mutable
    function, ``.shape``, a reshape, a new axis) raises
    `mutjax.DynamicShapeError` naming the line that read it. The guide
    [Dynamic shapes and traced bounds][what-you-get-maskedarray] says what works and why.

    Example:
        ```python
        import numpy as np
        import mutjax

        @mutjax.jit
        def forward_substitution(L, b):
            x = np.zeros_like(b)
            for i in range(b.shape[0]):
                # L[i, :i] and x[:i] are MaskedArrays: i is traced in the loop
                x[i] = (b[i] - L[i, :i] @ x[:i]) / L[i, i]
            return x

        L = np.tril(np.arange(1.0, 10.0).reshape(3, 3))
        b = np.array([1.0, 2.0, 3.0])
        np.testing.assert_allclose(forward_substitution(L, b), np.linalg.solve(L, b), rtol=1e-5)
        ```
    """

    # The value is `data` (the static maximal shape) and `axes`: per axis
    # None (a static axis) or an `Axis` (validity vector and run-time length).

    __slots__ = ()
    __array_priority__ = 3000

    # -- NumPy's dispatch ----------------------------------------------------------

    def __array_ufunc__(self, ufunc: Any, method: str, *inputs: Any, **kwargs: Any) -> Any:
        out = kwargs.pop("out", None)
        if isinstance(out, tuple):
            out = out[0] if len(out) == 1 else self._refuse("several `out=` arrays")
        if out is not None and not (
            method == "__call__" and isinstance(out, MaskedArray) and out.target is not None
        ):
            return self._refuse(f"`np.{ufunc.__name__}(..., out=)` into this array")
        if method == "__call__" and ufunc is np.matmul and out is None and not kwargs:
            return _matmul(*inputs)  # a gufunc: a product, not an elementwise operation
        if method == "__call__":
            fn = getattr(jnp, ufunc.__name__, None)
            if fn is None:
                return NotImplemented
            if out is None:
                return elementwise(lambda *a: fn(*a, **kwargs), *inputs)
            # NumPy checks the inputs' lengths with out's (`operands could not be
            # broadcast together with shapes (3,) (4,) (3,)`), once.
            with _lengths.one_check("inplace", [*inputs, out]):
                result = elementwise(lambda *a: fn(*a, **kwargs), *inputs)
                # `np.add(v, 1, out=v)` with `v = x[:k]` writes x, as NumPy's view does.
                return out._inplace(lambda _, r: r, ufunc.__name__, result)
        if method == "reduce" and len(inputs) == 1:
            name = UFUNC_REDUCTIONS.get(ufunc.__name__)
            if name is not None:
                return reduce(name, inputs[0], **kwargs)
        return self._refuse(f"`np.{ufunc.__name__}.{method}`")

    def __array_function__(self, func: Any, types: Any, args: Any, kwargs: Any) -> Any:
        impl = _FUNCTIONS.get(func.__name__)
        if impl is None:
            return self._refuse(f"`np.{func.__name__}`")
        return impl(*args, **kwargs)

    # -- elementwise -------------------------------------------------------------

    def astype(self, dtype: Any) -> Any:
        """The same masked value cast to ``dtype``."""
        return self._with(self.data.astype(dtype))

    def transpose(self, *axes: Any) -> MaskedArray:
        """NumPy's ``transpose`` (a copy here, not a view)."""
        if len(axes) == 1 and (axes[0] is None or isinstance(axes[0], (tuple, list))):
            axes = tuple(axes[0]) if axes[0] is not None else ()
        perm = tuple(int(a) % self.ndim for a in axes) or tuple(reversed(range(self.ndim)))
        data = lax.transpose(self.data, perm)
        return MaskedArray(data, tuple(self.axes[p] for p in perm), self.origin, clean=self.clean)

    @property
    def T(self) -> MaskedArray:
        return self.transpose()

    def copy(self) -> MaskedArray:
        """A copy: writes into it leave this value unchanged."""
        return MaskedArray(self.data, self.axes, self.origin, clean=self.clean)

    def conj(self) -> Any:
        return elementwise(jnp.conj, self)

    conjugate = conj

    @property
    def real(self) -> Any:
        return elementwise(jnp.real, self)

    @property
    def imag(self) -> Any:
        return elementwise(jnp.imag, self)

    def __neg__(self) -> Any:
        return elementwise(jnp.negative, self)

    def __pos__(self) -> Any:
        return self

    def __abs__(self) -> Any:
        return elementwise(jnp.abs, self)

    def __invert__(self) -> Any:
        return elementwise(jnp.invert, self)

    # -- indexing ------------------------------------------------------------------

    def __getitem__(self, idx: Any) -> Any:
        return getitem(self, idx)

    def __setitem__(self, idx: Any, value: Any) -> None:
        if self.target is not None:
            # A traced slice is a view: its writes belong to the array it views.
            self._refuse(
                "assignment into a traced slice of run-time length (assign into the "
                "array it was read from: `x[a:b][k] = v` is `x[a + k] = v`)"
            )
        setitem(self, idx, value)

    def _inplace(self, fn: Any, name: str, other: Any) -> Any:
        if self.target is None:
            return elementwise(
                fn, self, other
            )  # a copy, as NumPy's `x[m]`: Python rebinds the name
        # NumPy's `v += w` is `np.add(v, w, out=v)`: one check, with out's length.
        with _lengths.one_check("inplace", [self, other, self]):
            new = elementwise(fn, self, other)
            _errors.check_ufunc_cast(name, new.dtype, self.dtype)
            arr, raw = self.target
            arr[raw] = new
        return self

    # -- reductions and products ------------------------------------------------------

    def sum(self, axis: Any = None, dtype: Any = None, keepdims: bool = False) -> Any:
        """NumPy's ``sum`` over the valid elements (see ``reduce``)."""
        return reduce("sum", self, axis=axis, dtype=dtype, keepdims=keepdims)

    def prod(self, axis: Any = None, dtype: Any = None, keepdims: bool = False) -> Any:
        """NumPy's ``prod`` over the valid elements (see ``reduce``)."""
        return reduce("prod", self, axis=axis, dtype=dtype, keepdims=keepdims)

    def max(self, axis: Any = None, keepdims: bool = False) -> Any:
        """NumPy's ``max`` over the valid elements; of none, ``-inf`` / the dtype's min."""
        return reduce("max", self, axis=axis, keepdims=keepdims)

    def min(self, axis: Any = None, keepdims: bool = False) -> Any:
        """NumPy's ``min`` over the valid elements; of none, ``inf`` / the dtype's max."""
        return reduce("min", self, axis=axis, keepdims=keepdims)

    def mean(self, axis: Any = None, dtype: Any = None, keepdims: bool = False) -> Any:
        """NumPy's ``mean`` over the valid elements (NaN for none)."""
        return reduce("mean", self, axis=axis, dtype=dtype, keepdims=keepdims)

    def any(self, axis: Any = None, keepdims: bool = False) -> Any:
        """NumPy's ``any`` over the valid elements."""
        return reduce("any", self, axis=axis, keepdims=keepdims)

    def all(self, axis: Any = None, keepdims: bool = False) -> Any:
        """NumPy's ``all`` over the valid elements."""
        return reduce("all", self, axis=axis, keepdims=keepdims)

    def argmax(self, axis: Any = None) -> Any:
        """NumPy's ``argmax``: an index into the valid elements, in NumPy's order."""
        return argreduce("argmax", self, axis)

    def argmin(self, axis: Any = None) -> Any:
        """NumPy's ``argmin``: an index into the valid elements, in NumPy's order."""
        return argreduce("argmin", self, axis)

    def dot(self, other: Any) -> Any:
        """NumPy's ``dot`` (see ``dot``)."""
        return dot(self, other)

    def __matmul__(self, other: Any) -> Any:
        return _matmul(self, other)

    def __rmatmul__(self, other: Any) -> Any:
        return _matmul(other, self)


def _matmul(a: Any, b: Any) -> Any:
    """``a @ b``, its contracted lengths checked in ``matmul``'s words."""
    with _lengths.one_check("matmul", [a, b]):
        return matmul(a, b)


def _iop(fn: Any, name: str) -> Any:
    return lambda self, other: self._inplace(fn, name, other)


def _binop(fn: Any, reflected: bool) -> Any:
    if reflected:
        return lambda self, other: elementwise(lambda a, b: fn(b, a), self, other)
    return lambda self, other: elementwise(fn, self, other)


for _name, _fn in {
    "add": jnp.add,
    "sub": jnp.subtract,
    "mul": jnp.multiply,
    "truediv": jnp.true_divide,
    "floordiv": jnp.floor_divide,
    "mod": jnp.remainder,
    "pow": jnp.power,
    "and": jnp.bitwise_and,
    "or": jnp.bitwise_or,
    "xor": jnp.bitwise_xor,
    "lshift": jnp.left_shift,
    "rshift": jnp.right_shift,
}.items():
    setattr(MaskedArray, f"__{_name}__", _binop(_fn, False))
    setattr(MaskedArray, f"__r{_name}__", _binop(_fn, True))
    setattr(MaskedArray, f"__i{_name}__", _iop(_fn, _name))
for _name, _fn in {
    "lt": jnp.less,
    "le": jnp.less_equal,
    "gt": jnp.greater,
    "ge": jnp.greater_equal,
    "eq": jnp.equal,
    "ne": jnp.not_equal,
}.items():
    setattr(MaskedArray, f"__{_name}__", _binop(_fn, False))
del _name, _fn
MaskedArray.__hash__ = None  # type: ignore[assignment]


def _reduction(name: str, with_dtype: bool) -> Any:
    """``np.<name>`` of a masked value, in NumPy's signature (``dtype`` for sum, prod, mean)."""
    if with_dtype:
        return lambda a, axis=None, dtype=None, out=None, keepdims=False, **k: reduce(
            name, a, axis, dtype, keepdims, **k
        )
    return lambda a, axis=None, out=None, keepdims=False, **k: reduce(
        name, a, axis, None, keepdims, **k
    )


def _ufunc_like(fn: Any) -> Any:
    return lambda *a, **k: elementwise(lambda *d: fn(*d, **k), *a)


_FUNCTIONS: dict[str, Any] = {
    "flip": flip,
    "norm": norm,
    "dot": dot,
    "matmul": _matmul,
    "vdot": vdot,
    "inner": inner,
    "outer": outer,
    **{name: _reduction(name, True) for name in ("sum", "prod", "mean")},
    **{name: _reduction(name, False) for name in ("max", "min", "any", "all")},
    "amax": _reduction("max", False),
    "amin": _reduction("min", False),
    "argmax": lambda a, axis=None, out=None, **k: argreduce("argmax", a, axis),
    "argmin": lambda a, axis=None, out=None, **k: argreduce("argmin", a, axis),
    "where": lambda cond, x, y: elementwise(jnp.where, cond, x, y),
    "abs": _ufunc_like(jnp.abs),
    "clip": _ufunc_like(jnp.clip),
    "real": _ufunc_like(jnp.real),
    "imag": _ufunc_like(jnp.imag),
    "copy": lambda a, **k: a.copy(),
    "transpose": lambda a, axes=None: a.transpose(axes),
    "take": take_function,
}
