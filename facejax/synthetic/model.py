"""``synthetic_model``: the embedded default morphable model, built on demand and cached."""

from __future__ import annotations

import dataclasses
import functools

import numpy as np

from facejax.morphable.model import MorphableModel, create_model
from facejax.synthetic import albedo, expression, identity, landmarks, regions
from facejax.synthetic.mesh import Resolution, build_mesh


@dataclasses.dataclass(frozen=True)
class Variant:
    """A size of the synthetic model: its mesh resolution and basis sizes."""

    resolution: Resolution
    identity: int
    expression: int
    albedo: int


VARIANTS = {
    # Basis sizes of Deep3DFaceRecon's BFM (80 identity, 64 expression, 80 albedo).
    "default": Variant(
        Resolution(columns=80, rows=50, cap_spacing=5.0, cavity_segments=8, refine_eyes=2),
        identity=80,
        expression=64,
        albedo=80,
    ),
    # For tests: a coarse mesh and a few components of each kind (all ten named expressions).
    "small": Variant(
        Resolution(
            columns=40, rows=30, cap_spacing=9.0, cavity_segments=6, refine_eyes=1, refine_ears=0
        ),
        identity=10,
        expression=10,
        albedo=10,
    ),
}


def synthetic_model(variant: str = "default") -> MorphableModel:
    """The procedurally generated face model that ships with facejax (no download).

    A human head (face, eyes, nose, lips, ears, hair line, neck) in millimetres, in the model
    frame of docs/conventions.md, with identity, expression and albedo bases, 68 iBUG landmarks
    and face/skin masks. It is not a statistical model of real faces: its components are
    designed and random smooth deformations (docs/synthetic_model.md says what each does).

    The model is deterministic (same arrays on every call and every machine: a fixed seed and
    float64 numpy, cast to float32 at the end) and built once per process and variant (about a
    second for ``"default"``); the arrays of the returned model are read-only, since every call
    returns the same cached object.

    Args:
      variant: ``"default"`` (about 6,200 vertices; 80 identity, 64 expression and 80 albedo
        components, the sizes of Deep3DFaceRecon's model) or ``"small"`` (about 1,500
        vertices; 10 of each, for tests).

    Returns:
      The :class:`~facejax.morphable.MorphableModel`, float32 numpy arrays.

    Raises:
      ValueError: for an unknown variant, listing the known ones.
    """
    if variant not in VARIANTS:
        raise ValueError(
            f"unknown synthetic model variant {variant!r}; known variants: {sorted(VARIANTS)}"
        )
    return _build(variant)


@functools.cache
def _build(variant: str) -> MorphableModel:
    spec = VARIANTS[variant]
    mesh = build_mesh(spec.resolution)
    id_basis, id_std, _ = identity.identity_basis(mesh, spec.identity)
    ex_basis, ex_std, ex_names = expression.expression_basis(mesh, spec.expression)
    al_mean = albedo.albedo_mean(mesh)
    al_basis, al_std, _ = albedo.albedo_basis(mesh, al_mean, spec.albedo)
    lmk_tri, lmk_bary = landmarks.landmark_definition(mesh)
    face = regions.face_region(mesh)
    skin = face * (albedo.skin_weight(mesh) > 0.5)
    model = create_model(
        mesh.vertices,
        mesh.triangles,
        identity_basis=id_basis,
        identity_std=id_std,
        expression_basis=ex_basis,
        expression_std=ex_std,
        albedo_mean=al_mean,
        albedo_basis=al_basis,
        albedo_std=al_std,
        landmark_triangles=lmk_tri,
        landmark_barycentric=lmk_bary,
        face_mask=face,
        skin_mask=skin,
        name=f"synthetic-{variant}",
        units="mm",
        expression_names=ex_names,
        source=f"synthetic model {variant!r}",
    )
    for leaf in (getattr(model, f.name) for f in dataclasses.fields(model)):
        if isinstance(leaf, np.ndarray):
            leaf.flags.writeable = False
    return model
