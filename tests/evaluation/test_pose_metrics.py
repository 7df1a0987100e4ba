"""Pose errors in degrees: per-angle absolute error with wrap-around, geodesic against scipy."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from scipy.spatial.transform import Rotation

from facejax import evaluation

pose_error_degrees = jax.jit(evaluation.pose_error_degrees, static_argnames="convention")

ATOL_F64 = 1e-9  # degrees
ATOL_F32 = 1e-3  # degrees (arccos near 0 loses precision in float32)


def assert_close(actual, desired, atol=0.0, rtol=0.0):
    np.testing.assert_allclose(actual, desired, atol=atol, rtol=rtol)


def _geodesic_reference(pred, target):
    # "xyz": R = Rz(roll) Ry(yaw) Rx(pitch) = scipy extrinsic "xyz" with (pitch, yaw, roll).
    rp = Rotation.from_euler("xyz", pred)
    rt = Rotation.from_euler("xyz", target)
    return np.rad2deg((rp.inv() * rt).magnitude())


def test_per_angle_and_geodesic(x64):
    rng = np.random.default_rng(0)
    target = rng.uniform(-1.0, 1.0, size=(5, 3))
    offset = np.array([0.1, -0.2, 0.3])
    pred = target + offset
    err = pose_error_degrees(pred, target)
    for name, expected in zip(("pitch", "yaw", "roll"), np.rad2deg(np.abs(offset)), strict=True):
        assert_close(getattr(err, name), np.full(5, expected), atol=ATOL_F64)
    assert_close(err.geodesic, _geodesic_reference(pred, target), atol=1e-7)


def test_single_axis_geodesic_equals_angle_error(x64):
    target = np.zeros((1, 3))
    pred = np.array([[0.0, np.deg2rad(25.0), 0.0]])
    err = pose_error_degrees(pred, target)
    assert_close(err.yaw, [25.0], atol=ATOL_F64)
    assert_close(err.geodesic, [25.0], atol=1e-7)


def test_wraps_around(x64):
    pred = np.deg2rad([[179.0, 0.0, -175.0]])
    target = np.deg2rad([[-179.0, 0.0, 175.0]])
    err = pose_error_degrees(pred, target)
    assert_close(err.pitch, [2.0], atol=ATOL_F64)
    assert_close(err.roll, [10.0], atol=ATOL_F64)


def test_float32_vmap_and_mean():
    rng = np.random.default_rng(1)
    target = rng.uniform(-1.0, 1.0, size=(6, 3)).astype(np.float32)
    pred = (target + rng.normal(size=(6, 3)) * 0.1).astype(np.float32)
    batched = pose_error_degrees(pred, target)
    vmapped = jax.jit(jax.vmap(evaluation.pose_error_degrees))(pred, target)
    for a, b in zip(batched, vmapped, strict=True):
        assert_close(a, b, atol=ATOL_F32)
    assert_close(
        batched.geodesic,
        _geodesic_reference(pred.astype(float), target.astype(float)),
        atol=ATOL_F32,
    )
    mae = jax.tree.map(jnp.mean, batched)
    assert_close(mae.yaw, np.mean(np.rad2deg(np.abs(pred - target))[:, 1]), atol=ATOL_F32)


def test_bad_input_names_the_problem():
    with pytest.raises(ValueError, match="target_euler must have the shape"):
        evaluation.pose_error_degrees(np.zeros((2, 3)), np.zeros((3, 3)))
    with pytest.raises(ValueError, match="pred_euler"):
        evaluation.pose_error_degrees(np.zeros((2, 2)), np.zeros((2, 2)))
