"""Test-wide JAX settings.

Fake CPU devices must be requested before JAX initialises its backends, so the flag is set
at import time, before anything imports jax. Four devices are there for the tests that shard
or pmap; every other test runs on device 0 as usual.
"""

import os

_FLAG = "--xla_force_host_platform_device_count=4"
if _FLAG not in os.environ.get("XLA_FLAGS", ""):
    os.environ["XLA_FLAGS"] = (os.environ.get("XLA_FLAGS", "") + " " + _FLAG).strip()
os.environ.setdefault("JAX_PLATFORMS", "cpu")

import jax  # noqa: E402
import pytest  # noqa: E402

jax.config.update("jax_numpy_rank_promotion", "raise")


@pytest.fixture
def x64():
    """Runs the test body with 64-bit JAX arrays enabled."""
    with jax.enable_x64(True):
        yield


@pytest.fixture(scope="session")
def four_devices():
    devices = jax.devices("cpu")
    if len(devices) < 4:
        pytest.skip("needs 4 fake CPU devices (XLA_FLAGS set after JAX initialised)")
    return devices[:4]
