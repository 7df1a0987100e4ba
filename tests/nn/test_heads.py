"""Heads, the weak-perspective pose parameterisation and the 3DMM parameter regressor."""

import functools

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import facejax
from facejax import morphable
from facejax import nn as fnn

ATOL_PX = 1e-3
RTOL_F32 = 1e-5
# XLA RngBitGenerator keys: parameter initialisation compiles several times faster than threefry.
RNG = jax.random.key(0, impl="rbg")


@pytest.fixture(scope="module")
def model():
    return morphable.to_device(facejax.load_model("synthetic:small"))


def _reference_rotation_6d(d6):
    a1, a2 = d6[:3], d6[3:]
    b1 = a1 / np.linalg.norm(a1)
    b2 = a2 - (b1 @ a2) * b1
    b2 /= np.linalg.norm(b2)
    return np.stack([b1, b2, np.cross(b1, b2)], axis=1)


def test_pose_code_decodes_as_documented():
    """float64 numpy reference of facejax.nn.pose's formulas, for random codes."""
    rng = np.random.default_rng(0)
    code = rng.normal(scale=0.3, size=(4, 9)).astype(np.float32)
    anchor, extent, height, width, fill = np.array([1.0, -30.0, 60.0]), 140.0, 40, 64, 0.6
    pose = jax.jit(
        functools.partial(
            fnn.weak_perspective_pose,
            image_size=(height, width),
            anchor=anchor,
            extent=extent,
            fill=fill,
        )
    )(code)
    points = rng.normal(scale=50.0, size=(4, 7, 3))
    projected = jax.jit(lambda p, x: p.project(x))(pose, jnp.asarray(points, jnp.float32))
    side = min(height, width)
    for b in range(4):
        c = code[b].astype(np.float64)
        rotation = _reference_rotation_6d(np.array([1, 0, 0, 0, 1, 0]) + c[:6])
        scale = fill * side / extent * np.exp(c[6])
        centre = np.array([width / 2, height / 2]) + side * c[7:9]
        np.testing.assert_allclose(pose.rotation[b], rotation, atol=1e-5)
        np.testing.assert_allclose(pose.scale[b], scale, rtol=RTOL_F32)
        camera = (points[b] - anchor) @ rotation.T
        expected = np.stack(
            [centre[0] + scale * camera[:, 0], centre[1] - scale * camera[:, 1]], axis=-1
        )
        np.testing.assert_allclose(projected[b, :, :2], expected, atol=ATOL_PX)
        np.testing.assert_allclose(projected[b, :, 2], -camera[:, 2], atol=1e-3)
    # The angles are those of the rotation, in facejax's "xyz" convention.
    np.testing.assert_allclose(
        facejax.geometry.rotation_from_euler(pose.angles), pose.rotation, atol=1e-5
    )


def test_zero_code_frames_the_mean_face(model):
    @jax.jit
    def frame(model):
        anchor, extent = fnn.face_frame(model)
        pose = fnn.weak_perspective_pose(
            jnp.zeros((1, 9)), image_size=(64, 64), anchor=anchor, extent=extent, fill=0.7
        )
        lmk = morphable.landmarks(model, model.mean_shape)
        return anchor, lmk, pose, pose.project(lmk[None])

    anchor, lmk, pose, projected = frame(model)
    lmk = np.asarray(lmk)
    np.testing.assert_allclose(anchor, (lmk.min(0) + lmk.max(0)) / 2, rtol=RTOL_F32)
    np.testing.assert_allclose(pose.rotation[0], np.eye(3), atol=1e-7)
    np.testing.assert_allclose(pose.angles[0], 0.0, atol=1e-7)
    image = np.asarray(projected)[0, :, :2]
    low, high = image.min(0), image.max(0)
    np.testing.assert_allclose((low + high) / 2, [32.0, 32.0], atol=ATOL_PX)
    np.testing.assert_allclose((high - low).max(), 0.7 * 64, rtol=RTOL_F32)
    # Upright: the brows (17-26) are above (smaller y than) the chin (8).
    assert image[17:27, 1].max() < image[8, 1]


def test_param_head_outputs_and_hashability():
    head = fnn.ParamHead({"identity": 5, "expression": 3}, hidden=(4,))
    assert head.sizes == (("identity", 5), ("expression", 3))
    hash(head)  # Flax hashes modules: a dict attribute would fail here
    features = jnp.ones((2, 6), jnp.bfloat16)
    out, variables = jax.jit(head.init_with_output)(RNG, features)
    assert {k: v.shape for k, v in out.items()} == {"identity": (2, 5), "expression": (2, 3)}
    assert all(v.dtype == jnp.float32 for v in out.values())
    assert set(variables["params"]) == {"hidden_0", "identity", "expression"}


def test_regressor_params_decode_to_its_landmarks(model):
    net = fnn.FaceParamRegressor(
        fnn.SmallCNN(widths=(4, 8)), predict_albedo=True, predict_lighting=True
    )
    images = jnp.asarray(np.random.default_rng(1).uniform(size=(2, 16, 16, 3)), jnp.float32)

    @jax.jit
    def run(images, model):
        out, _ = net.init_with_output(RNG, images, model, train=False)
        faces = jax.vmap(morphable.decode, in_axes=(None, 0))(model, out.params)
        landmarks = jax.vmap(morphable.landmarks, in_axes=(None, 0))(model, faces.vertices)
        return out, faces, out.pose.project(landmarks)

    out, faces, projected = run(images, model)
    params = out.params
    assert params.identity.shape == (2, model.num_identity)
    assert params.expression.shape == (2, model.num_expression)
    assert params.albedo.shape == (2, model.num_albedo)
    assert params.sh_coeffs.shape == (2, 9, 3) and params.camera.scale.shape == (2,)
    np.testing.assert_allclose(faces.landmarks_2d, projected, atol=ATOL_PX)
    # Untrained: near the mean face, near ambient light.
    assert np.abs(np.asarray(params.identity)).max() < 1.0
    ambient = np.asarray(facejax.lighting.ambient(1.0))
    assert np.abs(np.asarray(params.sh_coeffs) - ambient).max() < 1.0
