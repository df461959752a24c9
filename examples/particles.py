"""Particles bouncing in a box under gravity, with in-place state updates.

Positions and velocities live in ``(n, 2)`` arrays updated in place each
step; particles that leave the box are put back on the wall with a boolean
mask (``pos[pos < 0] = 0``) and their velocity is reflected. A batch of
independent simulations (different initial conditions) runs under
``jax.vmap``. Run ``python examples/particles.py``.
"""

import jax
import numpy as np

import mutjax

DT, STEPS, RESTITUTION = 0.02, 40, 0.9


def simulate(pos, vel):
    """Advance ``pos`` and ``vel`` (shape (n, 2), box [0, 1]^2) in place; return the energy."""
    for _ in range(STEPS):
        vel[:, 1] -= 9.81 * DT
        pos += DT * vel
        below, above = pos < 0.0, pos > 1.0
        # Reflect the velocity component of every particle that hit a wall.
        vel *= 1.0 - (1.0 + RESTITUTION) * (below | above)
        pos[below] = 0.0
        pos[above] = 1.0
    return 0.5 * (vel**2).sum() + 9.81 * pos[:, 1].sum()


def main() -> None:
    rng = np.random.default_rng(1)
    batch, n = 4, 16
    pos = rng.uniform(0.1, 0.9, (batch, n, 2)).astype(np.float32)
    vel = rng.normal(0.0, 1.0, (batch, n, 2)).astype(np.float32)

    expected_pos, expected_energy = pos.copy(), []
    for b in range(batch):
        expected_energy.append(simulate(expected_pos[b], vel[b].copy()))

    fast = jax.jit(jax.vmap(mutjax.mutable(simulate, return_argnums=0)))
    energy, got_pos = fast(pos, vel)
    got_pos = np.asarray(got_pos)

    np.set_printoptions(precision=4, suppress=True)
    print("energy of each simulation in the batch")
    print("  NumPy :", np.array(expected_energy))
    print("  mutjax:", np.asarray(energy))
    print("first particle of simulation 0  NumPy:", expected_pos[0, 0], " mutjax:", got_pos[0, 0])
    err = np.abs(got_pos - expected_pos).max()
    print(f"max |mutjax - NumPy| over all positions = {err:.2e}")
    assert err < 1e-4


if __name__ == "__main__":
    main()
