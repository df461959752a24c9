"""Converting a function: malt's transformer with mutjax's operators.

``convert`` hands a user function to malt's transformer, set up once
(``_transformer``) with mutjax's operators in place of malt's ``ag__``
ones and ``._rewrite.MarkUnsafe`` run on the source first. Functions it
cannot convert run as Python, with a ``LoopConversionWarning``. Every
call that converted code makes goes through ``converted_call``: NumPy's
creation functions, ``math`` and ``np.random`` get their stand-ins
(``._calls``), the user's own functions are converted when first called
(once per function), everything else (standard library, installed packages)
runs as it is. The converted code is compiled under the user's file name and
line numbers (``_relocate``), so tracebacks and messages name the user's
code.
"""

from __future__ import annotations

import ast
import functools
import inspect
import linecache
import os
import site
import sysconfig
import threading
import types
import warnings
import weakref
from collections.abc import Callable
from typing import Any

from .. import _compat
from . import _calls, _operators
from ._operators import LoopConversionWarning
from ._rewrite import MarkUnsafe


def _where(fn: Callable[..., Any]) -> str:
    code = getattr(fn, "__code__", None)
    if code is None:
        return repr(fn)
    return f"{code.co_filename}:{code.co_firstlineno}"


def _library_paths() -> list[str]:
    paths = sysconfig.get_paths()
    found = [paths[k] for k in ("stdlib", "platstdlib", "purelib", "platlib")]
    return [*found, *site.getsitepackages(), site.getusersitepackages()]


# Held while malt converts a function (its transformer, caches and AST
# build are shared by every thread; two threads converting at once broke
# the AST build about one run in four), never while converted code runs: a
# converted kernel may wait on another thread that converts or runs one.
# What converted code keeps while it runs is per thread (`_scope.local`) or
# per scope.
_LOCK = threading.RLock()

# Where the interpreter's own modules live: functions there are not the
# user's code and run as they are.
_LIBRARY_DIRS = tuple(
    sorted({os.path.join(os.path.realpath(p), "") for p in _library_paths() if p}, key=len)
)


def converted_call(f, args, kwargs, caller_fn_scope=None, options=None):
    """Call ``f`` from converted code: a stand-in, ``f`` itself, or ``f`` converted.

    malt's generated code calls this (as ``ag__.converted_call``) for every
    call it makes. Only the user's own functions are converted (not the
    standard library, installed packages, JAX, NumPy or mutjax).
    """
    kwargs = kwargs or {}
    special = _calls.substitute(f)
    if special is None:
        try:
            special = _operators.BUILTINS.get(f)
        except TypeError:  # unhashable callable
            special = None
    if special is not None:
        return special(*args, **kwargs)
    if isinstance(f, functools.partial):
        return converted_call(f.func, f.args + tuple(args), {**f.keywords, **kwargs})
    if inspect.isbuiltin(f) or isinstance(f, types.BuiltinFunctionType):
        # super(), locals(), eval() need the caller's frame: malt finds it.
        from malt.impl import api as ag_api

        return ag_api.converted_call(f, args, kwargs or None, caller_fn_scope, options)
    target, self_ = _target(f)
    if target is None or not _is_user_code(target):
        return f(*args, **kwargs)
    new = _converted(target)
    if self_ is not _NO_SELF:
        args = (self_, *args)
    return new(*args, **kwargs)


_NO_SELF = object()


def _target(f: Any) -> tuple[Any, Any]:
    """The Python function to convert for a call of ``f``, and the ``self`` it needs."""
    if inspect.isfunction(f):
        return f, _NO_SELF
    if inspect.ismethod(f) and inspect.isfunction(f.__func__):
        return f.__func__, f.__self__
    call = inspect.getattr_static(type(f), "__call__", None)
    if not isinstance(f, type) and inspect.isfunction(call):
        return call, f
    return None, _NO_SELF


def _is_user_code(fn: Any) -> bool:
    """Whether ``fn`` is the user's: not from the stdlib, site-packages or a known library."""
    # The module that defined it (`__module__` is the wrapped function's
    # where a decorator used functools.wraps, as `mutjax.mutable` does).
    module = fn.__globals__.get("__name__") or ""
    if module.split(".")[0] in _NOT_USER_MODULES:
        return False
    if inspect.isgeneratorfunction(fn) or inspect.iscoroutinefunction(fn):
        return False  # malt cannot convert them
    filename = fn.__code__.co_filename
    if filename.startswith("<") and filename not in linecache.cache:
        return False  # exec'd or typed at a prompt: no source to convert
    return not os.path.realpath(filename).startswith(_LIBRARY_DIRS)


# Top-level packages never converted, wherever they are installed.
_NOT_USER_MODULES = frozenset(["mutjax", "jax", "jaxlib", "numpy", "scipy", "malt"])


# -- the transformer -------------------------------------------------------------------

_TRANSFORMER: Any = None
# Each function converted so far -> its converted function (itself when
# malt refused it, so that the warning is given once).
_CONVERTED: weakref.WeakKeyDictionary[Any, Any] = weakref.WeakKeyDictionary()


def _transformer() -> Any:
    global _TRANSFORMER
    if _TRANSFORMER is not None:
        return _TRANSFORMER
    try:
        from malt.impl import api as ag_api
    except ImportError as e:  # pragma: no cover - depends on the environment
        raise ImportError(
            "mutjax: `mutjax.jit` and `mutable(..., loops=True)` convert Python loops "
            "with the diastatic-malt package, which is not installed. Install it with "
            "`pip install diastatic-malt`."
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

        def transform_function(self, fn, user_context):
            new, module, smap = super().transform_function(fn, user_context)
            factory = self._cache[fn][self.get_caching_key(user_context)]
            if not getattr(factory, "mutjax_relocated", False):
                _relocate(factory, smap)
                factory.mutjax_relocated = True
                new = factory.instantiate(
                    globals_=fn.__globals__,
                    closure=fn.__closure__ or (),
                    defaults=fn.__defaults__,
                    kwdefaults=getattr(fn, "__kwdefaults__", None),
                )
            # Tracebacks name the user's function, not malt's `ag__` name.
            new.__code__ = new.__code__.replace(co_name=fn.__name__, co_qualname=fn.__qualname__)
            return new, module, smap

    _TRANSFORMER = Transformer()
    return _TRANSFORMER


# -- the user's file and lines in tracebacks ------------------------------------------------


class _Relocate(ast.NodeTransformer):
    """Give every node of malt's module the user's line it came from.

    A node malt generated (the loop-body functions, state getters) takes the
    line of the nearest node above it that has one. Columns span the whole
    line, so that tracebacks underline nothing.
    """

    def __init__(self, filename: str, lines: dict[int, int], first: int) -> None:
        self.filename = filename
        self.lines = lines
        self.current = first

    def generic_visit(self, node: ast.AST) -> ast.AST:
        if not hasattr(node, "lineno"):
            return super().generic_visit(node)
        outer = self.current
        self.current = line = self.lines.get(node.lineno, outer)
        text = linecache.getline(self.filename, line).rstrip()
        located: Any = node
        located.lineno = located.end_lineno = line
        located.col_offset = len(text) - len(text.lstrip())
        located.end_col_offset = len(text)
        super().generic_visit(node)
        self.current = outer
        return node


def _relocate(factory: Any, source_map: Any) -> None:
    """Recompile malt's generated module with the user's file name and line numbers.

    malt writes the converted source to a temporary
    ``__autograph_generated_file*.py`` and keeps a source map from its lines
    to the user's. Compiled again under the user's file name with the mapped
    lines, the code's frames (tracebacks, and the frames mutjax's messages
    name) show the user's own file, line and source text.
    """
    generated = factory.module.__file__
    lines = {g.lineno: o.loc for g, o in source_map.items() if g.filename == generated}
    if not lines:
        return
    filename = next(iter(lines.values())).filename
    with open(generated, encoding="utf-8") as fh:
        tree = ast.parse(fh.read())
    mapped = {g: loc.lineno for g, loc in lines.items() if loc.filename == filename}
    tree = _Relocate(filename, mapped, min(mapped.values())).visit(tree)
    namespace: dict[str, Any] = {}
    exec(compile(tree, filename, "exec"), namespace)  # defines malt's factory function only
    outer = [n.name for n in tree.body if isinstance(n, ast.FunctionDef)][-1]
    factory._unbound_factory = namespace[outer]()


# -- converting ---------------------------------------------------------------------------


def _why_not(fun: Callable[..., Any]) -> str | None:
    if not inspect.isfunction(fun):
        return f"it is not a Python function ({type(fun).__name__})"
    try:
        inspect.getsource(fun)
    except (OSError, TypeError):
        return "its source code is not available (defined in a REPL or by exec?)"
    return None


def _warn_unconverted(fun: Any, why: str) -> None:
    warnings.warn(
        f"mutjax: cannot convert {getattr(fun, '__qualname__', fun)!r} ({_where(fun)}): "
        f"{why}. Its Python loops run as Python (unrolled under jit).",
        LoopConversionWarning,
        stacklevel=4,
    )


def _converted(fun: Any) -> Any:
    """``fun`` converted by malt (cached per function), or ``fun`` with a warning."""
    new = _CONVERTED.get(fun)
    if new is not None:
        return new
    with _LOCK:
        new = _CONVERTED.get(fun)
        if new is None:
            new = _transform(fun)
            _CONVERTED[fun] = new
    return new


def _transform(fun: Any) -> Any:
    tr = _transformer()
    from malt.core import converter

    opts = converter.ConversionOptions(
        recursive=True,
        user_requested=True,
        internal_convert_user_code=True,
        optional_features=(),
    )
    try:
        new, _module, _smap = tr.transform(fun, converter.ProgramContext(opts))
    except Exception as e:  # malt refuses some syntax
        _warn_unconverted(fun, f"{type(e).__name__}: {e}")
        return fun
    return new


def convert(fun: Callable[..., Any]) -> Callable[..., Any]:
    """``fun`` with its Python control flow converted, or ``fun`` itself with a warning.

    Args:
        fun: a Python function (a ``def`` or a lambda defined in a file).

    Returns:
        A function with ``fun``'s signature whose ``for``/``while``/``if``
        statements call mutjax's loop and branch combinators, and whose calls
        of other user functions convert those.

    Raises:
        ImportError: diastatic-malt is not installed.
    """
    # A function converted before had its source: skip reading it again (the
    # source lookup tokenizes the whole file, about 2 ms per ``mutable`` call).
    new = _CONVERTED.get(fun) if inspect.isfunction(fun) else None
    if new is None or new is fun:
        why = _why_not(fun)
        if why is not None:
            _warn_unconverted(fun, why)
            return fun
        new = _converted(fun)
    if new is fun:
        return fun

    @functools.wraps(fun)
    def converted(*args: Any, **kwargs: Any) -> Any:
        differentiating = _compat.under_differentiation(_compat.current_trace())
        with _operators.running(differentiating):
            return new(*args, **kwargs)

    return converted
