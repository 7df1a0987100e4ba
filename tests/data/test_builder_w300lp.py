"""300W-LP builder on a fixture in the real layout: folders, names, .mat keys, shapes, 1-based
coordinates; the stored camera must reproduce the stored landmarks in the crop."""

import os

import numpy as np
import pytest
import scipy.io

from facejax.data.builders.w300lp import SUBSETS, W300LP, W300LPConfig, identity_of
from facejax.data.manual_files import MissingFilesError

SIZE = 40  # source image side
CROP = 32
# float32 storage of crops and cameras; landmarks are tens of pixels.
ATOL_PIXELS = 2e-3
ANGLES = np.array([0.1, 0.3, 0.2])


def _face_points(seed):
    """68 random 3D points in BFM micrometres, face-sized."""
    rng = np.random.default_rng(seed)
    return rng.uniform(-5e4, 5e4, size=(68, 3))


def _pose_params(seed):
    rng = np.random.default_rng(seed + 100)
    t = rng.uniform(18, 22, size=3)
    return np.concatenate([ANGLES, t, [2e-4]])


def _write_fit(path, kit, seed, nan=False):
    pose = _pose_params(seed)
    pt2d = kit.project_3ddfa(_face_points(seed), pose, SIZE)[:2]
    if nan:
        pt2d[:, 5] = np.nan
    scipy.io.savemat(
        path,
        {
            "Pose_Para": pose[None, :],
            "Shape_Para": np.full((199, 1), seed, dtype=np.float64),
            "Exp_Para": np.full((29, 1), 0.5, dtype=np.float64),
            "Tex_Para": np.zeros((199, 1)),
            "Illum_Para": np.zeros((1, 10)),
            "Color_Para": np.zeros((1, 7)),
            "roi": np.array([[1.0, 1.0, SIZE, SIZE]]),
            "pt2d": pt2d,
        },
    )


# (subset, name, seed, problem)
ITEMS = [
    ("AFW", "AFW_134212_1_0", 1, None),
    ("AFW", "AFW_134212_1_1", 2, None),
    ("AFW_Flip", "AFW_134212_1_0", 3, None),
    ("HELEN", "HELEN_100032540_1_0", 4, None),
    ("IBUG", "IBUG_image_003_1_0", 5, "corrupt"),
    ("LFPW", "LFPW_image_test_0001_0", 6, "nan"),
    ("LFPW", "LFPW_image_test_0002_0", 7, None),
]


def _write_dataset(root, kit):
    for subset in SUBSETS:
        os.makedirs(root / subset, exist_ok=True)
    for subset, name, seed, problem in ITEMS:
        image = root / subset / f"{name}.jpg"
        if problem == "corrupt":
            kit.write_corrupt(image)
        else:
            kit.write_image(image, (SIZE, SIZE), seed)
        _write_fit(root / subset / f"{name}.mat", kit, seed, nan=problem == "nan")
    os.makedirs(root / "landmarks" / "AFW")
    pts = kit.project_3ddfa(_face_points(1), _pose_params(1), SIZE)[:2].T
    scipy.io.savemat(
        root / "landmarks" / "AFW" / "AFW_134212_1_0_pts.mat", {"pts_2d": pts, "pts_3d": pts + 1}
    )


def test_identity_is_the_name_without_the_pose_index():
    assert identity_of("AFW_134212_1_0") == "AFW_134212_1"
    assert identity_of("LFPW_image_test_0001_12") == "LFPW_image_test_0001"
    assert identity_of("odd") == "odd"


def test_builds_box_crops_with_fits_identities_and_skips(tmp_path, kit):
    manual = tmp_path / "manual"
    _write_dataset(manual / "300W_LP", kit)  # manual_dir containing the archive's folder
    config = W300LPConfig(name="test_box", crop_size=CROP)
    builder = kit.build(W300LP, config, manual, tmp_path / "data")
    examples = kit.read(builder, "train", "image_path")
    kit.assert_no_tensorflow()
    assert "identity_coeffs" not in examples[0]  # no model: the stored fit only

    paths = [e["image_path"].decode() for e in examples]
    assert paths == sorted(f"{s}/{n}.jpg" for s, n, _, problem in ITEMS if problem is None)
    skipped = builder.info.metadata["skipped"]["train"]
    assert skipped["count"] == 2
    assert {os.path.basename(e["path"]) for e in skipped["first"]} == {
        "IBUG_image_003_1_0.jpg",
        "LFPW_image_test_0001_0.jpg",
    }

    names = builder.info.metadata["identity_names"]
    assert names == sorted({identity_of(n) for _, n, _, _ in ITEMS})
    by_path = dict(zip(paths, examples, strict=True))
    flip, original = by_path["AFW_Flip/AFW_134212_1_0.jpg"], by_path["AFW/AFW_134212_1_0.jpg"]
    assert flip["identity"] == original["identity"] == names.index("AFW_134212_1")
    assert flip["identity_name"] == b"AFW_134212_1"

    seeds = {f"{s}/{n}.jpg": seed for s, n, seed, _ in ITEMS}
    for path, example in by_path.items():
        assert example["image"].shape == (CROP, CROP, 3) and example["image"].dtype == np.uint8
        assert example["has_landmarks"]
        # Box crops do not rotate: the file's angles are stored as they are.
        np.testing.assert_array_equal(example["pose"], ANGLES.astype(np.float32))
        np.testing.assert_array_equal(
            example["pose_params"], _pose_params(seeds[path]).astype(np.float32)
        )
        assert example["shape_params"].shape == (199,) and example["shape_params"][0] == seeds[path]
        assert example["expression_params"].shape == (29,)
        kit.check_camera(example, _face_points(seeds[path]), ATOL_PIXELS)
        # The crop holds the landmarks' box, enlarged: every landmark lies inside.
        assert np.all((example["landmarks"] > 0) & (example["landmarks"] < CROP))

    # landmarks/ only for non-flipped images; pts_3d moved with the crop like pt2d.
    assert original["has_landmarks_3d"] and not flip["has_landmarks_3d"]
    scale = np.sqrt(np.linalg.det(original["crop_transform"][:, :2]))
    np.testing.assert_allclose(
        original["landmarks_3d"], original["landmarks"] + scale, atol=ATOL_PIXELS
    )
    np.testing.assert_array_equal(flip["landmarks_3d"], 0)


def test_template_crops_rotate_pose_and_camera_consistently(tmp_path, kit):
    manual = tmp_path / "manual"
    _write_dataset(manual, kit)  # manual_dir is the 300W_LP folder itself
    config = W300LPConfig(
        name="test_template", crop_size=CROP, alignment="template", subsets=("AFW",)
    )
    builder = kit.build(W300LP, config, manual, tmp_path / "data")
    examples = kit.read(builder, "train", "image_path")
    assert len(examples) == 2
    for example, seed in zip(examples, (1, 2), strict=True):
        assert not np.allclose(example["pose"], ANGLES, atol=1e-3)  # the crop turned the face
        kit.check_camera(example, _face_points(seed), ATOL_PIXELS)


def test_missing_folders_are_listed_before_anything_is_built(tmp_path, kit):
    manual = tmp_path / "manual"
    kit.write_image(manual / "AFW" / "AFW_1_1_0.jpg")
    config = W300LPConfig(name="test_missing", crop_size=CROP)
    with pytest.raises(MissingFilesError) as info:
        kit.build(W300LP, config, manual, tmp_path / "data")
    message = str(info.value)
    for folder in ("AFW_Flip", "HELEN", "LFPW_Flip", "landmarks"):
        assert str(manual / folder) in message
    assert str(manual / "AFW") + os.sep not in message
    assert len(info.value.missing) == 8
    assert not (tmp_path / "data" / "facejax_300w_lp" / "test_missing" / "1.0.0").exists()


# (subset, name, yaw): profile views of one source face, its flip, another face.
VIEWS = [
    ("AFW", "AFW_134212_1_0", 0.1),
    ("AFW", "AFW_134212_1_1", 0.6),
    ("AFW_Flip", "AFW_134212_1_0", -0.1),
    ("HELEN", "HELEN_100032540_1_0", 1.2),
]
BIG = 120  # source images of the model fixture: a face ~64 px wide


def _write_model_dataset(root, kit, reference):
    for subset in SUBSETS:
        os.makedirs(root / subset, exist_ok=True)
    os.makedirs(root / "landmarks", exist_ok=True)
    fits = {}
    for seed, (subset, name, yaw) in enumerate(VIEWS):
        shape, expression = kit.threeddfa_params(reference, seed, tail=True)
        pose = np.array([0.1, yaw, -0.05, 61.0, 57.0, 3.0, 4e-4])
        kit.write_3ddfa_fit(root / subset / f"{name}.mat", reference, shape, expression, pose, BIG)
        fits[f"{subset}/{name}.jpg"] = shape, expression
    return fits


def test_config_for_a_model_adds_its_coefficients(tmp_path, kit):
    from facejax.formats import load_model
    from facejax.morphable import fingerprint
    from facejax.recipes.datasets import check_model, prepare_builder

    reference = kit.write_3ddfa_model(tmp_path / "configs")
    model = str(tmp_path / "configs" / "bfm_noneck_v3.pkl")
    fits = _write_model_dataset(tmp_path / "manual" / "300W_LP", kit, reference)
    config = W300LP.config_for("default", model=model, image_size=CROP)
    expected_fingerprint = fingerprint(load_model(model))
    assert config.name == f"default_{CROP}px_model{expected_fingerprint[:8]}"
    assert config.alignment == "box" and config.crop_size == CROP and config.model == model
    # The recipe's path: prepare_builder finds config_for and checks the recorded fingerprint.
    builder = prepare_builder(
        W300LP.name,
        "default",
        str(tmp_path / "data"),
        manual_dir=str(tmp_path / "manual"),
        model=model,
        image_size=CROP,
    )
    assert builder.builder_config.name == config.name
    examples = kit.read(builder, "train", "image_path")
    kit.assert_no_tensorflow()

    metadata = builder.info.metadata
    assert metadata["model_fingerprint"] == expected_fingerprint
    assert metadata["split_identities"]["train"] == metadata["identity_names"]
    assert metadata["decoded_landmark_error"]["max"] < ATOL_PIXELS
    by_path = {e["image_path"].decode(): e for e in examples}
    assert set(by_path) == set(fits)
    for path, example in by_path.items():
        shape, expression = fits[path]
        # Standard deviations of the model: Shape_Para / 3DDFA_V2's training std, first 40.
        np.testing.assert_allclose(
            example["identity_coeffs"], shape[:40] / reference["shape_std"], rtol=1e-6
        )
        np.testing.assert_allclose(
            example["expression_coeffs"], expression[:10] / reference["exp_std"], rtol=1e-6
        )
        np.testing.assert_array_equal(example["shape_params"], shape.astype(np.float32))
        assert example["landmark_visibility"].shape == (68,)
        assert example["landmark_visibility"].all()
        assert example["decoded_landmark_error"] < ATOL_PIXELS
        assert example["model_fingerprint"].decode() == expected_fingerprint
    # Positives: the views of one source face and its flip share the identity.
    views = [by_path[p]["identity"] for p in list(fits)[:3]]
    assert views[0] == views[1] == views[2] != by_path[list(fits)[3]]["identity"]

    check_model(builder, model)  # what prepare_builder checks
    with pytest.raises(ValueError, match="its coefficients are of the model"):
        check_model(builder, "synthetic:small")


def test_config_for_refuses_a_model_that_is_not_3ddfas(tmp_path):
    with pytest.raises(ValueError, match=r"'synthetic-small' is not a BFM 2009 / 3DDFA model"):
        W300LP.config_for("default", model="synthetic:small")
    with pytest.raises(ValueError, match=r"unknown config 'full'; known: default, aligned"):
        W300LP.config_for("full")
    assert W300LP.config_for("default").model is None  # the stored fit only, as before
