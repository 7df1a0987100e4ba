"""The fitted-targets dataset: identity folders with landmarks -> joint fits -> array_record,
read back without TensorFlow."""

import sys

import jax
import jax.numpy as jnp
import numpy as np
import pytest
import tensorflow_datasets as tfds
from PIL import Image

from facejax import fitting, geometry, morphable
from facejax.data.builders.fitted_targets import FittedTargets, FittedTargetsConfig

from .conftest import projected_landmarks
from .test_single import CONFIG, LANDMARK_TOL_PX, POSE_TOL_DEG

IMAGES = {"person_a": 4, "person_b": 3, "person_c": 3}
SIZE = (60, 80)  # height, width


@pytest.fixture(scope="module")
def dataset(small_model, tmp_path_factory):
    """Three persons rendered from the small model (truth known), built into a dataset."""
    manual = tmp_path_factory.mktemp("manual")
    camera = fitting.image_camera(*SIZE)
    truth = {}
    for p, (person, count) in enumerate(IMAGES.items()):
        folder = manual / person
        folder.mkdir()
        identity = jax.random.normal(jax.random.key(p), (small_model.num_identity,))
        for n in range(count):
            params = morphable.neutral_params(small_model, camera=camera).replace(
                identity=identity,
                rotation=jnp.deg2rad(jnp.array([5.0 * n - 5, 25.0 * n - 30, 2.0])),
                translation=jnp.array([0.0, 0.0, -1000.0 - 50 * n]),
            )
            points = projected_landmarks(small_model, params)
            Image.new("RGB", SIZE[::-1], (120, 110, 100)).save(folder / f"{n:04d}.png")
            np.save(folder / f"{n:04d}.npy", np.asarray(points))
            truth[f"{person}/{n:04d}.png"] = params
    # Skipped: an image without a landmark file, a landmark file with 60 points.
    Image.new("RGB", SIZE[::-1]).save(manual / "person_b" / "0010.png")
    Image.new("RGB", SIZE[::-1]).save(manual / "person_c" / "0011.png")
    np.save(manual / "person_c" / "0011.npy", np.zeros((60, 2)))
    config = FittedTargetsConfig(
        name="test",
        model="synthetic:small",
        optimizer=CONFIG.optimizer,
        steps=CONFIG.steps,
        persons_per_batch=2,
        test_fraction=0.0,
    )
    builder = FittedTargets(
        config=config, data_dir=str(tmp_path_factory.mktemp("data")), file_format="array_record"
    )
    builder.download_and_prepare(
        download_config=tfds.download.DownloadConfig(manual_dir=str(manual))
    )
    source = builder.as_data_source(split="train")
    examples = sorted((source[i] for i in range(len(source))), key=lambda e: e["image_path"])
    return builder, examples, truth


def test_targets_build_and_read_without_tensorflow(small_model, dataset):
    builder, examples, truth = dataset
    assert "tensorflow" not in sys.modules
    assert [e["image_path"].decode() for e in examples] == sorted(truth)
    metadata = builder.info.metadata
    assert metadata["identity_names"] == list(IMAGES)
    assert metadata["model_fingerprint"] == morphable.fingerprint(small_model)
    assert metadata["pose_convention"] == "xyz"
    skipped = {entry["path"].rsplit("/", 2)[-1]: entry["reason"]
               for entry in metadata["skipped"]["train"]["first"]}  # fmt: skip
    assert set(skipped) == {"0010.png", "0011.png"}
    assert "no landmark file" in skipped["0010.png"]
    assert "60 landmarks" in skipped["0011.png"]
    example = examples[0]
    assert example["identity_coeffs"].shape == (small_model.num_identity,)
    assert example["expression_coeffs"].shape == (small_model.num_expression,)
    assert example["landmarks"].shape == (68, 2) and example["pose"].shape == (3,)
    assert example["model_fingerprint"].decode() == metadata["model_fingerprint"]
    np.testing.assert_array_equal(example["image_size"], SIZE)
    # A complete training example: the face crop, the landmarks moved into it (and the fit's
    # with them), which of them the fitted face shows.
    assert example["image"].shape == (112, 112, 3)
    transform = example["crop_transform"]
    np.testing.assert_allclose(
        example["landmarks"],
        example["source_landmarks"] @ transform[:, :2].T + transform[:, 2],
        atol=1e-3,
    )
    assert np.max(np.abs(example["fitted_landmarks"] - example["landmarks"])) < 1.0
    assert example["landmark_visibility"].dtype == bool
    assert 40 <= example["landmark_visibility"].sum() <= 68
    assert "verification_pairs" not in metadata  # no test split
    np.testing.assert_allclose(example["camera_principal_point"], [40.0, 30.0])


def test_one_identity_per_person_and_truth_recovered(dataset):
    _, examples, truth = dataset
    by_person = {}
    for example in examples:
        by_person.setdefault(int(example["identity"]), []).append(example)
    assert sorted(by_person) == [0, 1, 2]  # labels: sorted folder index
    for label, person_examples in by_person.items():
        name = list(IMAGES)[label]
        assert [int(e["image_index"]) for e in person_examples] == list(range(IMAGES[name]))
        assert {int(e["num_images"]) for e in person_examples} == {IMAGES[name]}
        first = person_examples[0]["identity_coeffs"]
        for example in person_examples:
            np.testing.assert_array_equal(example["identity_coeffs"], first)
            assert example["landmark_error"] < LANDMARK_TOL_PX
            params = truth[example["image_path"].decode()]
            angle = geometry.geodesic_distance(
                geometry.rotation_from_euler(jnp.asarray(example["pose"])),
                geometry.rotation_from_euler(params.rotation),
            )
            assert np.degrees(float(angle)) < POSE_TOL_DEG
