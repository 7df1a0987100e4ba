"""A user's identity folders in miniature: photos rendered from ``synthetic:small`` (truth
known), a ``.pts`` file of the 68 projected landmarks beside each, and a few broken files."""

from __future__ import annotations

import dataclasses

import jax
import jax.numpy as jnp
import numpy as np
from PIL import Image

from facejax import morphable
from facejax.data import synthetic_scenes as scenes
from facejax.data.builders.synthetic_faces import sample_faces
from facejax.data.synthetic_render import render_scenes
from facejax.formats import load_model, write_pts

MODEL = "synthetic:small"
# Yaw within +-50 degrees: the photos of a face dataset, not profiles.
SCENE = dataclasses.replace(scenes.SceneConfig(), yaw_deg=50.0, noise_std=0.01)


def write_identity_folders(root, *, people: int, photos: int, size: int = 48, seed: int = 0):
    """Writes ``root/person_<i>/<n>.png`` and ``<n>.pts`` for ``people`` x ``photos`` faces.

    Returns:
      ``{image_path: {"identity": [Ki], "landmarks": [68, 2]}}``, the truth of each photo.
    """
    model = morphable.to_device(load_model(MODEL))
    frame = scenes.framing(model)
    identities, images = np.divmod(np.arange(people * photos), photos)
    batch = sample_faces(
        model,
        jnp.asarray(seed, jnp.int32),
        jnp.asarray(identities, jnp.int32),
        jnp.asarray(images, jnp.int32),
        jnp.asarray(frame.anchor, jnp.float32),
        jnp.asarray(frame.extent, jnp.float32),
        scene=SCENE,
        size=size,
    )
    out = jax.device_get(render_scenes(model, batch, radius=SCENE.blur_radius(size)))
    truth = {}
    for i, (person, n) in enumerate(zip(identities, images, strict=True)):
        folder = root / f"person_{person}"
        folder.mkdir(parents=True, exist_ok=True)
        Image.fromarray(out["image"][i]).save(folder / f"{n:02d}.png")
        write_pts(folder / f"{n:02d}.pts", out["landmarks"][i])
        truth[f"person_{person}/{n:02d}.png"] = {
            "identity": out["identity_coeffs"][i],
            "landmarks": out["landmarks"][i],
        }
    return truth
