"""The multi-branch network: one branch per property on a shared backbone, codes that render."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import facejax
from facejax import morphable
from facejax import nn as fnn
from facejax.render import render_face

RTOL_F32 = 1e-5
ATOL_F32 = 1e-5
RNG = jax.random.key(0, impl="rbg")
SIZE = 32


@pytest.fixture(scope="module")
def model():
    return morphable.to_device(facejax.load_model("synthetic:small"))


@pytest.fixture(scope="module")
def net_and_variables(model):
    net = fnn.MultiBranchFaceModel(fnn.SmallCNN(widths=(8, 16)), branch_width=16)
    images = jax.random.uniform(jax.random.key(1), (3, SIZE, SIZE, 3))
    variables = jax.jit(lambda x, m: net.init(RNG, x, m, train=False))(images, model)
    return net, variables, images


def _apply(net):
    return jax.jit(lambda v, x, m: net.apply(v, x, m, train=False))


def test_one_branch_per_property(model, net_and_variables):
    net, variables, images = net_and_variables
    codes = _apply(net)(variables, images, model)
    assert codes.identity.shape == (3, model.num_identity)
    assert codes.expression.shape == (3, model.num_expression)
    assert codes.albedo.shape == (3, model.num_albedo)
    assert codes.sh_coeffs.shape == (3, 9, 3)
    assert codes.pose.rotation.shape == (3, 3, 3) and codes.pose.scale.shape == (3,)
    branches = fnn.branch_parameters(variables["params"])
    assert set(branches) == set(fnn.BRANCHES)
    # Each branch has a hidden layer of its own: no branch's parameters are another's.
    leaves = {name: jax.tree.leaves(tree) for name, tree in branches.items()}
    for name, own in leaves.items():
        assert own, name
        for other, theirs in leaves.items():
            if other != name:
                assert not any(a is b for a in own for b in theirs)
    # The backbone is shared: the only other top-level parameters are the encoder's.
    branch_keys = {"identity", "expression", "albedo", "lighting", "pose", "pose_hidden"}
    assert set(variables["params"]) - branch_keys == {"encoder"}


def test_untrained_codes_are_a_mean_face_in_ambient_light(model, net_and_variables):
    net, variables, images = net_and_variables
    codes = _apply(net)(variables, images, model)
    assert float(jnp.max(jnp.abs(codes.identity))) < 1.0
    ambient = np.asarray(facejax.lighting.ambient(1.0))
    assert np.max(np.abs(np.asarray(codes.sh_coeffs) - ambient)) < 1.0
    geodesic = jax.vmap(facejax.geometry.geodesic_distance, in_axes=(0, None))(
        codes.pose.rotation, jnp.eye(3)
    )
    assert float(jnp.max(jnp.rad2deg(geodesic))) < 10.0


def test_codes_render_with_their_pose(model, net_and_variables):
    """params() is the weak-perspective pose of facejax.nn.pose: the rendered landmarks are
    the pose's projection of the decoded face's landmarks."""
    net, variables, images = net_and_variables

    @jax.jit
    def render_and_project(variables, images, model):
        codes = net.apply(variables, images, model, train=False)
        rendering = jax.vmap(lambda p: render_face(model, p, SIZE, SIZE))(codes.params())
        shapes = jax.vmap(morphable.shape, in_axes=(None, 0, 0))(
            model, codes.identity, codes.expression
        )
        lmk3 = jax.vmap(morphable.landmarks, in_axes=(None, 0))(model, shapes)
        return rendering, codes.pose.project(lmk3)

    rendering, projected = render_and_project(variables, images, model)
    np.testing.assert_allclose(rendering.landmarks_2d[..., :2], projected[..., :2], atol=1e-3)
    assert float(jnp.mean(rendering.mask)) > 0.1  # the face is in the picture


def test_jit_and_batch_equal_one_image_at_a_time(model, net_and_variables):
    net, variables, images = net_and_variables
    apply = _apply(net)
    batched = apply(variables, images, model)
    for i in range(images.shape[0]):
        one = apply(variables, images[i : i + 1], model)
        for got, want in zip(jax.tree.leaves(batched), jax.tree.leaves(one), strict=True):
            np.testing.assert_allclose(got[i : i + 1], want, rtol=RTOL_F32, atol=ATOL_F32)


def test_linear_branches_and_bad_input(model):
    net = fnn.MultiBranchFaceModel(fnn.SmallCNN(widths=(8,)), branch_width=0)
    images = jnp.zeros((2, 16, 16, 3))
    variables = jax.jit(lambda x, m: net.init(RNG, x, m, train=False))(images, model)
    assert "pose_hidden" not in variables["params"]
    assert set(fnn.branch_parameters(variables["params"])["pose"]) == {"head"}
    with pytest.raises(ValueError, match=r"\[B, H, W, C\]"):
        jax.eval_shape(lambda v, x: net.apply(v, x, model, train=False), variables, images[0])
