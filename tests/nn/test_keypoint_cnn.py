"""The keypoint encoder: spatial soft-argmax against a float64 numpy reference, its gradients,
the map the keypoints are read from, and that the keypoints follow a moved image."""

import functools

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from jax.test_util import check_grads

from facejax import nn as fnn

RTOL_F32 = 1e-5  # float32 softmax-weighted sums of 64 cell positions against float64
RNG = jax.random.key(0, impl="rbg")


def _soft_argmax_reference(logits, stride):
    logits = np.asarray(logits, np.float64)
    b, h, w, k = logits.shape
    out = np.zeros((b, k, 2))
    for n in range(b):
        for c in range(k):
            z = logits[n, :, :, c]
            p = np.exp(z - z.max())
            p /= p.sum()
            rows, cols = np.meshgrid(np.arange(h), np.arange(w), indexing="ij")
            out[n, c, 0] = (p * (cols + 0.5) * stride).sum()
            out[n, c, 1] = (p * (rows + 0.5) * stride).sum()
    return out


def test_soft_argmax_matches_the_float64_reference():
    logits = np.random.default_rng(0).normal(scale=2.0, size=(2, 8, 6, 3)).astype(np.float32)
    got = fnn.spatial_soft_argmax(logits, 4.0)
    assert got.shape == (2, 3, 2) and got.dtype == jnp.float32
    np.testing.assert_allclose(got, _soft_argmax_reference(logits, 4.0), rtol=RTOL_F32)


def test_a_peaked_map_gives_its_cell_centre():
    logits = np.full((1, 16, 16, 2), -1e4, np.float32)
    logits[0, 3, 10, 0] = 0.0  # row 3, column 10
    logits[0, 15, 0, 1] = 0.0
    got = np.asarray(fnn.spatial_soft_argmax(logits, 4.0))
    np.testing.assert_allclose(got[0], [[42.0, 14.0], [2.0, 62.0]])
    # A flat map averages to the image centre.
    flat = fnn.spatial_soft_argmax(np.zeros((1, 16, 16, 1), np.float32), 4.0)
    np.testing.assert_allclose(flat[0, 0], [32.0, 32.0], rtol=RTOL_F32)


def test_soft_argmax_gradients(x64):
    logits = jnp.asarray(np.random.default_rng(1).normal(size=(1, 4, 5, 2)))
    check_grads(lambda z: fnn.spatial_soft_argmax(z, 2.0), (logits,), order=2, modes=["rev"])


def _shapes(module, size):
    images = jax.ShapeDtypeStruct((2, size, size, 3), jnp.float32)
    variables = jax.eval_shape(functools.partial(module.init, train=False), RNG, images)
    out = jax.eval_shape(functools.partial(module.apply, train=False), variables, images)
    return variables, out


def test_keypoints_come_from_the_map_of_their_size():
    encoder = fnn.KeypointCNN(widths=(4, 8), features=16, num_keypoints=5)
    # 64 px: stem 64, stages to 32 and 16 (width 8): keypoints from the 16 x 16 x 8 map; then
    # 8 and 4, whose 4 x 4 x 8 map is flattened beside the 10 coordinates.
    variables, out = _shapes(encoder, 64)
    assert variables["params"]["keypoint_scores"]["kernel"].shape == (1, 1, 8, 5)
    assert variables["params"]["Dense_0"]["kernel"].shape == (4 * 4 * 8 + 10, 16)
    assert out.shape == (2, 16 + 10)
    assert fnn.create_encoder("keypoint_cnn", widths=(4, 8), num_keypoints=5).num_keypoints == 5
    with pytest.raises(ValueError, match="keypoint_size 2 is below final_size 4"):
        _shapes(fnn.KeypointCNN(widths=(4,), keypoint_size=2), 32)


def test_keypoint_scores_follow_a_shifted_image():
    # Stride-2 convolutions with SAME padding commute with a shift by a multiple of the total
    # stride: moving a square by 8 input pixels moves the 16 x 16 score maps (stride 4) by two
    # cells, away from the border, so each keypoint's expected position follows the image.
    encoder = fnn.KeypointCNN(widths=(4, 8), features=8, num_keypoints=3)
    images = np.zeros((2, 64, 64, 3), np.float32)
    images[0, 20:30, 18:26] = 1.0
    images[1, 28:38, 26:34] = 1.0  # shifted by (+8, +8)
    variables = encoder.init(RNG, jnp.asarray(images), train=False)
    captured = jax.jit(
        lambda v, x: encoder.apply(v, x, train=False, capture_intermediates=True)[1]
    )(variables, jnp.asarray(images))
    scores = np.asarray(captured["intermediates"]["keypoint_scores"]["__call__"][0])
    assert scores.shape == (2, 16, 16, 3)
    np.testing.assert_allclose(scores[1, 4:14, 4:14], scores[0, 2:12, 2:12], rtol=1e-5, atol=1e-5)
    assert not np.allclose(scores[1, 4:14, 4:14], scores[0, 4:14, 4:14], atol=1e-3)
