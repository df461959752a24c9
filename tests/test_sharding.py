"""Mutation under ``jax.shard_map`` and on sharded meshes, with 8 simulated CPU devices.

JAX reads ``--xla_force_host_platform_device_count`` once, when it is
imported, so the checks that need 8 devices run in one subprocess
(``python -m tests.test_sharding``) started with that flag; each check below
is a pytest test that reads its outcome. NumPy is the oracle for values; the
hand-written ``.at[]`` program (``x.at[i].set(v, out_sharding=x.sharding)``
on an ``Explicit`` mesh, where a bare ``.at[]`` refuses most writes into a
sharded axis) is the oracle for the sharding of every output, and for the
error where JAX itself cannot type the operation. The trace hooks, which
need no devices, are tested in this process.
"""

from __future__ import annotations

import functools
import json
import os
import pathlib
import re
import runpy
import subprocess
import sys
import traceback
from collections.abc import Callable
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from jax.sharding import AxisType, NamedSharding
from jax.sharding import PartitionSpec as P

import mutjax
from mutjax import _trace

ROOT = pathlib.Path(__file__).resolve().parent.parent
KINDS = ("Auto", "Explicit")
CHECKS: dict[str, Callable[[], None]] = {}


def check(fun: Callable[[], None]) -> Callable[[], None]:
    CHECKS[fun.__name__] = fun
    return fun


def _mesh(kind: str, shape: tuple[int, ...] = (8,), names: tuple[str, ...] = ("x",)) -> Any:
    return jax.make_mesh(shape, names, axis_types=(getattr(AxisType, kind),) * len(shape))


def _put(x: np.ndarray, mesh: Any, spec: Any) -> Any:
    return jax.device_put(x, NamedSharding(mesh, spec))


def _grid() -> np.ndarray:
    return np.arange(16 * 8, dtype=np.float32).reshape(16, 8)


def _outcome(fun: Callable[[], Any]) -> tuple[str, Any]:
    """``("ok", result)`` or ``("error", (type name, first line))``."""
    try:
        return "ok", fun()
    except Exception as e:  # the oracle's own error is part of what is compared
        return "error", (type(e).__name__, str(e).splitlines()[0])


def _same_sharding(got: Any, want: Any, what: str) -> None:
    assert got.sharding == want.sharding, f"{what}: {got.sharding} != {want.sharding}"
    assert jax.typeof(got) == jax.typeof(want), f"{what}: {jax.typeof(got)} != {jax.typeof(want)}"


# -- reads, writes and views on sharded arrays, both axis types ---------------------


def _iadd_rows(a: Any) -> None:
    a[1:] += a[:-1]


def _iadd_cols(a: Any) -> None:
    a[:, 1:] += a[:, :-1]


# name -> (the NumPy and mutjax kernel of `a`, the .at[] kernel of `a` and the
# keywords of its `.at[]` calls). A kernel returning None stands for `a`.
_INDEXING: dict[str, tuple[Callable[[Any], Any], Callable[[Any, dict], Any]]] = {
    "a[0] = 1": (lambda a: a.__setitem__(0, 1.0), lambda a, o: a.at[0].set(1.0, **o)),
    "a[1:] = 3": (
        lambda a: a.__setitem__(slice(1, None), 3.0),
        lambda a, o: a.at[1:].set(3.0, **o),
    ),
    "a[:, 0] = 1": (
        lambda a: a.__setitem__((slice(None), 0), 1.0),
        lambda a, o: a.at[:, 0].set(1.0, **o),
    ),
    "a[0, 0] = 1": (lambda a: a.__setitem__((0, 0), 1.0), lambda a, o: a.at[0, 0].set(1.0, **o)),
    "a[::2] = 0": (
        lambda a: a.__setitem__(slice(None, None, 2), 0.0),
        lambda a, o: a.at[::2].set(0.0, **o),
    ),
    "a[::2] = zeros": (  # a replicated array on an Explicit mesh
        lambda a: a.__setitem__(slice(None, None, 2), np.zeros_like(a, shape=(8, 8))),
        lambda a, o: a.at[::2].set(jnp.zeros((8, 8)), **o),
    ),
    "a[[1, 2]] = 0": (
        lambda a: a.__setitem__(np.array([1, 2]), 0.0),
        lambda a, o: a.at[np.array([1, 2])].set(0.0, **o),
    ),
    "a[a > 3] = 0": (lambda a: a.__setitem__(a > 3, 0.0), lambda a, o: jnp.where(a > 3, 0.0, a)),
    "a.T[0] = 1": (lambda a: a.T.__setitem__(0, 1.0), lambda a, o: a.at[:, 0].set(1.0, **o)),
    "a[...] = 0": (lambda a: a.__setitem__(Ellipsis, 0.0), lambda a, o: a.at[...].set(0.0, **o)),
    "a.fill(7)": (lambda a: a.fill(7.0), lambda a, o: a.at[...].set(7.0, **o)),
    "a[...] = a * 2": (
        lambda a: a.__setitem__(Ellipsis, a * 2),
        lambda a, o: a.at[...].set(a * 2, **o),
    ),
    "a[1:] += a[:-1]": (_iadd_rows, lambda a, o: a.at[1:].add(a[:-1], **o)),
    "a[:, 1:] += a[:, :-1]": (_iadd_cols, lambda a, o: a.at[:, 1:].add(a[:, :-1], **o)),
    "a[4:] (read)": (lambda a: a[4:] + 0, lambda a, o: a[4:] + 0),
    "a[1:] (read)": (lambda a: a[1:] + 0, lambda a, o: a[1:] + 0),
    "a[0] (read)": (lambda a: a[0] + 0, lambda a, o: a[0] + 0),
    "a.T (view)": (lambda a: a.T + 0, lambda a, o: a.T + 0),
}


def _result(kernel: Callable[[Any], Any]) -> Callable[[Any], Any]:
    def run(a: Any) -> Any:
        out = kernel(a)
        return a if out is None else out

    return run


def _indexing_on(kind: str, spec: Any) -> None:
    mesh = _mesh(kind, (4, 2), ("x", "y"))
    a = _put(_grid(), mesh, spec)
    failures = []
    with jax.set_mesh(mesh):
        for name, (kernel, at) in _INDEXING.items():
            keywords = {"out_sharding": a.sharding} if kind == "Explicit" else {}
            want = _outcome(lambda at=at, o=keywords: jax.jit(lambda x: at(x, o))(a))
            got = _outcome(lambda k=kernel: jax.jit(mutjax.mutable(_result(k)))(a))
            if want[0] == "error":
                if got != want:
                    failures.append(f"{name}: mutjax {got}, .at[] {want}")
                continue
            if got[0] == "error":
                failures.append(f"{name}: mutjax {got[1]}, .at[] works")
                continue
            expected = _result(kernel)(_grid())
            if not np.array_equal(np.asarray(got[1]), expected):
                failures.append(f"{name}: value differs from NumPy's")
            elif got[1].sharding != want[1].sharding or jax.typeof(got[1]) != jax.typeof(want[1]):
                failures.append(f"{name}: {jax.typeof(got[1])}, .at[] {jax.typeof(want[1])}")
    assert not failures, "\n".join(failures)


for _kind in KINDS:
    for _label, _spec in (("rows", P("x", None)), ("blocks", P("x", "y"))):
        CHECKS[f"indexing_{_kind.lower()}_{_label}"] = functools.partial(_indexing_on, _kind, _spec)


def _random_writes_on(kind: str) -> None:
    from hypothesis import given, settings
    from hypothesis import strategies as st

    from mutjax import testing

    mesh = _mesh(kind, (4, 2), ("x", "y"))
    shape = (8, 4)
    a = _put(np.arange(32, dtype=np.float32).reshape(shape), mesh, P("x", "y"))
    o = {"out_sharding": a.sharding} if kind == "Explicit" else {}

    @st.composite
    def cases(draw: Any) -> tuple[Any, np.ndarray]:
        index = draw(testing.indices(shape))
        return index, draw(testing.values_for(shape, index))

    @settings(max_examples=20, derandomize=True, deadline=None, database=None)
    @given(cases())
    def writes(case: tuple[Any, np.ndarray]) -> None:
        index, value = case

        def kernel(x):
            x[index] = value
            return x

        expected = kernel(np.asarray(a).copy())
        with jax.set_mesh(mesh):
            got = jax.jit(mutjax.mutable(kernel))(a)
            want = jax.jit(lambda x: x.at[index].set(value, **o))(a)
        np.testing.assert_array_equal(np.asarray(got), expected, err_msg=repr(index))
        _same_sharding(got, want, repr(index))

    writes()


@check
def random_writes_auto() -> None:
    _random_writes_on("Auto")


@check
def random_writes_explicit() -> None:
    _random_writes_on("Explicit")


@check
def explicit_unsharded_read_is_what_jax_gives() -> None:
    # A read JAX cannot type raises JAX's own error, not one of mutjax's.
    mesh = _mesh("Explicit")
    a = _put(np.arange(16.0, dtype=np.float32), mesh, P("x"))
    with jax.set_mesh(mesh):
        want = _outcome(lambda: jax.jit(lambda x: x[1:])(a))
        got = _outcome(lambda: jax.jit(mutjax.mutable(lambda x: x[1:]))(a))
    assert want[0] == "error" and want[1][0] == "ShardingTypeError", want
    assert got == want, got


# -- shard_map ------------------------------------------------------------------


def _block_numpy(a: np.ndarray, devices: int) -> np.ndarray:
    """NumPy's ``b[0] = 1; b[1:] += b[:-1]`` on each of ``devices`` row blocks of ``a``."""
    a = a.copy()
    for b in np.split(a, devices):
        b[0] = 1
        b[1:] += b[:-1]
    return a


def _block_mutjax(b: Any) -> Any:
    b[0] = 1
    b[1:] += b[:-1]
    return b


def _block_at(b: Any) -> Any:
    b = b.at[0].set(1)
    return b.at[1:].add(b[:-1])


@check
def shard_map_of_a_mutable_function() -> None:
    for kind in KINDS:
        mesh = _mesh(kind)
        a = _put(_grid(), mesh, P("x"))
        with jax.set_mesh(mesh):
            smap = lambda f, m=mesh: jax.shard_map(f, mesh=m, in_specs=P("x"), out_specs=P("x"))  # noqa: E731
            got = jax.jit(smap(mutjax.mutable(_block_mutjax)))(a)
            want = jax.jit(smap(_block_at))(a)
        np.testing.assert_array_equal(np.asarray(got), _block_numpy(_grid(), 8), err_msg=kind)
        _same_sharding(got, want, kind)


def _inside(mesh: Any) -> Callable[[Any], Any]:
    def kernel(a):
        jax.shard_map(_block_mutjax, mesh=mesh, in_specs=P("x"), out_specs=P("x"))(a)
        return a

    return kernel


@check
def shard_map_inside_a_scope_writes_the_callers_array() -> None:
    for kind in KINDS:
        mesh = _mesh(kind)
        a = _put(_grid(), mesh, P("x"))
        expected = _block_numpy(_grid(), 8)
        with jax.set_mesh(mesh):
            want = jax.jit(jax.shard_map(_block_at, mesh=mesh, in_specs=P("x"), out_specs=P("x")))(
                a
            )
            for how, fun in (
                ("jit", jax.jit(mutjax.mutable(_inside(mesh)))),
                ("eager", mutjax.mutable(_inside(mesh))),
            ):
                got = fun(a)
                np.testing.assert_array_equal(np.asarray(got), expected, err_msg=f"{kind} {how}")
                _same_sharding(got, want, f"{kind} {how}")


@check
def shard_map_body_may_be_mutable_itself() -> None:
    mesh = _mesh("Auto")

    def kernel(a):
        body = mutjax.mutable(_block_mutjax)
        jax.shard_map(body, mesh=mesh, in_specs=P("x"), out_specs=P("x"))(a)
        return a

    got = jax.jit(mutjax.mutable(kernel))(_put(_grid(), mesh, P("x")))
    np.testing.assert_array_equal(np.asarray(got), _block_numpy(_grid(), 8))


@check
def shard_map_block_of_a_view() -> None:
    mesh = _mesh("Auto")

    def kernel(a):
        jax.shard_map(_block_mutjax, mesh=mesh, in_specs=P("x"), out_specs=P("x"))(a[8:])
        return a

    got = jax.jit(mutjax.mutable(kernel))(np.arange(24.0 * 2, dtype=np.float32).reshape(24, 2))
    expected = np.arange(24.0 * 2, dtype=np.float32).reshape(24, 2)
    expected[8:] = _block_numpy(expected[8:], 8)
    np.testing.assert_array_equal(np.asarray(got), expected)


@check
def shard_map_reads_and_writes_closed_over_arrays() -> None:
    mesh = _mesh("Auto")

    def kernel(a, w):
        def body(b):
            b[...] = b * w[0]  # read: every device sees all of w
            w[1] = jax.lax.psum(b[0, 0], "x")  # the same on every device
            return b

        jax.shard_map(body, mesh=mesh, in_specs=P("x"), out_specs=P("x"))(a)
        return a, w

    a, w = jax.jit(mutjax.mutable(kernel))(_grid(), np.array([2.0, 0.0], np.float32))
    np.testing.assert_array_equal(np.asarray(a), _grid() * 2)
    np.testing.assert_array_equal(np.asarray(w), [2.0, (_grid()[::2, 0] * 2).sum()])


@check
def shard_map_device_dependent_write_to_a_shared_array_raises() -> None:
    mesh = _mesh("Auto")

    def closed(a, w):
        def body(b):
            w[0] = b[0, 0]  # a different value on each device
            return b

        jax.shard_map(body, mesh=mesh, in_specs=P("x"), out_specs=P("x"))(a)
        return w

    def replicated(a, c):
        def body(b, cc):
            cc[0] = b[0, 0]
            return b

        jax.shard_map(body, mesh=mesh, in_specs=(P("x"), P()), out_specs=P("x"))(a, c)
        return c

    for kernel in (closed, replicated):
        try:
            jax.jit(mutjax.mutable(kernel))(_grid(), np.zeros(2, np.float32))
        except mutjax.ShardMapWriteError as e:
            assert "in_spec" in str(e), e
        else:
            raise AssertionError(f"{kernel.__name__}: expected ShardMapWriteError")


def _halo_numpy(a: np.ndarray, steps: int) -> np.ndarray:
    """Each of 8 row blocks adds its upper neighbour's last row (cyclically), then psums row 0."""
    a = a.copy()
    blocks = np.split(a, 8)
    for _ in range(steps):
        last = [b[-1].copy() for b in blocks]
        for d, b in enumerate(blocks):
            b[0] += last[d - 1]
        total = sum(b[0].copy() for b in blocks)
        for b in blocks:
            b[1] = total
    return a


def _halo(mesh: Any, steps: int) -> Callable[[Any], Any]:
    perm = [(d, (d + 1) % 8) for d in range(8)]

    def kernel(a):
        def body(b):
            def step(k, carry):
                b[0] += jax.lax.ppermute(b[-1], "x", perm)
                b[1] = jax.lax.psum(b[0], "x")

            mutjax.fori_loop(0, steps, step, None)
            return b

        jax.shard_map(body, mesh=mesh, in_specs=P("x"), out_specs=P("x"))(a)
        return a

    return kernel


@check
def collectives_in_the_body_halo_exchange_and_psum() -> None:
    for kind in KINDS:
        mesh = _mesh(kind)
        with jax.set_mesh(mesh):
            got = jax.jit(mutjax.mutable(_halo(mesh, 3)))(_put(_grid(), mesh, P("x")))
        np.testing.assert_allclose(np.asarray(got), _halo_numpy(_grid(), 3), err_msg=kind)


def _loss_numpy(a: np.ndarray) -> float:
    a = a.copy()
    for b in np.split(a, 8):
        b[0] *= 3
        b[1:] *= b[:-1].copy()
    return float((a**2).sum())


def _losses(mesh: Any) -> tuple[Callable[[Any], Any], Callable[[Any], Any]]:
    """The same loss written with in-place writes (mutjax) and with ``.at[]``."""

    def body(b):
        b[0] *= 3
        b[1:] *= b[:-1]
        return b

    def body_at(b):
        b = b.at[0].multiply(3)
        return b.at[1:].multiply(b[:-1])

    def loss(a):
        jax.shard_map(body, mesh=mesh, in_specs=P("x"), out_specs=P("x"))(a)
        return (a**2).sum()

    def loss_at(a):
        return (jax.shard_map(body_at, mesh=mesh, in_specs=P("x"), out_specs=P("x"))(a) ** 2).sum()

    return loss, loss_at


@check
def grad_through_shard_map_in_a_scope() -> None:
    for kind in KINDS:
        mesh = _mesh(kind)
        loss, loss_at = _losses(mesh)
        x = np.linspace(0.5, 1.5, 32).astype(np.float32).reshape(16, 2)
        with jax.set_mesh(mesh):
            got = jax.jit(jax.grad(mutjax.mutable(loss)))(_put(x, mesh, P("x")))
            want = jax.jit(jax.grad(loss_at))(_put(x, mesh, P("x")))
        eps = 1e-4
        x64 = x.astype(np.float64)
        numeric = np.zeros_like(x64)
        for i in np.ndindex(x.shape):
            e = np.zeros_like(x64)
            e[i] = eps
            numeric[i] = (_loss_numpy(x64 + e) - _loss_numpy(x64 - e)) / (2 * eps)
        np.testing.assert_allclose(np.asarray(got), numeric, rtol=1e-3, err_msg=kind)
        _same_sharding(got, want, kind)


@check
def vmap_of_a_scope_with_shard_map() -> None:
    mesh = _mesh("Auto")
    x = np.arange(2 * 16 * 2, dtype=np.float32).reshape(2, 16, 2)
    got = jax.jit(jax.vmap(mutjax.mutable(_inside(mesh))))(x)
    np.testing.assert_array_equal(
        np.asarray(got), np.stack([_block_numpy(x[0], 8), _block_numpy(x[1], 8)])
    )


@check
def partial_manual_shard_map_on_a_2d_mesh() -> None:
    mesh = _mesh("Auto", (4, 2), ("x", "y"))

    def kernel(a):
        jax.shard_map(
            _block_mutjax, mesh=mesh, in_specs=P("x"), out_specs=P("x"), axis_names={"x"}
        )(a)
        return a

    got = jax.jit(mutjax.mutable(kernel))(_grid())
    np.testing.assert_array_equal(np.asarray(got), _block_numpy(_grid(), 4))


@jax.jit
@mutjax.mutable
def _first_row(b: Any) -> None:
    b[0] = -5.0


@check
def nested_shard_map_and_a_jitted_helper_in_the_body() -> None:
    mesh = _mesh("Auto", (4, 2), ("x", "y"))

    def kernel(a):
        def rows(b):
            _first_row(b)  # a jitted mutable helper writes the block

            def cols(c):
                c[-1] = 9.0

            jax.shard_map(cols, in_specs=P(None, "y"), out_specs=P(), axis_names={"y"})(b)

        jax.shard_map(rows, mesh=mesh, in_specs=P("x"), out_specs=P(), axis_names={"x"})(a)
        return a

    expected = np.zeros((8, 4), np.float32)
    for b in np.split(expected, 4):
        b[0] = -5.0
        for c in np.split(b, 2, axis=1):
            c[-1] = 9.0
    got = jax.jit(mutjax.mutable(kernel))(np.zeros((8, 4), np.float32))
    np.testing.assert_array_equal(np.asarray(got), expected)


# -- the example, the benchmark and the docs page, with 8 devices -------------------


@check
def example_sharded_heat_on_8_devices() -> None:
    runpy.run_path(str(ROOT / "examples" / "sharded_heat.py"), run_name="__main__")


@check
def benchmark_sharded_quick() -> None:
    from benchmarks import sharded

    result = sharded.main(["--quick"])
    assert result["devices"] == 8
    assert {"at", "mutjax"} == set(result["variants"])


@check
def docs_page_snippets_run() -> None:
    text = (ROOT / "docs" / "sharding.md").read_text()
    blocks = re.findall(r"^```python\n(.*?)^```", text, flags=re.S | re.M)
    assert blocks
    namespace: dict = {"__name__": "docs_sharding"}
    for n, block in enumerate(blocks):
        exec(compile(block, f"sharding.md (python block {n + 1})", "exec"), namespace)


# -- the subprocess and its outcomes -----------------------------------------------


def _main() -> None:
    assert jax.device_count() == 8, jax.devices()
    outcomes = {}
    for name, fun in CHECKS.items():
        try:
            fun()
            outcomes[name] = "ok"
        except Exception:
            outcomes[name] = traceback.format_exc()
    print("OUTCOMES " + json.dumps(outcomes))


@pytest.fixture(scope="module")
def outcomes() -> dict[str, str]:
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    env["XLA_FLAGS"] = (
        env.get("XLA_FLAGS", "") + " --xla_force_host_platform_device_count=8"
    ).strip()
    proc = subprocess.run(
        [sys.executable, "-m", "tests.test_sharding"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    lines = [ln for ln in proc.stdout.splitlines() if ln.startswith("OUTCOMES ")]
    assert proc.returncode == 0 and lines, proc.stdout[-3000:] + proc.stderr[-3000:]
    return json.loads(lines[-1][len("OUTCOMES ") :])


@pytest.mark.slow
@pytest.mark.parametrize("name", list(CHECKS))
def test_with_8_devices(name, outcomes):
    assert outcomes[name] == "ok", outcomes[name]


# -- the trace hooks (no devices needed) ---------------------------------------------


def test_every_trace_hook_of_jax_is_implemented():
    # jax.core.Trace's hooks raise NotImplementedError unless overridden.
    hooks = [n for n in dir(jax.core.Trace) if n.startswith("process_")]
    assert "process_call" in hooks and "process_custom_vjp_call" in hooks
    for name in hooks + ["process_shard_map"]:
        assert getattr(_trace.MutTrace, name) is not getattr(jax.core.Trace, name, None), name


def test_an_unknown_hook_raises_a_mutjax_error():
    def probe(x):
        trace = _trace.current_mut_trace()
        with pytest.raises(mutjax.UnsupportedTransformError, match="process_map"):
            trace.process_map
        assert getattr(trace, "process_map", None) is None  # still an AttributeError
        with pytest.raises(AttributeError):
            trace.no_such_attribute
        return x

    mutjax.mutable(probe)(jnp.zeros(2))


def test_call_primitive_runs_on_the_scope():
    from jax.extend import linear_util as lu
    from jax.extend.core.primitives import call_p

    def kernel(x):
        def body(y):
            x[0] = y[1]  # writes the scope's array from inside the call
            return [y * 2]  # y is x, passed by reference as to a Python function

        (out,) = call_p.bind(x, subfuns=(lu.wrap_init(body),))
        return x, out

    x, out = jax.jit(mutjax.mutable(kernel))(np.array([1.0, 2.0], np.float32))
    np.testing.assert_array_equal(np.asarray(x), [2.0, 2.0])
    np.testing.assert_array_equal(np.asarray(out), [4.0, 4.0])


if __name__ == "__main__":
    _main()
