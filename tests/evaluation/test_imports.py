"""facejax.evaluation is pure numpy/JAX: it loads no training or data stack."""

import subprocess
import sys

HEAVY = ("optax", "orbax", "tensorflow_datasets", "tensorflow", "grain")


def test_evaluation_does_not_import_the_training_stack():
    code = (
        "import sys, facejax.evaluation\n"
        f"heavy = [m for m in sys.modules if m.split('.')[0] in {HEAVY!r}]\n"
        "print(','.join(sorted(heavy)))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )
    assert result.stdout.strip() == "", f"facejax.evaluation imports {result.stdout.strip()}"
