"""mutjax's own exceptions and the helpers that word their messages.

Errors about the *input* (bad indices, shapes that do not broadcast) use
NumPy's exception types, so that code written against NumPy catches them.
Errors about mutjax's *machinery* (a scope that has ended, a write where
mutjax cannot thread it) derive from ``MutjaxError``.
"""

from __future__ import annotations

from typing import Any

import jax
import numpy as np


class MutjaxError(Exception):
    """Base class of every error raised by mutjax's own machinery.

    Errors about bad input (an index out of bounds, shapes that do not
    broadcast, a value that does not cast) are NumPy's own types
    (``IndexError``, ``ValueError``, ``TypeError``) with NumPy's messages;
    ``MutjaxError`` and its subclasses are about how mutjax runs the code
    (a scope that ended, a write it cannot thread, a shape only known at run
    time). Each message says what to change.

    Example:
        ```python
        import jax.numpy as jnp
        import mutjax

        kept = []

        @mutjax.mutable
        def f(x):
            kept.append(x)  # the mutable array outlives the call
            return x

        f(jnp.zeros(3))
        try:
            kept[0][0] = 1.0
        except mutjax.MutjaxError as err:
            caught = err
        assert isinstance(caught, mutjax.ScopeEndedError)
        ```
    """


class ScopeEndedError(MutjaxError):
    """A mutable array was used after the ``mutable`` call that owns it returned.

    Raised by a read or a write of a mutable array kept past its scope (in a
    list, a global, an attribute). Return the array from the mutable
    function instead: it comes back as a ``jax.Array``.

    Example:
        ```python
        import jax.numpy as jnp
        import mutjax

        kept = []

        @mutjax.mutable
        def f(x):
            x[0] = 1.0
            kept.append(x)
            return x

        out = f(jnp.zeros(3))  # use this jax.Array
        try:
            kept[0][1] = 2.0
        except mutjax.ScopeEndedError as err:
            message = str(err)
        assert "has already returned" in message
        assert out.tolist() == [1.0, 0.0, 0.0]
        ```
    """


class ForeignTraceError(MutjaxError):
    """A mutable array was written inside a JAX transformation mutjax cannot thread.

    Raised by a write, inside the mutable function, from a plain
    ``jax.lax.fori_loop`` / ``while_loop`` / ``scan`` / ``cond`` body or a
    ``jax.jit`` / ``jax.vmap`` / ``jax.grad`` applied inside it: the new value
    cannot reach the array. Use `mutjax.fori_loop` and the other combinators
    (or `mutjax.jit`'s converted Python loops), or wrap the inner function in
    `mutjax.mutable` and return its new values.

    Example:
        ```python
        import jax
        import jax.numpy as jnp
        import mutjax

        @mutjax.mutable
        def fill(x):
            def body(i, carry):
                x[i] = carry
                return carry

            jax.lax.fori_loop(0, 3, body, 1.0)  # mutjax.fori_loop threads x
            return x

        try:
            fill(jnp.zeros(3))
        except mutjax.ForeignTraceError as err:
            message = str(err)
        assert "mutjax.fori_loop" in message
        ```
    """


class ForeignThreadError(ForeignTraceError):
    """A mutable array was used from a thread other than the one running its scope.

    JAX traces each thread on its own, so a mutable array can be read and
    written only in the thread running the `mutjax.mutable` call that owns
    it. Pass values between threads as ``jax.Array``s. A subclass of
    `ForeignTraceError`.

    Example:
        ```python
        import threading

        import jax.numpy as jnp
        import mutjax

        errors = []

        @mutjax.mutable
        def f(x):
            def work():
                try:
                    x[0] = 1.0
                except mutjax.ForeignThreadError as err:
                    errors.append(err)

            worker = threading.Thread(target=work)
            worker.start()
            worker.join()
            return x

        f(jnp.zeros(3))
        assert "another thread" in str(errors[0])
        ```
    """


class DynamicShapeError(MutjaxError):
    """An operation needs a shape that is only known at run time.

    A slice with a traced bound or a traced boolean mask gives a
    `mutjax.MaskedArray`, whose length is known only at run time.
    Elementwise operations, reductions, ``dot`` and assignment back into a
    traced slice work on it; what needs its exact shape (returning it,
    ``.shape``, a reshape) raises this error, naming the line that made it.
    The guide [Dynamic shapes][what-cannot-work-and-the-error] lists what works.

    Example:
        ```python
        import jax
        import jax.numpy as jnp
        import mutjax

        @jax.jit
        @mutjax.mutable
        def head_sum(x, i):
            return x[:i].sum()  # fine: a reduction over the valid part

        assert head_sum(jnp.arange(5.0), 3) == 3.0

        @jax.jit
        @mutjax.mutable
        def head(x, i):
            return x[:i]  # its length depends on the traced i

        try:
            head(jnp.arange(5.0), 3)
        except mutjax.DynamicShapeError as err:
            message = str(err)
        assert "known only at run time" in message
        ```
    """


class NumpyArrayError(MutjaxError):
    """A plain NumPy array met a traced value it cannot hold.

    Raised where a traced mutable array is converted to a NumPy array
    (``np.asarray(x)`` under ``jax.jit``) or stored into one (a scratch
    buffer from NumPy's ``np.zeros`` in a kernel run by `mutjax.mutable`
    without ``loops=True``). Run the kernel with `mutjax.jit`, whose NumPy
    creation functions make mutable arrays, or write ``import mutjax.numpy
    as np``. Where JAX raises its own error for the same cause, the error is
    also an instance of JAX's type (``jax.errors.TracerArrayConversionError``,
    ``ConcretizationTypeError``, ``TracerIntegerConversionError``).

    Example:
        ```python
        import jax
        import jax.numpy as jnp
        import numpy as np
        import mutjax

        @jax.jit
        @mutjax.mutable
        def f(x):
            return np.asarray(x)  # a NumPy array cannot hold a traced value

        try:
            f(jnp.zeros(3))
        except mutjax.NumpyArrayError as err:
            caught = err
        assert isinstance(caught, jax.errors.TracerArrayConversionError)
        ```
    """


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
    """A ``shard_map`` body wrote values that differ between devices where one array is shared.

    An array the body closes over, or a block whose ``in_spec`` does not
    split it over a mesh axis, is one value on every device of that axis; a
    write of a value that differs between them leaves no single result.
    Split the array with its ``in_spec`` (each device writes its own block)
    or make the value the same everywhere (``jax.lax.psum``). Checked with
    ``check_vma=True``, ``jax.shard_map``'s default.

    Example:
        ```python
        import jax
        import numpy as np
        from jax.sharding import NamedSharding
        from jax.sharding import PartitionSpec as P
        import mutjax

        mesh = jax.make_mesh((jax.device_count(),), ("x",))

        @mutjax.mutable
        def last_writer_wins(a, total):
            def body(block):
                total[0] = block[0]  # each device its own value

            jax.shard_map(body, mesh=mesh, in_specs=P("x"), out_specs=P())(a)
            return total

        a = jax.device_put(np.arange(4.0, dtype=np.float32), NamedSharding(mesh, P("x")))
        try:
            last_writer_wins(a, np.zeros(1, np.float32))
        except mutjax.ShardMapWriteError as err:
            message = str(err)
        assert "jax.lax.psum" in message
        ```
    """


class UnsupportedTransformError(MutjaxError, AttributeError):
    """A JAX transformation asked mutjax's trace for a hook it does not have.

    Raised when a transformation applied inside a mutable function (one of a
    newer JAX, or a third-party one) calls a ``process_*`` hook mutjax does
    not implement. Apply the transformation outside the mutable function
    (``transform(mutjax.mutable(f))``), or pass the arrays' values into it
    and write the results back (``x[...] = transformed(x)``). Also an
    ``AttributeError``, so that JAX code probing a trace for an optional
    hook (``getattr(trace, name, None)``) still sees it missing.

    Example:
        ```python
        import mutjax

        # Code that probes for optional hooks keeps working:
        assert issubclass(mutjax.UnsupportedTransformError, AttributeError)
        assert issubclass(mutjax.UnsupportedTransformError, mutjax.MutjaxError)
        ```
    """


class TracedValueError(MutjaxError, TypeError):
    """A Python value (a list, bytes, a pickle, a formatted string) of a traced array.

    Raised by ``x.tolist()``, ``x.tobytes()``, ``pickle.dumps(x)``,
    ``f"{x:.3f}"`` and the like on a mutable array whose values are traced
    (under ``jax.jit``, ``grad``, ``vmap`` or a mutjax loop). Return the
    array and convert the ``jax.Array`` it becomes, or print it with
    ``jax.debug.print``. Also a ``TypeError``, as JAX's own error is.

    Example:
        ```python
        import jax
        import jax.numpy as jnp
        import mutjax

        @jax.jit
        @mutjax.mutable
        def f(x):
            return x.tolist()

        try:
            f(jnp.zeros(3))
        except mutjax.TracedValueError as err:
            message = str(err)
        assert "jax.debug.print" in message

        assert mutjax.mutable(lambda x: x)(jnp.zeros(3)).tolist() == [0.0, 0.0, 0.0]
        ```
    """


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


def check_ufunc_cast(name: str, src: Any, dst: Any) -> None:
    """Raise NumPy's TypeError where ufunc ``name``'s result dtype ``src`` cannot
    be written into an output of dtype ``dst`` ("same_kind" casting)."""
    src, dst = np.dtype(src), np.dtype(dst)
    if src != dst and not np.can_cast(src, dst, "same_kind"):
        raise ufunc_cast_error(name, src, dst)


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


def scalar_item_assignment(dtype: Any, where: str) -> TypeError:
    """NumPy's error for ``v[...] = c`` where ``v = A[1, 2]`` is a NumPy scalar, in mutjax's words."""
    name = f"numpy.{np.dtype(dtype).name}"
    return TypeError(
        f"'{name}' object does not support item assignment (mutjax, at {where}): this "
        "array was read with an integer on every axis (`v = A[1, 2]`), which in NumPy "
        f"gives a {name} scalar, a copy of the element and not a view, so writing "
        "into it cannot change `A`. Write the element itself (`A[1, 2] = value`, "
        "`A[1, 2] += 1`), or read a 0-d view of it (`v = A[1, 2, ...]`) or a "
        "1-element view (`v = A[1:2, 2:3]`) and write through that."
    )
