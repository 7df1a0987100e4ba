"""The single-change pairs behind the leakage measures, on the tiny synthetic clips."""

import jax
import numpy as np
import pytest

from facejax import morphable, render
from facejax.formats import load_model
from facejax.recipes import clip_evaluation, cycle_leakage, datasets

# The clips' landmarks are the same projection of the same parameters; float32 round-off only.
LANDMARK_ATOL_PX = 1e-2


@pytest.fixture(scope="module")
def clips(tmp_path_factory):
    builder = datasets.prepare_builder(
        "facejax_synthetic_clips", "tiny", str(tmp_path_factory.mktemp("datasets"))
    )
    names = cycle_leakage.TRUTH_FEATURES + ("frames", "landmarks")
    data = datasets.read_split(builder.as_data_source("test"), names)
    num_clips, num_frames = data["frames"].shape[:2]
    per_frame = clip_evaluation.frames_of_clips(data)
    return per_frame, num_clips, num_frames


def test_truth_params_reproduce_the_stored_landmarks(clips):
    data, _, _ = clips
    model = morphable.to_device(load_model("synthetic:small"))
    params = cycle_leakage.truth_params(data, 32)
    landmarks = jax.jit(jax.vmap(lambda p: render.render_face(model, p, 32, 32).landmarks_2d))(
        params
    )
    np.testing.assert_allclose(landmarks[..., :2], data["landmarks"], atol=LANDMARK_ATOL_PX)


def test_single_change_pairs_change_one_property(clips):
    data, num_clips, num_frames = clips
    partner = cycle_leakage.clip_partners(num_clips, num_frames)
    # Half a clip away, in the same clip, never the frame itself.
    assert np.all(partner // num_frames == np.arange(len(partner)) // num_frames)
    assert np.all(partner != np.arange(len(partner)))
    params = cycle_leakage.truth_params(data, 32)
    pairs = cycle_leakage.single_change_pairs(params, partner)
    pose, expression = pairs["pose"], pairs["expression"]
    np.testing.assert_array_equal(pose.rotation, params.rotation[partner])
    np.testing.assert_array_equal(pose.translation, params.translation[partner])
    np.testing.assert_array_equal(pose.expression, params.expression)
    np.testing.assert_array_equal(expression.expression, params.expression[partner])
    np.testing.assert_array_equal(expression.rotation, params.rotation)
    for changed in (pose, expression):
        np.testing.assert_array_equal(changed.identity, params.identity)
        np.testing.assert_array_equal(changed.sh_coeffs, params.sh_coeffs)
    # The clips do move between the frames paired.
    assert np.min(np.abs(params.rotation[partner] - params.rotation).sum(-1)) > 0


def test_a_predictor_blind_to_a_property_shows_no_response(clips):
    """A predictor that reads only the pose (its expression output is constant) shows no
    expression leakage and no expression response, but a pose response."""
    data, num_clips, num_frames = clips
    model = morphable.to_device(load_model("synthetic:small"))
    partner = cycle_leakage.clip_partners(num_clips, num_frames)

    def predict(images):
        # A turn about the vertical axis read from where the image's brightness sits.
        mass = images.astype(np.float32).mean(-1)
        x = (mass * np.arange(images.shape[2])[None, None, :]).sum((1, 2)) / mass.sum((1, 2))
        angle = (x - images.shape[2] / 2) / images.shape[2]
        rotation = np.zeros((len(images), 3, 3), np.float32)
        rotation[:, 0, 0] = rotation[:, 2, 2] = np.cos(angle)
        rotation[:, 0, 2], rotation[:, 2, 0] = np.sin(angle), -np.sin(angle)
        rotation[:, 1, 1] = 1.0
        return {"expression": np.zeros((len(images), 10), np.float32), "rotation": rotation}

    metrics = cycle_leakage.leakage_metrics(
        predict, model, data, data["frames"], partner, batch_size=8
    )
    assert metrics["leakage_expression_under_pose"] == 0.0
    assert metrics["response_expression_under_expression"] == 0.0
    assert metrics["response_pose_deg_under_pose"] > 0.1
    assert metrics["truth_pose_change_deg"] > 1.0 and metrics["truth_expression_change"] > 0.1
    assert metrics["num_leakage_pairs"] == num_clips * num_frames


def test_expression_visibility_displacement_on_hand_made_landmarks():
    """experiments/cycle/expression_visibility.py: a similarity of the landmarks moves them
    but leaves nothing after the best in-plane similarity; a local change is kept."""
    import importlib.util
    from pathlib import Path

    path = Path(__file__).parents[2] / "experiments/cycle/expression_visibility.py"
    spec = importlib.util.spec_from_file_location("expression_visibility", path)
    script = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(script)

    rng = np.random.default_rng(0)
    base = rng.uniform(10, 50, size=(3, 68, 2))
    angle = 0.1
    rotation = np.array([[np.cos(angle), -np.sin(angle)], [np.sin(angle), np.cos(angle)]])
    moved = 1.1 * base @ rotation.T + np.array([2.0, -1.0])
    expected = np.mean(np.sqrt(np.mean(np.sum((moved - base) ** 2, -1), -1)))
    out = script.displacement_px(moved, base)
    assert out["rms_px"] == pytest.approx(expected, rel=1e-5)
    assert out["rms_px_after_similarity"] == pytest.approx(0.0, abs=1e-2)
    # One landmark moved by 6.8 px in every face: RMS 6.8 / sqrt(68) = 0.82 px raw; the
    # similarity absorbs a little of it.
    local = base.copy()
    local[:, 30, 0] += 6.8
    out = script.displacement_px(local, base)
    assert out["rms_px"] == pytest.approx(6.8 / np.sqrt(68), rel=1e-5)
    assert 0.7 < out["rms_px_after_similarity"] < out["rms_px"]
