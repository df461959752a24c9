import os
import zlib

import pytest
from hypothesis import HealthCheck, settings

# Three profiles. The default keeps `pytest` quick (15 examples where a
# property does not set its own count; `helpers.examples` scales those that
# do). `HYPOTHESIS_PROFILE=ci` is what CI runs: 40 examples, the counts as
# the tests write them. `HYPOTHESIS_PROFILE=fuzz` is the long campaign (2,000
# examples per property). The default and ci profiles are derandomized, so
# that CI is reproducible: it checks the same examples every run, and the
# fuzz profile goes looking for new ones.
_QUIET = [HealthCheck.too_slow, HealthCheck.data_too_large]
settings.register_profile(
    "default", derandomize=True, max_examples=15, deadline=None, suppress_health_check=_QUIET
)
settings.register_profile(
    "ci", derandomize=True, max_examples=40, deadline=None, suppress_health_check=_QUIET
)
settings.register_profile(
    "fuzz",
    max_examples=2000,
    deadline=None,
    suppress_health_check=list(HealthCheck),
)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "default"))


def pytest_addoption(parser):
    parser.addoption(
        "--slow-part",
        metavar="K/N",
        help="run only part K of N of the tests marked slow (each test's part is fixed by "
        "its id); the others run in full. CI runs `-m '' --slow-part 1/2` and `2/2` side by side.",
    )


def pytest_collection_modifyitems(config, items):
    part = config.getoption("--slow-part")
    if not part:
        return
    k, n = (int(x) for x in part.split("/"))
    if not 1 <= k <= n:
        raise pytest.UsageError(f"--slow-part {part}: K must be between 1 and N")
    keep, drop = [], []
    for item in items:
        mine = zlib.crc32(item.nodeid.encode()) % n == k - 1
        (keep if mine or item.get_closest_marker("slow") is None else drop).append(item)
    if drop:
        config.hook.pytest_deselected(items=drop)
        items[:] = keep
