"""Every notebook runs top to bottom (code cells only, shell and magic lines skipped), in its
quick setting: ``FACEJAX_NOTEBOOK_QUICK`` asks each notebook for small pictures and few steps,
in the quick environment of ``tests/conftest.py`` (lowest XLA optimisation level, a compilation
cache shared with the other subprocess tests)."""

import json
import pathlib
import subprocess
import sys

import pytest

NOTEBOOKS = sorted((pathlib.Path(__file__).parents[1] / "notebooks").glob("*.ipynb"))


def _script(path: pathlib.Path) -> str:
    cells = json.loads(path.read_text())["cells"]
    lines = []
    for cell in cells:
        if cell["cell_type"] != "code":
            continue
        for line in "".join(cell["source"]).splitlines():
            if line.lstrip().startswith(("%", "!")):
                continue
            lines.append(line)
    return "\n".join(lines) + "\n"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.stem for p in NOTEBOOKS])
def test_notebook_runs(path, tmp_path, quick_subprocess_env):
    script = tmp_path / "notebook.py"
    script.write_text(_script(path))
    env = {
        **quick_subprocess_env,
        "FACEJAX_NOTEBOOK_QUICK": "1",
        "MPLBACKEND": "Agg",  # plt.show() draws nothing and waits for no window
    }
    result = subprocess.run(
        [sys.executable, str(script)],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=600,
        env=env,
    )
    assert result.returncode == 0, result.stderr[-3000:]
