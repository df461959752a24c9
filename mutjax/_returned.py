"""Which arguments a mutable call gives back: ``return_argnums`` and ``return_argnames``.

They are read as ``jax.jit`` reads ``static_argnums`` and ``static_argnames``:
an int or a sequence of ints, a str or a sequence of str, checked against the
function's signature when it is wrapped (the same ``ValueError`` jax.jit raises)
and resolved against each call's arguments. A negative argnum counts from the
end of the call's positional arguments, as in JAX. Unlike JAX's, each selection
names a parameter, not a way of passing it: an argnum whose parameter was
passed by keyword, or a name passed positionally, still selects it.
"""

from __future__ import annotations

import functools
import inspect
import operator
from collections.abc import Callable, Sequence
from typing import Any, TypeVar, cast

G = TypeVar("G", bound=Callable[..., Any])

_POSITIONAL = (inspect.Parameter.POSITIONAL_ONLY, inspect.Parameter.POSITIONAL_OR_KEYWORD)

REMOVED = (
    "{entry}: return_args= was replaced by return_argnums= and return_argnames= (named as "
    "jax.jit's static_argnums): `perm, A = {entry}(lu, return_argnums=0)(A)` returns lu's "
    "result followed by the final value of its argument 0, or only the arguments when the "
    "function returns None."
)


def refusing_return_args(entry: str) -> Callable[[G], G]:
    """Make the entry point ``entry`` raise for the removed ``return_args=``, naming what replaced it.

    Without it, ``mutjax.mutable`` would raise Python's bare "unexpected keyword
    argument" and ``mutjax.jit`` would hand the keyword on to ``jax.jit``.
    """

    def decorate(function: G) -> G:
        @functools.wraps(function)
        def checked(*args: Any, **kwargs: Any) -> Any:
            if "return_args" in kwargs:
                raise TypeError(REMOVED.format(entry=entry))
            return function(*args, **kwargs)

        return cast(G, checked)

    return decorate


class Selection:
    """The arguments selected from ``fun``'s calls, and the result that returns them.

    Args:
        fun: the wrapped function; its signature maps argnums to names and back.
        argnums: ``return_argnums`` as given (an int or a sequence of ints).
        argnames: ``return_argnames`` as given (a str or a sequence of str).
        entry: the public entry point named in errors (``mutjax.jit``).

    Raises:
        TypeError: an argnum is not an int or a name not a str.
        ValueError: an argnum or a name that ``fun``'s signature cannot take,
            as ``jax.jit`` raises for ``static_argnums``/``static_argnames``.
    """

    def __init__(self, fun: Callable[..., Any], argnums: Any, argnames: Any, entry: str) -> None:
        self.entry = entry
        self.name = getattr(fun, "__name__", repr(fun))
        self.argnums = _index_tuple(argnums, entry)
        self.argnames = _str_tuple(argnames, entry)
        try:
            params = list(inspect.signature(fun).parameters.values())
        except (TypeError, ValueError):  # no signature (a builtin): check at call time only
            params = [inspect.Parameter("args", inspect.Parameter.VAR_POSITIONAL)]
            params.append(inspect.Parameter("kwargs", inspect.Parameter.VAR_KEYWORD))
        # The named positional parameters, in order: argnum i below their
        # count is the parameter of that name, however the call passes it.
        self.positional = [p for p in params if p.kind in _POSITIONAL]
        self._check(params)

    def _check(self, params: list[inspect.Parameter]) -> None:
        kinds = {p.kind for p in params}
        n_pos = len(self.positional)
        nums = self.argnums
        if inspect.Parameter.VAR_POSITIONAL not in kinds and (
            nums and (-min(nums) > n_pos or max(nums) >= n_pos)
        ):
            raise ValueError(
                f"{self.entry}: {self.name} has return_argnums={nums}, but only accepts "
                f"{n_pos} positional arguments."
            )
        only = {p.name for p in params if p.kind is inspect.Parameter.POSITIONAL_ONLY}
        if bad := only & set(self.argnames):
            raise ValueError(
                f"{self.entry}: {self.name} has invalid argnames {bad} in return_argnames. "
                "These are positional-only (select them with return_argnums)."
            )
        if inspect.Parameter.VAR_KEYWORD in kinds:
            return
        names = {p.name for p in params if p.kind is not inspect.Parameter.VAR_POSITIONAL}
        if bad := set(self.argnames) - names:
            raise ValueError(
                f"{self.entry}: {self.name} has invalid argnames {bad} in return_argnames. "
                "Function does not take these args."
            )

    def select(self, args: Sequence[Any], kwargs: dict[str, Any]) -> list[Any]:
        """The selected arguments of one call: argnums first, then argnames, each once."""
        chosen: dict[int | str, Any] = {}
        for i in self.argnums:
            key, value = self._by_argnum(i, args, kwargs)
            chosen.setdefault(key, value)
        for name in self.argnames:
            key, value = self._by_argname(name, args, kwargs)
            chosen.setdefault(key, value)
        return list(chosen.values())

    def _key(self, j: int) -> int | str:
        # A parameter that can be passed either way is keyed by its name, so
        # that its argnum and its name select it once.
        if j < len(self.positional) and self._keyword_too(j):
            return self.positional[j].name
        return j

    def _by_argnum(
        self, i: int, args: Sequence[Any], kwargs: dict[str, Any]
    ) -> tuple[int | str, Any]:
        j = i + len(args) if i < 0 else i
        if 0 <= j < len(args):
            return self._key(j), args[j]
        if 0 <= i < len(self.positional) and self.positional[i].name in kwargs:
            name = self.positional[i].name
            return name, kwargs[name]
        passed = f"{len(args)} positional arguments"
        if 0 <= i < len(self.positional):
            passed += f" and not {self.positional[i].name!r} by keyword"
        raise TypeError(
            f"{self.entry}: return_argnums={self.argnums} selects positional argument {i}, "
            f"but this call of {self.name} passed {passed}."
        )

    def _by_argname(
        self, name: str, args: Sequence[Any], kwargs: dict[str, Any]
    ) -> tuple[int | str, Any]:
        for j, p in enumerate(self.positional[: len(args)]):
            if p.name == name:
                return self._key(j), args[j]
        if name in kwargs:
            return name, kwargs[name]
        raise TypeError(
            f"{self.entry}: return_argnames={self.argnames} selects {name!r}, "
            f"which this call of {self.name} did not pass."
        )

    def _keyword_too(self, j: int) -> bool:
        return self.positional[j].kind is inspect.Parameter.POSITIONAL_OR_KEYWORD

    def result(self, out: Any, args: Sequence[Any], kwargs: dict[str, Any]) -> Any:
        """``out`` followed by the selected arguments, or only those when ``out`` is None.

        A function that returns None (an in-place kernel) gives back only its
        arguments, one bare, several as a tuple. Whether ``out`` is None is
        known when the function is traced, so a compiled function's result
        has one structure.
        """
        selected = self.select(args, kwargs)
        if out is None:
            return selected[0] if len(selected) == 1 else tuple(selected)
        return (out, *selected)


def selection(fun: Callable[..., Any], argnums: Any, argnames: Any, entry: str) -> Selection | None:
    """``fun``'s selection, or None when nothing is selected (the call returns ``out``)."""
    if argnums is None and argnames is None:
        return None
    chosen = Selection(fun, argnums, argnames, entry)
    return chosen if chosen.argnums or chosen.argnames else None


def _index_tuple(x: Any, entry: str) -> tuple[int, ...]:
    if x is None:
        return ()
    try:
        return (operator.index(x),)
    except TypeError:
        pass
    try:
        return tuple(operator.index(i) for i in x)
    except TypeError:
        raise TypeError(
            f"{entry}: return_argnums must be an int or a sequence of ints, got {x!r}"
        ) from None


def _str_tuple(x: Any, entry: str) -> tuple[str, ...]:
    if x is None:
        return ()
    if isinstance(x, str):
        return (x,)
    try:
        names = tuple(x)
    except TypeError:
        names = (x,)
    if not all(isinstance(n, str) for n in names):
        raise TypeError(f"{entry}: return_argnames must be a str or a sequence of str, got {x!r}")
    return names
