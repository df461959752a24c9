"""mutjax's pass over a function's AST before malt converts it.

``MarkUnsafe`` wraps the iterable or test of each loop and ``if`` in a
call of one of mutjax's operators, so that the operators know at trace time
what ``._analysis`` read in the source: ``ag__.unsafe`` (a body with
Python side effects: run as Python), ``ag__.located`` (the file and line of
a loop, for messages, and the names its body writes through) and ``ag__.cheap`` (a branch that may run predicated,
its array writes rewritten into ``ag__.pset`` / ``ag__.paug``; the test of a
conditional expression whose sides may both be evaluated).
"""

from __future__ import annotations

import ast
from typing import Any

from ._analysis import is_cheap, side_effect, written_names


def _ag(name: str, *args: ast.expr) -> ast.Call:
    """``ag__.name(*args)``: a call of one of mutjax's operators."""
    func = ast.Attribute(ast.Name("ag__", ast.Load()), name, ast.Load())
    return ast.Call(func=func, args=list(args), keywords=[])


def _wrap(name: str, expr: ast.expr, *args: ast.expr) -> ast.expr:
    """``ag__.name(expr, *args)`` where ``expr`` stood."""
    return ast.copy_location(_ag(name, expr, *args), expr)


def _index_expr(idx: ast.expr) -> ast.expr:
    """A subscript's index as an expression (``1:n`` -> ``slice(1, n, None)``)."""
    if isinstance(idx, ast.Slice):
        parts = [
            p if p is not None else ast.Constant(None) for p in (idx.lower, idx.upper, idx.step)
        ]
        return ast.Call(func=ast.Name("slice", ast.Load()), args=parts, keywords=[])
    if isinstance(idx, ast.Tuple):
        return ast.Tuple(elts=[_index_expr(e) for e in idx.elts], ctx=ast.Load())
    return idx


def _load(expr: ast.expr) -> ast.expr:
    """A copy of ``expr`` that reads (a write target's nodes have a Store context)."""
    return ast.parse(ast.unparse(expr), mode="eval").body


class _PredicateWrites(ast.NodeTransformer):
    """``x[idx] = v`` -> ``ag__.pset(x, idx, v)``; ``x[idx] op= v`` -> ``ag__.paug(...)``;
    ``x op= v`` -> ``x = ag__.pinplace(x, op, v)``."""

    def _call(self, name: str, args: list[ast.expr], like: ast.stmt) -> ast.stmt:
        stmt = ast.Expr(_ag(name, *args))
        return ast.fix_missing_locations(ast.copy_location(stmt, like))

    def visit_Assign(self, node: ast.Assign) -> ast.stmt:
        t = node.targets[0]
        if isinstance(t, ast.Subscript):
            value = _load(t.value)
            return self._call("pset", [value, _index_expr(t.slice), node.value], node)
        return node

    def visit_AugAssign(self, node: ast.AugAssign) -> ast.stmt:
        t = node.target
        if isinstance(t, ast.Name):
            # `x op= v` writes in place when `x` holds a mutable array.
            op = ast.Constant(type(node.op).__name__)
            call = _ag("pinplace", ast.Name(t.id, ast.Load()), op, node.value)
            stmt = ast.Assign(targets=[ast.Name(t.id, ast.Store())], value=call)
            return ast.fix_missing_locations(ast.copy_location(stmt, node))
        if isinstance(t, ast.Subscript):
            op = ast.Constant(type(node.op).__name__)
            value = _load(t.value)
            return self._call("paug", [value, _index_expr(t.slice), op, node.value], node)
        return node


def _used_by_value(tree: ast.AST) -> set[int]:
    """The ids of the conditional expressions whose result only serves as a value:
    stored into an array element (``x[i] = a if c else b``), or an operand."""
    found: list[ast.expr | None] = []
    for n in ast.walk(tree):
        if isinstance(n, ast.Assign) and all(isinstance(t, ast.Subscript) for t in n.targets):
            found.append(n.value)
        elif isinstance(n, ast.AugAssign):
            found.append(n.value)
        elif isinstance(n, ast.BinOp):
            found += [n.left, n.right]
        elif isinstance(n, ast.UnaryOp):
            found.append(n.operand)
        elif isinstance(n, ast.Compare):
            found += [n.left, *n.comparators]
    return {id(e) for e in found if isinstance(e, ast.IfExp)}


class MarkUnsafe(ast.NodeTransformer):
    """Wrap the iterable / test of loops and ``if``s with side effects in ``ag__.unsafe``.

    Args:
        filename: the file of the function, for messages.
        line_offset: its first line less one (malt parses a dedented copy).
        namespace: its globals, to read the helper functions a branch calls.
    """

    def __init__(self, filename: str, line_offset: int, namespace: dict[str, Any]) -> None:
        self.filename = filename
        self.offset = line_offset
        self.namespace = namespace
        self._anchored = False
        self._by_value: set[int] = set()

    def visit(self, node: ast.AST) -> Any:
        if not self._anchored and isinstance(node, (ast.FunctionDef, ast.Lambda)):
            # malt's copy starts with the module's `from __future__` lines:
            # anchor the offset at the function's first line (its decorators).
            self._anchored = True
            decorators = getattr(node, "decorator_list", [])
            top = min([node.lineno] + [d.lineno for d in decorators])
            self.offset += 1 - top
            self._by_value = _used_by_value(node)
        return super().visit(node)

    def _side_effect(self, stmts: list[ast.stmt], returns: bool = True) -> str | None:
        return side_effect(stmts, returns, self.namespace, self.offset)

    def _where(self, node: ast.stmt) -> ast.expr:
        return ast.Constant(f"{self.filename}:{node.lineno + self.offset}")

    def visit_For(self, node: ast.For) -> ast.For:
        why = self._side_effect(node.body + node.orelse)
        writes = ast.Tuple([ast.Constant(n) for n in written_names(node.body)], ast.Load())
        self.generic_visit(node)
        if why is not None:
            node.iter = _wrap("unsafe", node.iter, self._where(node), ast.Constant(why))
        else:
            node.iter = _wrap("located", node.iter, self._where(node), writes)
        return node

    def visit_While(self, node: ast.While) -> ast.While:
        why = self._side_effect(node.body + node.orelse)
        self.generic_visit(node)
        if why is not None:
            node.test = _wrap("unsafe", node.test, self._where(node), ast.Constant(why))
        return node

    def visit_IfExp(self, node: ast.IfExp) -> ast.IfExp:
        # `a if c else b` on a traced `c` selects, as `jnp.where(c, a, b)`,
        # where evaluating both sides changes nothing: expressions that call
        # nothing that writes (malt turns the rest into Python's `if`).
        # Bound to a name, returned or passed on, NumPy's result *is* one of the
        # sides (a view stays a view): ``by_value`` tells the operator it is not.
        self.generic_visit(node)
        if is_cheap([ast.Expr(node.body), ast.Expr(node.orelse)], self.namespace):
            node.test = _wrap("by_value" if id(node) in self._by_value else "cheap", node.test)
        return node

    def visit_If(self, node: ast.If) -> ast.If:
        # malt turns a `return` in an `if` into a flag and a value: safe,
        # when the branches write no array (they are run both and selected).
        stmts = node.body + node.orelse
        why = self._side_effect(stmts, returns=False)
        returns = any(isinstance(n, ast.Return) for st in stmts for n in ast.walk(st))
        if why is None and returns and not is_cheap(stmts, self.namespace, helper=True):
            why = "has a `return` and writes an array or calls a function that might"
        if why is None and is_cheap(stmts, self.namespace):
            node.body = [_PredicateWrites().visit(st) for st in node.body]
            node.orelse = [_PredicateWrites().visit(st) for st in node.orelse]
            self.generic_visit(node)
            node.test = _wrap("cheap", node.test)
            return node
        self.generic_visit(node)
        if why is not None:
            node.test = _wrap("unsafe", node.test, self._where(node), ast.Constant(why))
        return node
