"""The inject / re-encode / reverse cycle: pose algebra against float64 numpy, the identity map
with an exact encoder, and gradients that reach every branch through the renderer."""

import functools

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from jax.test_util import check_grads

import facejax
from facejax import morphable
from facejax import nn as fnn
from facejax.recipes import cycle_construction as cc

SIZE = 32
RTOL_F64 = 1e-10
# Rendering the same face from codes that went around the cycle in float32: the pose is
# recomposed (R_b^T R_b R_a), so vertices move by ~1e-5 px; colours agree to that.
IMAGE_ATOL_F32 = 1e-3
CODE_ATOL_F32 = 1e-5


@pytest.fixture(scope="module")
def model():
    return morphable.to_device(facejax.load_model("synthetic:small"))


def _pose(code, size=SIZE, anchor=(0.0, 0.0, 30.0), extent=120.0):
    return fnn.weak_perspective_pose(
        jnp.asarray(code), image_size=(size, size), anchor=jnp.asarray(anchor), extent=extent
    )


def _codes(model, seed, batch=2):
    rng = np.random.default_rng(seed)

    def normal(*shape, scale=0.5):
        return jnp.asarray(rng.normal(scale=scale, size=shape), jnp.float32)

    anchor, extent = fnn.face_frame(model)
    pose = fnn.weak_perspective_pose(
        normal(batch, 9, scale=0.15), image_size=(SIZE, SIZE), anchor=anchor, extent=extent
    )
    ambient = facejax.lighting.ambient(1.0)
    return fnn.FaceCodes(
        identity=normal(batch, model.num_identity),
        expression=normal(batch, model.num_expression),
        albedo=normal(batch, model.num_albedo),
        sh_coeffs=ambient[None] + normal(batch, 9, 3, scale=0.05),
        pose=pose,
        features=jnp.zeros((batch, 1)),
    )


def _assert_codes_close(got, want, atol):
    for g, w in zip(jax.tree.leaves(got), jax.tree.leaves(want), strict=True):
        np.testing.assert_allclose(g, w, atol=atol)


def test_pose_change_matches_reference(x64):
    rng = np.random.default_rng(0)
    a, b, p = (_pose(rng.normal(scale=0.4, size=(3, 9))) for _ in range(3))
    change = cc.pose_change(a, b)
    for i in range(3):
        ra, rb = np.asarray(a.rotation[i]), np.asarray(b.rotation[i])
        np.testing.assert_allclose(change.rotation[i], rb @ ra.T, rtol=RTOL_F64, atol=1e-12)
    np.testing.assert_allclose(
        change.log_scale, np.log(np.asarray(b.scale) / np.asarray(a.scale)), rtol=RTOL_F64
    )
    np.testing.assert_allclose(
        change.shift, np.asarray(b.image_translation) - np.asarray(a.image_translation)
    )
    anchor = jnp.asarray([0.0, 0.0, 30.0])
    # Applied to a, the change from a to b gives b, translation included (-R_b anchor) ...
    _assert_codes_close(cc.apply_pose_change(a, change, anchor), b, 1e-9)
    # ... and its inverse undoes it on any pose.
    moved = cc.apply_pose_change(p, change, anchor)
    back = cc.apply_pose_change(moved, cc.invert_pose_change(change), anchor)
    _assert_codes_close(back, p, 1e-9)
    # A pose moved is rotated about the anchor: the anchor's image is shifted by the change.
    points = jnp.broadcast_to(anchor, (3, 1, 3))
    image_shift = moved.project(points)[:, 0, :2] - p.project(points)[:, 0, :2]
    np.testing.assert_allclose(image_shift, change.shift, atol=1e-9)


def test_pose_change_gradients(x64):
    rng = np.random.default_rng(1)
    codes = [jnp.asarray(rng.normal(scale=0.3, size=(2, 9))) for _ in range(3)]
    anchor = jnp.asarray([1.0, -2.0, 30.0])

    def moved(code_p, code_a, code_b):
        change = cc.pose_change(_pose(code_a), _pose(code_b))
        pose = cc.apply_pose_change(_pose(code_p), cc.invert_pose_change(change), anchor)
        return pose.rotation, pose.translation, pose.scale, pose.image_translation

    check_grads(jax.jit(moved), codes, order=1, modes=("fwd", "rev"))


class Oracle:
    """An exact encoder: returns the codes the image was rendered from, and keeps the image."""

    def __init__(self, codes):
        self.codes, self.seen = codes, []

    def __call__(self, images):
        self.seen.append(images)
        return self.codes


def _frame(seed):
    return jax.random.uniform(jax.random.key(seed), (2, SIZE, SIZE, 3))


@functools.partial(jax.jit, static_argnums=0)
def _run(cycle_fn, model, encoder_codes, codes_a, codes_b, image_a):
    oracle = Oracle(encoder_codes)
    cycle = cycle_fn(oracle, model, codes_a, codes_b, image_a)
    own = cc.render_codes(model, codes_a, image_a)
    return cycle, own, oracle.seen[0]


def test_zero_change_is_the_identity_map(model):
    codes_a, image_a = _codes(model, 2), _frame(0)
    for cycle_fn in (cc.pose_cycle, cc.expression_cycle):
        # b's pose and expression are a's: nothing is injected.
        cycle, own, seen = _run(cycle_fn, model, codes_a, codes_a, codes_a, image_a)
        _assert_codes_close(cycle.injected, codes_a, CODE_ATOL_F32)
        np.testing.assert_allclose(cycle.injected_images.image, own.image, atol=IMAGE_ATOL_F32)
        np.testing.assert_array_equal(seen, cycle.injected_images.image)
        _assert_codes_close(cycle.reversed, codes_a, CODE_ATOL_F32)
        np.testing.assert_allclose(cycle.reversed_images.image, own.image, atol=IMAGE_ATOL_F32)
        np.testing.assert_allclose(cycle.reversed_images.mask, own.mask)
    # Outside the face the composite is frame a itself; inside, the face.
    outside = np.asarray(own.mask) == 0
    assert 0.2 < outside.mean() < 0.9
    np.testing.assert_allclose(np.asarray(own.image)[outside], np.asarray(image_a)[outside])


@pytest.mark.parametrize("which", ["pose", "expression"])
def test_reversal_undoes_the_injected_change(model, which):
    """An encoder that reads the injected image exactly gets a's own rendering back."""
    codes_a, codes_b, image_a = _codes(model, 3), _codes(model, 4), _frame(1)
    if which == "pose":
        cycle_fn, exact = cc.pose_cycle, codes_a.replace(pose=codes_b.pose)
    else:
        cycle_fn, exact = cc.expression_cycle, codes_a.replace(expression=codes_b.expression)
    cycle, own, _ = _run(cycle_fn, model, exact, codes_a, codes_b, image_a)
    _assert_codes_close(cycle.injected, exact, CODE_ATOL_F32)
    # The change is visible in the injected image ...
    assert float(jnp.max(jnp.abs(cycle.injected_images.image - own.image))) > 0.05
    # ... and gone after the reversal.
    _assert_codes_close(cycle.reversed, codes_a, CODE_ATOL_F32)
    np.testing.assert_allclose(cycle.reversed_images.image, own.image, atol=IMAGE_ATOL_F32)
    # An encoder that misreads the injected image (it sees b) does not get a back.
    cycle, own, _ = _run(cycle_fn, model, codes_b, codes_a, codes_b, image_a)
    assert float(jnp.mean(jnp.abs(cycle.reversed_images.image - own.image))) > 1e-2


def test_gradients_reach_every_branch_through_the_renderer(model):
    net = fnn.MultiBranchFaceModel(fnn.SmallCNN(widths=(8, 16)), branch_width=16)
    frames = jax.random.uniform(jax.random.key(5), (4, SIZE, SIZE, 3))
    variables = jax.jit(lambda x, m: net.init(jax.random.key(0), x, m, train=False))(frames, model)

    @jax.jit
    def grads(params, frames, model):
        def image_loss(params):
            def encode(images):
                return net.apply({**variables, "params": params}, images, model, train=False)

            codes = encode(frames)
            codes_a = jax.tree.map(lambda x: x[:2], codes)
            codes_b = jax.tree.map(lambda x: x[2:], codes)
            # The pose cycle (the expression cycle differs only in what it swaps), and only
            # the image rendered back: every gradient goes through the renderer.
            back = cc.pose_cycle(encode, model, codes_a, codes_b, frames[:2]).reversed_images
            return jnp.sum(back.face_mask[..., None] * jnp.abs(back.image - frames[:2]))

        return jax.grad(image_loss)(params)

    g = grads(variables["params"], frames, model)
    norms = {
        name: float(optax_global_norm(tree))
        for name, tree in {
            **fnn.branch_parameters(g),
            "backbone": g["encoder"],
        }.items()
    }
    for name, norm in norms.items():
        assert np.isfinite(norm) and norm > 0, (name, norms)


def optax_global_norm(tree):
    return jnp.sqrt(sum(jnp.sum(jnp.square(x)) for x in jax.tree.leaves(tree)))


def test_code_vector_layout(model):
    codes = _codes(model, 6, batch=3)
    vector = cc.code_vector(codes, SIZE)
    k = model.num_identity + model.num_expression + model.num_albedo
    assert vector.shape == (3, k + 27 + 9 + 1 + 2)
    np.testing.assert_allclose(
        vector[:, :k], np.concatenate([codes.identity, codes.expression, codes.albedo], axis=-1)
    )
    np.testing.assert_allclose(vector[:, -2:], codes.pose.image_translation / SIZE, rtol=1e-6)
