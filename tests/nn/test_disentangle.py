"""The disentangled model: decoders from the 3DMM, composite shape, pose, classifier, ablation."""

import functools

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import facejax
import facejax.losses
from facejax import morphable
from facejax import nn as fnn

ATOL_MM = 1e-3  # float32 decoder vs float32 einsum of ~100 mm faces
ATOL_PX = 1e-3
NUM_CLASSES = 5
IMAGE = 16
# XLA RngBitGenerator keys: parameter initialisation compiles several times faster than threefry.
RNG = jax.random.key(0, impl="rbg")


@pytest.fixture(scope="module")
def model():
    return morphable.to_device(facejax.load_model("synthetic:small"))


def _net(model, **kwargs):
    options = dict(
        identity_dim=model.num_identity, residual_dim=model.num_expression, num_classes=NUM_CLASSES
    )
    options.update(kwargs)
    return fnn.DisentangledFaceModel(fnn.SmallCNN(widths=(4, 8)), **options)


def _images(batch=3, seed=0):
    rng = np.random.default_rng(seed)
    return jnp.asarray(rng.uniform(size=(batch, IMAGE, IMAGE, 3)).astype(np.float32))


@functools.partial(jax.jit, static_argnames="net")
def _init(net, images, model):
    return net.init(RNG, images, model, train=False)


@functools.partial(jax.jit, static_argnames="net")
def _apply(net, variables, images, model):
    return net.apply(variables, images, model, train=False)


@functools.partial(jax.jit, static_argnames="net")
def _decode(net, identity, residual, model):
    """Creates only the decoders' parameters (not the encoder's) and decodes: one compile."""
    out, variables = net.init_with_output(RNG, identity, residual, model, method="decode")
    return out, variables["params"]


def _coefficients(model, batch=3, seed=1):
    rng = np.random.default_rng(seed)
    identity = rng.normal(size=(batch, model.num_identity)).astype(np.float32)
    expression = rng.normal(size=(batch, model.num_expression)).astype(np.float32)
    return jnp.asarray(identity), jnp.asarray(expression)


def test_linear_decoders_from_the_model_reproduce_its_shapes(model):
    identity, expression = _coefficients(model)
    (shape, identity_shape, identity_offset), _ = _decode(_net(model), identity, expression, model)
    expected = jax.jit(jax.vmap(morphable.shape, in_axes=(None, 0, 0)))(model, identity, expression)
    neutral = jax.jit(jax.vmap(morphable.shape, in_axes=(None, 0)))(model, identity)
    np.testing.assert_allclose(shape, expected, atol=ATOL_MM)
    np.testing.assert_allclose(identity_shape, neutral, atol=ATOL_MM)
    np.testing.assert_allclose(identity_offset, neutral - model.mean_shape[None], atol=ATOL_MM)
    # Offsets of a few standard deviations are tens of millimetres: the check is not vacuous.
    assert np.abs(np.asarray(shape - model.mean_shape[None])).max() > 20.0


def test_wider_latents_pad_the_basis_with_inert_units(model):
    net = _net(model, identity_dim=model.num_identity + 3, residual_dim=model.num_expression - 2)
    identity, expression = _coefficients(model)
    padded = jnp.concatenate([identity, jnp.ones((3, 3))], axis=-1)
    (shape, _, _), _ = _decode(net, padded, expression[:, :-2], model)
    truncated = expression.at[:, -2:].set(0.0)
    expected = jax.jit(jax.vmap(morphable.shape, in_axes=(None, 0, 0)))(model, identity, truncated)
    np.testing.assert_allclose(shape, expected, atol=ATOL_MM)


def test_basis_decoders_are_the_model_itself_and_have_no_parameters(model):
    identity, expression = _coefficients(model)
    (shape, identity_shape, offset), params = _decode(
        _net(model, decoder="basis"), identity, expression, model
    )
    expected = jax.jit(jax.vmap(morphable.shape, in_axes=(None, 0, 0)))(model, identity, expression)
    neutral = jax.jit(jax.vmap(morphable.shape, in_axes=(None, 0)))(model, identity)
    np.testing.assert_allclose(shape, expected, atol=ATOL_MM)
    np.testing.assert_allclose(identity_shape, neutral, atol=ATOL_MM)
    np.testing.assert_allclose(offset, neutral - model.mean_shape[None], atol=ATOL_MM)
    # Nothing to train, nothing to drift (the classifier is created in setup, as always).
    assert "identity_decoder" not in params and "residual_decoder" not in params
    # Entangled: identity units first, then the residual ones, as the linear decoders read them.
    z = jnp.concatenate([identity, expression], axis=-1)
    (shape_e, id_shape_e, _), _ = _decode(_net(model, decoder="basis", entangled=True), z, z, model)
    np.testing.assert_allclose(shape_e, expected, atol=ATOL_MM)
    np.testing.assert_allclose(id_shape_e, neutral, atol=ATOL_MM)
    with pytest.raises(ValueError, match="identity_dim >= "):
        _decode(
            _net(model, decoder="basis", identity_dim=model.num_identity - 1),
            identity[:, :-1], expression, model,
        )  # fmt: skip


def test_entangled_latent_feeds_both_decoders_and_starts_like_the_disentangled(model):
    images = _images()
    entangled = _net(model, entangled=True)
    variables = jax.eval_shape(lambda: entangled.init(RNG, images, model, train=False))
    out = jax.eval_shape(lambda v: entangled.apply(v, images, model, train=False), variables)
    latent_dim = model.num_identity + model.num_expression
    assert out.identity_latent.shape == out.residual_latent.shape == (3, latent_dim)
    assert out.logits.shape == out.cosines.shape == (3, NUM_CLASSES)
    assert out.shape.shape == out.identity_shape.shape == (3, model.num_vertices, 3)
    assert out.landmarks_2d.shape == (3, 68, 2)
    params = variables["params"]
    assert params["classifier"].shape == (latent_dim, NUM_CLASSES)
    assert "latent_head" in params and "identity_head" not in params

    identity, expression = _coefficients(model)
    z = jnp.concatenate([identity, expression], axis=-1)
    (shape_e, id_shape_e, _), decoders = _decode(entangled, z, z, model)
    (shape_d, id_shape_d, _), _ = _decode(_net(model), identity, expression, model)
    np.testing.assert_allclose(shape_e, shape_d, atol=ATOL_MM)
    np.testing.assert_allclose(id_shape_e, id_shape_d, atol=ATOL_MM)
    # Both decoders read every unit of z: rows of the other basis are zero but trainable.
    id_kernel = decoders["identity_decoder"]["output"]["kernel"]
    res_kernel = decoders["residual_decoder"]["output"]["kernel"]
    assert id_kernel.shape == res_kernel.shape == (latent_dim, 3 * model.num_vertices)
    assert np.all(np.asarray(id_kernel[model.num_identity :]) == 0.0)
    assert np.all(np.asarray(res_kernel[: model.num_identity]) == 0.0)


def test_outputs_are_consistent_with_the_morphable_model(model):
    net = _net(model)
    images = _images()
    variables = _init(net, images, model)
    out = _apply(net, variables, images, model)
    assert out.identity_latent.shape == (3, model.num_identity)
    assert out.residual_latent.shape == (3, model.num_expression)
    assert out.landmarks_2d.shape == (3, 68, 2)
    # The pose is a FaceParams pose: decoding latents-as-coefficients gives the same landmarks.
    params = out.pose.face_params(
        out.identity_latent,
        out.residual_latent,
        jnp.zeros((3, model.num_albedo)),
        jnp.zeros((3, 9, 3)),
    )
    faces = jax.jit(jax.vmap(morphable.decode, in_axes=(None, 0)))(model, params)
    np.testing.assert_allclose(faces.landmarks_2d[..., :2], out.landmarks_2d, atol=ATOL_PX)
    np.testing.assert_allclose(faces.vertices, out.shape, atol=ATOL_MM)
    # An untrained model puts the mean face in the middle of the image at a plausible size.
    low, high = out.landmarks_2d.min(axis=1), out.landmarks_2d.max(axis=1)
    centre, extent = (low + high) / 2, (high - low).max(axis=-1)
    np.testing.assert_allclose(centre, IMAGE / 2, atol=0.1 * IMAGE)
    assert np.all((extent > 0.5 * IMAGE) & (extent < 0.9 * IMAGE)), extent
    # Classifier: logits are latent @ W, cosines those of the normalised vectors.
    weights = np.asarray(variables["params"]["classifier"], np.float64)
    latent = np.asarray(out.identity_latent, np.float64)
    np.testing.assert_allclose(out.logits, latent @ weights, rtol=1e-4, atol=1e-5)
    cosines = (latent / np.linalg.norm(latent, axis=-1, keepdims=True)) @ (
        weights / np.linalg.norm(weights, axis=0, keepdims=True)
    )
    np.testing.assert_allclose(out.cosines, cosines, atol=1e-5)
    # Recognition features.
    np.testing.assert_array_equal(fnn.identity_feature(out), out.identity_latent)
    shape_feature = fnn.identity_feature(out, "shape")
    assert shape_feature.shape == (3, 3 * model.num_vertices)
    np.testing.assert_allclose(
        shape_feature.reshape(3, -1, 3), out.identity_shape - model.mean_shape[None], atol=ATOL_MM
    )


def test_mlp_decoders_and_gradients(model):
    net = _net(model, decoder="mlp", mlp_hidden=(16,), identity_dim=6, residual_dim=4)
    images = _images()
    variables = _init(net, images, model)
    assert variables["params"]["identity_decoder"]["hidden_0"]["kernel"].shape == (6, 16)
    labels = jnp.array([0, 3, 4])
    target = jnp.broadcast_to(model.mean_shape, (3,) + model.mean_shape.shape) + 5.0

    def loss(params):
        out, _ = net.apply(
            {**variables, "params": params}, images, model, train=True, mutable=["batch_stats"]
        )
        ce = facejax.losses.softmax_cross_entropy_with_integer_labels(out.logits, labels)
        return jnp.mean(
            ce
            + 1e-3 * facejax.losses.squared_vertex_error(out.shape, target)
            + 1e-3 * facejax.losses.landmark_loss(out.landmarks_2d, jnp.full((3, 68, 2), 8.0))
        )

    value, grads = jax.jit(jax.value_and_grad(loss))(variables["params"])
    assert np.isfinite(value)
    leaves = jax.tree_util.tree_leaves_with_path(grads)
    for path, leaf in leaves:
        assert np.all(np.isfinite(leaf)), jax.tree_util.keystr(path)
    # Every part of the model receives gradient (the decoders, the pose, the encoder).
    for part in ("identity_decoder", "residual_decoder", "pose_head", "encoder", "classifier"):
        norm = sum(np.square(np.asarray(x)).sum() for x in jax.tree_util.tree_leaves(grads[part]))
        assert norm > 0.0, part


def test_bad_input_is_named(model):
    with pytest.raises(ValueError, match="unknown decoder 'conv'"):
        _net(model, decoder="conv").init(RNG, _images(), model, train=False)
    with pytest.raises(ValueError, match=r"images must be \[B, H, W, C\]"):
        _net(model).init(RNG, _images()[0], model, train=False)
    with pytest.raises(ValueError, match="unknown kind"):
        fnn.identity_feature(None, "albedo")
