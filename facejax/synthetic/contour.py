"""The embedded model's jaw contour candidates: a horizontal line of surface points per jaw point.

The jaw landmarks 0-16 of the synthetic face (``facejax.synthetic.landmarks``) are placed on
the frontal outline. For a turned head the outline is elsewhere, so each jaw point except the
chin (8) gets a line of candidates in the sense of 3DDFA's landmark marching: the points where
rays in its horizontal plane, from the head's vertical axis (x = z = 0), leave the skin, at
azimuths (from straight ahead) from ``MIN_AZIMUTH_DEG`` to ``MAX_AZIMUTH_DEG`` on the
landmark's side, plus the fixed landmark itself. ``facejax.fitting.contour`` chooses among
them per image and pose.
"""

from __future__ import annotations

import functools

import numpy as np

from facejax.synthetic.mesh import MOUTH_CAVITY, build_mesh

MIN_AZIMUTH_DEG = 3.0
# Beyond this the rays at the ear level run into the ear.
MAX_AZIMUTH_DEG = 85.0
NUM_SAMPLES = 24
CHIN = 8
JAW = tuple(k for k in range(17) if k != CHIN)


def _first_hits(vertices, triangles, origin, directions):
    """For each ray from ``origin``, the nearest triangle it crosses and the barycentric weights
    there (Moller-Trumbore). Returns ``(triangle [R], barycentric [R, 3])``; -1 where none."""
    a, b, c = (vertices[triangles[:, k]] for k in range(3))
    e1, e2 = b - a, c - a
    out_tri = np.full(len(directions), -1, np.int64)
    out_bary = np.zeros((len(directions), 3))
    for r, d in enumerate(directions):
        p = np.cross(d, e2)
        det = np.einsum("fc,fc->f", e1, p)
        ok = np.abs(det) > 1e-12
        inv = np.where(ok, 1.0 / np.where(ok, det, 1.0), 0.0)
        s = origin - a
        u = np.einsum("fc,fc->f", s, p) * inv
        q = np.cross(s, e1)
        v = np.einsum("c,fc->f", d, q) * inv
        t = np.einsum("fc,fc->f", e2, q) * inv
        hit = ok & (u >= 0) & (v >= 0) & (u + v <= 1) & (t > 1e-6)
        if hit.any():
            f = int(np.flatnonzero(hit)[np.argmin(t[hit])])
            out_tri[r] = f
            out_bary[r] = (1.0 - u[f] - v[f], u[f], v[f])
    return out_tri, out_bary


def contour_lines(vertices, triangles, part, landmark_triangles, landmark_barycentric):
    """The candidate lines of the jaw points on a mesh (module docstring).

    Args:
      vertices: ``[V, 3]`` the mean face, mm.
      triangles: ``[F, 3]``.
      part: ``[V]`` vertex parts (the mouth cavity is not skin).
      landmark_triangles: ``[68]``; landmark_barycentric: ``[68, 3]``.

    Returns:
      ``(landmarks [16], triangles list of [M_k], barycentric list of [M_k, 3])``, each line
      ordered from the nose side to the ear side.
    """
    vertices = np.asarray(vertices, np.float64)
    triangles = np.asarray(triangles)
    skin = np.flatnonzero(np.asarray(part)[triangles].max(axis=1) != MOUTH_CAVITY)
    corners = vertices[triangles[landmark_triangles]]
    points = np.einsum("lk,lkc->lc", np.asarray(landmark_barycentric, np.float64), corners)
    azimuths = np.radians(np.linspace(MIN_AZIMUTH_DEG, MAX_AZIMUTH_DEG, NUM_SAMPLES))
    tri_lines, bary_lines = [], []
    for k in JAW:
        x, y, z = points[k]
        side = np.sign(x)
        directions = np.stack(
            [side * np.sin(azimuths), np.zeros_like(azimuths), np.cos(azimuths)], axis=-1
        )
        tri, bary = _first_hits(vertices, triangles[skin], np.array([0.0, y, 0.0]), directions)
        found = tri >= 0
        tri, bary, angle = skin[tri[found]], bary[found], azimuths[found]
        # The fixed landmark is a candidate too, in its place along the line.
        own = np.arctan2(abs(x), z)
        order = np.argsort(np.concatenate([angle, [own]]), kind="stable")
        tri_lines.append(np.concatenate([tri, [landmark_triangles[k]]])[order])
        bary_lines.append(np.concatenate([bary, [landmark_barycentric[k]]])[order])
    return np.asarray(JAW), tri_lines, bary_lines


@functools.cache
def contour_candidate_lines(variant: str = "default"):
    """The candidate lines of ``synthetic_model(variant)`` (:func:`contour_lines`), built once per
    process and variant; ``facejax.fitting.synthetic_contour`` makes them a fit's ``contour=``.
    """
    from facejax.synthetic.model import VARIANTS, synthetic_model

    model = synthetic_model(variant)
    mesh = build_mesh(VARIANTS[variant].resolution)
    return contour_lines(
        model.mean_shape,
        model.triangles,
        mesh.part,
        np.asarray(model.landmark_triangles),
        np.asarray(model.landmark_barycentric, np.float64),
    )
