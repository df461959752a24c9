"""A converted loop's state: the mutable arrays its locals hold, and the values it carries.

malt hands a loop body's Python locals over as a tuple (``get_state`` /
``set_state``). A compiled loop carries values, but a local that holds one of
the scope's mutable arrays (``x = a``, ``u = U[1:]``) is a reference: writes
through it must reach the array, whose cell the combinators thread. So, at
the start of each iteration of the compiled loop, each local is either

- a *reference* (a key ``(cell serial, view key)``): it holds the same
  mutable array of the scope (same cell, same view) at the start of every
  iteration. It is not carried: the name is bound to that array in the
  body, and what is written through it lands in the array's cell;
- a *value* (:data:`VAL`): anything else (a number, an array the body made).
  It is carried by the loop.

A body that re-binds a name to another mutable array (``x, y = y, x``) has a
period: the bindings repeat every ``period`` iterations, possibly after the
first ``peel`` ones. The loop then runs ``peel`` iterations as Python, a
compiled loop whose body is ``period`` iterations, and the remaining ones as
Python, so every name holds in every iteration the array it holds under
NumPy. The bindings are learned by tracing: a body whose locals, at its end,
are bound otherwise than planned raises :class:`Rebind`, and the operators
trace the loop again with what was learned (:meth:`Carry.learn`).

:class:`State` also drops from malt's state the *composites* that name
elements of a mutable array (``x[m]`` when the body does ``x[m] += 1``):
the write already goes into the array's cell, and carrying ``x[m]`` would
read and write it back at every iteration (a copy, or an error for a mask).
"""

from __future__ import annotations

import ast
import builtins
from collections.abc import Callable
from typing import Any

import jax
import jax.numpy as jnp

from .. import _compat
from .._scope import Handle
from .._trace import MutArray, current_mut_trace
from . import _choice

# The key of a local carried as a value.
VAL = "value"

# The longest period (and first iterations run before it) a loop's bindings
# may have before the loop runs as Python instead: each period is one more
# copy of the body in the compiled loop.
MAX_PERIOD = 4


class RebindError(Exception):
    """The bindings of a loop's locals cannot be carried by a compiled loop."""


# -- malt's state, without the elements of mutable arrays --------------------------


def _namespace(fn: Callable[..., Any]) -> dict[str, Any]:
    """The names ``fn`` sees: its globals and the current contents of its closure."""
    ns = dict(vars(builtins))
    ns.update(fn.__globals__)
    for name, cell in zip(fn.__code__.co_freevars, fn.__closure__ or ()):
        try:
            ns[name] = cell.cell_contents
        except ValueError:  # not assigned yet
            pass
    return ns


def _composite(name: str) -> ast.expr | None:
    """The AST of a composite state name (``x[m]``, ``self.a``), None for a plain name."""
    if name.isidentifier():
        return None
    return ast.parse(name, mode="eval").body


def _eval(node: ast.expr, ns: dict[str, Any]) -> Any:
    return eval(compile(ast.Expression(node), "<state>", "eval"), ns)


def _is_array_element(get_state: Callable[[], Any], name: str) -> bool:
    node = _composite(name)
    if not isinstance(node, ast.Subscript):
        return False
    try:
        base = _eval(node.value, _namespace(get_state))
    except Exception:  # malt's own `ldu` treats an unreadable composite as undefined
        return False
    return isinstance(base, Handle)


class State:
    """malt's ``get_state`` / ``set_state`` over the locals a loop or branch carries.

    Args:
        get_state, set_state, names: malt's. Composites naming elements of a
            mutable array are dropped (see the module doc); the others stay.
    """

    def __init__(
        self,
        get_state: Callable[[], tuple[Any, ...]],
        set_state: Callable[[tuple[Any, ...]], None],
        names: tuple[str, ...],
    ) -> None:
        keep = [not _is_array_element(get_state, n) for n in names]
        self.names = tuple(n for n, k in zip(names, keep) if k)
        self._get_state = get_state
        self._set_state = set_state
        self._filtered = not all(keep)

    def get(self) -> tuple[Any, ...]:
        if not self._filtered:
            return self._get_state()
        from malt.operators.variables import Undefined

        ns = _namespace(self._get_state)
        out = []
        for name in self.names:
            node = _composite(name)
            try:
                out.append(ns[name] if node is None else _eval(node, ns))
            except (KeyError, NameError, AttributeError, IndexError, LookupError):
                out.append(Undefined(name))
        return tuple(out)

    def set(self, values: tuple[Any, ...]) -> None:
        if not self._filtered:
            return self._set_state(values)
        fn = self._set_state
        cells = dict(zip(fn.__code__.co_freevars, fn.__closure__ or ()))
        for name, v in zip(self.names, values):
            node = _composite(name)
            if node is None:
                cells[name].cell_contents = v
                continue
            ns = _namespace(fn)
            if isinstance(node, ast.Subscript):
                _eval(node.value, ns)[_eval(node.slice, ns)] = v
            elif isinstance(node, ast.Attribute):
                setattr(_eval(node.value, ns), node.attr, v)
        return None


# -- references and values ---------------------------------------------------------


def made_mark() -> int:
    """Cells made from now on have a serial of at least this (see ``Cell.serial``)."""
    trace = current_mut_trace()
    return 0 if trace is None else trace.scope.root.made


def key(v: Any, mark: int) -> Any:
    """A local's binding: the array of the scope it holds (made before ``mark``), or VAL.

    A NumPy scalar is a value: no write reaches it, so which object a name
    holds does not matter.
    """
    if isinstance(v, MutArray) and not v._scalar:
        cell = v._cell
        if cell.serial < mark and not cell.scope.closed:
            return (cell.serial, None if v._view is None else v._view.key)
    return VAL


class Rebind(Exception):
    """A compiled body left its locals bound otherwise than planned (see the module doc).

    ``ends``: the bindings after each iteration of the body that was traced;
    ``written``: the slots bound to references whose cell the body wrote.
    """

    def __init__(self, ends: list[tuple[Any, ...]], written: frozenset[int]) -> None:
        super().__init__("a loop body re-binds its locals to other arrays")
        self.ends = ends
        self.written = written


class Choose(Rebind):
    """A carried local may be, at a body's end, arrays of before the loop the plan lacks.

    ``found``: slot -> {key: (array, condition)} (see :func:`._choice.targets`).
    """

    def __init__(self, found: dict[int, dict[Any, tuple[MutArray, Any]]]) -> None:
        super().__init__([], frozenset())
        self.found = found


class Chosen:
    """A carried local that may be arrays of before the loop: its value and, per array, whether.

    ``preds[j]`` is true where the local is the ``j``-th array of the plan's
    ``choices`` for its slot.
    """

    __slots__ = ("value", "preds")

    def __init__(self, value: Any, preds: tuple[Any, ...]) -> None:
        self.value = value
        self.preds = preds


jax.tree_util.register_pytree_node(
    Chosen, lambda c: ((c.value, c.preds), None), lambda _, ch: Chosen(*ch)
)


def _parent(x: Any) -> Any:
    return x._read() if isinstance(x, MutArray) else x


class Carry:
    """The plan of one converted loop: which locals are references, which are carried.

    ``boundary`` is the binding at the start of each compiled iteration;
    ``peel`` iterations run as Python first; the compiled body runs
    ``period`` iterations. ``final`` once every binding of the plan was seen.
    """

    def __init__(self, state: State) -> None:
        self.state = state
        self.mark = made_mark()
        self.objects: dict[Any, MutArray] = {}
        # Carried slots that may be arrays of before the loop (see Chosen):
        # slot -> the keys of those arrays in ``objects``.
        self.choices: dict[int, tuple[Any, ...]] = {}
        self.init = state.get()
        for v in self.init:
            k = key(v, self.mark)
            if k is not VAL:
                self.objects.setdefault(k, v)
        self.boundary = self.binding(self.init)
        self.peel = 0
        self.period = 1
        self.final = False
        self.checks = False  # a bounds flag rides after the carried values (see _bounds)
        # Whether the compiled loop may run no iteration (traced bounds, a
        # `break`, a while): a local carried from an array is then that array.
        self.may_skip = False

    @property
    def names(self) -> tuple[str, ...]:
        return self.state.names

    def binding(self, values: tuple[Any, ...]) -> tuple[Any, ...]:
        out = []
        for s, v in enumerate(values):
            if s in self.choices:
                out.append(VAL)  # whatever array it is, `carried` says whether
                continue
            k = key(v, self.mark)
            if k is not VAL and k not in self.objects:
                # Arrays seen first at a body's end (a view made in the body)
                # are made afresh: the body's own object may cache its values.
                self.objects[k] = MutArray(v._trace, v._cell, v._view, v._aval)
            out.append(k)
        return tuple(out)

    def carried(self, values: tuple[Any, ...]) -> tuple[Any, ...]:
        """The values of the carried locals, in slot order."""
        return tuple(
            self._chosen(s, v) if s in self.choices else v
            for s, (v, k) in enumerate(zip(values, self.boundary))
            if k is VAL
        )

    def _targets(self, v: Any) -> dict[Any, tuple[MutArray, Any]]:
        try:
            return _choice.targets(v, self.mark)
        except _choice.ChoiceError as e:
            raise RebindError(str(e).removeprefix("mutjax: ")) from None

    def _chosen(self, s: int, v: Any) -> Chosen:
        found = self._targets(v)
        keys = self.choices[s]
        if set(found) - set(keys):
            raise Choose({s: found})
        trace = current_mut_trace()
        assert trace is not None  # a converted loop runs in a mutable scope
        with _compat.set_current_trace(trace.parent_trace):
            preds = tuple(
                jnp.asarray(_parent(found[k][1]) if k in found else False, bool) for k in keys
            )
        return Chosen(v, preds)

    def check_choices(self, values: tuple[Any, ...]) -> None:
        """Raise :class:`Choose` for carried locals at a body's end that may be older arrays."""
        found = {
            s: self._targets(v)
            for s, (v, k) in enumerate(zip(values, self.boundary))
            if k is VAL and s not in self.choices and _choice.aliased(v, self.mark)
        }
        if found:
            raise Choose(found)

    def carried_names(self) -> tuple[str, ...]:
        return tuple(n for n, k in zip(self.names, self.boundary) if k is VAL)

    def bound(self, carried: tuple[Any, ...]) -> tuple[Any, ...]:
        """All locals at the start of a compiled iteration, from the carried values."""
        it = iter(carried)
        return tuple(
            self.objects[k] if k is not VAL else self._link(s, next(it))
            for s, k in enumerate(self.boundary)
        )

    def _link(self, s: int, v: Any) -> Any:
        if not isinstance(v, Chosen):
            return v
        keys = self.choices[s]
        return _choice.linked(
            _parent(v.value),
            [(self.objects[k], _parent(p)) for k, p in zip(keys, v.preds)],
        )

    def enter(self, carried: tuple[Any, ...]) -> list[tuple[int, Any, int]]:
        """Bind the locals for a compiled iteration; returns what :meth:`leave` watches."""
        values = self.bound(carried)
        self.state.set(values)
        return [
            (s, v._cell, v._cell.version)
            for s, (v, k) in enumerate(zip(values, self.boundary))
            if k is not VAL
        ]

    def leave(self, ends: list[tuple[Any, ...]], watch: list[tuple[int, Any, int]]) -> None:
        """Check the bindings at a compiled body's end (``ends``: after each iteration)."""
        if ends[-1] != self.boundary:
            written = frozenset(s for s, cell, version in watch if cell.version != version)
            raise Rebind(ends, written)

    def check_entry(self) -> None:
        """The locals, where the compiled loop starts, are bound as the plan says."""
        now = self.binding(self.state.get())
        for k, b in zip(now, self.boundary):
            if k != b and b is not VAL:
                raise RebindError("the loop's locals are bound differently on another trace")

    def learn(self, r: Rebind) -> None:
        """A new plan from what a traced body did; raises RebindError when there is none."""
        if isinstance(r, Choose):
            for s, found in r.found.items():
                for k, (target, _) in found.items():
                    self.objects.setdefault(k, target)
                old = self.choices.get(s, ())
                self.choices[s] = old + tuple(k for k in found if k not in old)
            return
        if self.final:
            raise RebindError("the loop body binds its locals differently on another trace")
        end = r.ends[-1]
        # A local that holds an array on entry but a value at the end, when
        # that array is not written meanwhile, is the same as a copy of it:
        # carry it (`acc = x[0] * 0` then `acc = acc + x[i]`).
        demote = [
            s
            for s, k in enumerate(self.boundary)
            if k is not VAL and end[s] is VAL and s not in r.written
        ]
        if demote:
            if self.may_skip:
                # With no iteration run, the local is still the array itself.
                for s in demote:
                    self.choices[s] = (self.boundary[s],)
            self.boundary = tuple(VAL if s in demote else k for s, k in enumerate(self.boundary))
            return
        seq = [self.boundary, *r.ends]
        for k in range(1, len(seq)):
            if seq[k] in seq[:k]:
                first = seq.index(seq[k])
                self.peel, self.period = first, k - first
                self.boundary = seq[first]
                self.final = True
                break
        else:
            self.period = len(seq)
        if self.peel + self.period > MAX_PERIOD:
            raise RebindError(
                "its locals are re-bound to other mutable arrays with no period of at "
                f"most {MAX_PERIOD} iterations"
            )
