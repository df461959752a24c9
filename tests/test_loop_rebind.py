"""Names that a traced condition or a traced trip count binds to one of several arrays.

Under NumPy, after ``x = a; if c > 0: x = x * 2``, the name ``x`` *is* ``a``
when ``c <= 0``: a later ``x[0] = 9`` writes ``a``. Under ``jax.jit`` the
condition is traced, so which array ``x`` is is known only at run time;
converted code must still write where NumPy writes (or raise a mutjax
error). The same holds after a conditional expression on a traced value,
after a compiled loop whose body re-binds a name under a traced ``if``, and
after a loop of traced length that may run no iteration. Every kernel runs
on NumPy (the oracle) and under ``jax.jit(mutjax.mutable(f, loops=True))``;
results and final arguments must agree.
"""

from __future__ import annotations

import linecache
import random
import warnings

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from helpers import all_primitives, assert_same, examples, returning_args, split_returned
from hypothesis import given, settings
from hypothesis import strategies as st

import mutjax
from mutjax import LoopConversionError, MutjaxError
from mutjax._loops import LoopConversionWarning


def check(kernel, *args, compiled=True):
    """``kernel`` on NumPy and under jit; outputs and final arguments must be the same."""
    np_args = [np.array(a) if isinstance(a, np.ndarray) else a for a in args]
    out = kernel(*np_args)
    expected = (
        jax.tree_util.tree_map(np.asarray, out),
        [a for a in np_args if isinstance(a, np.ndarray)],
    )
    f = jax.jit(mutjax.mutable(kernel, loops=True, **returning_args(len(args))))
    jx = [jnp.asarray(a) if isinstance(a, np.ndarray) else a for a in args]
    with warnings.catch_warnings():
        if compiled:
            warnings.simplefilter("error", LoopConversionWarning)
        got, final = split_returned(f(*jx), len(args), out)
    arrays = [np.asarray(a) for a, orig in zip(final, args) if isinstance(orig, np.ndarray)]
    assert_same((jax.tree_util.tree_map(np.asarray, got), arrays), expected, kernel.__name__)


def zeros(n=2):
    return np.zeros(n, np.float32)


# -- a traced `if` re-binds a name in one branch only ------------------------------


def rebound_in_one_branch(a, c):
    x = a
    if c > 0:
        x = x * 2
    x[0] = 9.0
    return a


def rebound_then_written_in_branch(a, c):
    x = a
    if c > 0:
        x = x * 2
        x[1] = 4.0
    x[0] = 9.0
    return a, x


def helper(v, log):
    log[0] += 1.0
    return v * 2


def written_then_rebound_by_a_call(a, log, c):
    x = a
    if c > 0:
        x[1] = 5.0  # reaches `a`: `x` is still `a` here
        x = helper(x, log)
    x[0] = 9.0
    return a, x


def rebound_by_a_call(a, b, log, c):
    # A call that writes an array in the branch: a `cond`, not a select.
    x = a
    if c > 0:
        x = helper(x, log)
    else:
        x = b
    x[0] = 9.0
    return a, b, x


def array_written_after(a, c):
    # Reads of the name see later writes of the array it is.
    x = a
    if c > 0:
        x = x + 1
    a[1] = 7.0
    return x


def inplace_on_name(a, c):
    x = a
    if c > 0:
        x = x * 3
    x += 1.0
    x[1:] *= 2.0
    return a, x


def views_of_two_arrays(a, b, c):
    if c > 0:
        x = a[1:]
    else:
        x = b[:2]
    x[0] = 5.0
    return a, b


def chosen_from_chosen(a, b, c, d):
    x = a
    if c > 0:
        x = b
    y = x
    if d > 0:
        y = y * 2
    y[2] = 8.0
    return a, b, x, y


def nested_ifs(a, b, c, d):
    x = a
    if c > 0:
        if d > 0:
            x = x + 1
        else:
            x = b
    x[0] = 3.0
    return a, b, x


@pytest.mark.parametrize("c", [-1, 1])
def test_a_write_after_a_traced_if_lands_in_the_array_the_name_is(c) -> None:
    check(rebound_in_one_branch, zeros(), c)
    check(rebound_then_written_in_branch, zeros(), c)
    check(rebound_by_a_call, zeros(), zeros() + 1, zeros(1), c)
    check(written_then_rebound_by_a_call, zeros(), zeros(1), c)
    check(array_written_after, zeros(3), c)
    check(inplace_on_name, np.arange(3, dtype=np.float32), c)
    check(views_of_two_arrays, zeros(3), zeros(3) + 1, c)


@pytest.mark.parametrize("c", [-1, 1])
@pytest.mark.parametrize("d", [-1, 1])
def test_names_chosen_from_chosen_names(c, d) -> None:
    a, b = np.arange(3, dtype=np.float32), np.arange(3, dtype=np.float32) + 10
    check(chosen_from_chosen, a, b, c, d)
    check(nested_ifs, a, b, c, d)


def test_the_call_branch_is_a_cond() -> None:
    jaxpr = jax.make_jaxpr(mutjax.mutable(rebound_by_a_call, loops=True))(
        jnp.zeros(2), jnp.ones(2), jnp.zeros(1), 1
    )
    assert "cond" in all_primitives(jaxpr.jaxpr)


def shapes_differ(a, b, c):
    x = a
    if c > 0:
        x = b
    x[0] = 1.0
    return a, b


def test_candidates_of_another_shape_raise() -> None:
    f = jax.jit(mutjax.mutable(shapes_differ, loops=True))
    with pytest.raises(LoopConversionError, match="`x` is one array in one branch"):
        f(jnp.zeros(2), jnp.zeros(3), 1)


# -- conditional expressions ---------------------------------------------------------


def ternary(a, b, c):
    x = a if c > 0 else b
    x[0] = 1.0
    return a, b


def ternary_with_value(a, c):
    x = a if c > 0 else a * 0 + 5
    x[1] = 2.0
    return a, x


def ternary_scalars(c):
    return 1.5 if c > 0 else 2.5


@pytest.mark.parametrize("c", [-1, 1])
def test_a_conditional_expression_on_a_traced_value(c) -> None:
    check(ternary, zeros(), zeros() + 3, c)
    check(ternary_with_value, zeros(), c)
    assert float(jax.jit(mutjax.mutable(ternary_scalars, loops=True))(c)) == ternary_scalars(c)


# -- loops -----------------------------------------------------------------------------


def rebound_under_if_in_loop(a, c, n):
    x = a
    for i in range(n):
        x = a
        if c[i] > 0:
            x = x * 2
    x[0] = 9.0
    return a, x


def rebound_in_while(a, c, n):
    x = a
    i = 0
    while i < n:
        if c[i] > 0:
            x = x + 1
        i += 1
    x[1] = 9.0
    return a, x


def maybe_no_iteration(a, n):
    x = a
    for _ in range(n):
        x = x * 2
    x[0] = 9.0
    return a, x


def maybe_no_while(a, n):
    x = a
    i = 0
    while i < n:
        x = x + 1
        i += 1
    x[0] = 9.0
    return a, x


def break_before_rebinding(a, c, n):
    x = a
    for i in range(n):
        if c[i] > 0:
            break
        x = x * 2
    x[0] = 9.0
    return a, x


def array_written_after_loop(a, n):
    x = a
    for _ in range(n):
        x = x * 2
    a[1] = 4.0
    return x


@pytest.mark.parametrize("n", [0, 1, 3])
@pytest.mark.parametrize("c", [[1, 1, -1], [-1, 1, 1], [-1, -1, -1]])
def test_loops_that_may_leave_a_name_on_an_array(n, c) -> None:
    c = np.array(c, np.int32)
    a = np.arange(2, dtype=np.float32) + 1
    check(rebound_under_if_in_loop, a, c, n)
    check(rebound_in_while, a, c, n)
    check(break_before_rebinding, a, c, n)


@pytest.mark.parametrize("n", [0, 1, 2])
def test_a_loop_of_traced_length_may_run_no_iteration(n) -> None:
    a = np.ones(2, np.float32)
    check(maybe_no_iteration, a, n)
    check(maybe_no_while, a, n)
    check(array_written_after_loop, a, n)


def test_loops_with_chosen_names_stay_compiled() -> None:
    for kernel, args in [
        (maybe_no_iteration, (jnp.ones(2), 2)),
        (rebound_under_if_in_loop, (jnp.ones(2), jnp.ones(3, jnp.int32), 3)),
    ]:
        jaxpr = jax.make_jaxpr(mutjax.mutable(kernel, loops=True))(*args)
        assert "while" in all_primitives(jaxpr.jaxpr), kernel.__name__


# -- random programs -------------------------------------------------------------------
#
# Small programs choosing among two arrays and new values by traced
# conditions (statements, conditional expressions, loops of traced length),
# writing through the names, returning every array: NumPy's result, or a
# mutjax error, never another result.


def twice(v):
    v[0] += 0.5
    return v * 2


def _value(r):
    return r.choice(["a", "b", "x", "y", "x * 2", "y + 1.0", "a[::-1] * 1", "twice(x)"])


def _statement(r, depth, in_loop):
    kinds = ["assign", "assign", "write", "write", "if", "ifexp"]
    if depth < 2:
        kinds += ["if", "if"]
    if depth == 0 and not in_loop:
        kinds += ["for", "while"]
    kind = r.choice(kinds)
    at = "i % 3" if in_loop else str(r.randrange(3))
    if kind == "assign":
        return [f"{r.choice('xy')} = {_value(r)}"]
    if kind == "write":
        t = r.choice("xyab")
        return [
            r.choice(
                [
                    f"{t}[{r.randrange(3)}] = {r.choice([9.0, -1.0])}",
                    f"{t}[{r.randrange(3)}] += 2.0",
                    f"{t} += 1.0",
                    f"{t}[1:] *= 3.0",
                ]
            )
        ]
    if kind == "ifexp":
        return [f"{r.choice('xy')} = {_value(r)} if c[{at}] > 0 else {_value(r)}"]
    if kind == "if":
        out = [f"if c[{at}] > 0:"] + ["    " + s for s in _block(r, depth + 1, in_loop)]
        if r.random() < 0.5:
            out += ["else:"] + ["    " + s for s in _block(r, depth + 1, in_loop)]
        return out
    body = ["    " + s for s in _block(r, depth + 1, True)]
    if kind == "for":
        return ["for i in range(n):", *body]
    return ["i = 0", "while i < n:", *body, "    i += 1"]


def _block(r, depth, in_loop):
    return [s for _ in range(r.randint(1, 2)) for s in _statement(r, depth, in_loop)]


def _program(seed):
    r = random.Random(seed)
    body = ["x = a", "y = b"]
    for _ in range(r.randint(2, 4)):
        body += _statement(r, 0, False)
    body += [f"{r.choice('xy')}[{r.randrange(3)}] = 7.0", "return a, b, x, y"]
    return "def kernel(a, b, c, n):\n" + "".join(f"    {s}\n" for s in body)


@given(
    st.integers(0, 2**20),
    st.lists(st.sampled_from([-1, 1]), min_size=3, max_size=3),
    st.integers(0, 2),
)
@settings(max_examples=examples(40), deadline=None)
def test_random_programs_match_numpy_or_raise(seed, c, n) -> None:
    src = _program(seed)
    filename = f"<loop-rebind-{seed}>"
    linecache.cache[filename] = (len(src), None, src.splitlines(True), filename)
    ns: dict = {"twice": twice}
    exec(compile(src, filename, "exec"), ns)
    kernel = ns["kernel"]
    a = np.arange(3, dtype=np.float32)
    b = a + 10
    c = np.array(c, np.int32)
    expected = [np.array(v) for v in kernel(a.copy(), b.copy(), c, n)]
    f = jax.jit(mutjax.mutable(kernel, loops=True))
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", LoopConversionWarning)
            got = f(a, b, c, n)
    except MutjaxError:
        return  # a refusal is allowed; a different result is not
    assert_same([np.asarray(g) for g in got], expected, src)
