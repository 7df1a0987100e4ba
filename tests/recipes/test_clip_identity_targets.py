"""Identity targets fitted to clips' 2D landmarks: they recover the person, skip what cannot be
fitted, are cached whole and keyed by what they depend on, and reach the frame pairs."""

import os

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from facejax import evaluation, fitting, morphable
from facejax.formats import load_model
from facejax.recipes import clip_identity_targets as cit

SIZE = 64
FRAMES = 4
# A short fit: the tests check the plumbing and that the fit beats the mean face, not its best.
FIT = fitting.FitConfig(optimizer="adam", steps=150, learning_rate=0.02)
# Exact landmarks of 4 frames: the fitted identity's RMSE is well under the truth's own distance
# from the mean face (about half on this model; benchmarks/fitting_accuracy.py).
RECOVERY_RATIO = 0.8


@pytest.fixture(scope="module")
def model():
    return morphable.to_device(load_model("synthetic:small"))


def _clips(model, count: int, seed: int = 0):
    """``count`` clips of one random person each: ``(identity [C, K], landmarks [C, T, L, 2])``."""
    identities = jax.random.normal(jax.random.key(seed), (count, model.num_identity))
    keys = jax.random.split(jax.random.key(seed + 1), (count, FRAMES))

    def frame(identity, key):
        params = morphable.random_params(model, key, image_size=SIZE, max_angles=(0.2, 0.6, 0.1))
        params = params.replace(identity=identity, expression=0.5 * params.expression)
        vertices = morphable.shape(model, params.identity, params.expression)
        screen = morphable.project(params, morphable.pose(params, vertices))
        return morphable.landmarks(model, screen)[:, :2]

    points = jax.jit(jax.vmap(jax.vmap(frame, (None, 0)), (0, 0)))(identities, keys)
    return np.asarray(identities), np.asarray(points)


@pytest.fixture(scope="module")
def clips(model):
    return _clips(model, 3)


def _fit(model, landmarks, has, **kwargs):
    return cit.fit_clip_identities(model, landmarks, has, SIZE, config=FIT, **kwargs)


def test_fitted_identities_beat_the_mean_face(model, clips):
    truth, landmarks = clips
    has = np.ones(landmarks.shape[:2], bool)
    targets = _fit(model, landmarks, has, clips_per_batch=2)  # two batches, the last padded
    assert targets.identity.shape == truth.shape and targets.identity.dtype == np.float32
    assert targets.valid.all()
    assert np.all(targets.landmark_error < 0.05 * SIZE)
    shape = jax.vmap(lambda c: morphable.shape(model, c))
    fitted = evaluation.vertex_rmse(shape(jnp.asarray(targets.identity)), shape(truth))
    mean_face = evaluation.vertex_rmse(shape(jnp.zeros_like(truth)), shape(truth))
    assert np.all(np.asarray(fitted) < RECOVERY_RATIO * np.asarray(mean_face)), (fitted, mean_face)


def test_missing_frames_are_ignored_and_unfittable_clips_invalid(model, clips):
    _, landmarks = clips
    has = np.ones(landmarks.shape[:2], bool)
    points = landmarks.copy()
    has[0, -1] = False
    points[0, -1] = 1e4  # garbage in a frame said to have none
    points[1, -1] = np.nan  # a missing frame, said to have landmarks
    has[2] = False  # no landmarks at all
    targets = _fit(model, points, has)
    alone = _fit(model, landmarks[:2, :-1], np.ones((2, FRAMES - 1), bool))
    # The first two clips fitted as if they had their first three frames only.
    np.testing.assert_allclose(targets.identity[:2], alone.identity, atol=1e-4)
    assert list(targets.valid) == [True, True, False]
    assert np.isnan(targets.landmark_error[2]) and not targets.identity[2].any()


def test_a_fit_that_misses_its_landmarks_is_not_valid(model, clips):
    _, landmarks = clips
    scrambled = landmarks.copy()
    rng = np.random.default_rng(0)
    scrambled[1] = rng.uniform(0, SIZE, size=scrambled[1].shape)  # no face explains these
    targets = _fit(model, scrambled, np.ones(landmarks.shape[:2], bool))
    assert targets.valid[0] and not targets.valid[1]
    assert targets.landmark_error[1] > 0.05 * SIZE and not targets.identity[1].any()


def test_bad_shapes_are_named(model):
    with pytest.raises(ValueError, match=r"landmarks \[C, T, L, 2\]"):
        cit.fit_clip_identities(model, np.zeros((2, 68, 2)), np.ones((2, 68), bool), SIZE)


def test_read_clip_landmarks_pads_short_clips():
    source = [  # only the two fields the fit may read: nothing in 3D
        {"landmarks": np.ones((3, 5, 2)), "has_landmarks": np.array([True, False, True])},
        {"landmarks": 2 * np.ones((2, 5, 2)), "has_landmarks": np.array([True, True])},
    ]
    landmarks, has = cit.read_clip_landmarks(source)
    assert landmarks.shape == (2, 3, 5, 2) and has.shape == (2, 3)
    assert np.all(landmarks[1, :2] == 2) and np.all(np.isnan(landmarks[1, 2]))
    assert has.tolist() == [[True, False, True], [True, True, False]]
    with pytest.raises(ValueError, match="empty"):
        cit.read_clip_landmarks([])


def test_cache_is_read_back_and_keyed_by_its_inputs(model, clips, tmp_path, monkeypatch):
    _, landmarks = clips
    source = [{"landmarks": p, "has_landmarks": np.ones(FRAMES, bool)} for p in landmarks[:2]]
    first = cit.cached_clip_identities(
        model, source, SIZE, str(tmp_path), model_name="synthetic:small", config=FIT
    )
    files = os.listdir(tmp_path)
    assert len(files) == 1 and files[0].startswith("clip_identity_targets_")

    def no_fit(*args, **kwargs):
        raise AssertionError("fitted again instead of reading the cache")

    monkeypatch.setattr(cit, "fit_clip_identities", no_fit)
    again = cit.cached_clip_identities(
        model, source, SIZE, str(tmp_path), model_name="synthetic:small", config=FIT
    )
    for a, b in zip(first, again, strict=True):
        np.testing.assert_array_equal(a, b)
    # Other landmarks, another file (the first one is kept).
    monkeypatch.undo()
    moved = [dict(clip, landmarks=clip["landmarks"] + 0.5) for clip in source]
    cit.cached_clip_identities(
        model, moved, SIZE, str(tmp_path), model_name="synthetic:small", config=FIT
    )
    assert len(os.listdir(tmp_path)) == 2 and files[0] in os.listdir(tmp_path)


def test_pairs_carry_their_clips_target():
    from facejax.data.pipeline import frame_pair_source

    clips = [
        {"frames": np.zeros((3, 4, 4, 3), np.uint8), "landmarks": np.zeros((3, 5, 2)),
         "has_landmarks": np.ones(3, bool)}
        for _ in range(2)
    ]  # fmt: skip
    targets = cit.ClipIdentities(
        np.array([[1.0, 2.0], [3.0, 4.0]], np.float32),
        np.array([True, False]),
        np.array([0.1, 9.0], np.float32),
    )
    pairs = cit.ClipTargetPairs(frame_pair_source(clips, max_gap=2, seed=0, num_pairs=4), targets)
    assert len(pairs) == 4
    for i in range(4):
        pair = pairs[i]
        clip = int(pair["clip_index"])
        np.testing.assert_array_equal(pair["fitted_identity"], targets.identity[clip])
        assert bool(pair["fitted_identity_valid"]) == bool(targets.valid[clip])
    with pytest.raises(ValueError, match="2 targets for 3 clips"):
        cit.ClipTargetPairs(frame_pair_source(clips + clips[:1], max_gap=2, seed=0), targets)


def test_true_identities_are_the_clips_truth_and_need_it():
    source = [
        {"identity_coeffs": np.array([1.0, -2.0]), "landmarks": np.zeros((3, 5, 2))},
        {"identity_coeffs": np.array([0.5, 0.25], np.float32), "landmarks": np.zeros((3, 5, 2))},
    ]
    truth = cit.true_clip_identities(source)
    np.testing.assert_array_equal(truth.identity, [[1.0, -2.0], [0.5, 0.25]])
    assert truth.identity.dtype == np.float32
    assert truth.valid.tolist() == [True, True] and truth.landmark_error.tolist() == [0.0, 0.0]
    with pytest.raises(ValueError, match="clip 1 has no 'identity_coeffs'"):
        cit.true_clip_identities([source[0], {"landmarks": np.zeros((3, 5, 2))}])
    with pytest.raises(ValueError, match="non-finite"):
        cit.true_clip_identities([{"identity_coeffs": np.array([np.nan, 0.0])}])
    with pytest.raises(ValueError, match="empty"):
        cit.true_clip_identities([])
