"""MorphableModel construction: shape checks name the field, landmark helpers, pytree layout."""

import jax
import numpy as np
import pytest

from facejax import morphable

TRIANGLES = np.array([[0, 1, 2], [0, 2, 3]])
SQUARE = np.array([[0, 0, 0], [1, 0, 0], [1, 1, 0], [0, 1, 0]], float)


def test_defaults_are_neutral():
    model = morphable.create_model(SQUARE, TRIANGLES)
    assert (model.num_identity, model.num_expression, model.num_albedo, model.num_landmarks) == (
        0,
        0,
        0,
        0,
    )
    assert model.triangles.dtype == np.int32
    np.testing.assert_allclose(model.albedo_mean, 0.6)


def test_flat_bases_are_reshaped_xyz_interleaved():
    flat = np.arange(12 * 2, dtype=float).reshape(12, 2)
    model = morphable.create_model(SQUARE.reshape(-1), TRIANGLES, identity_basis=flat)
    np.testing.assert_array_equal(model.identity_basis[1, :, 0], flat[3:6, 0])
    np.testing.assert_array_equal(model.mean_shape, SQUARE)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        (dict(identity_basis=np.zeros((5, 3, 2))), "identity_basis' must have shape"),
        (
            dict(identity_basis=np.zeros((4, 3, 2)), identity_std=np.ones(3)),
            "identity_std' must have 2",
        ),
        (dict(albedo_mean=np.zeros((3, 3))), "albedo_mean' has 3 vertices"),
        (dict(expression_basis=np.full((4, 3, 1), np.nan)), "expression_basis' contains NaN"),
        (dict(landmark_vertices=[7]), "landmark_vertices'.*out of range"),
        (dict(face_mask=np.ones(5)), "face_mask' must have 4"),
    ],
)
def test_bad_fields_are_named_with_the_source(kwargs, message):
    with pytest.raises(ValueError, match=message) as info:
        morphable.create_model(SQUARE, TRIANGLES, source="model.mat", **kwargs)
    assert str(info.value).startswith("model.mat:")


def test_one_based_triangles_are_rejected_with_a_hint():
    with pytest.raises(ValueError, match="1-based"):
        morphable.create_model(SQUARE, TRIANGLES + 1, source="x.mat")


def test_landmarks_from_vertices_put_weight_one_on_the_vertex():
    tri, bary = morphable.landmarks_from_vertices(TRIANGLES, [3, 1])
    for t, b, v in zip(tri, bary, [3, 1], strict=True):
        assert TRIANGLES[t][np.argmax(b)] == v and b.max() == 1.0


def test_index_arrays_are_int32_leaves_and_metadata_static():
    model = morphable.create_model(SQUARE, TRIANGLES, landmark_vertices=[0], name="sq")
    leaves = jax.tree_util.tree_leaves(model)
    assert any(leaf.dtype == np.int32 for leaf in leaves)
    assert "sq" not in [str(leaf) for leaf in leaves]
    assert jax.tree_util.tree_structure(model) != jax.tree_util.tree_structure(
        model.replace(name="other")
    )


def test_fingerprint_changes_with_any_array_and_not_otherwise():
    model = morphable.create_model(SQUARE, TRIANGLES, identity_basis=np.ones((4, 3, 2)))
    again = morphable.create_model(SQUARE, TRIANGLES, identity_basis=np.ones((4, 3, 2)))
    assert morphable.fingerprint(model) == morphable.fingerprint(again)
    moved = model.replace(identity_std=model.identity_std * 2)
    assert morphable.fingerprint(moved) != morphable.fingerprint(model)
    assert len(morphable.fingerprint(model)) == 16
