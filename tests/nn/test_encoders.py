"""Encoders: output shapes at two input sizes, BatchNorm train/eval and across devices, bf16."""

import functools

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from facejax import nn as fnn

ATOL_BN = 1e-5  # float32 BatchNorm over 8 examples, pmean vs one device
# XLA RngBitGenerator keys: parameter initialisation compiles several times faster than threefry.
RNG = jax.random.key(0, impl="rbg")


def _shapes(module, size, channels=3, batch=2):
    """Parameter and output shapes by abstract evaluation: no compilation."""
    images = jax.ShapeDtypeStruct((batch, size, size, channels), jnp.float32)
    variables = jax.eval_shape(functools.partial(module.init, train=False), RNG, images)
    out = jax.eval_shape(functools.partial(module.apply, train=False), variables, images)
    return variables, out


@pytest.mark.parametrize(
    "name, kwargs, dim",
    [
        ("small_cnn", {}, 256),
        ("spatial_cnn", {"widths": (4, 8), "features": 32}, 32),
        ("resnet18", {"num_filters": 8}, 64),
        ("resnet34", {"num_filters": 8}, 64),
        ("resnet50", {"num_filters": 8}, 256),
    ],
)
@pytest.mark.parametrize("size", [32, 48])
def test_encoder_output_shapes(name, kwargs, dim, size):
    encoder = fnn.create_encoder(name, **kwargs)
    variables, out = _shapes(encoder, size)
    assert out.shape == (2, dim) and out.dtype == jnp.float32
    assert set(variables) == {"params", "batch_stats"}
    if name not in ("small_cnn", "spatial_cnn"):
        assert encoder.feature_dim == dim


def test_small_cnn_size_and_resnet18_full_width():
    variables, _ = _shapes(fnn.SmallCNN(), 64)
    count = sum(x.size for x in jax.tree_util.tree_leaves(variables["params"]))
    assert 100_000 <= count <= 500_000, count
    # The paper's ResNet-18 (no classifier) has 11.18 M parameters.
    variables, out = _shapes(fnn.ResNet18(), 64)
    count = sum(x.size for x in jax.tree_util.tree_leaves(variables["params"]))
    assert out.shape == (2, 512) and abs(count - 11_176_512) < 20_000, count


def test_spatial_cnn_flattens_its_last_map():
    spatial = fnn.SpatialCNN(widths=(4, 8), features=16)
    # 64 px: stem at 64, stages to 32, 16, 8, 4 (the last width repeated), then the 4 x 4 x 8
    # map flattened into the dense layer: the position of every feature reaches the output.
    variables, out = _shapes(spatial, 64)
    assert variables["params"]["Dense_0"]["kernel"].shape == (4 * 4 * 8, 16)
    assert out.shape == (2, 16)
    variables, _ = _shapes(spatial, 48)  # 48 -> 24 -> 12 -> 6 -> 3
    assert variables["params"]["Dense_0"]["kernel"].shape == (3 * 3 * 8, 16)


def _tiny_cnn(**kwargs):
    return fnn.SmallCNN(widths=(4, 8), **kwargs)


def _images(batch, size=8, seed=0):
    rng = np.random.default_rng(seed)
    return jnp.asarray(rng.uniform(size=(batch, size, size, 3)).astype(np.float32))


@functools.partial(jax.jit, static_argnames="module")
def _init(module, images):
    return module.init(RNG, images, train=False)


@functools.partial(jax.jit, static_argnames=("module", "train"))
def _apply(module, variables, images, train):
    if train:
        return module.apply(variables, images, train=True, mutable=["batch_stats"])
    return module.apply(variables, images, train=False), {}


def test_batchnorm_train_uses_the_batch_and_eval_the_running_averages():
    cnn = _tiny_cnn()
    images = _images(4)
    variables = _init(cnn, images)
    # Changing example 3 changes example 0's features in train mode (batch statistics) only.
    other = jnp.asarray(np.asarray(images) * [[[[1.0]]], [[[1.0]]], [[[1.0]]], [[[5.0]]]])
    train_a, updates = _apply(cnn, variables, images, True)
    train_b, _ = _apply(cnn, variables, other, True)
    eval_a, _ = _apply(cnn, variables, images, False)
    eval_b, _ = _apply(cnn, variables, other, False)
    assert not np.allclose(train_a[0], train_b[0])
    np.testing.assert_array_equal(eval_a[0], eval_b[0])
    # Running averages move by (1 - momentum) towards the batch mean (they start at 0).
    first = updates["batch_stats"]["BatchNorm_0"]["mean"]
    conv = jax.jit(
        jax.lax.conv_general_dilated, static_argnums=(2, 3), static_argnames="dimension_numbers"
    )(
        images,
        variables["params"]["Conv_0"]["kernel"],
        (2, 2),
        "SAME",
        dimension_numbers=("NHWC", "HWIO", "NHWC"),
    )
    np.testing.assert_allclose(first, 0.1 * conv.mean((0, 1, 2)), rtol=1e-4, atol=1e-6)


def test_pmap_batchnorm_equals_one_device_over_the_global_batch(four_devices):
    images = _images(8, seed=1)
    single = _tiny_cnn()
    variables = _init(single, images)
    expected, expected_updates = _apply(single, variables, images, True)

    sharded = _tiny_cnn(axis_name="batch")

    def step(variables, images):
        return sharded.apply(variables, images, train=True, mutable=["batch_stats"])

    replicated = jax.tree_util.tree_map(lambda x: jnp.stack([x] * 4), variables)
    out, updates = jax.pmap(step, axis_name="batch", devices=four_devices)(
        replicated, images.reshape(4, 2, 8, 8, 3)
    )
    np.testing.assert_allclose(out.reshape(8, -1), expected, atol=ATOL_BN)
    for device in range(4):
        jax.tree_util.tree_map(
            lambda a, b, d=device: np.testing.assert_allclose(a[d], b, atol=ATOL_BN),
            updates,
            expected_updates,
        )
    # Without the axis name each device would normalise its own two images: not the same.
    local = jax.pmap(
        lambda v, x: _tiny_cnn().apply(v, x, train=True, mutable=["batch_stats"]),
        devices=four_devices,
    )(replicated, images.reshape(4, 2, 8, 8, 3))[0]
    assert not np.allclose(local.reshape(8, -1), expected, atol=1e-3)


def test_bfloat16_compute_keeps_float32_parameters():
    # Abstractly for a ResNet (a bf16 ResNet compiles slowly on CPU), concretely for a tiny CNN.
    variables, out = _shapes(fnn.ResNet50(num_filters=4, dtype=jnp.bfloat16), 32)
    assert {x.dtype for x in jax.tree_util.tree_leaves(variables)} == {jnp.dtype(jnp.float32)}
    assert out.dtype == jnp.bfloat16

    cnn = _tiny_cnn(dtype=jnp.bfloat16)
    images = _images(4)
    abstract, _ = _shapes(cnn, 8)
    assert {x.dtype for x in jax.tree_util.tree_leaves(abstract)} == {jnp.dtype(jnp.float32)}
    variables = _init(_tiny_cnn(), images)  # the same parameters; compiled by an earlier test
    out, updates = _apply(cnn, variables, images, True)
    assert out.dtype == jnp.bfloat16 and out.shape == (4, 8)
    assert np.all(np.isfinite(np.asarray(out, np.float32)))
    assert {x.dtype for x in jax.tree_util.tree_leaves(updates)} == {jnp.dtype(jnp.float32)}
    # bf16 compute tracks float32 to bf16 precision (8 bits of mantissa).
    reference, _ = _apply(_tiny_cnn(), variables, images, True)
    np.testing.assert_allclose(np.asarray(out, np.float32), reference, rtol=0.05, atol=0.05)


def test_bad_input_is_named():
    with pytest.raises(ValueError, match="unknown encoder 'vgg'"):
        fnn.create_encoder("vgg")
    with pytest.raises(ValueError, match=r"\[B, H, W, C\]"):
        fnn.SmallCNN().init(RNG, jnp.zeros((8, 8, 3)), train=False)
