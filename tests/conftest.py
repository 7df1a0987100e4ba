"""Test-wide JAX settings.

Fake CPU devices must be requested before JAX initialises its backends, so the flag is set
at import time, before anything imports jax. Four devices are there for the tests that shard
or pmap; every other test runs on device 0 as usual.

XLA's CPU compiler runs at its lowest optimisation level (``QUICK_XLA_FLAGS``), in this process
and in the facejax processes tests start: the suite is mostly compilation, and no test
measures speed. Numerical tests hold at it with their named tolerances.
"""

import os

# XLA's CPU compiler at its lowest optimisation level: a smoke run or a notebook is mostly
# compilation (about half the time at the default level; a third of the cycle recipe's tests).
QUICK_XLA_FLAGS = "--xla_backend_optimization_level=0 --xla_llvm_disable_expensive_passes=true"
_FLAGS = ("--xla_force_host_platform_device_count=4", *QUICK_XLA_FLAGS.split())
for _flag in _FLAGS:
    if _flag.split("=")[0] not in os.environ.get("XLA_FLAGS", ""):
        os.environ["XLA_FLAGS"] = (os.environ.get("XLA_FLAGS", "") + " " + _flag).strip()
os.environ.setdefault("JAX_PLATFORMS", "cpu")

import jax  # noqa: E402
import pytest  # noqa: E402

jax.config.update("jax_numpy_rank_promotion", "raise")


@pytest.fixture(scope="module", autouse=True)
def _fresh_jax_caches():
    """Drops JAX's compiled functions after each test module. A worker that kept every module's
    executables ran later modules up to 2.5x slower (the damaged-checkpoint tests after the
    cycle recipe's: 34 s against 17 s); the cost is that a function two modules share compiles
    twice."""
    yield
    jax.clear_caches()


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


@pytest.fixture(scope="session")
def quick_subprocess_env(tmp_path_factory):
    """The environment of a test that runs facejax in a process of its own (a smoke training,
    a notebook): the flags above, and a persistent compilation cache shared by all such
    processes of the test run (pytest-xdist workers included), so that the second program to
    compile the same training step reads it instead of compiling it again."""
    base = tmp_path_factory.getbasetemp()
    if os.environ.get("PYTEST_XDIST_WORKER"):
        base = base.parent  # one folder above the workers' own
    cache = base / "xla_compilation_cache"
    cache.mkdir(exist_ok=True)
    return {
        **os.environ,
        "JAX_PLATFORMS": "cpu",
        "JAX_COMPILATION_CACHE_DIR": str(cache),
        "JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS": "0",
        "JAX_PERSISTENT_CACHE_MIN_ENTRY_SIZE_BYTES": "0",
    }
