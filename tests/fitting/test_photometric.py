"""Photometric refinement through the renderer, the letterbox that feeds it, and overlays."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from facejax import fitting, lighting, morphable
from facejax.fitting.overlay import draw_overlay
from facejax.fitting.photometric import scale_camera
from facejax.render.face import render_face, to_uint8

from .conftest import projected_landmarks
from .test_single import CONFIG

IMAGE = 48
PHOTO = fitting.PhotometricConfig(size=32, appearance_steps=15, shape_steps=10)
# The refinement keeps the landmark term: the fit stays on the landmarks of a 48 px image.
PHOTO_LANDMARK_TOL_PX = 1.0


@pytest.fixture(scope="module")
def scene(small_model):
    params = morphable.random_params(
        small_model, jax.random.key(7), image_size=IMAGE, max_angles=(0.2, 0.5, 0.1)
    )
    light = lighting.directional(jnp.array([0.4, 0.3, 1.0]), intensity=0.6, ambient_intensity=0.5)
    params = params.replace(sh_coeffs=light)
    rendering = jax.jit(lambda p: render_face(small_model, p, IMAGE, IMAGE))(params)
    image = np.asarray(to_uint8(rendering.image))
    return params, image, np.asarray(rendering.landmarks_2d[:, :2])


def test_letterbox_and_scaled_camera_agree(small_model, scene):
    params, image, landmarks = scene
    canvas, mask, (sx, sy) = fitting.letterbox(image[:, :40], 32)
    assert canvas.shape == (32, 32, 3) and canvas.dtype == np.float32
    assert mask[:, :26].all() and not mask[:, 27:].any()  # 40 x 48 -> 27 x 32 (rounded)
    assert sy == pytest.approx(32 / 48) and sx == pytest.approx(27 / 40)
    small = params.replace(camera=scale_camera(params.camera, sx, sy))
    moved = projected_landmarks(small_model, small)
    np.testing.assert_allclose(moved, landmarks * np.array([[sx, sy]]), atol=1e-3)


def test_photometric_refinement_lowers_the_image_error(small_model, scene):
    truth, image, landmarks = scene
    start = fitting.fit_landmarks(small_model, landmarks, image_size=(IMAGE, IMAGE), config=CONFIG)
    refined = fitting.refine_photometric(small_model, start.params, image, landmarks, config=PHOTO)
    history = np.asarray(refined.loss_history)
    assert history.shape == (PHOTO.appearance_steps + PHOTO.shape_steps,)
    assert refined.iterations == PHOTO.appearance_steps + PHOTO.shape_steps
    assert history[-1] < 0.8 * history[0]
    assert float(refined.landmark_error) < PHOTO_LANDMARK_TOL_PX
    # Back in the original image's pixels, with appearance estimated.
    np.testing.assert_allclose(refined.params.camera.focal, start.params.camera.focal, rtol=1e-6)
    assert float(jnp.abs(refined.params.albedo).max()) > 0
    assert not np.allclose(refined.params.sh_coeffs, lighting.ambient(1.0))
    with pytest.raises(ValueError, match="1 params but 2 images"):
        fitting.refine_photometric(
            small_model,
            jax.tree_util.tree_map(lambda a: a[None], start.params),
            [image, image],
            [landmarks, landmarks],
        )


@pytest.mark.parametrize("style", ["shaded", "wireframe"])
def test_overlay_draws_mesh_and_landmarks(small_model, scene, style):
    params, image, landmarks = scene
    picture = draw_overlay(
        small_model, params, image, given=landmarks, fitted=landmarks + 1, style=style
    )
    assert picture.shape == image.shape and picture.dtype == np.uint8
    changed = np.any(picture != image, axis=-1)
    assert 0.05 < changed.mean() < 0.95
    assert tuple(picture[int(landmarks[30, 1]) + 1, int(landmarks[30, 0]) + 1]) != tuple(
        image[int(landmarks[30, 1]) + 1, int(landmarks[30, 0]) + 1]
    )
    with pytest.raises(ValueError, match="style must be one of"):
        draw_overlay(small_model, params, image, style="points")
