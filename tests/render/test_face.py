"""render_face: a morphable-model face to an image, with gradients and landmark visibility."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import facejax
from facejax import lighting, morphable
from facejax.render.face import render_face

SIZE = 48
ATOL_F32 = 1e-5


@pytest.fixture(scope="module")
def model():
    return morphable.to_device(facejax.load_model("synthetic:small"))


def _params(model, yaw=0.0):
    # 1.6 m away, the whole head fits in the image.
    params = morphable.neutral_params(model, image_size=SIZE, distance=1600.0)
    return params.replace(
        rotation=jnp.array([0.0, yaw, 0.0]),
        sh_coeffs=lighting.directional(jnp.array([0.3, 0.3, 1.0]), 0.7, 0.4),
    )


@pytest.fixture(scope="module")
def render(model):
    return jax.jit(
        lambda p: render_face(model, p, SIZE, SIZE, background=jnp.array([0.0, 0.0, 1.0]))
    )


def test_face_over_background(model, render):
    out = render(_params(model))
    mask = np.asarray(out.mask) > 0
    assert 0.2 < mask.mean() < 0.9  # a head in the middle, background around it
    assert not mask[0, 0] and mask[SIZE // 2, SIZE // 2]
    np.testing.assert_array_equal(
        np.asarray(out.image)[~mask], np.broadcast_to([0, 0, 1.0], (np.sum(~mask), 3))
    )
    assert int(out.fragments.overflow_count) == 0
    assert np.all(np.isinf(np.asarray(out.depth)[~mask]))


def test_self_occluded_landmarks_are_invisible(model, render):
    frontal = render(_params(model))
    assert float(frontal.landmark_visibility.sum()) >= 60
    profile = render(_params(model, yaw=np.pi / 2))
    visible = np.asarray(profile.landmark_visibility)
    # Yaw +90 degrees turns the nose to +x (image right): the subject's right eye (36-41,
    # at -x in the model frame) comes towards the camera and the left eye (42-47) goes behind.
    assert visible[36:42].mean() > visible[42:48].mean()
    assert visible[42:48].sum() == 0


def test_gradients_reach_shape_pose_albedo_and_light(model, render):
    target = render(_params(model, yaw=0.2)).image
    base = _params(model)

    @jax.jit
    def loss(identity, rotation, albedo, sh):
        p = base.replace(identity=identity, rotation=rotation, albedo=albedo, sh_coeffs=sh)
        out = render_face(model, p, SIZE, SIZE, per_pixel_shading=True)
        return jnp.mean((out.image - target) ** 2)

    grads = jax.grad(loss, argnums=(0, 1, 2, 3))(
        base.identity, base.rotation, base.albedo, base.sh_coeffs
    )
    for name, g in zip(("identity", "rotation", "albedo", "sh"), grads, strict=True):
        assert np.all(np.isfinite(g)), name
        assert np.abs(g).max() > 0, name


def test_vmap_equals_loop(model):
    keys = jax.random.split(jax.random.key(0), 3)
    params = jax.vmap(
        lambda k: morphable.random_params(model, k, image_size=SIZE, distance=1600.0)
    )(keys)
    batched = jax.jit(jax.vmap(lambda p: render_face(model, p, SIZE, SIZE).image))(params)
    single = jax.jit(lambda p: render_face(model, p, SIZE, SIZE).image)
    for i in range(3):
        one = jax.tree.map(lambda x, i=i: x[i], params)
        np.testing.assert_allclose(batched[i], single(one), atol=ATOL_F32)
