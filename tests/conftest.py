import os

from hypothesis import HealthCheck, settings

# The default profile keeps CI quick; `HYPOTHESIS_PROFILE=fuzz pytest` runs
# the long fuzzing campaign (2,000 examples per property).
# The default profile is derandomized so that CI is reproducible: it checks
# the same examples every run, and the fuzz profile goes looking for new ones.
settings.register_profile(
    "default",
    derandomize=True,
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
settings.register_profile(
    "fuzz",
    max_examples=2000,
    deadline=None,
    suppress_health_check=list(HealthCheck),
)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "default"))
