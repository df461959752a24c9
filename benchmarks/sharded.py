"""The sharded heat stencil: hand-written ``.at[]`` JAX against mutjax, on 8 devices.

Both split the plate into strips with ``jax.shard_map``, fill each strip's
ghost rows from its neighbours with ``jax.lax.ppermute`` and run the time
loop on each device. The ``.at[]`` version is what a JAX expert writes: the
ghost rows by ``jnp.concatenate``, every update a new array, the loop a
``lax.fori_loop`` carrying the strip. The mutjax version is the NumPy code of
``examples/sharded_heat.py``: a ghost buffer and the strip updated in place,
in a ``mutjax.fori_loop``. Both are checked against NumPy before they are
timed.

This table is printed on its own rather than as a row of ``benchmarks/run.py``:
it needs 8 devices, which on one CPU means
``XLA_FLAGS=--xla_force_host_platform_device_count=8`` set before JAX is
imported (this script sets it when ``XLA_FLAGS`` does not name a device
count), and the main table runs on the devices of its own process.

Run: ``PYTHONPATH=. python benchmarks/sharded.py [--quick] [--reps N]``.
"""

from __future__ import annotations

import os
import sys

# Only before JAX is imported does the flag count (and only then is it set,
# so that importing this module leaves the environment of a process alone).
if "jax" not in sys.modules and "device_count" not in os.environ.get("XLA_FLAGS", ""):
    _flags = os.environ.get("XLA_FLAGS", "")
    os.environ["XLA_FLAGS"] = f"{_flags} --xla_force_host_platform_device_count=8".strip()

import argparse
import statistics
import time
from typing import Any

import jax
import jax.extend
import jax.numpy as jnp
import numpy as np
from jax import lax
from jax.sharding import AxisType, NamedSharding
from jax.sharding import PartitionSpec as P

import mutjax
from benchmarks.run import count_eqns

ALPHA = 0.2
HOT = 100.0


def heat_numpy(u: np.ndarray, steps: int) -> np.ndarray:
    """The whole plate, one process: the oracle."""
    u = u.copy()
    for _ in range(steps):
        lap = u[:-2, 1:-1] + u[2:, 1:-1] + u[1:-1, :-2] + u[1:-1, 2:] - 4 * u[1:-1, 1:-1]
        u[1:-1, 1:-1] += ALPHA * lap
        u[0, :] = HOT
        u[-1, :] = 0.0
        u[:, 0] = u[:, 1]
        u[:, -1] = u[:, -2]
    return u


def _neighbours(devices: int) -> tuple[list[tuple[int, int]], list[tuple[int, int]]]:
    down = [(d, d + 1) for d in range(devices - 1)]  # device d's last row goes to d + 1
    up = [(d + 1, d) for d in range(devices - 1)]
    return down, up


def heat_at(mesh: Any, steps: int) -> Any:
    """The sharded stencil written functionally with ``.at[]``."""
    devices = mesh.devices.size
    down, up = _neighbours(devices)

    def strip(b):
        me = lax.axis_index("rows")

        def step(k, b):
            above = lax.ppermute(b[-1], "rows", down)
            below = lax.ppermute(b[0], "rows", up)
            g = jnp.concatenate([above[None], b, below[None]])
            lap = g[:-2, 1:-1] + g[2:, 1:-1] + g[1:-1, :-2] + g[1:-1, 2:] - 4 * g[1:-1, 1:-1]
            b = b.at[:, 1:-1].add(ALPHA * lap)
            b = b.at[0].set(jnp.where(me == 0, HOT, b[0]))
            b = b.at[-1].set(jnp.where(me == devices - 1, 0.0, b[-1]))
            b = b.at[:, 0].set(b[:, 1])
            return b.at[:, -1].set(b[:, -2])

        return lax.fori_loop(0, steps, step, b)

    return jax.shard_map(strip, mesh=mesh, in_specs=P("rows"), out_specs=P("rows"))


def heat_mutjax(mesh: Any, steps: int) -> Any:
    """The same stencil as NumPy code: each device updates its strip in place."""
    devices = mesh.devices.size
    down, up = _neighbours(devices)

    def step(b, g):
        me = lax.axis_index("rows")
        g[1:-1] = b
        g[0] = lax.ppermute(b[-1], "rows", down)
        g[-1] = lax.ppermute(b[0], "rows", up)
        b[:, 1:-1] += ALPHA * (
            g[:-2, 1:-1] + g[2:, 1:-1] + g[1:-1, :-2] + g[1:-1, 2:] - 4 * g[1:-1, 1:-1]
        )
        b[0] = np.where(me == 0, HOT, b[0])
        b[-1] = np.where(me == devices - 1, 0.0, b[-1])
        b[:, 0] = b[:, 1]
        b[:, -1] = b[:, -2]

    def strip(b):
        g = np.zeros_like(b, shape=(b.shape[0] + 2, b.shape[1]))
        mutjax.fori_loop(0, steps, lambda k, carry: step(b, g), None)

    def solve(u):
        jax.shard_map(strip, mesh=mesh, in_specs=P("rows"), out_specs=P())(u)
        return u

    return mutjax.mutable(solve)


def _count(jaxpr: Any, name: str) -> int:
    """How many equations of ``jaxpr`` (sub-jaxprs included) bind primitive ``name``."""
    jaxpr = getattr(jaxpr, "jaxpr", jaxpr)
    n = 0
    for eqn in jaxpr.eqns:
        n += eqn.primitive.name == name
        n += sum(_count(sub, name) for sub in jax.extend.core.jaxprs_in_params(eqn.params))
    return n


def measure(n: int, steps: int, reps: int, axis_type: Any = AxisType.Auto) -> dict[str, Any]:
    """Both variants on an ``n`` x ``n`` plate: equations, times, error against NumPy.

    As in ``benchmarks/run.py``, the repetitions of the variants are
    interleaved (a shared machine's load then falls on both alike) and the
    median is reported.
    """
    devices = jax.device_count()
    mesh = jax.make_mesh((devices,), ("rows",), axis_types=(axis_type,))
    u0 = np.zeros((n, n), np.float32)
    u0[0] = HOT
    expected = heat_numpy(u0, steps)
    u = jax.device_put(u0, NamedSharding(mesh, P("rows")))
    rows: dict[str, dict[str, Any]] = {}
    calls = {}
    with jax.set_mesh(mesh):
        for name, make in (("at", heat_at), ("mutjax", heat_mutjax)):
            fn = make(mesh, steps)
            closed = jax.make_jaxpr(fn)(u)
            jitted = jax.jit(fn)
            t0 = time.perf_counter()
            out = jax.block_until_ready(jitted(u))
            first = time.perf_counter() - t0
            np.testing.assert_allclose(np.asarray(out), expected, rtol=1e-4, atol=1e-3)
            rows[name] = {
                "eqns": count_eqns(closed),
                "pvary": _count(closed, "pvary"),
                "first_call_s": first,
                "max_error": float(np.abs(np.asarray(out) - expected).max()),
                "sharding": str(out.sharding.spec),
                "times": [],
            }
            calls[name] = lambda jitted=jitted: jax.block_until_ready(jitted(u))
        for _ in range(reps):
            for name, call in calls.items():
                t0 = time.perf_counter()
                call()
                rows[name]["times"].append(time.perf_counter() - t0)
    for row in rows.values():
        row["median_s"] = statistics.median(row.pop("times"))
    return {"n": n, "steps": steps, "devices": devices, "variants": rows}


def table(result: dict[str, Any]) -> str:
    at, mj = result["variants"]["at"], result["variants"]["mutjax"]
    lines = [
        f"sharded heat stencil, {result['n']}x{result['n']} plate, {result['steps']} steps, "
        f"{result['devices']} devices ({jax.devices()[0].platform}, jax {jax.__version__})",
        "",
        "| variant | jaxpr equations | of which pvary | first call (s) | run time (ms) "
        "| max error vs NumPy |",
        "|---|---|---|---|---|---|",
    ]
    for label, row in ((".at[] JAX", at), ("mutjax", mj)):
        lines.append(
            f"| {label} | {row['eqns']} | {row['pvary']} | {row['first_call_s']:.2f} | "
            f"{row['median_s'] * 1e3:.2f} | {row['max_error']:.1e} |"
        )
    ratio = mj["median_s"] / at["median_s"]
    lines += [
        "",
        f"mutjax / .at[] run time: {ratio:.2f}x; result sharding {mj['sharding']}. "
        "pvary marks a value as varying over the mesh axes for shard_map's type "
        "check; it compiles to nothing.",
    ]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="a tiny plate and few steps")
    parser.add_argument("--reps", type=int, default=20)
    args = parser.parse_args(argv)
    n, steps = (32, 4) if args.quick else (512, 200)
    result = measure(n, steps, 1 if args.quick else args.reps)
    print(table(result))
    return result


if __name__ == "__main__":
    main(sys.argv[1:])
