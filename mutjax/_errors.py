"""mutjax's own exceptions and the helpers that word their messages.

Errors about the *input* (bad indices, shapes that do not broadcast) use
NumPy's exception types, so that code written against NumPy catches them.
Errors about mutjax's *machinery* (a scope that has ended, a write where
mutjax cannot thread it) derive from :class:`MutjaxError`.
"""

from __future__ import annotations


class MutjaxError(Exception):
    """Base class of every error raised by mutjax's own machinery."""


class ScopeEndedError(MutjaxError):
    """A mutable array was used after the ``mutable`` call that owns it returned."""


class ForeignTraceError(MutjaxError):
    """A mutable array was written inside a JAX transformation mutjax cannot thread."""


class DynamicShapeError(MutjaxError):
    """An operation needs a shape that is only known at run time."""


class NumpyArrayError(MutjaxError):
    """A plain NumPy array met a traced value it cannot hold."""


def scope_ended(what: str) -> ScopeEndedError:
    return ScopeEndedError(
        f"mutjax: this mutable array ({what}) belongs to a `mutjax.mutable` call "
        "that has already returned, so it can no longer be read or written. "
        "Return the array from the mutable function (it comes back as a "
        "jax.Array) and use that value instead of keeping the mutable array "
        "in a list, global or attribute."
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
