"""Test-suite configuration: the shardis fixtures and the hypothesis profiles.

The fixtures (servers on free ports, the differential pair) come from the
plugin shipped in the package, ``shardis.testing.pytest_plugin``.  Hypothesis
runs a "dev" profile by default and a "ci" profile (fewer examples, no
deadline, since real servers share two cores there) when HYPOTHESIS_PROFILE=ci
or CI is set.
"""

import os

from hypothesis import HealthCheck, settings

pytest_plugins = ["shardis.testing.pytest_plugin"]

settings.register_profile("dev", deadline=None)
settings.register_profile(
    "ci",
    deadline=None,
    max_examples=60,
    print_blob=True,
    suppress_health_check=[HealthCheck.too_slow],
)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE") or ("ci" if os.environ.get("CI") else "dev"))
