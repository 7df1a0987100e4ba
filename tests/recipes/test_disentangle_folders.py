"""The disentangle method on a user's identity folders, end to end through the command line:
photos + landmark files -> joint fits per person -> training examples -> train -> evaluate ->
reconstruct. The photos are rendered from ``synthetic:small``, so the fits can be checked
against the truth."""

import json
import shutil

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from facejax import evaluation, morphable
from facejax.cli import main
from facejax.formats import load_model, read_landmarks, write_pts
from facejax.recipes import datasets

from .folders import MODEL, write_identity_folders

CONFIG = "experiments/disentangle/config.py:smoke"
PEOPLE, PHOTOS = 8, 3


@pytest.fixture(scope="module")
def folders(tmp_path_factory):
    """8 people x 3 rendered photos with .pts files, plus one bad file of each kind."""
    root = tmp_path_factory.mktemp("folders")
    truth = write_identity_folders(root, people=PEOPLE, photos=PHOTOS)
    points = read_landmarks(root / "person_0" / "00.pts")
    # A corrupt photo with a good landmark file.
    (root / "person_1" / "09.png").write_bytes(b"\x89PNG not really")
    write_pts(root / "person_1" / "09.pts", points)
    # A landmark file with missing points.
    shutil.copy(root / "person_2" / "00.png", root / "person_2" / "09.png")
    write_pts(root / "person_2" / "09.pts", points[:60])
    # Landmarks in the wrong order: no face explains them, the fit fails and is dropped.
    shutil.copy(root / "person_3" / "00.png", root / "person_3" / "09.png")
    write_pts(root / "person_3" / "09.pts", points[np.random.default_rng(0).permutation(68)])
    bad = {"person_1/09.png": "unreadable", "person_2/09.png": "60 landmarks",
           "person_3/09.png": "fit failed"}  # fmt: skip
    return root, truth, bad


def _sets(folders, data_dir):
    return [
        "data.builder=facejax_fitted_targets",
        f"data.manual_dir={folders}",
        "data.config=half_test",
        f"data.data_dir={data_dir}",
        "num_steps=4",
        "optimizer.warmup_steps=2",
        "checkpoint_every=4",
        "progress=False",
        "tensorboard=False",
    ]


def test_folders_train_evaluate_reconstruct(folders, tmp_path, capsys):
    root, truth, bad = folders
    data_dir, workdir = tmp_path / "data", tmp_path / "run"
    argv = ["train", "--config", CONFIG, "--workdir", str(workdir)]
    for item in _sets(root, data_dir):
        argv += ["--set", item]
    assert main(argv) == 0

    # The dataset the run built: the recipe's model and image size, bad files named.
    builder = datasets.prepare_builder(
        "facejax_fitted_targets", "half_test", str(data_dir), model=MODEL, image_size=32
    )
    metadata = builder.info.metadata
    model = morphable.to_device(load_model(MODEL))
    assert metadata["model_fingerprint"] == morphable.fingerprint(model)
    skipped = {
        entry["path"].split(str(root) + "/")[-1]: entry["reason"]
        for split in metadata["skipped"].values()
        for entry in split["first"]
    }
    assert set(skipped) == set(bad)
    for path, reason in bad.items():
        assert reason in skipped[path], (path, skipped[path])
    examples = [
        source[i]
        for split in ("train", "test")
        for source in [builder.as_data_source(split)]
        for i in range(len(source))
    ]
    assert sorted(e["image_path"].decode() for e in examples) == sorted(truth)
    example = examples[0]
    assert example["image"].shape == (32, 32, 3) and example["image"].dtype == np.uint8
    assert example["landmark_visibility"].shape == (68,)
    np.testing.assert_allclose(  # the landmarks moved into the crop with it
        example["landmarks"],
        example["source_landmarks"] @ example["crop_transform"][:, :2].T
        + example["crop_transform"][:, 2],
        atol=1e-3,
    )
    # The test people have recognition protocols over their kept photos.
    test_keys = {e["image_path"].decode() for e in examples if e["identity_name"].decode()
                 in metadata["split_identities"]["test"]}  # fmt: skip
    pairs = metadata["verification_pairs"]["pairs"]
    assert pairs and {key for row in pairs for key in row[1:3]} <= test_keys
    assert set(metadata["identification"]["probe"]) <= test_keys

    # The fits reproduce the rendered truth: landmarks to a fraction of a pixel (48 px photos,
    # exact landmarks), identities closer to the truth than the mean face is.
    errors = np.asarray([e["landmark_error"] for e in examples])
    assert np.max(errors) < 0.5, errors
    fitted = jnp.asarray(np.stack([e["identity_coeffs"] for e in examples]))
    true = jnp.asarray(np.stack([truth[e["image_path"].decode()]["identity"] for e in examples]))
    shapes = jax.vmap(morphable.shape, in_axes=(None, 0))
    face = model.face_mask > 0.5
    fit_rmse = evaluation.vertex_rmse(shapes(model, fitted), shapes(model, true), weights=face)
    mean_rmse = evaluation.vertex_rmse(
        shapes(model, jnp.zeros_like(true)), shapes(model, true), weights=face
    )
    assert float(jnp.mean(fit_rmse)) < 0.7 * float(jnp.mean(mean_rmse))

    # Training evaluated on the held-out people; facejax evaluate reproduces it.
    metrics = json.loads((workdir / "metrics.json").read_text())["metrics"]
    assert metrics["num_test_identities"] == PEOPLE // 2
    for name in ("identity_rmse_face_mm", "shape_rmse_head_mm", "landmark_nme",
                 "verification_accuracy", "verification_auc", "rank_1"):  # fmt: skip
        assert np.isfinite(metrics[name]), name
    assert main(["evaluate", "--workdir", str(workdir)]) == 0
    again = json.loads((workdir / "metrics.json").read_text())["metrics"]
    assert again["shape_rmse_head_mm"] == pytest.approx(metrics["shape_rmse_head_mm"], rel=1e-5)

    # facejax reconstruct runs the checkpoint on a photo.
    out = tmp_path / "recon"
    photo = root / "person_0" / "00.png"
    assert main(["reconstruct", "--workdir", str(workdir), str(photo), "--out", str(out)]) == 0
    record = json.loads((out / "00.json").read_text())
    assert np.all(np.isfinite(record["landmarks_2d"]))
    assert "reconstructed 1 of 1" in capsys.readouterr().out


def test_the_synthetic_config_names_are_refused_with_the_known_ones(folders, tmp_path):
    # The experiment's data.config names a synthetic dataset's config unless told otherwise.
    root, _, _ = folders
    with pytest.raises(ValueError, match="unknown config 'tiny'; known: default, all_train"):
        datasets.prepare_builder(
            "facejax_fitted_targets", "tiny", str(tmp_path), manual_dir=str(root), model=MODEL
        )


def test_images_of_another_size_than_the_configs_are_refused_by_name(folders, tmp_path):
    # A dataset at 32 px, a network built for 48: named before any training, not as a missing
    # parameter of the network's first layer that sees the other size.
    root, _, _ = folders
    builder = datasets.prepare_builder(
        "facejax_fitted_targets", "half_test", str(tmp_path), manual_dir=str(root), model=MODEL,
        image_size=32,
    )  # fmt: skip
    datasets.check_image_size(builder, 32)
    message = r"half_test_32px_model\w+: its images are 32x32 px, the config trains at 48 \("
    with pytest.raises(ValueError, match=message):
        datasets.check_image_size(builder, 48)
