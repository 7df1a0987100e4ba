"""Targets fitted to clips' 2D landmarks (a clip's identity, each frame's expression and pose):
they recover the person and the frames, skip what cannot be fitted, are cached whole and keyed by
what they depend on, and reach the frame pairs."""

import os

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from facejax import evaluation, fitting, morphable
from facejax.formats import load_model
from facejax.recipes import clip_fit_targets as cit

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
    """``count`` clips of one random person each: ``(identity [C, K], landmarks [C, T, L, 2],
    expression [C, T, E], angles [C, T, 3])``."""
    identities = jax.random.normal(jax.random.key(seed), (count, model.num_identity))
    keys = jax.random.split(jax.random.key(seed + 1), (count, FRAMES))

    def frame(identity, key):
        params = morphable.random_params(model, key, image_size=SIZE, max_angles=(0.2, 0.6, 0.1))
        params = params.replace(identity=identity, expression=0.5 * params.expression)
        vertices = morphable.shape(model, params.identity, params.expression)
        screen = morphable.project(params, morphable.pose(params, vertices))
        return morphable.landmarks(model, screen)[:, :2], params.expression, params.rotation

    points, expression, angles = jax.jit(jax.vmap(jax.vmap(frame, (None, 0)), (0, 0)))(
        identities, keys
    )
    return tuple(np.asarray(x) for x in (identities, points, expression, angles))


@pytest.fixture(scope="module")
def clips(model):
    return _clips(model, 3)


def _fit(model, landmarks, has, **kwargs):
    return cit.fit_clip_targets(model, landmarks, has, SIZE, config=FIT, **kwargs)


def test_fitted_targets_beat_the_mean_face_a_neutral_face_and_a_frontal_pose(model, clips):
    truth, landmarks, expression, angles = clips
    has = np.ones(landmarks.shape[:2], bool)
    targets = _fit(model, landmarks, has, clips_per_batch=2)  # two batches, the last padded
    assert targets.identity.shape == truth.shape and targets.identity.dtype == np.float32
    assert targets.expression.shape == expression.shape and targets.angles.shape == angles.shape
    assert targets.valid.all() and targets.frame_valid.all()
    assert np.all(targets.landmark_error < 0.05 * SIZE)
    shape = jax.vmap(lambda c: morphable.shape(model, c))
    fitted = evaluation.vertex_rmse(shape(jnp.asarray(targets.identity)), shape(truth))
    mean_face = evaluation.vertex_rmse(shape(jnp.zeros_like(truth)), shape(truth))
    assert np.all(np.asarray(fitted) < RECOVERY_RATIO * np.asarray(mean_face)), (fitted, mean_face)
    # Each frame's expression (its vertex offsets) and rotation, against the neutral face and
    # the frontal pose, over all frames of the clips.
    offset = jax.vmap(jax.vmap(lambda c: morphable.expression_offset(model, c)))
    true_offset = offset(jnp.asarray(expression))
    fitted_mm = float(jnp.sqrt(jnp.mean(jnp.square(offset(targets.expression) - true_offset))))
    neutral_mm = float(jnp.sqrt(jnp.mean(jnp.square(true_offset))))
    assert fitted_mm < RECOVERY_RATIO * neutral_mm, (fitted_mm, neutral_mm)
    pose_error = np.abs(np.rad2deg(targets.angles - angles)).mean()
    frontal_error = np.abs(np.rad2deg(angles)).mean()
    assert pose_error < 0.5 * frontal_error, (pose_error, frontal_error)


def test_missing_frames_are_ignored_and_unfittable_clips_invalid(model, clips):
    _, landmarks, _, _ = clips
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
    np.testing.assert_allclose(targets.expression[:2, :-1], alone.expression, atol=1e-4)
    np.testing.assert_allclose(targets.angles[:2, :-1], alone.angles, atol=1e-4)
    assert list(targets.valid) == [True, True, False]
    assert np.isnan(targets.landmark_error[2]) and not targets.identity[2].any()
    # A frame without landmarks, and every frame of an invalid clip, has no target.
    assert targets.frame_valid.tolist() == [[True] * 3 + [False]] * 2 + [[False] * 4]
    assert not targets.expression[~targets.frame_valid].any()
    assert not targets.angles[~targets.frame_valid].any()


def test_a_fit_that_misses_its_landmarks_is_not_valid(model, clips):
    _, landmarks, _, _ = clips
    scrambled = landmarks.copy()
    rng = np.random.default_rng(0)
    scrambled[1] = rng.uniform(0, SIZE, size=scrambled[1].shape)  # no face explains these
    targets = _fit(model, scrambled, np.ones(landmarks.shape[:2], bool))
    assert targets.valid[0] and not targets.valid[1]
    assert targets.landmark_error[1] > 0.05 * SIZE and not targets.identity[1].any()
    assert targets.frame_valid[0].all() and not targets.frame_valid[1].any()


def test_bad_shapes_are_named(model):
    with pytest.raises(ValueError, match=r"landmarks \[C, T, L, 2\]"):
        cit.fit_clip_targets(model, np.zeros((2, 68, 2)), np.ones((2, 68), bool), SIZE)


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
    _, landmarks, _, _ = clips
    source = [{"landmarks": p, "has_landmarks": np.ones(FRAMES, bool)} for p in landmarks[:2]]
    first = cit.cached_clip_targets(
        model, source, SIZE, str(tmp_path), model_name="synthetic:small", config=FIT
    )
    files = os.listdir(tmp_path)
    assert len(files) == 1 and files[0].startswith("clip_fit_targets_")

    def no_fit(*args, **kwargs):
        raise AssertionError("fitted again instead of reading the cache")

    monkeypatch.setattr(cit, "fit_clip_targets", no_fit)
    again = cit.cached_clip_targets(
        model, source, SIZE, str(tmp_path), model_name="synthetic:small", config=FIT
    )
    for a, b in zip(first, again, strict=True):
        np.testing.assert_array_equal(a, b)
    # Other landmarks, another file (the first one is kept).
    monkeypatch.undo()
    moved = [dict(clip, landmarks=clip["landmarks"] + 0.5) for clip in source]
    cit.cached_clip_targets(
        model, moved, SIZE, str(tmp_path), model_name="synthetic:small", config=FIT
    )
    assert len(os.listdir(tmp_path)) == 2 and files[0] in os.listdir(tmp_path)


def test_pairs_carry_their_clips_and_frames_targets():
    from facejax.data.pipeline import frame_pair_source

    clips = [
        {"frames": np.zeros((3, 4, 4, 3), np.uint8), "landmarks": np.zeros((3, 5, 2)),
         "has_landmarks": np.ones(3, bool)}
        for _ in range(2)
    ]  # fmt: skip
    expression = np.arange(2 * 3 * 2, dtype=np.float32).reshape(2, 3, 2)
    targets = cit.ClipTargets(
        identity=np.array([[1.0, 2.0], [3.0, 4.0]], np.float32),
        valid=np.array([True, False]),
        landmark_error=np.array([0.1, 9.0], np.float32),
        expression=expression,
        angles=np.repeat(expression[..., :1], 3, axis=-1) / 10,
        frame_valid=np.array([[True, False, True], [False, False, False]]),
    )
    pairs = cit.ClipTargetPairs(frame_pair_source(clips, max_gap=2, seed=0, num_pairs=8), targets)
    assert len(pairs) == 8
    for i in range(8):
        pair = pairs[i]
        clip = int(pair["clip_index"])
        np.testing.assert_array_equal(pair["fitted_identity"], targets.identity[clip])
        assert bool(pair["fitted_identity_valid"]) == bool(targets.valid[clip])
        for side in ("a", "b"):
            t = int(pair[f"position_{side}"])
            np.testing.assert_array_equal(pair[f"fitted_expression_{side}"], expression[clip, t])
            np.testing.assert_array_equal(pair[f"fitted_angles_{side}"], targets.angles[clip, t])
            assert bool(pair[f"fitted_frame_valid_{side}"]) == targets.frame_valid[clip, t]
        assert set(cit.FEATURES) <= set(pair)
    with pytest.raises(ValueError, match="2 targets for 3 clips"):
        cit.ClipTargetPairs(frame_pair_source(clips + clips[:1], max_gap=2, seed=0), targets)
    # Targets of fewer frames than the clips have are named, not read out of range.
    short = targets._replace(frame_valid=targets.frame_valid[:, :1])
    pairs = cit.ClipTargetPairs(frame_pair_source(clips, max_gap=1, seed=0, num_pairs=8), short)
    with pytest.raises(ValueError, match="has no target"):
        [pairs[i] for i in range(len(pairs))]


def test_true_targets_are_the_clips_truth_and_need_it():
    def clip(identity, frames):
        return {
            "identity_coeffs": np.asarray(identity),
            "expression_coeffs": np.full((frames, 2), frames, np.float32),
            "pose": np.full((frames, 3), 0.1 * frames),
            "landmarks": np.zeros((frames, 5, 2)),
        }

    source = [clip([1.0, -2.0], 3), clip(np.array([0.5, 0.25], np.float32), 2)]
    truth = cit.true_clip_targets(source)
    np.testing.assert_array_equal(truth.identity, [[1.0, -2.0], [0.5, 0.25]])
    assert truth.identity.dtype == np.float32 and truth.expression.dtype == np.float32
    assert truth.valid.tolist() == [True, True] and truth.landmark_error.tolist() == [0.0, 0.0]
    # The shorter clip is padded with a frame that is not valid.
    assert truth.frame_valid.tolist() == [[True, True, True], [True, True, False]]
    np.testing.assert_array_equal(truth.expression[1], [[2, 2], [2, 2], [0, 0]])
    np.testing.assert_allclose(truth.angles[0], np.full((3, 3), 0.3), rtol=1e-6)
    missing = {k: v for k, v in source[1].items() if k != "pose"}
    with pytest.raises(ValueError, match="clip 1 has no 'pose'"):
        cit.true_clip_targets([source[0], missing])
    with pytest.raises(ValueError, match="clip 0 has no 'identity_coeffs'"):
        cit.true_clip_targets([{"landmarks": np.zeros((3, 5, 2))}])
    with pytest.raises(ValueError, match="non-finite"):
        cit.true_clip_targets([clip([np.nan, 0.0], 2)])
    with pytest.raises(ValueError, match="empty"):
        cit.true_clip_targets([])
