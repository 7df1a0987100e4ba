"""Faults and bad input at the command line (issue 14): one line naming the file or option and
a non-zero exit, never a traceback, a NaN mesh, a blank picture or a lost file with exit 0.

Kept fast: nothing here trains or fits for real; the fit and the predictor are replaced where
only the command line's handling is under test.
"""

import json
import struct
import zlib
from io import BytesIO

import jax
import numpy as np
import pytest
import scipy.io
from PIL import Image

from facejax import cli, fitting, morphable
from facejax.cli.options import angle_degrees
from facejax.formats import load_model, write_pts

MODEL = "synthetic:small"


def _run(argv, capsys):
    """``(exit code, stderr)``; a refusal by the argument parser is exit code 2 as well."""
    try:
        code = cli.main(argv)
    except SystemExit as exit:
        code = exit.code
    return code, capsys.readouterr().err


def _one_error_line(err, *needles):
    lines = [line for line in err.splitlines() if "error" in line]
    assert lines and "Traceback" not in err, err
    for needle in needles:
        assert needle in lines[-1], (needle, err)


def _bomb_png(path, side=20_000):
    """A 70-byte PNG whose header declares ``side x side`` pixels."""
    buffer = BytesIO()
    Image.new("RGB", (1, 1)).save(buffer, format="PNG")
    data = bytearray(buffer.getvalue())
    data[16:24] = struct.pack(">II", side, side)
    data[29:33] = struct.pack(">I", zlib.crc32(bytes(data[12:29])))
    path.write_bytes(bytes(data))
    return path


@pytest.fixture(scope="module")
def person(tmp_path_factory):
    """A 64x64 photo (plain grey: a landmark fit does not look at pixels) with the model's
    projected landmarks, a 1x1 photo, and a decompression bomb."""
    root = tmp_path_factory.mktemp("person")
    model = morphable.to_device(load_model(MODEL))
    params = morphable.neutral_params(model, camera=fitting.image_camera(64, 64))
    screen = morphable.project(
        params, morphable.pose(params, morphable.shape(model, params.identity))
    )
    write_pts(root / "face.pts", np.asarray(morphable.landmarks(model, screen)[:, :2]))
    Image.new("RGB", (64, 64), (110, 100, 90)).save(root / "face.png")
    Image.new("RGB", (1, 1), (110, 100, 90)).save(root / "tiny.png")
    _bomb_png(root / "bomb.png")
    return root


@pytest.fixture
def no_fit(monkeypatch):
    """The fit and its writer replaced by recorders: the command line's handling only."""
    calls = []

    def fit_person(model, landmarks, sizes, **kwargs):
        calls.append(("fit", len(sizes), kwargs["focal"]))
        return "result"

    def write_fit(out, model, result, good, **kwargs):
        calls.append(("write", [item.path.rsplit("/", 1)[-1] for item in good]))
        return {"images": [], "mean_landmark_error_px": 0.0}

    monkeypatch.setattr(fitting, "fit_person", fit_person)
    monkeypatch.setattr(fitting, "write_fit", write_fit)
    return calls


# ------------------------------------------------------------------ fit


@pytest.mark.parametrize("focal", ["0", "nan", "-5", "inf", "abc"])
def test_fit_refuses_a_focal_out_of_range(person, tmp_path, capsys, no_fit, focal):
    argv = ["fit", "--model", MODEL, "--out", str(tmp_path / "out"), "--focal", focal,
            f"{person}/face.png:{person}/face.pts"]  # fmt: skip
    code, err = _run(argv, capsys)
    assert code == 2 and no_fit == []
    assert "--focal" in err and ("(0, 1e+06]" in err or "must be a number" in err)


def test_fit_goes_on_past_a_decompression_bomb_and_far_away_landmarks(
    person, tmp_path, capsys, no_fit
):
    good = f"{person}/face.png:{person}/face.pts"
    argv = ["fit", "--model", MODEL, "--out", str(tmp_path / "out"), "--focal", "300",
            f"{person}/bomb.png:{person}/face.pts", good,
            f"{person}/tiny.png:{person}/face.pts"]  # fmt: skip
    code, err = _run(argv, capsys)
    assert code == 1  # two inputs failed, the good one was fitted
    assert no_fit == [("fit", 1, 300.0), ("write", ["face.png"])]
    assert "skipped" in err and "bomb.png" in err and "pixels" in err
    assert "landmarks lie outside the 1x1 image" in err


def test_landmarks_mostly_outside_the_image_are_refused():
    points = np.array([[10.0, 10.0], [50.0, 60.0], [-3.0, 70.0], [200.0, 5.0]])
    fitting.person.check_landmarks_in_image("ok.pts", points, 64, 64)  # one far, one near
    with pytest.raises(ValueError, match="far.pts: 3 of 4 landmarks lie outside the 64x64"):
        fitting.person.check_landmarks_in_image("far.pts", points * 4, 64, 64)


def test_fit_refuses_a_used_or_file_out_before_fitting(person, tmp_path, capsys, no_fit):
    good = f"{person}/face.png:{person}/face.pts"
    used = tmp_path / "used"
    used.mkdir()
    (used / "params.json").write_text("{}")
    code, err = _run(["fit", "--model", MODEL, "--out", str(used), good], capsys)
    assert code == 2 and no_fit == []
    _one_error_line(err, "--out", "not empty", "--force")
    assert (used / "params.json").read_text() == "{}"
    (tmp_path / "a_file").write_text("mine")
    code, err = _run(["fit", "--model", MODEL, "--out", str(tmp_path / "a_file"), good], capsys)
    assert code == 2 and no_fit == []
    _one_error_line(err, "a_file", "existing file")
    assert _run(["fit", "--model", MODEL, "--out", str(used), "--force", good], capsys)[0] == 0
    assert [call[0] for call in no_fit] == ["fit", "write"]


def test_a_fit_with_nan_is_not_written(tmp_path):
    model = morphable.to_device(load_model(MODEL))
    params = morphable.neutral_params(model, camera=fitting.image_camera(8, 8))
    params = jax.tree_util.tree_map(lambda a: np.asarray(a)[None], params)
    params = params.replace(translation=np.full((1, 3), np.nan, np.float32))
    result = fitting.FitResult(
        params=params,
        loss=np.zeros(()),
        landmark_error=np.full((1,), np.nan),
        landmarks_2d=np.full((1, model.num_landmarks, 2), np.nan),
        loss_history=np.zeros((1,)),
        iterations=1,
    )
    item = fitting.PersonImage("x.png", "x.pts", np.zeros((8, 8, 3), np.uint8), np.zeros((68, 2)))
    with pytest.raises(FloatingPointError, match="NaN or infinite values in .*translation"):
        fitting.write_fit(tmp_path / "out", model, result, [item], config=fitting.FitConfig())
    assert not (tmp_path / "out").exists()


# ------------------------------------------------------------------ render


@pytest.mark.parametrize(
    "option, value, needle",
    [
        ("--yaw", "nan", "--yaw"),
        ("--yaw", "inf", "--yaw"),
        ("--pitch", "-inf", "--pitch"),
        ("--expression", "jaw_open=nan", "[-5, 5]"),
        ("--expression", "jaw_open=1e9", "[-5, 5]"),
        ("--turntable", "100000", "between 1 and 180"),
        ("--turntable", "0", "between 1 and 180"),
    ],
)
def test_render_refuses_numbers_out_of_range(tmp_path, capsys, option, value, needle):
    out = tmp_path / "face.png"
    code, err = _run(["render", MODEL, "--out", str(out), "--size", "16", option, value], capsys)
    assert code == 2 and not out.exists()
    _one_error_line(err, needle)


def test_render_bounds_the_turntable_strip(tmp_path, capsys):
    out = tmp_path / "strip.png"
    argv = ["render", MODEL, "--out", str(out), "--size", "4096", "--turntable", "180"]
    code, err = _run(argv, capsys)
    assert code == 2 and not out.exists()
    _one_error_line(err, "--turntable", "16384")


def test_a_yaw_is_reduced_modulo_360(tmp_path, capsys):
    assert angle_degrees("1e9") == -80.0 and angle_degrees("540") in (180.0, -180.0)
    assert angle_degrees("-0") == 0.0
    pictures = []
    for yaw in ("1e9", "-80"):
        out = tmp_path / f"yaw{yaw}.png"
        assert cli.main(["render", MODEL, "--out", str(out), "--size", "16", "--yaw", yaw]) == 0
        pictures.append(np.asarray(Image.open(out)))
    np.testing.assert_array_equal(pictures[0], pictures[1])


def test_a_blank_or_nan_picture_is_not_written(tmp_path, capsys, monkeypatch):
    from facejax.render import face as face_render

    real = face_render.render_face

    def broken(*args, **kwargs):
        rendering = real(*args, **kwargs)
        return rendering.replace(image=rendering.image * np.nan, mask=rendering.mask * 0)

    monkeypatch.setattr(face_render, "render_face", broken)
    out = tmp_path / "face.png"
    code, err = _run(["render", MODEL, "--out", str(out), "--size", "16"], capsys)
    assert code == 2 and not out.exists()
    _one_error_line(err, "face.png", "not in the picture", "nothing written")


# ------------------------------------------------------------------ reconstruct


class _FakeRecipe:
    """A recipe whose predictor is a fixed face: the command line's handling only."""

    def __init__(self, model):
        self.model = model

    def load_predictor(self, config, workdir):
        return "predict", self.model


@pytest.fixture
def fake_run(tmp_path, monkeypatch):
    import facejax.recipes
    from facejax.recipes import photos

    workdir = tmp_path / "run"
    workdir.mkdir()
    (workdir / "config.json").write_text(json.dumps({"recipe": "fake", "data": {"image_size": 32}}))
    monkeypatch.setattr(facejax.recipes, "get_recipe", lambda name: _FakeRecipe(None))
    written = []

    def write_reconstructions(predict, model3d, crops, out, **kwargs):
        written.extend(name.name for name, _, _ in crops)
        return [photos.PhotoResult(out / name.stem, None, {}) for name, _, _ in crops]

    monkeypatch.setattr(photos, "write_reconstructions", write_reconstructions)
    return workdir, written


def test_reconstruct_skips_flat_and_bomb_photos_and_reports_contrast(
    fake_run, person, tmp_path, capsys
):
    workdir, written = fake_run
    rng = np.random.default_rng(0)
    Image.fromarray(rng.integers(0, 255, (40, 40, 3), dtype=np.uint8)).save(tmp_path / "real.png")
    Image.new("RGB", (40, 40), (128, 128, 128)).save(tmp_path / "grey.png")
    out = tmp_path / "out"
    argv = ["reconstruct", "--workdir", str(workdir), str(tmp_path / "grey.png"),
            str(person / "bomb.png"), str(tmp_path / "real.png"), "--out", str(out)]  # fmt: skip
    code, err = _run(argv, capsys)
    assert code == 1 and written == ["real.png"]
    assert "grey.png: flat image" in err and "bomb.png" in err
    summary = json.loads((out / "reconstruct.json").read_text())
    assert [r["image"].rsplit("/", 1)[-1] for r in summary["results"]] == ["real.png"]
    assert 0.05 < summary["results"][0]["contrast"] < 0.5  # random pixels, smoothed by the crop
    assert len(summary["failed"]) == 2


def test_reconstruct_refuses_a_used_out(fake_run, tmp_path, capsys):
    workdir, written = fake_run
    Image.new("RGB", (8, 8), (1, 2, 3)).save(tmp_path / "p.png")
    used = tmp_path / "used"
    used.mkdir()
    (used / "p.obj").write_text("earlier")
    argv = ["reconstruct", "--workdir", str(workdir), str(tmp_path / "p.png"), "--out", str(used)]
    code, err = _run(argv, capsys)
    assert code == 2 and written == []
    _one_error_line(err, "--out", "not empty", "--force")
    assert (used / "p.obj").read_text() == "earlier"


# ------------------------------------------------------------------ train, info, convert


def test_train_option_errors_are_one_line(tmp_path, capsys):
    config = "experiments/disentangle/config.py:smoke"
    argv = ["train", "--config", config, "--workdir", str(tmp_path / "run")]
    code, err = _run([*argv, "--set", "num_steps=abc"], capsys)
    assert code == 2
    _one_error_line(err, "num_steps", "must be an integer", "'abc'")
    (tmp_path / "file").write_text("")
    code, err = _run(["train", "--config", config, "--workdir", str(tmp_path / "file")], capsys)
    assert code == 2
    _one_error_line(err, "--workdir", "existing file")


def test_empty_npz_and_truncated_mat_are_unreadable(tmp_path, capsys):
    (tmp_path / "empty.npz").write_bytes(b"")
    code, err = _run(["info", str(tmp_path / "empty.npz")], capsys)
    assert code == 2
    _one_error_line(err, "empty.npz", "not a facejax .npz model file")
    # A BFM-like .mat whose first variable is not the one that tells the layout, cut at 1000 B.
    scipy.io.savemat(tmp_path / "full.mat", {"segbin": np.ones((3000, 1)), "shapeMU": np.ones(9)})
    (tmp_path / "cut.mat").write_bytes((tmp_path / "full.mat").read_bytes()[:1000])
    code, err = _run(["info", str(tmp_path / "cut.mat")], capsys)
    assert code == 2
    _one_error_line(err, "cut.mat", "unreadable", "truncated")
    assert "no known layout" not in err


def test_messages_name_command_line_options(tmp_path, capsys):
    (tmp_path / "model.xyz").write_bytes(b"x")
    code, err = _run(["info", str(tmp_path / "model.xyz")], capsys)
    assert code == 2
    _one_error_line(err, "model.xyz", "--format")
    assert "format=" not in err
    code, err = _run(["info", str(tmp_path / "model.xyz"), "--format", "nope"], capsys)
    _one_error_line(err, "'nope'", "--format")
    (tmp_path / "points.txt").write_text("1 2 3")
    out = str(tmp_path / "out.npz")
    code, err = _run(["convert", MODEL, out, "--landmarks", str(tmp_path / "points.txt")], capsys)
    assert code == 2
    _one_error_line(err, "reader takes no --landmarks")
    assert "landmarks=" not in err


def test_a_write_error_is_one_line_naming_the_file(tmp_path, capsys, monkeypatch):
    from facejax.formats import atomic_files

    def full_disk(fd):
        raise OSError(28, "No space left on device")  # as write() raises it: no file name

    monkeypatch.setattr(atomic_files.os, "fsync", full_disk)
    code, err = _run(["convert", MODEL, str(tmp_path / "model.npz")], capsys)
    assert code == 2
    _one_error_line(err, "No space left on device", "model.npz")
    assert not (tmp_path / "model.npz").exists()
