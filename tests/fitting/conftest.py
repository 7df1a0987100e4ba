"""Shared fixtures of the fitting tests: the small synthetic model and faces with known truth."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from facejax import morphable
from facejax.formats import load_model

IMAGE_SIZE = 224


@pytest.fixture(scope="session")
def small_model():
    return morphable.to_device(load_model("synthetic:small"))


def random_faces(model, seed: int, count: int, *, max_angles=(0.3, 1.05, 0.2), identity=None):
    """``count`` random faces (coefficients ~ N(0, 1), yaw up to 60 degrees) at 224 px.

    Args:
      identity: optional ``[Ki]`` identity shared by all faces (one person's images).

    Returns:
      ``(truth FaceParams [count], landmarks [count, L, 2] float64)``: exact projections.
    """
    keys = jax.random.split(jax.random.key(seed), count)
    truth = jax.vmap(
        lambda k: morphable.random_params(model, k, image_size=IMAGE_SIZE, max_angles=max_angles)
    )(keys)
    # Expressions at half scale: faces, not caricatures.
    truth = truth.replace(expression=0.5 * truth.expression)
    if identity is not None:
        truth = truth.replace(identity=jnp.broadcast_to(identity, truth.identity.shape))
    return truth, np.asarray(jax.vmap(projected_landmarks, (None, 0))(model, truth))


@jax.jit
def projected_landmarks(model, params):
    """``decode(model, params).landmarks_2d[:, :2]`` without the normals and colours."""
    vertices = morphable.shape(model, params.identity, params.expression)
    screen = morphable.project(params, morphable.pose(params, vertices))
    return morphable.landmarks(model, screen)[:, :2]
