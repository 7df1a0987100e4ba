"""facejax_synthetic_faces (tiny config): ground truth, determinism, splits, protocols, scenes."""

import sys

import jax
import jax.numpy as jnp
import numpy as np
import pytest

# Stored landmarks against a float64 numpy projection of the stored parameters: the dataset is
# rendered in float32 (measured: under 1e-5 px of rounding at 32 and 64 px).
LANDMARK_ATOL_PX = 1e-4
# A visible landmark lies on the rendered face or within this many pixels of it (contour points
# on the silhouette can fall on a background pixel centre next to it).
MASK_REACH_PX = 1
# Background pixels vary by more than this (uint8 levels, standard deviation over the image).
MIN_BACKGROUND_STD = 4.0


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    from facejax.data.builders.synthetic_faces import SyntheticFaces

    builder = SyntheticFaces(
        config="tiny", data_dir=str(tmp_path_factory.mktemp("faces")), file_format="array_record"
    )
    builder.download_and_prepare()
    return builder


def _examples(builder, split):
    source = builder.as_data_source(split=split)
    return sorted((source[i] for i in range(len(source))), key=lambda e: e["image_path"])


@pytest.fixture(scope="module")
def train(built):
    return _examples(built, "train")


@pytest.fixture(scope="module")
def test_split(built):
    return _examples(built, "test")


def _rotation_xyz(pitch, yaw, roll):
    cx, sx, cy, sy, cz, sz = (f(a) for a in (pitch, yaw, roll) for f in (np.cos, np.sin))
    rx = np.array([[1, 0, 0], [0, cx, -sx], [0, sx, cx]])
    ry = np.array([[cy, 0, sy], [0, 1, 0], [-sy, 0, cy]])
    rz = np.array([[cz, -sz, 0], [sz, cz, 0], [0, 0, 1]])
    return rz @ ry @ rx


def _reference_landmarks(model, example):
    """float64 numpy: decode, pose ("xyz"), pinhole projection, barycentric landmarks."""
    f64 = lambda x: np.asarray(x, np.float64)  # noqa: E731
    vertices = (
        f64(model.mean_shape)
        + f64(model.identity_basis) @ (f64(example["identity_coeffs"]) * f64(model.identity_std))
        + f64(model.expression_basis)
        @ (f64(example["expression_coeffs"]) * f64(model.expression_std))
    )
    camera = vertices @ _rotation_xyz(*f64(example["pose"])).T + f64(example["translation"])
    focal, centre = f64(example["camera_focal"]), f64(example["camera_principal_point"])
    depth = -camera[:, 2]
    screen = np.stack(
        [centre[0] + focal[0] * camera[:, 0] / depth, centre[1] - focal[1] * camera[:, 1] / depth],
        axis=-1,
    )
    corners = np.asarray(model.triangles)[np.asarray(model.landmark_triangles)]
    return np.einsum("lk,lkc->lc", f64(model.landmark_barycentric), screen[corners])


def test_ground_truth_decodes_to_the_rendered_landmarks(built, train):
    from facejax import load_model, morphable

    model = load_model(built.info.metadata["model"])
    fingerprint = morphable.fingerprint(model)
    assert built.info.metadata["model_fingerprint"] == fingerprint
    assert built.info.metadata["pose_convention"] == "xyz"
    decode = jax.jit(lambda p: morphable.decode(model, p).landmarks_2d[:, :2])
    hidden = 0
    for example in train:
        assert example["model_fingerprint"].decode() == fingerprint
        reference = _reference_landmarks(model, example)
        np.testing.assert_allclose(example["landmarks"], reference, atol=LANDMARK_ATOL_PX)
        params = morphable.neutral_params(model).replace(
            identity=example["identity_coeffs"],
            expression=example["expression_coeffs"],
            albedo=example["albedo_coeffs"],
            rotation=example["pose"],
            translation=example["translation"],
            sh_coeffs=example["sh_coeffs"],
        )
        params = params.replace(
            camera=params.camera.replace(
                focal=example["camera_focal"], principal_point=example["camera_principal_point"]
            )
        )
        np.testing.assert_allclose(decode(params), example["landmarks"], atol=LANDMARK_ATOL_PX)
        # Visible landmarks lie on the face mask (within MASK_REACH_PX).
        mask = np.pad(example["mask"], MASK_REACH_PX)
        reach = np.zeros_like(mask)
        for dy in range(-MASK_REACH_PX, MASK_REACH_PX + 1):
            for dx in range(-MASK_REACH_PX, MASK_REACH_PX + 1):
                reach |= np.roll(mask, (dy, dx), axis=(0, 1))
        visible = example["landmark_visibility"]
        col, row = np.floor(example["landmarks"][visible]).astype(int).T
        assert reach[row + MASK_REACH_PX, col + MASK_REACH_PX].all()
        hidden += int((~visible).sum())
        assert example["has_landmarks"] and example["mask"].any()
        np.testing.assert_array_equal(example["crop_transform"], np.eye(2, 3))
    assert hidden > 0, "turned heads hide some landmarks"


def test_identity_splits_are_disjoint(built, train, test_split):
    metadata = built.info.metadata
    train_people = {e["identity_name"].decode() for e in train}
    test_people = {e["identity_name"].decode() for e in test_split}
    assert not train_people & test_people
    assert train_people == set(metadata["split_identities"]["train"])
    assert test_people == set(metadata["split_identities"]["test"])
    assert (len(train_people), len(test_people)) == (10, 20)
    assert (len(train), len(test_split)) == (30, 60)
    for e in train + test_split:
        assert metadata["identity_names"][e["identity"]] == e["identity_name"].decode()
    # One identity keeps its coefficients in every image, and only its own.
    by_person = {}
    for e in train:
        by_person.setdefault(e["identity"], []).append(e)
    for images in by_person.values():
        for e in images[1:]:
            np.testing.assert_array_equal(e["identity_coeffs"], images[0]["identity_coeffs"])
            np.testing.assert_array_equal(e["albedo_coeffs"], images[0]["albedo_coeffs"])
            assert not np.array_equal(e["pose"], images[0]["pose"])
    first = [images[0]["identity_coeffs"] for images in by_person.values()]
    assert len({c.tobytes() for c in first}) == len(first)


def test_backgrounds_are_textured(train):
    for example in train:
        background = example["image"][~example["mask"]].astype(np.float64)
        assert background.std(axis=0).max() > MIN_BACKGROUND_STD, example["image_path"]


def test_test_split_protocols(built, test_split):
    from facejax.data.protocols import GalleryProbe, VerificationPairs

    keys = [e["image_path"] for e in test_split]
    labels = np.asarray([e["identity"] for e in test_split])
    verification = built.info.metadata["verification_pairs"]
    assert (verification["num_folds"], verification["pairs_per_fold"]) == (10, 3)
    pairs = VerificationPairs.from_records(verification["pairs"], keys)
    assert len(pairs) == 60
    for fold in range(10):
        assert pairs.same[pairs.fold == fold].sum() == 3
        assert (~pairs.same[pairs.fold == fold]).sum() == 3
    np.testing.assert_array_equal(labels[pairs.index_a] == labels[pairs.index_b], pairs.same)
    split = GalleryProbe.from_records(built.info.metadata["identification"], keys)
    np.testing.assert_array_equal(np.bincount(labels[split.gallery])[labels.min() :].max(), 1)
    assert sorted(set(labels[split.gallery])) == sorted(set(labels))
    assert len(split.gallery) + len(split.probe) == len(test_split)
    assert not set(split.gallery) & set(split.probe)


def test_same_seed_same_dataset_other_seed_another(built, train, tmp_path):
    from facejax.data.builders.synthetic_builder import derived_config
    from facejax.data.builders.synthetic_faces import SyntheticFaces

    again = SyntheticFaces(config="tiny", data_dir=str(tmp_path / "a"), file_format="array_record")
    again.download_and_prepare()
    for a, b in zip(train, _examples(again, "train"), strict=True):
        assert a.keys() == b.keys()
        for name in a:
            np.testing.assert_array_equal(a[name], b[name], err_msg=name)
    config = derived_config(SyntheticFaces, "tiny", seed=1)
    assert config.name == "tiny_seed1" and config.seed == 1
    other = SyntheticFaces(config=config, data_dir=str(tmp_path / "b"), file_format="array_record")
    other.download_and_prepare()
    for a, b in zip(train, _examples(other, "train"), strict=True):
        assert not np.array_equal(a["image"], b["image"])
        assert not np.array_equal(a["pose"], b["pose"])
    assert "tensorflow" not in sys.modules


def test_an_example_does_not_depend_on_its_batch(built):
    from facejax.data.builders.synthetic_faces import sample_faces

    config = built.builder_config
    anchor, extent = built._framing_arrays()
    identities = jnp.arange(config.batch_size, dtype=jnp.int32) % 7
    images = jnp.arange(config.batch_size, dtype=jnp.int32) // 7
    order = np.random.default_rng(0).permutation(config.batch_size)

    def sample(i, m):
        return sample_faces(
            built.model, jnp.int32(0), i, m, anchor, extent, scene=config.scene, size=32
        )

    first, shuffled = sample(identities, images), sample(identities[order], images[order])
    for a, b in zip(jax.tree.leaves(first), jax.tree.leaves(shuffled), strict=True):
        np.testing.assert_array_equal(np.asarray(a)[order], np.asarray(b))


def test_framing_puts_the_anchor_where_asked():
    from facejax import load_model, morphable
    from facejax.data import synthetic_scenes as scenes

    model = load_model("synthetic:small")
    frame = scenes.framing(model)
    size, fill, offset = 64, 0.7, jnp.asarray([0.05, -0.03])
    rotation = jnp.asarray([0.2, -1.1, 0.1])
    camera = morphable.default_camera(size)
    t = scenes.place_face(rotation, fill, offset, camera, frame.anchor, frame.extent, size)
    anchor = np.asarray(_rotation_xyz(*np.asarray(rotation, np.float64))) @ frame.anchor + t
    params = morphable.neutral_params(model, image_size=size)
    x, y, depth = np.asarray(morphable.project(params, anchor[None])[0])
    np.testing.assert_allclose([x, y], size / 2 + np.asarray(offset) * size, atol=1e-3)
    # A frontal mean face at that distance spans `fill` of the image (perspective: +-3%).
    frontal = morphable.neutral_params(model, image_size=size).replace(
        translation=scenes.place_face(
            jnp.zeros(3), fill, jnp.zeros(2), camera, frame.anchor, frame.extent, size
        )
    )
    points = np.asarray(morphable.decode(model, frontal).landmarks_2d[:, :2])
    span = (points.max(0) - points.min(0)).max() / size
    assert abs(span - fill) < 0.03 * fill, span


def test_scene_samplers_respect_their_ranges():
    from facejax import load_model
    from facejax.data import synthetic_scenes as scenes
    from facejax.data.synthetic_backgrounds import random_background

    model = load_model("synthetic:small")
    config = scenes.SceneConfig()
    keys = jax.random.split(jax.random.key(0), 256)
    expression = np.asarray(
        jax.jit(jax.vmap(lambda k: scenes.sample_expression(model, k, config)))(keys)
    )
    names = list(model.expression_names)
    for name, limit in config.limited_expressions:
        column = expression[:, names.index(name)]
        assert column.min() >= 0.0 and column.max() <= limit and column.max() > limit / 4, name
    free = [i for i, n in enumerate(names) if n not in dict(config.limited_expressions)]
    bound = config.expression_scale * config.expression_truncation
    assert np.abs(expression[:, free]).max() <= bound and expression[:, free].min() < 0
    rotation = np.rad2deg(np.asarray(jax.vmap(lambda k: scenes.sample_rotation(k, config))(keys)))
    assert np.all(np.abs(rotation) <= [config.pitch_deg, config.yaw_deg, config.roll_deg])
    assert np.abs(rotation[:, 1]).max() > 80.0  # yaw covers the full range
    backgrounds = np.asarray(jax.jit(jax.vmap(lambda k: random_background(k, 32)))(keys[:8]))
    assert backgrounds.min() >= 0.0 and backgrounds.max() <= 1.0
    assert backgrounds.reshape(8, -1, 3).std(axis=1).max(axis=1).min() > 0.02
    assert not np.array_equal(backgrounds[0], backgrounds[1])


def test_bad_options_are_refused():
    from facejax.data import synthetic_scenes as scenes
    from facejax.data.builders.synthetic_builder import derived_config
    from facejax.data.builders.synthetic_faces import SyntheticFaces, SyntheticFacesConfig

    with pytest.raises(ValueError, match="images_per_identity must be >= 2"):
        SyntheticFacesConfig(name="x", images_per_identity=1)
    with pytest.raises(ValueError, match="seed must be in"):
        SyntheticFacesConfig(name="x", seed=-1)
    with pytest.raises(ValueError, match="at least one train and one test identity"):
        SyntheticFacesConfig(name="x", num_test_identities=0)
    with pytest.raises(ValueError, match="fill_range must be"):
        scenes.SceneConfig(fill_range=(0.8, 0.6))
    with pytest.raises(ValueError, match="unknown config 'huge'"):
        derived_config(SyntheticFaces, "huge")
