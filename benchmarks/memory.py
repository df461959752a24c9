"""Peak resident memory of one variant of the memory kernel, in a fresh process.

Run by ``benchmarks/run.py`` as ``python benchmarks/memory.py VARIANT NBYTES``;
prints one JSON object. Peak resident memory (``ru_maxrss``) never goes down,
so every variant needs its own process. The JAX variants call a ``jit`` with
``donate_argnums=0`` twice on a ``float32`` array of ``NBYTES`` filled on the
device (every page touched), updating a 1,024-element slice.
"""

from __future__ import annotations

import json
import os
import resource
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def _rss_peak() -> int:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024  # KiB on Linux


def _rss_now() -> int:
    # The current resident set, not the peak: importing and compiling may have
    # peaked above what stays resident.
    try:
        with open("/proc/self/statm") as f:
            return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    except OSError:
        return _rss_peak()


def main() -> None:
    variant, nbytes = sys.argv[1], int(sys.argv[2])
    import jax
    import jax.numpy as jnp
    import numpy as np

    from benchmarks.kernels import BY_NAME

    (n,), variants = BY_NAME["memory"].make(nbytes)
    fun = variants[variant]
    # Warm JAX up on a tiny array so that the baseline includes the runtime
    # and the compiler, not the big array.
    small = jnp.full((1024,), 1.0, jnp.float32)
    if variant != "numpy":
        jax.jit(fun, donate_argnums=0)(small).block_until_ready()
    baseline = _rss_now()
    if variant == "numpy":
        x = np.full(n, 1.0, np.float32)
        for _ in range(2):
            x = fun(x)
        ok = bool(x[0] == 2.0 and x[-1] == 1.0)
    else:
        f = jax.jit(fun, donate_argnums=0)
        x = jnp.full((n,), 1.0, jnp.float32)
        for _ in range(2):
            x = f(x)
        x.block_until_ready()
        ok = bool(x[0] == 2.0 and x[-1] == 1.0)
    peak = max(_rss_peak(), _rss_now())
    print(json.dumps({"baseline": baseline, "peak": peak, "nbytes": n * 4, "ok": ok}))


if __name__ == "__main__":
    main()
