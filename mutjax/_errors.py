"""mutjax's own exceptions and the helpers that word their messages.

Errors about the *input* (bad indices, shapes that do not broadcast) use
NumPy's exception types, so that code written against NumPy catches them.
Errors about mutjax's *machinery* (a scope that has ended, a write where
mutjax cannot thread it) derive from :class:`MutjaxError`.
"""

from __future__ import annotations

from typing import Any

import jax
import numpy as np


class MutjaxError(Exception):
    """Base class of every error raised by mutjax's own machinery."""


class ScopeEndedError(MutjaxError):
    """A mutable array was used after the ``mutable`` call that owns it returned."""


class ForeignTraceError(MutjaxError):
    """A mutable array was written inside a JAX transformation mutjax cannot thread."""


class ForeignThreadError(ForeignTraceError):
    """A mutable array was used from a thread other than the one running its scope."""


class DynamicShapeError(MutjaxError):
    """An operation needs a shape that is only known at run time."""


class NumpyArrayError(MutjaxError):
    """A plain NumPy array met a traced value it cannot hold."""


# Where mutjax words an error that JAX raises for the same cause, the error
# is also an instance of JAX's type, so that code catching JAX's keeps working.


class _JaxWorded(Exception):
    def __init__(self, message: str) -> None:
        Exception.__init__(self, message)  # JAX's types take a tracer, not a message


class NumpyArrayConversionError(_JaxWorded, NumpyArrayError, jax.errors.TracerArrayConversionError):
    """A traced mutable array was converted to a NumPy array (``__array__``)."""


class ConcreteScalarError(_JaxWorded, NumpyArrayError, jax.errors.ConcretizationTypeError):
    """A traced value was converted to a Python float / complex / int."""


class ConcreteIndexError(_JaxWorded, NumpyArrayError, jax.errors.TracerIntegerConversionError):
    """A traced value was used as a Python integer index (``__index__``)."""


class TracedConditionError(_JaxWorded, MutjaxError, jax.errors.TracerBoolConversionError):
    """A traced value was used as a Python bool (an ``if`` or ``while`` on it)."""


class ShardMapWriteError(MutjaxError):
    """A ``shard_map`` body wrote values that differ between devices where one array is shared."""


class UnsupportedTransformError(MutjaxError, AttributeError):
    """A JAX transformation asked mutjax's trace for a hook it does not have.

    Also an ``AttributeError``, so that JAX code probing a trace for an
    optional hook (``getattr(trace, name, None)``) still sees it missing.
    """


class TracedValueError(MutjaxError, TypeError):
    """A Python value (a list, bytes, a pickle, a formatted string) of a traced array."""


def traced_value(what: str, where: str) -> TracedValueError:
    return TracedValueError(
        f"mutjax: {what} needs the values of a mutable array ({where}), which are "
        "not known while JAX traces the function (under jax.jit, grad, vmap or a "
        "mutjax loop). Return the array from the mutable function and convert "
        "the jax.Array it becomes, or print it with jax.debug.print."
    )


def scope_ended(what: str) -> ScopeEndedError:
    return ScopeEndedError(
        f"mutjax: this mutable array ({what}) belongs to a `mutjax.mutable` call "
        "that has already returned, so it can no longer be read or written. "
        "Return the array from the mutable function (it comes back as a "
        "jax.Array) and use that value instead of keeping the mutable array "
        "in a list, global or attribute."
    )


def shard_map_write(what: str, spec: Any, axes: Any) -> ShardMapWriteError:
    names = ", ".join(repr(a) for a in sorted(axes))
    return ShardMapWriteError(
        f"mutjax: a jax.shard_map body wrote {what}, which is one value on every "
        f"device of mesh axes {names} (its spec is {spec}), but the values written "
        "differ between those devices, so no single result exists. Pass the array "
        "as an argument whose in_spec splits it over those axes (each device then "
        "writes its own block), or make the written value the same on every device "
        "(jax.lax.psum / jax.lax.all_gather)."
    )


def unsupported_hook(name: str) -> UnsupportedTransformError:
    return UnsupportedTransformError(
        f"mutjax: a JAX transformation called `{name}` on a mutable scope's trace, "
        "a hook this version of mutjax does not implement. Apply that transformation "
        "outside the mutable function (`transform(mutjax.mutable(f))`), or pass the "
        "mutable arrays' values into it and write the results back "
        "(`x[...] = transformed(x)`), and report the JAX version to mutjax."
    )


def foreign_write(what: str) -> ForeignTraceError:
    return ForeignTraceError(
        f"mutjax: a mutable array ({what}) was written inside a JAX "
        "transformation that mutjax does not own (a plain `jax.lax` loop, "
        "`cond` or `scan` body, a `jax.jit`, `jax.vmap` or `jax.grad` "
        "applied inside the mutable function). The write could not reach the "
        "array. Use mutjax.fori_loop / mutjax.while_loop / mutjax.scan / "
        "mutjax.cond / mutjax.switch for loops and branches, or wrap the "
        "inner function in `mutjax.mutable` and return the new values."
    )


def other_thread(what: str) -> ForeignThreadError:
    return ForeignThreadError(
        f"mutjax: this mutable array ({what}) belongs to a `mutjax.mutable` call "
        "running in another thread. JAX traces each thread on its own, so the "
        "array can be read and written only in the thread that runs that call. "
        "Pass the values between threads as jax.Arrays (return them from the "
        "mutable function, or call the mutable function in the thread that "
        "uses them)."
    )


# NumPy's own errors for a result that does not fit its destination (a
# ufunc's `out=`, an in-place operator), worded as NumPy words them.


def shape_str(shape: tuple[int, ...]) -> str:
    """A shape as NumPy prints it in messages: ``(3,4)``, ``(3,)``."""
    return "(" + ",".join(str(d) for d in shape) + ("," if len(shape) == 1 else "") + ")"


def ufunc_cast_error(name: str, src: Any, dst: Any, casting: str = "same_kind") -> TypeError:
    return TypeError(
        f"Cannot cast ufunc '{name}' output from {np.dtype(src)!r} to {np.dtype(dst)!r} "
        f"with casting rule '{casting}'"
    )


def out_shape_error(out_shape: tuple[int, ...], broadcast_shape: tuple[int, ...]) -> ValueError:
    return ValueError(
        f"non-broadcastable output operand with shape {shape_str(out_shape)} doesn't match "
        f"the broadcast shape {shape_str(broadcast_shape)}"
    )


def dynamic_slice_error() -> DynamicShapeError:
    return DynamicShapeError(
        "mutjax: a slice with a traced start, stop or step (`x[i:i + 2]`) has a "
        "length JAX must know at trace time. Use `lax.dynamic_slice(x, (i,), (2,))` "
        "/ `lax.dynamic_update_slice`, or an integer array index `x[i + jnp.arange(2)]`."
    )
