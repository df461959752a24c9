"""Generate docs/semantics.md: NumPy, ``.at[]``, ``jax.new_ref`` and mutjax side by side.

Every row of the table is RUN, never written by hand: the same statements are
executed on NumPy arrays, on ``jax.Ref`` s made by ``jax.new_ref`` (under
``jax.jit``), and under ``jax.jit(mutjax.mutable(...))``; the ``.at[]`` column
runs the functional rewrite a JAX user would write. NumPy's cell shows the final
value of the shown arrays, or the exception raised; the other cells show whether
they agree with it, and their own result where not. ``tests/test_docs.py``
fails when the committed page differs from what this script renders now.

Regenerate with ``python docs/gen_semantics.py`` (from the repository root).
"""

from __future__ import annotations

import dataclasses
import pathlib
import re
import warnings
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

import mutjax

PAGE = pathlib.Path(__file__).resolve().parent / "semantics.md"


def inputs() -> dict[str, np.ndarray]:
    """The arrays every case starts from (the same for all four columns)."""
    return {
        "x": np.arange(6, dtype=np.float32),
        "A": np.arange(6, dtype=np.float32).reshape(2, 3),
        "S": np.arange(9, dtype=np.float32).reshape(3, 3),
        "T": np.arange(8, dtype=np.float32).reshape(2, 2, 2),
        "i": np.arange(4, dtype=np.int32),
        "u": np.zeros(3, dtype=np.uint8),
        "b": np.zeros(3, dtype=np.bool_),
        "k": np.array(10, dtype=np.int32),  # a jit argument: a traced index
    }


@dataclasses.dataclass(frozen=True)
class Case:
    group: str
    what: str
    code: str  # statements, run unchanged on NumPy, on Refs and under mutjax
    at: str  # the functional rewrite with .at[] (None-like "" when there is none)
    show: tuple[str, ...] = ("x",)


CASES = [
    # -- index kinds ----------------------------------------------------------
    Case("index kinds", "integer", "x[1] = 9.0", "x = x.at[1].set(9.0)"),
    Case("index kinds", "negative integer", "x[-1] = 9.0", "x = x.at[-1].set(9.0)"),
    Case("index kinds", "slice with step", "x[::2] = 9.0", "x = x.at[::2].set(9.0)"),
    Case(
        "index kinds",
        "negative step",
        "x[::-2] = [7, 8, 9]",
        "x = x.at[::-2].set(jnp.array([7, 8, 9]))",
    ),
    Case("index kinds", "slice past the end", "x[4:100] = 9.0", "x = x.at[4:100].set(9.0)"),
    Case(
        "index kinds",
        "integer array",
        "x[[0, 2]] = [7, 8]",
        "x = x.at[jnp.array([0, 2])].set(jnp.array([7, 8]))",
    ),
    Case("index kinds", "boolean mask", "x[x > 2] = 0.0", "x = jnp.where(x > 2, 0.0, x)"),
    Case(
        "index kinds",
        "ellipsis and newaxis",
        "A[..., None, 0] = 9.0",
        "A = A.at[..., None, 0].set(9.0)",
        ("A",),
    ),
    Case(
        "index kinds",
        "integer array and slice",
        "A[[1, 0], 1:] = [[1, 2], [3, 4]]",
        "A = A.at[jnp.array([1, 0]), 1:].set(jnp.array([[1, 2], [3, 4]]))",
        ("A",),
    ),
    Case(
        "index kinds",
        "arrays separated by a slice",
        "T[[0, 1], :, [1, 0]] = [[-1, -2], [-3, -4]]",
        "T = T.at[jnp.array([0, 1]), :, jnp.array([1, 0])].set(jnp.array([[-1, -2], [-3, -4]]))",
        ("T",),
    ),
    Case("index kinds", "2-d mask", "A[A > 2] = -1.0", "A = jnp.where(A > 2, -1.0, A)", ("A",)),
    Case("index kinds", "traced integer", "x[k - 8] = 9.0", "x = x.at[k - 8].set(9.0)"),
    Case("index kinds", "traced integer array", "x[i] = -x[i]", "x = x.at[i].set(-x[i])"),
    Case(
        "index kinds",
        "traced slice bound",
        "x[k - 8 :] *= 2.0",
        "x = jnp.where(jnp.arange(6) >= k - 8, x * 2.0, x)",
    ),
    Case("index kinds", "mask, in place", "x[x > 2] *= 2.0", "x = jnp.where(x > 2, x * 2.0, x)"),
    # -- casting ------------------------------------------------------------------
    Case("casting", "float into int", "i[0] = 2.7", "i = i.at[0].set(2.7)", ("i",)),
    Case("casting", "negative float into int", "i[0] = -2.7", "i = i.at[0].set(-2.7)", ("i",)),
    Case("casting", "float into bool", "b[0] = 0.5", "b = b.at[0].set(0.5)", ("b",)),
    Case("casting", "-1 into uint8", "u[0] = -1", "u = u.at[0].set(-1)", ("u",)),
    Case("casting", "300 into uint8", "u[0] = 300", "u = u.at[0].set(300)", ("u",)),
    Case("casting", "complex into float", "x[0] = 1j", "x = x.at[0].set(1j)"),
    Case("casting", "nan into int", "i[0] = float('nan')", "i = i.at[0].set(float('nan'))", ("i",)),
    Case("casting", "int += float", "i += 1.5", "i = i + 1.5", ("i",)),
    Case(
        "casting",
        "leading 1 dropped",
        "A[0] = np.ones((1, 3))",
        "A = A.at[0].set(jnp.ones((1, 3)))",
        ("A",),
    ),
    # -- duplicates ----------------------------------------------------------------
    Case(
        "duplicates",
        "repeated index, set",
        "x[[0, 0]] = [1, 2]",
        "x = x.at[jnp.array([0, 0])].set(jnp.array([1, 2]))",
    ),
    Case(
        "duplicates", "repeated index, +=", "x[[1, 1]] += 1.0", "x = x.at[jnp.array([1, 1])].add(1)"
    ),
    # -- views ------------------------------------------------------------------------
    Case(
        "views", "write through a slice", "y = x[1:4]\ny[0] = 9.0", "y = x[1:4]\ny = y.at[0].set(9)"
    ),
    Case("views", "chained indexing", "A[0][1] = 9.0", "A = A.at[0, 1].set(9)", ("A",)),
    Case("views", "advanced index is a copy", "A[[0]][0] = 9.0", "", ("A",)),
    Case("views", "alias then +=", "y = x\nx += 1.0", "y = x\nx = x + 1", ("y",)),
    Case(
        "views",
        "view sees later writes",
        "y = x[:2]\nx[0] = 9.0\nx = y * 1",
        "y = x[:2]\nx = x.at[0].set(9)\nx = y * 1",
    ),
    Case("views", "transpose is a view", "S.T[0] = -1.0", "S = S.at[:, 0].set(-1)", ("S",)),
    Case(
        "views",
        "reshape is a view",
        "A.reshape(6)[::2] = -1.0",
        "A = A.reshape(6).at[::2].set(-1.0).reshape(2, 3)",
        ("A",),
    ),
    Case(
        "views",
        "iteration gives rows",
        "for row in A:\n    row[0] = -1.0",
        "A = A.at[:, 0].set(-1.0)",
        ("A",),
    ),
    Case("views", "in-place method", "x[2:].fill(7.0)", "x = x.at[2:].set(7.0)"),
    # -- overlap ----------------------------------------------------------------------
    Case("overlap", "shift right", "x[1:] = x[:-1]", "x = x.at[1:].set(x[:-1])"),
    Case("overlap", "reverse in place", "x[:] = x[::-1]", "x = x.at[:].set(x[::-1])"),
    Case("overlap", "transpose in place", "S[:] = S.T", "S = S.at[:].set(S.T)", ("S",)),
    # -- errors -------------------------------------------------------------------------
    Case("errors", "index out of bounds", "x[6] = 0.0", "x = x.at[6].set(0.0)"),
    Case("errors", "traced index out of bounds", "x[k] = 9.0", "x = x.at[k].set(9.0)"),
    Case(
        "errors",
        "value does not broadcast",
        "x[[0, 1]] = [1, 2, 3]",
        "x = x.at[jnp.array([0, 1])].set(jnp.array([1, 2, 3]))",
    ),
    Case("errors", "float index", "x[0.5] = 1", "x = x.at[0.5].set(1)"),
    Case("errors", "too many indices", "A[0, 0, 0] = 1", "A = A.at[0, 0, 0].set(1)", ("A",)),
    Case("errors", "two ellipses", "x[..., ...] = 1", "x = x.at[..., ...].set(1)"),
]


# -- running a case on each of the four --------------------------------------------------


def _exec(code: str, ns: dict[str, Any], show: tuple[str, ...]) -> dict[str, Any]:
    exec(code, ns)
    return {name: ns[name] for name in show}


def run_numpy(case: Case) -> Any:
    ns: dict[str, Any] = {"np": np, **{n: a.copy() for n, a in inputs().items()}}
    ns["k"] = int(ns["k"])
    return _exec(case.code, ns, case.show)


def run_mutjax(case: Case) -> Any:
    def body(arrays: dict[str, Any]) -> dict[str, Any]:
        return _exec(case.code, {"np": np, **arrays}, case.show)

    return jax.jit(mutjax.mutable(body))(inputs())


def run_at(case: Case) -> Any:
    if not case.at:
        raise _NoEquivalent

    def body(arrays: dict[str, Any]) -> dict[str, Any]:
        return _exec(case.at, {"np": np, "jnp": jnp, **arrays}, case.show)

    return jax.jit(body)(inputs())


def run_ref(case: Case) -> Any:
    def body(arrays: dict[str, Any]) -> dict[str, Any]:
        refs = {n: (jax.new_ref(a) if n != "k" else a) for n, a in arrays.items()}
        out = _exec(case.code, {"np": np, **refs}, case.show)
        return {n: v[...] if isinstance(v, type(refs["x"])) else v for n, v in out.items()}

    return jax.jit(body)(inputs())


class _NoEquivalent(Exception):
    pass


# Column order: mutjax, the column a reader looks for, right after the oracle.
RUNNERS = {"NumPy": run_numpy, "mutjax": run_mutjax, "`.at[]`": run_at, "`jax.new_ref`": run_ref}
HEADER = ("#", "case", "code", *RUNNERS)
AGREES = "✓"
DIFFERS = "✗"


def _outcome(runner: Any, case: Case) -> tuple[str, Any]:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            return "value", {n: np.asarray(v) for n, v in runner(case).items()}
        except _NoEquivalent:
            return "none", None
        except Exception as e:
            return "error", (_error_name(e), _first_line(e))


def _error_name(e: Exception) -> str:
    name = type(e).__name__
    # NumPy's UFuncTypeError and friends are TypeErrors / ValueErrors to user code.
    for base in (IndexError, TypeError, ValueError, OverflowError):
        if isinstance(e, base) and type(e) is not base and type(e).__module__.startswith("numpy"):
            return base.__name__
    return name


def _first_line(e: Exception) -> str:
    line = (str(e).strip().splitlines() or [""])[0]
    line = re.sub(r" at 0x[0-9a-f]+", "", line)  # object addresses change run to run
    return line if len(line) <= 110 else line[:107] + "..."


def _format_array(a: np.ndarray) -> str:
    if a.dtype == np.bool_:
        body = np.array2string(a, separator=", ")
    elif np.issubdtype(a.dtype, np.floating):
        body = np.array2string(a, separator=", ", formatter={"float_kind": lambda v: f"{v:g}"})
    else:
        body = np.array2string(a, separator=", ")
    return body.replace("\n", "").replace("  ", " ")


def _format(kind: str, result: Any, show: tuple[str, ...]) -> str:
    if kind == "none":
        return "*none*"
    if kind == "error":
        return f"*{result[0]}*"
    parts = [_format_array(result[n]) for n in show]
    if len(show) > 1:
        parts = [f"{n} = {p}" for n, p in zip(show, parts)]
    dtypes = {str(result[n].dtype) for n in show}
    return (
        "`"
        + "; ".join(parts)
        + "`"
        + (f" {','.join(sorted(dtypes))}" if dtypes != {"float32"} else "")
    )


def _same(a: tuple[str, Any], b: tuple[str, Any]) -> bool:
    if a[0] != b[0]:
        return False
    if a[0] == "error":
        return a[1][0] == b[1][0]
    if a[0] == "none":
        return True
    return all(
        a[1][n].shape == b[1][n].shape
        and a[1][n].dtype == np.dtype(jax.dtypes.canonicalize_dtype(b[1][n].dtype))
        and np.array_equal(a[1][n], b[1][n])
        for n in b[1]
    )


def _cell(name: str, outcome: tuple[str, Any], ref: tuple[str, Any], show: tuple[str, ...]) -> str:
    """NumPy's cell shows its result; another column a mark when it agrees, else its result."""
    if name == "NumPy" or outcome[0] == "none":
        return _format(*outcome, show)
    if _same(outcome, ref):
        return AGREES
    return f"{_format(*outcome, show)} {DIFFERS}"


def _code_cell(code: str) -> str:
    return "<br>".join(f"`{line}`" for line in code.splitlines())


def _escape(row: str) -> str:
    # Keep the table's own bars; escape the ones inside messages and stop
    # markdown from reading `*` / `_` / `<` in them.
    head, rest = row.split(" | ", 2)[:2], row.split(" | ", 2)[2]
    rest = (
        rest[:-2].replace("|", "\\|").replace("<", "&lt;").replace("*", "\\*").replace("_", "\\_")
    )
    return " | ".join(head) + " | " + rest + " |"


def versions_line() -> str:
    """The library versions the page was generated with (results depend on them)."""
    return f"Generated with NumPy {np.__version__} and JAX {jax.__version__}."


def render() -> str:
    """The whole page, as a string (deterministic for given library versions)."""
    lines = [
        "# NumPy semantics, side by side",
        "",
        "<!-- GENERATED by docs/gen_semantics.py: do not edit by hand. -->",
        "",
        "Each row runs the same statements four ways: on NumPy arrays (the oracle),",
        "under `jax.jit(mutjax.mutable(...))`, as the functional `.at[]` rewrite a",
        "JAX user writes today (listed under the tables), and on JAX's own mutable",
        "arrays made by `jax.new_ref`; the last three run under `jax.jit`.",
        "",
        "The NumPy column shows the final value of the named arrays, or the",
        f"exception raised. The other columns show {AGREES} where the result is",
        "NumPy's (the same values, shape and dtype, or the same exception type) and",
        f"their own result, marked {DIFFERS}, where it is not; *none* means there is",
        "no such rewrite. The messages of every exception are at the end of the page.",
        "",
        "Starting arrays (float32 unless noted): `x = arange(6)`,",
        "`A = arange(6).reshape(2, 3)`, `S = arange(9).reshape(3, 3)`,",
        "`T = arange(8).reshape(2, 2, 2)`, `i = arange(4)` (int32), `u = zeros(3)`",
        "(uint8), `b = zeros(3)` (bool), and `k = 10`, an int32 jit argument (so",
        "a traced index; NumPy gets the plain integer).",
        "",
        "Regenerate with `python docs/gen_semantics.py`; `tests/test_docs.py` fails",
        "when this page is out of date.",
        "",
        versions_line(),
        "",
    ]
    group = None
    rewrites = []
    messages = []
    for n, case in enumerate(CASES, 1):
        if case.group != group:
            group = case.group
            lines += [
                f"## {group.capitalize()}",
                "",
                "| " + " | ".join(HEADER) + " |",
                "|" + "---|" * len(HEADER),
            ]
        outcomes = {name: _outcome(runner, case) for name, runner in RUNNERS.items()}
        ref = outcomes["NumPy"]
        cells = []
        for name, outcome in outcomes.items():
            cells.append(_cell(name, outcome, ref, case.show).replace("|", "\\|"))
            if outcome[0] == "error":
                messages.append(f"| {n} | {name} | {outcome[1][0]}: {outcome[1][1]} |")
        lines.append(f"| {n} | {case.what} | {_code_cell(case.code)} | " + " | ".join(cells) + " |")
        if case.at:
            rewrites.append(f"| {n} | {_code_cell(case.at)} |")
        if n == len(CASES) or CASES[n].group != group:
            lines.append("")
    lines += [
        "## The `.at[]` rewrites",
        "",
        "| # | `.at[]` code |",
        "|---|---|",
        *rewrites,
        "",
        "## The errors raised",
        "",
        "The first line of each message (NumPy's wording is what mutjax copies).",
        "",
        "| # | column | exception |",
        "|---|---|---|",
        *[_escape(m) for m in messages],
        "",
    ]
    return "\n".join(lines)


def main() -> None:
    PAGE.write_text(render())
    print(f"wrote {PAGE}")


if __name__ == "__main__":
    main()
