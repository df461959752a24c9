"""Fit the parameters of a simulation by gradient descent through in-place updates.

A damped spring is integrated with semi-implicit Euler, writing each state
into preallocated trajectory arrays (``x[t + 1] = ...``), the way simulation
code is written in NumPy. ``jax.grad`` differentiates straight through those
writes: we check the gradient against NumPy central differences of the very
same function, then recover the stiffness and damping from a noisy
trajectory. Run ``python examples/fit.py``.
"""

import jax
import jax.numpy as jnp
import numpy as np

import mutjax

DT, STEPS = 0.15, 25


def simulate(x, v, params):
    """Integrate the spring in place into ``x`` and ``v`` (both of length STEPS + 1)."""
    k, c = params[0], params[1]
    for t in range(STEPS):
        v[t + 1] = v[t] - DT * (k * x[t] + c * v[t])
        x[t + 1] = x[t] + DT * v[t + 1]
    return x


def trajectory(params, xp):
    x, v = xp.zeros(STEPS + 1, np.float32), xp.zeros(STEPS + 1, np.float32)
    x[0] = 1.0
    return simulate(x, v, params)


def loss_numpy(params, observed):
    return float(np.mean((trajectory(params, np) - observed) ** 2))


def loss(params, observed):
    x = mutjax.mutable(lambda p: trajectory(p, jnp))(params)
    return jnp.mean((x - observed) ** 2)


loss_and_grad = jax.jit(jax.value_and_grad(loss))


def main() -> None:
    true = np.array([4.0, 0.3], np.float32)
    rng = np.random.default_rng(0)
    observed = (trajectory(true, np) + 0.01 * rng.standard_normal(STEPS + 1)).astype(np.float32)

    guess = np.array([3.0, 0.6], np.float32)
    grad = np.asarray(loss_and_grad(guess, observed)[1])
    h = 1e-3
    fd = np.array(
        [
            (loss_numpy(guess + h * e, observed) - loss_numpy(guess - h * e, observed)) / (2 * h)
            for e in np.eye(2, dtype=np.float32)
        ]
    )
    print("gradient at the initial guess (stiffness, damping)")
    print("  NumPy central differences:", fd)
    print("  mutjax jax.grad          :", grad)

    params = jnp.asarray(guess)
    for _ in range(300):
        value, g = loss_and_grad(params, observed)
        params = params - 0.5 * g
    value, _ = loss_and_grad(params, observed)
    print("fitted stiffness, damping:", np.asarray(params), " true:", true)
    print(f"final loss  mutjax {float(value):.2e}", end="")
    print(f"  NumPy on the same parameters {loss_numpy(np.asarray(params), observed):.2e}")
    assert np.allclose(grad, fd, rtol=5e-2, atol=1e-3)
    assert np.allclose(params, true, atol=0.05)


if __name__ == "__main__":
    main()
