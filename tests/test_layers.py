"""Imports point down the layers: the 3DMM library loads no training or data stack."""

import subprocess
import sys

import pytest

HEAVY = ("optax", "orbax", "tensorflow_datasets", "tensorflow", "grain")


@pytest.mark.parametrize(
    "module",
    [
        "facejax",
        "facejax.geometry",
        "facejax.numerics",
        "facejax.lighting",
        "facejax.morphable",
        "facejax.formats",
        "facejax.render",
        "facejax.evaluation",
    ],
)
def test_library_layers_do_not_import_the_training_stack(module):
    code = (
        f"import sys, {module}\n"
        f"heavy = [m for m in sys.modules if m.split('.')[0] in {HEAVY!r} or m in {HEAVY!r}]\n"
        "print(','.join(sorted(heavy)))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )
    assert result.stdout.strip() == "", f"{module} imports {result.stdout.strip()}"
