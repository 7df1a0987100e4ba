"""The closed-form start: cameras of images, orthographic pose from landmarks, perspective pose."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from facejax import fitting, geometry, morphable

from .conftest import projected_landmarks

# Exact orthographic projections: the closed form is exact up to float32 round-off.
ORTHO_ROTATION_TOL_DEG = 0.05
ORTHO_SCALE_RTOL = 1e-4
# Perspective projections: POSIT rounds correct most of the perspective; a start, not exact.
PERSPECTIVE_ROTATION_TOL_DEG = 1.0
PERSPECTIVE_DEPTH_RTOL = 0.03
ATOL_F64 = 1e-9


@pytest.fixture(scope="module")
def mean_landmarks(small_model):
    return np.asarray(fitting.landmark_model(small_model).mean_landmarks)


def degrees_between(a, b):
    return float(np.degrees(geometry.geodesic_distance(jnp.asarray(a), jnp.asarray(b))))


def test_image_camera_is_the_default_camera_on_square_images():
    camera = fitting.image_camera(224, 224)
    default = morphable.default_camera(224)
    np.testing.assert_allclose(camera.focal, default.focal)
    np.testing.assert_allclose(camera.principal_point, default.principal_point)
    wide = fitting.image_camera(300, 400, focal=800.0)
    np.testing.assert_allclose(wide.focal, [800.0, 800.0])
    np.testing.assert_allclose(wide.principal_point, [200.0, 150.0])
    np.testing.assert_allclose(fitting.image_camera(300, 448).focal, 2 * default.focal)


@pytest.mark.parametrize("yaw_deg", [0.0, 70.0, -80.0])
def test_orthographic_pose_is_exact_on_orthographic_projections(mean_landmarks, yaw_deg):
    angles = jnp.deg2rad(jnp.array([15.0, yaw_deg, -10.0]))
    rotation = geometry.rotation_from_euler(angles)
    scale, offset = 0.8, np.array([120.0, -90.0])
    rotated = mean_landmarks @ np.asarray(rotation).T
    points = np.stack([scale * rotated[:, 0] + offset[0], -(scale * rotated[:, 1] + offset[1])], -1)
    weights = np.ones(len(points))
    weights[:10] = 0.0
    points[:10] = 1e3  # zero-weight points are ignored
    fit_scale, fit_rotation, fit_offset = jax.jit(fitting.orthographic_pose)(
        mean_landmarks, points, weights
    )
    assert degrees_between(fit_rotation, rotation) < ORTHO_ROTATION_TOL_DEG
    np.testing.assert_allclose(fit_scale, scale, rtol=ORTHO_SCALE_RTOL)
    np.testing.assert_allclose(fit_offset, offset, atol=1e-2)


def test_initial_pose_under_perspective(small_model, mean_landmarks):
    camera = fitting.image_camera(224, 224)
    angles = jnp.deg2rad(jnp.array([-10.0, 60.0, 5.0]))
    params = morphable.neutral_params(small_model, camera=camera).replace(
        rotation=angles, translation=jnp.array([15.0, -10.0, -900.0])
    )
    points = np.asarray(projected_landmarks(small_model, params))
    initial_pose = jax.jit(fitting.initial_pose)
    rotation, translation, same = initial_pose(mean_landmarks, points, np.ones(len(points)), camera)
    np.testing.assert_array_equal(same.focal, camera.focal)
    assert degrees_between(rotation, geometry.rotation_from_euler(angles)) < (
        PERSPECTIVE_ROTATION_TOL_DEG
    )
    np.testing.assert_allclose(translation[2], -900.0, rtol=PERSPECTIVE_DEPTH_RTOL)
    # Without a weighted point the start is frontal at 1 m, not NaN.
    rotation, translation, _ = initial_pose(mean_landmarks, points, np.zeros(len(points)), camera)
    np.testing.assert_allclose(rotation, np.eye(3))
    np.testing.assert_allclose(translation, [0.0, 0.0, -1000.0])


def test_landmark_model_matches_decode(small_model, x64):
    model = morphable.to_device(small_model, jnp.float64)
    params = morphable.random_params(model, jax.random.key(3))

    @jax.jit
    def both(model, params):
        lmodel = fitting.landmark_model(model)
        vertices = morphable.shape(model, params.identity, params.expression)
        screen = morphable.project(params, morphable.pose(params, vertices))
        canonical = fitting.shape_landmarks(lmodel, params.identity, params.expression)
        projected = fitting.project_landmarks(
            lmodel,
            params.identity,
            params.expression,
            morphable.rotation_matrix(params),
            params.translation,
            params.camera,
        )
        return (
            canonical,
            projected,
            morphable.landmarks(model, vertices),
            morphable.landmarks(model, screen),
        )

    canonical, projected, canonical_ref, projected_ref = both(model, params)
    np.testing.assert_allclose(canonical, canonical_ref, atol=ATOL_F64)
    np.testing.assert_allclose(projected, projected_ref[:, :2], atol=ATOL_F64)
    few = fitting.landmark_model(model, identity_components=3, expression_components=0)
    assert few.identity.shape[-1] == 3 and few.expression.shape[-1] == 0
    with pytest.raises(ValueError, match="cannot fit 11 identity components"):
        fitting.landmark_model(model, identity_components=11)
