"""`facejax info` and `facejax convert` on the embedded model and on a small Deep3D-format file."""

import json
import subprocess
import sys

import numpy as np
import pytest
import scipy.io

import facejax
from facejax.cli import main

ATOL_MM = 1e-4


def _deep3d_file(path):
    """A 12-vertex surface saved as Deep3DFaceRecon saves BFM_model_front.mat (dm, 1-based)."""
    x, y = np.meshgrid(np.linspace(-60, 60, 4), np.linspace(-70, 70, 3))
    mean = np.stack([x, y, 90 - 0.006 * (x**2 + y**2)], -1).reshape(-1, 3)
    tris = []
    for r in range(2):
        for c in range(3):
            k = r * 4 + c
            tris += [[k, k + 1, k + 4], [k + 1, k + 5, k + 4]]
    rng = np.random.default_rng(0)
    scipy.io.savemat(
        path,
        {
            "meanshape": (mean.reshape(1, -1) / 100.0).astype(np.float32),
            "idBase": rng.normal(size=(36, 3)).astype(np.float32) * 0.01,
            "exBase": rng.normal(size=(36, 2)) * 0.01,
            "meantex": rng.uniform(50, 200, size=(1, 36)).astype(np.float32),
            "texBase": rng.normal(size=(36, 2)).astype(np.float32),
            "tri": np.asarray(tris, np.float64) + 1,
            "keypoints": (np.arange(68) % 12 + 1).astype(np.float64).reshape(1, -1),
        },
    )
    return mean


def test_convert_then_info_round_trip(tmp_path, capsys):
    mean_mm = _deep3d_file(tmp_path / "BFM_model_front.mat")
    out = tmp_path / "model.npz"
    assert main(["convert", str(tmp_path / "BFM_model_front.mat"), str(out)]) == 0
    assert "wrote" in capsys.readouterr().out

    model = facejax.load_model(out)
    np.testing.assert_allclose(model.mean_shape, mean_mm, atol=ATOL_MM)
    assert (model.num_identity, model.num_expression, model.num_albedo) == (3, 2, 2)

    assert main(["info", str(out), "--json"]) == 0
    summary = json.loads(capsys.readouterr().out)
    assert summary["vertices"] == 12 and summary["triangles"] == 12 and summary["landmarks"] == 68
    assert summary["units"] == "mm"


def test_convert_refuses_to_overwrite_and_non_npz(tmp_path, capsys):
    _deep3d_file(tmp_path / "m.mat")
    (tmp_path / "out.npz").write_bytes(b"precious")
    assert main(["convert", str(tmp_path / "m.mat"), str(tmp_path / "out.npz")]) == 2
    assert "--force" in capsys.readouterr().err
    assert (tmp_path / "out.npz").read_bytes() == b"precious"
    assert main(["convert", str(tmp_path / "m.mat"), str(tmp_path / "out.obj")]) == 2


def test_missing_file_is_a_clear_error(tmp_path, capsys):
    assert main(["info", str(tmp_path / "nope.mat")]) == 2
    assert "nope.mat" in capsys.readouterr().err


def test_console_script_info_synthetic():
    """The installed command works right after install, on the embedded model."""
    result = subprocess.run(
        [sys.executable, "-m", "facejax.cli", "info", "synthetic", "--json"],
        capture_output=True,
        text=True,
        check=True,
    )
    summary = json.loads(result.stdout)
    assert summary["landmarks"] == 68
    assert summary["identity_components"] == 80 and summary["expression_components"] == 64
    assert "jaw_open" in summary["expression_names"]


@pytest.mark.parametrize("argv", [["--help"], ["info", "--help"], ["convert", "--help"]])
def test_help(argv):
    with pytest.raises(SystemExit) as info:
        main(argv)
    assert info.value.code == 0
