"""Single-image landmark fitting: recovers synthetic truth, ignores zero-weight points, vmap ==
loop, and names bad input."""

import dataclasses

import jax
import numpy as np
import pytest

from facejax import fitting, geometry

from .conftest import IMAGE_SIZE, projected_landmarks, random_faces

# Noise-free targets: the fit lands within a fraction of a pixel and a few degrees (the priors
# hold the coefficients back a little, and in one view yaw trades against face depth).
LANDMARK_TOL_PX = 0.5
POSE_TOL_DEG = 3.0
# The fitted landmarks are the decoded model's landmarks of the returned params (float32).
DECODE_ATOL_PX = 1e-2
# vmap and a loop of unbatched fits run the same arithmetic in a different layout (float32):
# different summation orders, amplified over 150 Adam steps. Translations are ~1000 mm; on an
# AMD EPYC host the two layouts differed by 1.8e-5 of that (0.018 mm), so 1e-4 (0.1 mm) is the
# float32 bound, far below any real disagreement of the two code paths.
VMAP_ATOL = 1e-3
VMAP_RTOL = 1e-4
# Adam compiles in about half the time of L-BFGS: most tests use it.
CONFIG = fitting.FitConfig(optimizer="adam", steps=150, learning_rate=0.02)
# The command line's default optimizer; tests/cli/test_fit_command.py runs this same program
# (same config, one person with two images), so it compiles once per test session.
LBFGS_CONFIG = fitting.FitConfig(optimizer="lbfgs", steps=40)
SIZE = (IMAGE_SIZE, IMAGE_SIZE)


def geodesic_deg(params, truth):
    r_fit = geometry.rotation_from_euler(params.rotation)
    r_true = geometry.rotation_from_euler(truth.rotation)
    return np.degrees(np.asarray(geometry.geodesic_distance(r_fit, r_true)))


@pytest.fixture(scope="module")
def faces(small_model):
    return random_faces(small_model, seed=0, count=4)


@pytest.fixture(scope="module")
def batch_fit(small_model, faces):
    _, landmarks = faces
    return fitting.fit_landmarks(small_model, landmarks, image_size=SIZE, config=CONFIG)


def test_fit_recovers_synthetic_truth(small_model, batch_fit, faces):
    truth, _ = faces
    assert batch_fit.params.identity.shape == truth.identity.shape
    assert batch_fit.iterations == CONFIG.steps
    assert batch_fit.loss_history.shape == (4, CONFIG.steps)
    assert batch_fit.params.rotation_convention == "xyz"
    assert np.all(np.asarray(batch_fit.landmark_error) < LANDMARK_TOL_PX)
    assert np.all(geodesic_deg(batch_fit.params, truth) < POSE_TOL_DEG)
    assert np.all(np.asarray(batch_fit.loss) < np.asarray(batch_fit.loss_history[:, 0]))
    decoded = jax.vmap(projected_landmarks, (None, 0))(small_model, batch_fit.params)
    np.testing.assert_allclose(decoded, batch_fit.landmarks_2d, atol=DECODE_ATOL_PX)


def test_vmap_equals_loop(small_model, batch_fit, faces):
    _, landmarks = faces
    for i in (0, 3):
        one = fitting.fit_landmarks(small_model, landmarks[i], image_size=SIZE, config=CONFIG)
        assert one.params.identity.shape == (small_model.num_identity,)
        for name in ("identity", "expression", "rotation", "translation"):
            np.testing.assert_allclose(
                getattr(one.params, name),
                getattr(batch_fit.params, name)[i],
                atol=VMAP_ATOL,
                rtol=VMAP_RTOL,
            )


def test_zero_weight_and_nan_landmarks_are_ignored(small_model, faces):
    _, landmarks = faces
    weights = np.ones(landmarks.shape[:-1])
    hidden = np.array([0, 5, 16, 30, 48])
    weights[:, hidden] = 0.0
    moved = landmarks.copy()
    moved[:, hidden] += 500.0  # far off: would wreck the fit if it counted
    missing = landmarks.copy()
    missing[:, hidden] = np.nan
    # One batch of three variants, so the three fits share one compile.
    stacked = np.concatenate([landmarks[:2], moved[:2]])
    fit = fitting.fit_landmarks(
        small_model, stacked, np.concatenate([weights[:2]] * 2), image_size=SIZE, config=CONFIG
    )
    np.testing.assert_allclose(fit.params.identity[:2], fit.params.identity[2:], atol=1e-6)
    np.testing.assert_allclose(fit.params.rotation[:2], fit.params.rotation[2:], atol=1e-6)
    nan_fit = fitting.fit_landmarks(
        small_model, np.concatenate([missing[:2], moved[:2]]), image_size=SIZE, config=CONFIG
    )
    np.testing.assert_allclose(nan_fit.params.identity[:2], fit.params.identity[:2], atol=1e-6)
    assert np.all(np.isfinite(np.asarray(nan_fit.loss)))
    # NaN rows are weight 0 only for the NaN faces; the others used every point.
    assert np.all(np.asarray(nan_fit.landmark_error[:2]) < LANDMARK_TOL_PX)


def test_lbfgs_recovers_truth(small_model):
    identity = jax.random.normal(jax.random.key(9), (small_model.num_identity,))
    truth, landmarks = random_faces(small_model, seed=9, count=2, identity=identity)
    fit = fitting.fit_joint(small_model, landmarks, image_size=SIZE, config=LBFGS_CONFIG)
    assert np.all(np.asarray(fit.landmark_error) < LANDMARK_TOL_PX)
    assert np.all(geodesic_deg(fit.params, truth) < POSE_TOL_DEG)
    assert float(fit.loss) < float(fit.loss_history[0])


def test_weak_perspective_recovers_truth(small_model):
    truth, _ = random_faces(small_model, seed=5, count=2, max_angles=(0.2, 0.9, 0.1))
    camera = geometry.WeakPerspectiveCamera(
        scale=np.float32(0.45), translation=np.array([60.0, 70.0], np.float32)
    )
    truth = truth.replace(
        camera=jax.tree_util.tree_map(lambda a: np.stack([a, a]), camera),
    )
    landmarks = jax.vmap(projected_landmarks, (None, 0))(small_model, truth)
    config = dataclasses.replace(CONFIG, camera="weak_perspective")
    fit = fitting.fit_landmarks(small_model, landmarks, config=config)
    assert isinstance(fit.params.camera, geometry.WeakPerspectiveCamera)
    assert np.all(np.asarray(fit.landmark_error) < LANDMARK_TOL_PX)
    assert np.all(geodesic_deg(fit.params, truth) < POSE_TOL_DEG)
    np.testing.assert_allclose(fit.params.camera.scale, 0.45, rtol=0.05)


def test_bad_input_is_named(small_model, faces):
    _, landmarks = faces
    with pytest.raises(ValueError, match="67 target landmarks.*defines 68"):
        fitting.fit_landmarks(small_model, landmarks[0, :67], image_size=SIZE)
    with pytest.raises(ValueError, match="image_size"):
        fitting.fit_landmarks(small_model, landmarks[0])
    with pytest.raises(ValueError, match="weights must have shape"):
        fitting.fit_landmarks(small_model, landmarks[0], np.ones(60), image_size=SIZE)
    bare = small_model.replace(
        landmark_triangles=np.zeros((0,), np.int32),
        landmark_barycentric=np.zeros((0, 3), np.float32),
    )
    with pytest.raises(ValueError, match="defines no landmarks"):
        fitting.fit_landmarks(bare, landmarks[0], image_size=SIZE)
    # Any landmark count works when the targets follow it (FLAME has 51): counts must match.
    fewer = small_model.replace(
        landmark_triangles=small_model.landmark_triangles[17:],
        landmark_barycentric=small_model.landmark_barycentric[17:],
    )
    with pytest.raises(ValueError, match="68 target landmarks.*defines 51"):
        fitting.fit_landmarks(fewer, landmarks[0], image_size=SIZE)
    assert fitting.landmark_model(fewer).mean.shape == (51, 3, 3)
    with pytest.raises(ValueError, match="optimizer must be one of"):
        fitting.FitConfig(optimizer="sgd")
