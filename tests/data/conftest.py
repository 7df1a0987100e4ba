"""Shared helpers for the dataset-builder tests: tiny noise images, building, reading back
(the benchmarks' layouts themselves: tests/data/layouts.py)."""

import os
import sys

import numpy as np
import pytest

from .layouts import cap_mesh as _cap_mesh
from .layouts import project_3ddfa as _project_3ddfa
from .layouts import write_corrupt as _write_corrupt
from .layouts import write_image as _write_image


def _build(builder_cls, config, manual_dir, data_dir):
    import tensorflow_datasets as tfds

    builder = builder_cls(config=config, data_dir=str(data_dir), file_format="array_record")
    builder.download_and_prepare(
        download_config=tfds.download.DownloadConfig(manual_dir=str(manual_dir))
    )
    return builder


def _read(builder, split, key):
    """All examples of a split as dicts, sorted by ``key`` (array_record order is shuffled)."""
    source = builder.as_data_source(split=split)
    examples = [source[i] for i in range(len(source))]
    return sorted(examples, key=lambda e: e[key])


def _check_camera(example, points_um, atol):
    """Stored landmarks = WeakPerspectiveCamera(camera_scale, camera_translation) applied to
    ``rotation_from_euler(pose, "3ddfa") @ X_mm``."""
    from facejax.geometry import rotation_from_euler

    rotation = np.asarray(rotation_from_euler(example["pose"], "3ddfa"), dtype=np.float64)
    camera_xyz = (points_um / 1000.0) @ rotation.T
    scale, (tx, ty) = example["camera_scale"], example["camera_translation"]
    projected = np.stack([tx + scale * camera_xyz[:, 0], ty - scale * camera_xyz[:, 1]], axis=1)
    np.testing.assert_allclose(projected, example["landmarks"], atol=atol)


def _face_cap_um(nx, ny):
    """``([V, 3]`` a face-sized cap in BFM micrometres (y up, bulging to +z), ``[F, 3]``
    triangles counter-clockwise seen from +z``)``."""
    vertices, triangles = _cap_mesh(nx, ny, width=160, height=200, top=100, curvature=200)
    return vertices * 1000.0, triangles


def _write_3ddfa_model(folder, seed=0):
    """Writes 3DDFA_V2's ``bfm_noneck_v3.pkl``, ``tri.pkl`` and
    ``param_mean_std_62d_120x120.pkl`` (real keys, shapes, dtypes, micrometres, 0-based
    ``[3, F]`` clockwise triangles, 3 flattened indices per keypoint) for a 30-vertex face.

    Returns:
      ``{"u" [3V], "w_shp" [3V, 40], "w_exp" [3V, 10], "landmark_vertices" [68],
      "shape_std" [40], "exp_std" [10]}`` float64: the 3DDFA reference quantities.
    """
    import pickle

    rng = np.random.default_rng(seed)
    os.makedirs(folder, exist_ok=True)
    vertices, ccw = _face_cap_um(6, 5)
    num = len(vertices)
    u = vertices.reshape(-1, 1).astype(np.float32)  # xyz interleaved per vertex
    w_shp = np.linalg.qr(rng.normal(size=(3 * num, 40)))[0].astype(np.float32)
    w_exp = (rng.normal(size=(3 * num, 10)) * 800.0).astype(np.float32)
    landmark_vertices = rng.integers(0, num, size=68)
    keypoints = (3 * landmark_vertices[:, None] + np.arange(3)).reshape(-1).astype(np.int64)
    with open(os.path.join(folder, "bfm_noneck_v3.pkl"), "wb") as f:
        pickle.dump({"u": u, "w_shp": w_shp, "w_exp": w_exp, "keypoints": keypoints}, f)
    with open(os.path.join(folder, "tri.pkl"), "wb") as f:
        pickle.dump(np.ascontiguousarray(ccw[:, ::-1].T).astype(np.int32), f)
    std = np.concatenate(
        [rng.uniform(1e-4, 30.0, 12), np.geomspace(5.7e5, 1.2e4, 40), np.geomspace(1.6, 0.16, 10)]
    ).astype(np.float32)
    with open(os.path.join(folder, "param_mean_std_62d_120x120.pkl"), "wb") as f:
        pickle.dump({"mean": np.zeros_like(std), "std": std}, f)
    return {
        "u": np.float64(u[:, 0]),
        "w_shp": np.float64(w_shp),
        "w_exp": np.float64(w_exp),
        "landmark_vertices": landmark_vertices,
        "shape_std": np.float64(std[12:52]),
        "exp_std": np.float64(std[52:62]),
    }


def _write_face3d_bfm(path, seed=0):
    """Writes face3d's ``BFM.mat`` (BFM 2009 + 3DDFA's expression model, one struct ``model``:
    ``shapeMU``/``shapePC [3V, 199]``/``shapeEV`` and ``expMU``/``expPC [3V, 29]``/``expEV`` in
    micrometres, 1-based ``tri [3, F]`` and ``kpt_ind [1, 68]``) for a 70-vertex face.

    Returns:
      the same reference dict as :func:`_write_3ddfa_model` (``u`` = shapeMU + expMU, all 199
      and 29 components).
    """
    import scipy.io

    rng = np.random.default_rng(seed)
    vertices, ccw = _face_cap_um(10, 7)
    num = len(vertices)
    shape_mu = vertices.reshape(-1, 1)
    exp_mu = rng.normal(size=(3 * num, 1)) * 300.0
    shape_pc = rng.normal(size=(3 * num, 199)) / np.sqrt(3 * num)
    exp_pc = rng.normal(size=(3 * num, 29)) * 800.0
    shape_ev = np.geomspace(5.7e5, 1.0e3, 199)[:, None]
    exp_ev = np.geomspace(1.6, 0.05, 29)[:, None]
    landmark_vertices = rng.integers(0, num, size=68)
    model = {
        "shapeMU": shape_mu,
        "shapePC": shape_pc,
        "shapeEV": shape_ev,
        "expMU": exp_mu,
        "expPC": exp_pc,
        "expEV": exp_ev,
        "tri": (ccw[:, ::-1].T + 1).astype(np.float64),
        "kpt_ind": (landmark_vertices[None, :] + 1).astype(np.float64),
    }
    os.makedirs(os.path.dirname(path), exist_ok=True)
    scipy.io.savemat(path, {"model": model})
    return {
        "u": (shape_mu + exp_mu)[:, 0],
        "w_shp": shape_pc,
        "w_exp": exp_pc,
        "landmark_vertices": landmark_vertices,
        "shape_std": shape_ev[:, 0],
        "exp_std": exp_ev[:, 0],
    }


def _threeddfa_landmarks(reference, shape_params, exp_params, pose_params, height):
    """float64 reference: 3DDFA's ``u + w_shp @ Shape_Para[:K] + w_exp @ Exp_Para[:K]``
    (micrometres), its 68 keypoint vertices projected as 3DDFA does (``[3, 68]``, 1-based)."""
    w_shp, w_exp = reference["w_shp"], reference["w_exp"]
    flat = (
        reference["u"]
        + w_shp @ shape_params[: w_shp.shape[1]]
        + w_exp @ exp_params[: w_exp.shape[1]]
    )
    points_um = flat.reshape(-1, 3)[reference["landmark_vertices"]]
    return _project_3ddfa(points_um, pose_params, height)


def _threeddfa_params(reference, seed, *, tail=True):
    """Shape_Para [199] / Exp_Para [29] about the size of 300W-LP's: the model's components
    drawn with its std, the rest (components a truncated model lacks) only with ``tail``."""
    rng = np.random.default_rng(seed)
    shape, expression = rng.normal(size=199) * 2e3, rng.normal(size=29) * 0.05
    if not tail:
        shape[:], expression[:] = 0.0, 0.0
    ki, ke = len(reference["shape_std"]), len(reference["exp_std"])
    shape[:ki] = rng.normal(size=ki) * reference["shape_std"]
    expression[:ke] = rng.normal(size=ke) * reference["exp_std"]
    return shape, expression


def _write_3ddfa_fit(
    path, reference, shape, expression, pose, size, *, field="pt2d", shift=0.0, seed=0
):
    """Writes a 300W-LP (``field="pt2d"``) or AFLW2000-3D (``"pt3d_68"``) ``.mat`` and a
    ``size`` x ``size`` image beside it; the landmarks are 3DDFA's projection of the parameters
    with ``reference``'s model (:func:`_threeddfa_landmarks`), moved by ``shift`` pixels."""
    import scipy.io

    points = _threeddfa_landmarks(reference, shape, expression, pose, size)
    points[:2] += shift
    data = {
        "Pose_Para": np.asarray(pose, np.float64)[None, :],
        "Shape_Para": shape[:, None],
        "Exp_Para": expression[:, None],
        "Tex_Para": np.zeros((199, 1)),
        "Illum_Para": np.zeros((1, 10)),
        "Color_Para": np.zeros((1, 7)),
        "roi": np.array([[1.0, 1.0, size, size]]),
    }
    if field == "pt2d":
        data["pt2d"] = points[:2]
    else:  # AFLW2000-3D: the 68 points with depth, and AFLW's own 21 (-1: missing)
        data["pt3d_68"] = points
        data["pt2d"] = -np.ones((2, 21))
    os.makedirs(os.path.dirname(path), exist_ok=True)
    scipy.io.savemat(path, data)
    _write_image(str(path)[:-4] + ".jpg", (size, size), seed)


class BuilderKit:
    write_image = staticmethod(_write_image)
    write_corrupt = staticmethod(_write_corrupt)
    build = staticmethod(_build)
    read = staticmethod(_read)
    project_3ddfa = staticmethod(_project_3ddfa)
    check_camera = staticmethod(_check_camera)
    write_3ddfa_model = staticmethod(_write_3ddfa_model)
    write_face3d_bfm = staticmethod(_write_face3d_bfm)
    threeddfa_landmarks = staticmethod(_threeddfa_landmarks)
    threeddfa_params = staticmethod(_threeddfa_params)
    write_3ddfa_fit = staticmethod(_write_3ddfa_fit)

    @staticmethod
    def assert_no_tensorflow():
        assert "tensorflow" not in sys.modules, "building/reading imported TensorFlow"


@pytest.fixture
def kit():
    return BuilderKit
