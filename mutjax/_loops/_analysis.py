"""Reading a function's source: what makes a loop body or a branch unsafe or cheap.

Pure functions of the AST (and, for the helper functions a branch calls, of
their source): no tracing, no malt. ``._rewrite`` asks them which loops
and branches to mark before malt converts the function.
"""

from __future__ import annotations

import ast
import inspect
import textwrap
from typing import Any

from .. import _inplace

# Methods that mutate a Python container in place: a loop body calling one
# has a side effect that tracing once would lose.
_MUTATING_METHODS = frozenset(
    ["append", "extend", "insert", "pop", "remove", "clear", "update", "add", "discard"]
    + ["setdefault", "popitem", "appendleft", "popleft", "write"]
)
# Calls that write their arguments without going through `x[idx] = v`.
_INPLACE_CALLS = (
    _MUTATING_METHODS
    | _inplace.METHODS
    | _inplace.UNSUPPORTED_METHODS
    | _inplace.FUNCTIONS
    | _inplace.UFUNC_METHODS
)


# -- side effects ----------------------------------------------------------------------


class _SideEffects(ast.NodeVisitor):
    """Finds the first construct in a body that tracing once would lose."""

    def __init__(self, returns: bool, namespace: dict[str, Any], line_offset: int) -> None:
        self.returns = returns
        self.namespace = namespace
        self.offset = line_offset
        self.why: str | None = None

    def _line(self, node: ast.AST) -> int:
        return getattr(node, "lineno", 0) + self.offset

    def visit_FunctionDef(self, node: ast.AST) -> None:
        return None  # a nested function's statements are its own, not the body's

    visit_AsyncFunctionDef = visit_FunctionDef
    visit_Lambda = visit_FunctionDef
    visit_ClassDef = visit_FunctionDef

    def visit_Return(self, node: ast.Return) -> None:
        if self.returns:
            self.why = self.why or f"has a `return` (line {self._line(node)})"

    def visit_Yield(self, node: ast.AST) -> None:
        self.why = self.why or "has a `yield`"

    visit_YieldFrom = visit_Yield

    def visit_Global(self, node: ast.AST) -> None:
        self.why = self.why or "assigns a global"

    visit_Nonlocal = visit_Global

    def visit_Call(self, node: ast.Call) -> None:
        f = node.func
        if isinstance(f, ast.Name) and f.id == "print":
            self.why = self.why or f"calls print (line {self._line(node)})"
        elif (
            isinstance(f, ast.Attribute)
            and f.attr in _MUTATING_METHODS
            and not self._module(f.value)
        ):
            self.why = self.why or (
                f"calls `.{f.attr}(...)` (line {self._line(node)}), a Python side effect"
            )
        self.generic_visit(node)

    def _module(self, value: ast.expr) -> bool:
        """Whether ``value`` names a module (``np.add(a, b, out)`` is NumPy's, not ``set.add``)."""
        return isinstance(value, ast.Name) and inspect.ismodule(self.namespace.get(value.id))


def side_effect(
    stmts: list[ast.stmt],
    returns: bool = True,
    namespace: dict[str, Any] | None = None,
    line_offset: int = 0,
) -> str | None:
    """Why the statements cannot be traced once, or None.

    Args:
        stmts: a loop body or the branches of an ``if``.
        returns: whether a ``return`` counts (malt turns one in an ``if`` into
            a flag and a value, which is safe).
        namespace: the function's globals, to tell module functions
            (``np.add``) from a container's mutating methods (``s.add``).
        line_offset: added to the statements' line numbers in the reason.

    Returns:
        The reason, worded to follow "its body" in a message, or None.
    """
    finder = _SideEffects(returns, namespace or {}, line_offset)
    for s in stmts:
        finder.visit(s)
    return finder.why


# -- cheap branches --------------------------------------------------------------------

_PURE_BUILTINS = frozenset(["max", "min", "abs", "int", "float", "bool", "len", "slice", "round"])
_NOT_CHEAP = (
    ast.For, ast.AsyncFor, ast.While, ast.Try, ast.With, ast.AsyncWith, ast.Raise,
    ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda, ast.ClassDef, ast.Global,
    ast.Nonlocal, ast.Delete, ast.Yield, ast.YieldFrom, ast.Await, ast.NamedExpr,
    ast.AnnAssign,
)  # fmt: skip


def is_cheap(stmts: list[ast.stmt], namespace: dict[str, Any], helper: bool = False) -> bool:
    """True when the statements may run predicated (see ``_operators.if_stmt``).

    No loops, every array write is a plain ``x[idx] = v`` / ``x[idx] op= v``
    (rewritten into predicated writes), and every call is a pure builtin, a
    method or module function that does not write, or a loop-free helper
    function that writes no array.

    Args:
        stmts: the branches of an ``if``, or the body of a helper it calls.
        namespace: the globals of the function, to find the helpers it calls.
        helper: whether ``stmts`` is a helper's body: it may ``return`` but
            write no array and call no function of its own.
    """
    return all(_cheap_node(n, namespace, helper) for st in stmts for n in ast.walk(st))


def _cheap_node(node: ast.AST, namespace: dict[str, Any], helper: bool) -> bool:
    if isinstance(node, _NOT_CHEAP) or (isinstance(node, ast.Return) and not helper):
        return False
    if isinstance(node, ast.Assign):
        return len(node.targets) == 1 and _cheap_target(node.targets[0], helper)
    if isinstance(node, ast.AugAssign):
        return _cheap_target(node.target, helper)
    if isinstance(node, ast.Call):
        return _cheap_call(node, namespace, helper)
    return True


def _cheap_target(target: ast.expr, helper: bool) -> bool:
    """A plain local, or an array element (a predicated write) outside a helper."""
    return isinstance(target, ast.Name) or (isinstance(target, ast.Subscript) and not helper)


def _cheap_call(node: ast.Call, namespace: dict[str, Any], helper: bool) -> bool:
    if any(k.arg == "out" for k in node.keywords):
        return False
    f = node.func
    if isinstance(f, ast.Attribute):
        return f.attr not in _INPLACE_CALLS
    if not isinstance(f, ast.Name):
        return False
    if f.id in _PURE_BUILTINS and f.id not in namespace:
        return True
    fn = namespace.get(f.id)
    if helper or not inspect.isfunction(fn):
        return False
    body = _function_body(fn)
    return body is not None and is_cheap(body, {}, helper=True)


def _function_body(fn: Any) -> list[ast.stmt] | None:
    """The statements of a ``def``'s body, or None when its source cannot tell."""
    try:
        tree = ast.parse(textwrap.dedent(inspect.getsource(fn)))
    except (OSError, TypeError, SyntaxError):
        return None
    # A lambda's source is the statement that binds it, not a `def`: an
    # opaque call, so the branch is a `cond`.
    if not tree.body or not isinstance(tree.body[0], ast.FunctionDef):
        return None
    return tree.body[0].body


# -- written arrays --------------------------------------------------------------------


def _base_name(target: ast.expr) -> str | None:
    """``x`` of a write target ``x[i]``, ``x[i][j]`` or ``x[i].real``; None for others."""
    while isinstance(target, (ast.Subscript, ast.Attribute)):
        target = target.value
    return target.id if isinstance(target, ast.Name) else None


def written_names(stmts: list[ast.stmt]) -> tuple[str, ...]:
    """The names that ``stmts`` write through, in source order: ``x`` of ``x[i] = v``,
    ``x[i] op= v`` and ``x op= v`` (in place on an array).

    A guess of the arrays a loop body writes (see mutjax._control.guess): a
    write through a called function or a name bound inside the body is not
    seen, and costs one trace more, never a result.
    """
    found: dict[str, None] = {}
    for st in stmts:
        for node in ast.walk(st):
            if isinstance(node, ast.Assign):
                targets = [
                    t
                    for tt in node.targets
                    for t in (tt.elts if isinstance(tt, ast.Tuple) else [tt])
                ]
            elif isinstance(node, ast.AugAssign):
                targets = [node.target]
            else:
                continue
            for t in targets:
                if isinstance(t, ast.Subscript) or isinstance(node, ast.AugAssign):
                    name = _base_name(t)
                    if name is not None:
                        found[name] = None
    return tuple(found)
