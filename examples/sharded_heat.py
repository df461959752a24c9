"""2-D heat equation split over 8 devices, each updating its rows in place.

The plate of ``examples/heat.py`` (one hot edge, insulated sides) is cut into
horizontal strips, one per device, with ``jax.shard_map``. Each device pads
its strip with one ghost row above and below, fills them with its
neighbours' edge rows (``jax.lax.ppermute``: the halo exchange), and applies
the five-point stencil to its strip in place, as the NumPy code does to the
whole plate. The strips it writes land in the caller's array. The time loop
runs inside each device as one ``mutjax.fori_loop``; the result is checked
against the plain NumPy solver at the end.

Run ``python examples/sharded_heat.py``: on one CPU it asks XLA for 8
simulated devices (``--xla_force_host_platform_device_count=8``) when
``XLA_FLAGS`` does not already say how many, which has to happen before JAX
is imported. Imported after JAX (the test suite), it uses the devices there
are.
"""

import os
import sys

# Only before JAX is imported does the flag count (and only then is it set,
# so that importing this module leaves the environment of a process alone).
if "jax" not in sys.modules and "device_count" not in os.environ.get("XLA_FLAGS", ""):
    flags = os.environ.get("XLA_FLAGS", "")
    os.environ["XLA_FLAGS"] = f"{flags} --xla_force_host_platform_device_count=8".strip()

import jax  # after XLA_FLAGS
import numpy as np
from jax.sharding import AxisType, NamedSharding
from jax.sharding import PartitionSpec as P

import mutjax

DEVICES = jax.device_count()
MESH = jax.make_mesh((DEVICES,), ("rows",), axis_types=(AxisType.Auto,))
ALPHA = 0.2


def step_serial(u):
    """One explicit step on the whole plate, in place (NumPy, the reference)."""
    lap = u[:-2, 1:-1] + u[2:, 1:-1] + u[1:-1, :-2] + u[1:-1, 2:] - 4 * u[1:-1, 1:-1]
    u[1:-1, 1:-1] += ALPHA * lap
    u[0, :] = 100.0  # hot top edge
    u[-1, :] = 0.0
    u[:, 0] = u[:, 1]  # insulated sides: zero flux
    u[:, -1] = u[:, -2]


def step_strip(b, g):
    """One step on this device's strip ``b``, in place; ``g`` is ``b`` with ghost rows."""
    me = jax.lax.axis_index("rows")
    down = [(d, d + 1) for d in range(DEVICES - 1)]  # device d sends to d + 1
    up = [(d + 1, d) for d in range(DEVICES - 1)]
    g[1:-1] = b
    g[0] = jax.lax.ppermute(b[-1], "rows", down)  # the row above, from the device above
    g[-1] = jax.lax.ppermute(b[0], "rows", up)  # the row below, from the device below
    b[:, 1:-1] += ALPHA * (
        g[:-2, 1:-1] + g[2:, 1:-1] + g[1:-1, :-2] + g[1:-1, 2:] - 4 * g[1:-1, 1:-1]
    )
    b[0] = np.where(me == 0, 100.0, b[0])  # the plate's top edge is on the first device
    b[-1] = np.where(me == DEVICES - 1, 0.0, b[-1])
    b[:, 0] = b[:, 1]
    b[:, -1] = b[:, -2]


def solve(u, steps):
    """Advance ``u`` (rows split over the mesh) by ``steps`` steps in place; return its mean."""

    def strip(b):
        g = np.zeros_like(b, shape=(b.shape[0] + 2, b.shape[1]))  # the strip and its ghosts
        mutjax.fori_loop(0, steps, lambda k, carry: step_strip(b, g), None)

    jax.shard_map(strip, mesh=MESH, in_specs=P("rows"), out_specs=P())(u)
    return u.mean()


def main() -> None:
    n, steps = 64, 200
    u0 = np.zeros((n, n), np.float32)
    u0[0, :] = 100.0
    expected = u0.copy()
    for _ in range(steps):
        step_serial(expected)

    u = jax.device_put(u0, NamedSharding(MESH, P("rows")))
    fast = jax.jit(mutjax.mutable(solve, return_argnums=0), static_argnums=1)
    mean, got = fast(u, steps)
    print(f"{DEVICES} devices, {n // DEVICES} rows each; result sharding {got.sharding.spec}")
    got = np.asarray(got)

    np.set_printoptions(precision=2, suppress=True, linewidth=120)
    print("temperature down the middle column")
    print("  NumPy :", expected[::8, n // 2])
    print("  mutjax:", got[::8, n // 2])
    print(f"mean temperature  NumPy {expected.mean():.4f}  mutjax {float(mean):.4f}")
    err = np.abs(got - expected).max()
    print(f"max |mutjax - NumPy| = {err:.2e}")
    assert err < 1e-3


if __name__ == "__main__":
    main()
