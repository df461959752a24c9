"""Converting a function: malt's transformer with mutjax's operators, under one lock.

:func:`convert` hands a user function to malt's transformer, set up once
(:func:`_transformer`) with mutjax's operators in place of malt's ``ag__``
ones and :class:`._rewrite.MarkUnsafe` run on the source first. Functions it
cannot convert run as Python, with a :class:`LoopConversionWarning`. The
functions a converted function calls are converted when called
(:func:`converted_call`); malt caches each conversion per function.
"""

from __future__ import annotations

import ast
import functools
import inspect
import threading
import warnings
from collections.abc import Callable
from typing import Any

from .. import _compat
from . import _operators
from ._operators import LoopConversionWarning
from ._rewrite import MarkUnsafe


def _where(fn: Callable[..., Any]) -> str:
    code = getattr(fn, "__code__", None)
    if code is None:
        return repr(fn)
    return f"{code.co_filename}:{code.co_firstlineno}"


# Converted code runs under this lock: the operators' state, the transformer
# and the malt globals that `converted_call` swaps are shared by every thread.
# Conversion happens at trace time only, so serializing it costs little.
_LOCK = threading.RLock()


def converted_call(f, args, kwargs, caller_fn_scope=None, options=None):
    """Call ``f``, converting it first when it is a user function (malt's interface)."""
    try:
        special = _operators.BUILTINS.get(f)
    except TypeError:  # unhashable callable
        special = None
    if special is not None:
        return special(*args, **(kwargs or {}))
    from malt.core import config as ag_config
    from malt.impl import api as ag_api

    tr = _transformer()
    saved = ag_api._TRANSPILER, ag_config.CONVERSION_RULES
    ag_api._TRANSPILER = tr
    ag_config.CONVERSION_RULES = _RULES
    try:
        return ag_api.converted_call(f, args, kwargs, caller_fn_scope, options)
    finally:
        ag_api._TRANSPILER, ag_config.CONVERSION_RULES = saved


# -- the transformer -------------------------------------------------------------------

_TRANSFORMER: Any = None
_RULES: Any = None


def _transformer() -> Any:
    global _TRANSFORMER, _RULES
    if _TRANSFORMER is not None:
        return _TRANSFORMER
    try:
        from malt.core import config as ag_config
        from malt.impl import api as ag_api
    except ImportError as e:  # pragma: no cover - depends on the environment
        raise ImportError(
            "mutjax: `mutable(..., loops=True)` converts Python loops with the "
            "diastatic-malt package, which is not installed. Install it with "
            "`pip install 'mutjax[loops]'` (or `pip install diastatic-malt`)."
        ) from e

    class Transformer(ag_api.PyToPy):
        def get_extra_locals(self):
            if self._extra_locals is None:
                extra = super().get_extra_locals()
                extra["ag__"].__dict__.update(_operators.OPERATORS, converted_call=converted_call)
                self._extra_locals = extra
            return self._extra_locals

        origin = ("<unknown>", 1)

        def transform(self, obj, user_context):
            # malt parses a dedented copy of the source: remember where the
            # function really is, to name file and line in messages.
            code = getattr(obj, "__code__", None)
            if code is not None:
                self.origin = (code.co_filename, code.co_firstlineno)
            return super().transform(obj, user_context)

        def transform_ast(self, node, ctx):
            filename, first = self.origin
            namespace = getattr(ctx.info, "namespace", None) or {}
            node = MarkUnsafe(filename, first - 1, namespace).visit(node)
            ast.fix_missing_locations(node)
            return super().transform_ast(node, ctx)

    _RULES = (
        ag_config.DoNotConvert("mutjax"),
        ag_config.DoNotConvert("jax"),
        ag_config.DoNotConvert("jaxlib"),
        *ag_config.CONVERSION_RULES,
    )
    _TRANSFORMER = Transformer()
    return _TRANSFORMER


def _why_not(fun: Callable[..., Any]) -> str | None:
    if not inspect.isfunction(fun):
        return f"it is not a Python function ({type(fun).__name__})"
    if fun.__name__ == "<lambda>":
        return "it is a lambda"
    try:
        inspect.getsource(fun)
    except (OSError, TypeError):
        return "its source code is not available (defined in a REPL or by exec?)"
    return None


def convert(fun: Callable[..., Any]) -> Callable[..., Any]:
    """``fun`` with its Python control flow converted, or ``fun`` itself with a warning.

    Args:
        fun: a Python function.

    Returns:
        A function with ``fun``'s signature whose ``for``/``while``/``if``
        statements call mutjax's loop and branch combinators.

    Raises:
        ImportError: diastatic-malt is not installed.
    """
    why = _why_not(fun)
    if why is not None:
        warnings.warn(
            f"mutjax: loops=True cannot convert {getattr(fun, '__qualname__', fun)!r} "
            f"({_where(fun)}): {why}. Its Python loops run as Python (unrolled "
            "under jit). Define it with `def` in a file to convert it.",
            LoopConversionWarning,
            stacklevel=3,
        )
        return fun
    with _LOCK:  # two threads importing malt at once can see half a module
        tr = _transformer()
        from malt.core import converter
    opts = converter.ConversionOptions(
        recursive=True,
        user_requested=True,
        internal_convert_user_code=True,
        optional_features=(),
    )
    try:
        with _LOCK:
            new, _module, _smap = tr.transform(fun, converter.ProgramContext(opts))
    except Exception as e:  # malt refuses some syntax
        warnings.warn(
            f"mutjax: loops=True cannot convert {fun.__qualname__!r} ({_where(fun)}): "
            f"{type(e).__name__}: {e}. Its Python loops run as Python.",
            LoopConversionWarning,
            stacklevel=3,
        )
        return fun

    @functools.wraps(fun)
    def converted(*args: Any, **kwargs: Any) -> Any:
        with _LOCK:
            differentiating = _compat.under_differentiation(_compat.current_trace())
            with _operators.running(differentiating):
                return new(*args, **kwargs)

    return converted
