"""The toy problem (tests/train/toy.py) as a fixture, loaded by path (tests are not a package)."""

import importlib.util
import pathlib
import sys

import pytest

TOY_PATH = pathlib.Path(__file__).with_name("toy.py")


def _load_toy():
    spec = importlib.util.spec_from_file_location("facejax_tests_train_toy", TOY_PATH)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses (Flax modules) look their module up
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="session")
def toy():
    return _load_toy()
