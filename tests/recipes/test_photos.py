"""write_reconstructions: each photo's files, albedo as vertex colours, a non-finite prediction
skipped by name while the others are written."""

import json

import numpy as np
import pytest

from facejax.formats import load_model, read_obj
from facejax.recipes import photos

SIZE = 32
# The fake predictor's 2D landmarks: a fixed spread over the crop.
LANDMARKS = np.random.default_rng(5).uniform(6, SIZE - 6, size=(68, 2)).astype(np.float32)


def _fake_predictor(model, *, with_albedo, nan_photo=None):
    mean = np.asarray(model.mean_shape, np.float32).reshape(-1, 3)
    v = mean.shape[0]

    def predict(images):
        b = images.shape[0]
        # A weak-perspective projection of the mean face into the middle of the crop.
        screen = np.concatenate([mean[:, :2] * 0.1 + SIZE / 2, mean[:, 2:]], axis=-1)
        out = {
            "shape": np.broadcast_to(mean, (b, v, 3)).copy(),
            "identity_shape": np.broadcast_to(mean, (b, v, 3)).copy(),
            "screen_vertices": np.broadcast_to(screen, (b, v, 3)).copy(),
            "landmarks_2d": np.broadcast_to(LANDMARKS, (b, 68, 2)).copy(),
            "landmarks_3d": np.zeros((b, 68, 3), np.float32),
            "angles": np.zeros((b, 3), np.float32),
            "scale": np.full((b,), 0.1, np.float32),
            "embedding": np.arange(b * 4, dtype=np.float32).reshape(b, 4),
        }
        if with_albedo:
            out["albedo"] = np.full((b, v, 3), 0.5, np.float32)
            out["expression"] = np.zeros((b, 3), np.float32)
            out["sh_coeffs"] = np.zeros((b, 9, 3), np.float32)
        if nan_photo is not None and nan_photo < b:
            out["shape"][nan_photo, 0, 0] = np.nan
        return out

    return predict


def _crops(n):
    rng = np.random.default_rng(0)
    transform = np.array([[1.0, 0.0, 0.0], [0.0, 1.0, 0.0]], np.float32)
    return [
        (f"photo{i}.png", rng.integers(0, 255, (SIZE, SIZE, 3), dtype=np.uint8), transform)
        for i in range(n)
    ]


def test_a_non_finite_prediction_is_skipped_and_named_the_others_written(tmp_path):
    model = load_model("synthetic:small")
    predict = _fake_predictor(model, with_albedo=False, nan_photo=1)
    written = photos.write_reconstructions(predict, model, _crops(3), tmp_path, batch_size=2)
    assert written[1].stem is None
    assert "photo1.png" in written[1].error and "shape" in written[1].error
    assert not list(tmp_path.glob("photo1*"))
    for stem in (written[0].stem, written[2].stem):
        for suffix in (".obj", "_identity.obj", ".json", "_embedding.npy", "_overlay.png"):
            assert (tmp_path / f"{stem.name}{suffix}").is_file()
        vertices, _, colors = read_obj(f"{stem}.obj")
        assert np.all(np.isfinite(vertices)) and colors is None
    # Photo 2 is row 0 of the second batch of 2 (the fake predictor numbers rows per batch).
    np.testing.assert_array_equal(np.load(tmp_path / "photo2_embedding.npy"), [0, 1, 2, 3])


def test_predicted_albedo_colours_the_meshes_and_lighting_reaches_the_json(tmp_path):
    model = load_model("synthetic:small")
    predict = _fake_predictor(model, with_albedo=True)
    (result,) = photos.write_reconstructions(predict, model, _crops(1), tmp_path, batch_size=1)
    _, _, colors = read_obj(f"{result.stem}.obj")
    np.testing.assert_allclose(colors, 0.5, atol=1e-3)
    record = json.loads((tmp_path / "photo0.json").read_text())
    assert np.asarray(record["sh_coeffs"]).shape == (9, 3)
    assert len(record["expression_coeffs"]) == 3


def test_landmark_agreement_scores_the_prediction_against_detected_landmarks(tmp_path):
    model = load_model("synthetic:small")
    predict = _fake_predictor(model, with_albedo=False)  # landmarks at LANDMARKS
    rng = np.random.default_rng(1)
    near = LANDMARKS + rng.normal(scale=0.1, size=(68, 2)).astype(np.float32)
    spread = rng.uniform(4, SIZE - 4, size=(68, 2)).astype(np.float32)
    results = photos.write_reconstructions(
        predict, model, _crops(3), tmp_path, batch_size=4, reference_landmarks=[near, spread, None]
    )
    agree, disagree = (r.scores["landmark_agreement_nme"] for r in results[:2])
    # Against the reference: the mean landmark distance over the reference box's size.
    box = np.sqrt(np.prod(spread.max(0) - spread.min(0)))
    expected = np.mean(np.linalg.norm(spread - LANDMARKS, axis=-1)) / box
    np.testing.assert_allclose(disagree, expected, rtol=1e-4)
    assert agree < 0.2 * disagree
    assert "landmark_agreement_nme" not in results[2].scores
    record = json.loads((tmp_path / "photo1.json").read_text())
    assert record["landmark_agreement_nme"] == pytest.approx(disagree)


def test_flip_consistency_is_zero_for_a_mirror_consistent_reading_and_not_otherwise(tmp_path):
    from facejax.data.pipeline.flip import mirror_points

    model = load_model("synthetic:small")
    symmetric = (LANDMARKS + mirror_points(LANDMARKS, SIZE)) / 2  # its own mirror image
    base = _fake_predictor(model, with_albedo=False)

    def predict(images):
        # Reads a left-right symmetric image as a symmetric face, anything else as LANDMARKS:
        # the second reading is not the same on the mirrored image.
        out = base(images)
        for k, image in enumerate(images):
            if np.array_equal(image, image[:, ::-1]):
                out["landmarks_2d"][k] = symmetric
        return out

    crops = _crops(2)
    crops[0] = (
        crops[0][0],
        np.concatenate([crops[0][1][:, :16], crops[0][1][:, :16][:, ::-1]], 1),
        crops[0][2],
    )
    results = photos.write_reconstructions(predict, model, crops, tmp_path, batch_size=2)
    assert results[0].scores["flip_consistency_nme"] == pytest.approx(0.0, abs=1e-6)
    box = np.sqrt(np.prod(LANDMARKS.max(0) - LANDMARKS.min(0)))
    expected = np.mean(np.linalg.norm(LANDMARKS - mirror_points(LANDMARKS, SIZE), axis=-1)) / box
    assert results[1].scores["flip_consistency_nme"] == pytest.approx(expected, rel=1e-4)
