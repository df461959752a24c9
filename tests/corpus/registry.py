"""One corpus entry: a published kernel, how to build its inputs, and where it comes from.

A :class:`Kernel` ties a kernel function (plain NumPy, run unchanged under
mutjax) to an ``init`` that builds its arguments deterministically from a
size, the sizes it runs at, the arguments that must be static under
``jax.jit`` (Python ints that shape loops and arrays), the arguments it
mutates, and its provenance: the published source it transcribes, that
source's license, and the dataset sizes the suite publishes.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

# Tags for kernels that need something mutjax cannot give under jit by design:
# a result whose shape depends on the data, Python objects built from data, or
# run-time assertions on traced values. They are counted separately.
EXPECTED_FAIL_TAGS = frozenset({"dynamic-shape", "python-objects", "runtime-assert"})

# Informational tags (they do not predict failure on their own):
#   numpy-scratch  the kernel writes computed values into a buffer made by
#                  NumPy's own creation functions (np.zeros, np.empty, np.eye, ...)
#   data-control   Python control flow decided by array values
#   complex        complex-valued arrays
#   scalar-loops   element-by-element loop nests (PolyBench/C style)
KNOWN_TAGS = EXPECTED_FAIL_TAGS | frozenset(
    {"numpy-scratch", "data-control", "complex", "scalar-loops"}
)


@dataclass(frozen=True)
class Source:
    """Where a kernel comes from."""

    suite: str  # e.g. "NPBench" or "PolyBench/C"
    version: str  # release or commit of the suite
    kernel: str  # the suite's name for it
    path: str  # path of the published file in the suite
    license: str
    published: str  # the suite's dataset sizes, as published


@dataclass(frozen=True)
class Kernel:
    """A corpus entry.

    ``init(size)`` returns the kernel's arguments as a mapping from parameter
    name to value, in the kernel's parameter order; every NumPy array in it
    is compared after the run (the mutated arguments), together with what
    the kernel returns.
    """

    name: str
    fn: Callable[..., Any]
    init: Callable[[Mapping[str, Any]], dict[str, Any]]
    sizes: Mapping[str, Mapping[str, Any]]  # "test" and "published"
    source: Source
    static: tuple[str, ...] = ()
    mutates: tuple[str, ...] = ()
    returns: str = "None"
    tags: frozenset[str] = field(default_factory=frozenset)
    rtol: float = 1e-4  # tolerance relative to each output's largest magnitude
    int_rtol: float = 0.0  # the same for integer outputs (exact unless rounding decides them)

    def __post_init__(self) -> None:
        unknown = set(self.tags) - KNOWN_TAGS
        if unknown:
            raise ValueError(f"{self.name}: unknown tags {sorted(unknown)}")
        if set(self.sizes) != {"test", "published"}:
            raise ValueError(f"{self.name}: sizes must be 'test' and 'published'")

    @property
    def expected_to_fail(self) -> bool:
        """True when a tag says the kernel needs what mutjax cannot do under jit."""
        return bool(self.tags & EXPECTED_FAIL_TAGS)
