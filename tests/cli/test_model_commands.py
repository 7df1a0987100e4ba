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


def test_info_and_convert_take_an_eos_landmark_definition(tmp_path, capsys):
    """An eos model with a mapping in eos's TOML (comments, the jaw and two mouth points left
    out) and a model contour: info counts the defined and sliding points, convert says which
    points it had to stand in for and keeps them marked undefined in the .npz."""
    eos = pytest.importorskip("eos")
    m = eos.morphablemodel
    x, y = np.meshgrid(np.linspace(-60, 60, 5), np.linspace(-70, 70, 4))
    mean = np.stack([x, y, 90 - 0.006 * (x**2 + y**2)], -1).reshape(-1).astype(np.float32)
    tris = [[r * 5 + c, r * 5 + c + 1, r * 5 + c + 5] for r in range(3) for c in range(4)]
    tris += [[r * 5 + c + 1, r * 5 + c + 6, r * 5 + c + 5] for r in range(3) for c in range(4)]
    basis = np.linalg.qr(np.random.default_rng(0).normal(size=(60, 2)))[0].astype(np.float32)
    shape = m.PcaModel(mean, basis, np.array([4.0, 1.0], np.float32), tris)
    m.save_model(m.MorphableModel(shape, m.PcaModel()), str(tmp_path / "s.bin"))
    mapping = ["# eos mapping", "[landmark_mappings]", '"9" = 17  # chin']
    mapping += [f"{k} = {k % 20}  # point {k}" for k in range(18, 69) if k not in (61, 65)]
    (tmp_path / "ibug_to_s.txt").write_text("\n".join(mapping) + "\n")
    (tmp_path / "contour.json").write_text(
        '{"model_contour": {"right_contour": [15, 10, 5], "left_contour": [19, 14, 9]}}'
    )
    model, landmarks = str(tmp_path / "s.bin"), str(tmp_path / "ibug_to_s.txt")
    contour = str(tmp_path / "contour.json")
    assert main(["info", model, "--landmarks", landmarks, "--contour", contour, "--json"]) == 0
    summary = json.loads(capsys.readouterr().out)
    assert summary["landmarks"] == 68 and summary["landmarks_defined"] == 66
    assert summary["sliding_contour_points"] == 16
    assert main(["info", model, "--landmarks", landmarks, "--json"]) == 0
    summary = json.loads(capsys.readouterr().out)
    assert summary["landmarks_defined"] == 50 and summary["sliding_contour_points"] == 0
    out = str(tmp_path / "s.npz")
    assert main(["convert", model, out, "--landmarks", landmarks]) == 0
    assert "maps 50 of 68 landmarks" in capsys.readouterr().out
    # The .npz keeps which points the mapping left out: info (and fit) weigh them 0 without
    # the mapping file, and a contour file defines the jaw points again.
    assert main(["info", out, "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["landmarks_defined"] == 50
    assert main(["info", out, "--contour", contour, "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["landmarks_defined"] == 66
    (tmp_path / "bad.json").write_text(
        '{"model_contour": {"right_contour": [99], "left_contour": [1]}}'
    )
    assert (
        main(["info", model, "--landmarks", landmarks, "--contour", str(tmp_path / "bad.json")])
        == 2
    )
    assert "bad.json: vertex 99 is outside" in capsys.readouterr().err
