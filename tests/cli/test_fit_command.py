"""`facejax fit`: meshes, params.json, overlays for one person's images; bad files are reported by
name and the rest go on."""

import argparse
import json

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from PIL import Image

from facejax import cli, fitting, morphable
from facejax.cli import fit as fit_command
from facejax.examples import example_photo
from facejax.fitting import fit_files
from facejax.formats import load_model, read_obj, write_pts

# Noise-free landmarks of rendered faces (small model, tiny images): the pose comes back within
# a few degrees (yaw trades against face depth in small views), the landmarks within a pixel.
POSE_TOL_DEG = 4.0
LANDMARK_TOL_PX = 1.0
SIZES = {"front": (64, 64, 10.0), "side": (48, 80, -35.0)}  # height, width, yaw (degrees)


def run_fit(argv):
    """The command through `facejax` once it is registered, else through its own parser."""
    if "fit" in cli._COMMANDS:
        return cli.main(["fit", *argv])
    parser = argparse.ArgumentParser()
    fit_command.add_parser(parser.add_subparsers(dest="command"))
    args = parser.parse_args(["fit", *argv])
    return args.run(args)


@pytest.fixture(scope="module")
def inputs(tmp_path_factory):
    """Two images of one person with landmark files (the model's projected truth; the pixels
    are plain grey: a landmark fit does not look at them), and four bad inputs."""
    root = tmp_path_factory.mktemp("fit_inputs")
    model = morphable.to_device(load_model("synthetic:small"))
    identity = jax.random.normal(jax.random.key(4), (model.num_identity,))
    truth, good = {}, []
    for name, (height, width, yaw) in SIZES.items():
        camera = fitting.image_camera(height, width)
        params = morphable.neutral_params(model, camera=camera).replace(
            identity=identity,
            rotation=jnp.deg2rad(jnp.array([5.0, yaw, -3.0])),
            translation=jnp.array([10.0, -5.0, -1100.0]),
        )
        Image.new("RGB", (width, height), (110, 100, 90)).save(root / f"{name}.png")
        vertices = morphable.shape(model, params.identity, params.expression)
        screen = morphable.project(params, morphable.pose(params, vertices))
        points = np.asarray(morphable.landmarks(model, screen)[:, :2], np.float64)
        if name == "front":
            write_pts(root / "front.pts", points)
            good.append(f"{root}/front.png:{root}/front.pts")
        else:
            np.save(root / "side.npy", points)
            good.append(f"{root}/side.png:{root}/side.npy")
        truth[name] = (params, points)
    (root / "corrupt.png").write_bytes(b"\x89PNG\r\n\x1a\n not really a png")
    write_pts(root / "short.pts", truth["front"][1][:67])
    nan_points = truth["front"][1].copy()
    nan_points[12] = np.nan
    np.save(root / "nan.npy", nan_points)
    Image.new("RGB", (64, 64), (20, 20, 20)).save(root / "empty_wall.png")
    bad = {
        "missing.png": f"{root}/missing.png:{root}/front.pts",
        "corrupt.png": f"{root}/corrupt.png:{root}/front.pts",
        "short.pts": f"{root}/front.png:{root}/short.pts",
        "nan.npy": f"{root}/side.png:{root}/nan.npy",
        # With --detect, a photo without a landmark file: the detector finds no face in it.
        "empty_wall.png": f"{root}/empty_wall.png",
    }
    return root, model, identity, truth, good, bad


@pytest.fixture(scope="module")
def fitted(inputs, tmp_path_factory):
    root, _, _, _, good, bad = inputs
    out = tmp_path_factory.mktemp("fit_out")
    # The default optimizer (L-BFGS), 40 steps: the program of tests/fitting's L-BFGS test.
    argv = ["--model", "synthetic:small", "--out", str(out), "--steps", "40", "--detect",
            *good[:1], *bad.values(), *good[1:]]  # fmt: skip
    return out, argv


def test_bad_files_are_reported_and_the_rest_fitted(inputs, fitted, capsys, monkeypatch):
    from facejax import face_detection

    def no_face(image, **kwargs):
        raise ValueError("no face found")

    # The detector's answer on a photo without a face (the 'detect' extra need not be there).
    monkeypatch.setattr(face_detection, "detect_landmarks", no_face)
    root, _, _, _, _, bad = inputs
    out, argv = fitted
    assert run_fit(argv) == 1  # some inputs failed
    captured = capsys.readouterr()
    for name in bad:
        assert name in captured.err, name
    assert "empty_wall.png: no face found" in captured.err
    assert "expected 68 landmarks, found 67" in captured.err
    assert "NaN" in captured.err
    assert "landmark error" in captured.out
    written = sorted(p.name for p in out.iterdir())
    assert written == [
        "front.obj",
        "front_overlay.png",
        "identity.obj",
        "params.json",
        "side.obj",
        "side_overlay.png",
    ]
    summary = json.loads((out / "params.json").read_text())
    assert [entry["input"].rsplit("/", 1)[-1] for entry in summary["failed"]] == [
        item.rsplit("/", 1)[-1] for item in bad.values()
    ]


def test_outputs_parse_with_units_and_conventions(inputs, fitted):
    _, model, identity, truth, _, _ = inputs
    out, argv = fitted
    if not (out / "params.json").exists():
        run_fit(argv)
    summary = json.loads((out / "params.json").read_text())
    assert summary["units"]["angles"] == "degrees" and summary["units"]["length"] == "mm"
    assert summary["rotation_convention"] == "xyz"
    assert "Rz(roll) @ Ry(yaw) @ Rx(pitch)" in summary["rotation_convention_description"]
    assert summary["model"]["fingerprint"] == morphable.fingerprint(model)
    assert len(summary["identity"]) == model.num_identity
    assert summary["mean_landmark_error_px"] < LANDMARK_TOL_PX
    assert summary["model"]["sliding_contour_points"] == 16  # the embedded model's own contour
    for entry in summary["images"]:
        name = entry["mesh"][: -len(".obj")]
        params, _ = truth[name]
        height, width, yaw = SIZES[name]
        assert (entry["height"], entry["width"]) == (height, width)
        pose = entry["pose_degrees"]
        np.testing.assert_allclose(
            [pose["pitch"], pose["yaw"], pose["roll"]], [5.0, yaw, -3.0], atol=POSE_TOL_DEG
        )
        # Depth trades against head size (identity) in a landmark fit: within 10 %.
        np.testing.assert_allclose(entry["translation_mm"], params.translation, rtol=0.1, atol=5)
        camera = fitting.image_camera(height, width)
        assert entry["camera"]["type"] == "perspective"
        np.testing.assert_allclose(entry["camera"]["focal_px"], camera.focal, rtol=1e-6)
        np.testing.assert_allclose(
            entry["camera"]["principal_point_px"], [width / 2, height / 2], rtol=1e-6
        )
        assert len(entry["expression"]) == model.num_expression
        assert entry["landmark_error_px"] < LANDMARK_TOL_PX
        assert len(entry["landmark_errors_px"]) == 68
        # The landmarks themselves: those fitted to (the file's), and the fitted model's.
        _, points = truth[name]
        np.testing.assert_allclose(entry["given_landmarks_2d"], points, atol=1e-3)
        fitted_points = np.array(entry["landmarks_2d"])
        assert fitted_points.shape == (68, 2)
        errors = np.linalg.norm(fitted_points - points, axis=-1)
        np.testing.assert_allclose(errors, entry["landmark_errors_px"], atol=2e-3)
        vertices, triangles, _ = read_obj(out / entry["mesh"])
        assert vertices.shape == (model.num_vertices, 3)
        assert triangles.shape == (model.num_triangles, 3)
        # The posed mesh is in the camera frame: in front of the camera, about 1.1 m away.
        assert -1250 < vertices[:, 2].mean() < -950
        overlay = np.asarray(Image.open(out / entry["overlay"]))
        assert overlay.shape == (height, width, 3)
    neutral, _, _ = read_obj(out / "identity.obj")
    assert abs(neutral[:, 2].mean()) < 200  # model frame, not posed
    np.testing.assert_allclose(
        neutral, morphable.shape(model, jnp.asarray(summary["identity"])), atol=1e-3
    )
    del identity


def test_split_input_and_argument_errors(tmp_path):
    assert fit_command.split_input("a/b.png:c/d.pts", detect=False) == ("a/b.png", "c/d.pts")
    with pytest.raises(ValueError, match="expected IMG:LANDMARKS"):
        fit_command.split_input("a/b.png", detect=False)
    assert fit_command.split_input("a/b.png", detect=True) == ("a/b.png", None)
    # example:NAME is a photo that ships with facejax, with a landmark file or --detect.
    photo = str(example_photo("astronaut"))
    assert fit_command.split_input("example:astronaut", detect=True) == (photo, None)
    assert fit_command.split_input("example:astronaut:a.pts", detect=False) == (photo, "a.pts")
    with pytest.raises(ValueError, match="pass --detect"):
        fit_command.split_input("example:astronaut", detect=False)
    with pytest.raises(ValueError, match=r"no example photo 'nope'; one of \['astronaut'\]"):
        fit_command.split_input("example:nope", detect=True)
    assert fit_files.unique_stems(["x/identity.png", "y/a.png", "z/a.jpg"]) == [
        "identity_2",
        "a",
        "a_2",
    ]
    out = tmp_path / "out"
    assert run_fit(["--model", "synthetic:small", "--out", str(out), "nothing.png:x.pts"]) == 1
    assert not out.exists()  # nothing usable: nothing written
