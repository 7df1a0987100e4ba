"""Cameras: projection against float64 numpy, image conventions, round trips, jit/vmap, grads."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from jax.test_util import check_grads

from facejax import geometry
from facejax.geometry import PerspectiveCamera, WeakPerspectiveCamera

project = jax.jit(geometry.project)
unproject = jax.jit(geometry.unproject)

ATOL_F64 = 1e-10
ATOL_F32_PIXELS = 1e-3
GRAD_TOL = 1e-5


def assert_close(actual, desired, atol=0.0, rtol=0.0):
    """``assert_allclose`` with no hidden relative tolerance: the named tolerance is the test."""
    np.testing.assert_allclose(actual, desired, atol=atol, rtol=rtol)


def _points(n=6, seed=0):
    rng = np.random.default_rng(seed)
    xy = rng.uniform(-100, 100, (n, 2))
    z = -rng.uniform(300, 700, (n, 1))  # in front of the camera
    return np.concatenate([xy, z], axis=-1)


def _perspective_reference(points, focal, centre):
    x, y, z = points.T
    return np.stack([centre[0] + focal[0] * x / -z, centre[1] - focal[1] * y / -z, -z], axis=-1)


def test_perspective_matches_numpy(x64):
    cam = PerspectiveCamera.create(focal=[1000.0, 1100.0], principal_point=[112.0, 120.0])
    p = _points()
    assert_close(
        project(cam, p), _perspective_reference(p, [1000, 1100], [112, 120]), atol=ATOL_F64
    )
    batched = project(cam, p.reshape(2, 3, 3))
    assert_close(batched.reshape(6, 3), project(cam, p), atol=ATOL_F64)


def test_image_conventions(x64):
    cam = PerspectiveCamera.from_fov(np.deg2rad(30.0), height=240, width=320)
    assert_close(cam.principal_point, [160.0, 120.0], atol=ATOL_F64)
    assert_close(cam.focal, 120.0 / np.tan(np.deg2rad(15.0)), atol=ATOL_F64)
    # Straight ahead: image centre. Camera +x: right. Camera +y (up): smaller row.
    ahead, right, up = project(cam, np.array([[0, 0, -500.0], [10, 0, -500.0], [0, 10, -500.0]]))
    assert_close(ahead, [160.0, 120.0, 500.0], atol=ATOL_F64)
    assert right[0] > 160.0 and right[1] == 120.0
    assert up[1] < 120.0 and up[0] == 160.0
    # The top edge of the field of view lands on y = 0 (the top edge of row 0).
    top = project(cam, np.array([0.0, 500.0 * np.tan(np.deg2rad(15.0)), -500.0]))
    assert_close(top[:2], [160.0, 0.0], atol=ATOL_F64)


def test_weak_perspective_matches_numpy(x64):
    cam = WeakPerspectiveCamera.create(scale=0.5, translation=[100.0, 90.0])
    p = _points()
    ref = np.stack([100 + 0.5 * p[:, 0], 90 - 0.5 * p[:, 1], -p[:, 2]], axis=-1)
    assert_close(project(cam, p), ref, atol=ATOL_F64)
    # The translation is where the camera-frame origin lands.
    assert_close(project(cam, np.zeros(3))[:2], [100.0, 90.0], atol=ATOL_F64)


@pytest.mark.parametrize(
    "cam",
    [
        PerspectiveCamera.create(800.0, [64.0, 60.0]),
        WeakPerspectiveCamera.create(2.0, [64.0, 60.0]),
    ],
    ids=["perspective", "weak"],
)
def test_unproject_round_trip(x64, cam):
    cam = jax.tree.map(lambda a: jnp.asarray(a, jnp.float64), cam)
    p = _points()
    assert_close(unproject(cam, project(cam, p)), p, atol=ATOL_F64)


def test_behind_camera_and_camera_plane_are_finite(x64):
    cam = PerspectiveCamera.create(500.0, [50.0, 50.0])
    p = np.array([[10.0, 5.0, 300.0], [10.0, 5.0, 0.0], [0.0, 0.0, 0.0]])
    out = np.asarray(project(cam, p))
    assert np.all(np.isfinite(out))
    assert out[0, 2] < 0 and out[1, 2] == 0  # depth <= 0: not visible
    grad = jax.jit(jax.grad(lambda q: jnp.sum(geometry.project(cam, q))))(p)
    assert np.all(np.isfinite(grad))


def test_vmap_over_cameras_matches_loop():
    cams = [PerspectiveCamera.create(f, [60.0 + f / 100, 50.0]) for f in (400.0, 500.0, 600.0)]
    stacked = jax.tree.map(lambda *leaves: jnp.stack(leaves), *cams)
    p = jnp.asarray(_points(), jnp.float32)
    out = jax.jit(jax.vmap(geometry.project, in_axes=(0, None)))(stacked, p)
    assert out.dtype == jnp.float32
    loop = np.stack([project(c, p) for c in cams])
    assert_close(out, loop, atol=ATOL_F32_PIXELS)


def test_gradients(x64):
    p = _points(n=3)
    cam = PerspectiveCamera.create([900.0, 950.0], [60.0, 50.0])
    check_grads(project, (cam, p), order=1, atol=GRAD_TOL, rtol=GRAD_TOL)
    weak = WeakPerspectiveCamera.create(1.5, [60.0, 50.0])
    check_grads(project, (weak, p), order=1, atol=GRAD_TOL, rtol=GRAD_TOL)


def test_normalized_depth(x64):
    cam = PerspectiveCamera.create(500.0, [50.0, 50.0], near=100.0, far=1100.0)
    assert_close(
        geometry.normalized_depth(cam, np.array([100.0, 600.0, 1100.0])),
        [0.0, 0.5, 1.0],
        atol=ATOL_F64,
    )
    with pytest.raises(TypeError, match="PerspectiveCamera"):
        geometry.normalized_depth(WeakPerspectiveCamera.create(1.0, [0.0, 0.0]), 1.0)


def test_look_at(x64):
    rotation, translation = geometry.look_at(np.array([0.0, 0.0, 500.0]), np.zeros(3))
    assert_close(rotation, np.eye(3), atol=ATOL_F64)
    assert_close(translation, [0.0, 0.0, -500.0], atol=ATOL_F64)
    eye, target = np.array([300.0, 200.0, 400.0]), np.array([10.0, -20.0, 5.0])
    rotation, translation = geometry.look_at(eye, target)
    rotation = np.asarray(rotation)
    assert_close(rotation @ rotation.T, np.eye(3), atol=ATOL_F64)
    assert_close(np.linalg.det(rotation), 1.0, atol=ATOL_F64)
    in_camera = rotation @ target + translation
    assert_close(in_camera[:2], 0.0, atol=ATOL_F64)  # on the optical axis
    assert_close(-in_camera[2], np.linalg.norm(eye - target), atol=ATOL_F64)
    assert rotation[1] @ np.array([0.0, 1.0, 0.0]) > 0  # camera up stays up


def test_bad_input():
    with pytest.raises(ValueError, match=r"focal must have shape \[2\]"):
        PerspectiveCamera.create([1.0, 2.0, 3.0], [0.0, 0.0])
    with pytest.raises(ValueError, match="0 < near < far"):
        PerspectiveCamera.create(500.0, [0.0, 0.0], near=10.0, far=5.0)
    with pytest.raises(ValueError, match="fov_y must be in"):
        PerspectiveCamera.from_fov(60.0, 100, 100)  # degrees by mistake
    with pytest.raises(ValueError, match=r"points must have shape \[\.\.\., 3\]"):
        geometry.project(PerspectiveCamera.create(1.0, [0.0, 0.0]), jnp.zeros((4, 2)))
    with pytest.raises(TypeError, match="PerspectiveCamera or WeakPerspectiveCamera"):
        geometry.project(object(), jnp.zeros(3))


def test_create_under_jit():
    # Values are only checked when concrete; under jit the camera is still built.
    @jax.jit
    def build(focal, near):
        return PerspectiveCamera.create(focal, jnp.array([32.0, 32.0]), near=near, far=1000.0)

    cam = build(jnp.float32(500.0), jnp.float32(5.0))
    assert_close(cam.focal, [500.0, 500.0], atol=ATOL_F32_PIXELS)
    assert_close(cam.near, 5.0, atol=ATOL_F32_PIXELS)
