"""Tools to property-test your own kernels against NumPy.

``assert_matches_numpy`` runs one kernel body under NumPy and under mutjax
(eagerly, under ``jax.jit``, under ``jax.vmap`` and optionally ``jax.grad``)
and reports the first disagreement. The hypothesis strategies
(``arrays``, ``indices`` and friends, ``values_for``) generate the
inputs. Only the strategies need hypothesis; it is imported when one of them
is first used (``pip install 'mutjax[test]'``).
"""

from __future__ import annotations

from typing import Any

from ._assert import MODES as MODES
from ._assert import assert_matches_numpy as assert_matches_numpy

_STRATEGIES = (
    "arrays",
    "basic_indices",
    "integer_array_indices",
    "mask_indices",
    "mixed_indices",
    "indices",
    "values_for",
)

__all__ = ["MODES", "assert_matches_numpy", *_STRATEGIES]


def __getattr__(name: str) -> Any:
    # The strategies import hypothesis, an optional dependency: load them only
    # when asked for, so that `assert_matches_numpy` works without it.
    if name in _STRATEGIES:
        try:
            from . import _strategies
        except ImportError as e:  # pragma: no cover - depends on the environment
            raise ImportError(
                f"mutjax.testing.{name} needs hypothesis: pip install 'mutjax[test]'"
            ) from e
        return getattr(_strategies, name)
    raise AttributeError(f"module 'mutjax.testing' has no attribute {name!r}")
