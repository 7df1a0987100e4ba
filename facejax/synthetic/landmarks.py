"""The 68 iBUG landmarks of the synthetic face, as triangles and barycentric weights.

Each landmark is a point of the surface at an anatomical place (docs/conventions.md): it is found
on the mean face and stored as the triangle it lies in and its barycentric weights there, so
that it moves with the surface under any identity or expression. "Right" is the subject's
right: negative x in the model frame, the left of a frontal image.

* 0-16 jaw: the outline of the face seen from the front, from the right ear level round the chin
  (8) to the left, at equal spacing along it; points where the surface turns away from a
  frontal viewer (normal ``n_z = 0.3``), so they stay visible.
* 17-21 right brow (outer to inner), 22-26 left brow (inner to outer), along the brow's centre.
* 27-30 nose bridge from the nasion to the tip; 31-35 the base of the nose, right to left, 33 at
  the subnasale.
* 36-41 right eye: outer corner, two upper-lid points, inner corner, two lower-lid points;
  42-47 left eye: inner corner, upper lid, outer corner, lower lid.
* 48-59 the outer lip contour (vermilion border), from the right corner over the upper lip and
  back along the lower lip; 60-67 the inner contour: on the lip line, with the upper lip's
  vertices for 61-63 and the lower lip's for 65-67, so that they part when the mouth opens.
"""

from __future__ import annotations

import numpy as np

from facejax.synthetic import anatomy as A
from facejax.synthetic import head
from facejax.synthetic.mesh import MOUTH_CAVITY, HeadMesh

# iBUG 68 mirror pairs as (subject's right, subject's left); the others lie on the midline.
MIRROR_PAIRS = (
    [(k, 16 - k) for k in range(8)]
    + [(17 + k, 26 - k) for k in range(5)]
    + [(31, 35), (32, 34)]
    + [(36, 45), (37, 44), (38, 43), (39, 42), (40, 47), (41, 46)]
    + [(48, 54), (49, 53), (50, 52), (59, 55), (58, 56), (60, 64), (61, 63), (67, 65)]
)
MIDLINE = (8, 27, 28, 29, 30, 33, 51, 57, 62, 66)


def ibug_mirror_permutation() -> np.ndarray:
    """``[68]`` index of each landmark's mirror image (itself on the midline)."""
    perm = np.arange(68)
    for a, b in MIRROR_PAIRS:
        perm[a], perm[b] = b, a
    return perm


def _frontal_hits(vertices, triangles, points_xy):
    """For each ``(x, y)``, the front-most triangle under it and the barycentric weights.

    Returns:
      ``(triangle [N], barycentric [N, 3], z [N])``.
    """
    a, b, c = (vertices[triangles[:, k]] for k in range(3))
    out_tri, out_bary, out_z = [], [], []
    for px, py in points_xy:
        det = (b[:, 1] - c[:, 1]) * (a[:, 0] - c[:, 0]) + (c[:, 0] - b[:, 0]) * (a[:, 1] - c[:, 1])
        safe = np.where(np.abs(det) > 1e-12, det, 1.0)
        w0 = ((b[:, 1] - c[:, 1]) * (px - c[:, 0]) + (c[:, 0] - b[:, 0]) * (py - c[:, 1])) / safe
        w1 = ((c[:, 1] - a[:, 1]) * (px - c[:, 0]) + (a[:, 0] - c[:, 0]) * (py - c[:, 1])) / safe
        w2 = 1.0 - w0 - w1
        inside = (np.abs(det) > 1e-12) & (w0 >= -1e-9) & (w1 >= -1e-9) & (w2 >= -1e-9)
        z = w0 * a[:, 2] + w1 * b[:, 2] + w2 * c[:, 2]
        if not inside.any():
            raise ValueError(f"no surface in front of ({px:.1f}, {py:.1f})")
        f = int(np.flatnonzero(inside)[np.argmax(z[inside])])
        out_tri.append(f)
        out_bary.append(np.clip([w0[f], w1[f], w2[f]], 0.0, 1.0))
        out_z.append(z[f])
    bary = np.asarray(out_bary)
    return np.asarray(out_tri), bary / bary.sum(axis=1, keepdims=True), np.asarray(out_z)


def _jaw_outline(threshold=0.4):
    """17 points (x, y) along the face outline, where the surface starts to turn away.

    Along rays in the frontal plane from a centre below the nose, the outline is the first
    point where the normal's z falls below ``threshold`` (the cheek and jaw turning sideways,
    the chin turning under); it is then resampled at equal spacing.
    """
    center = np.array([0.0, -18.0])
    angles = np.radians(np.linspace(152.0, 270.0, 45))
    radii = np.arange(35.0, 96.0, 1.5)
    direction = np.stack([np.cos(angles), np.sin(angles)], -1)
    xy = center + radii[None, :, None] * direction[:, None, :]  # [A, R, 2]
    x, y = xy[..., 0].ravel(), xy[..., 1].ravel()
    z = head.frontal_depth(x, y, z_start=110.0)
    nz = head.surface_normal(np.stack([x, y, np.nan_to_num(z, nan=-50.0)], -1))[:, 2]
    nz = np.where(np.isfinite(z), nz, -1.0).reshape(len(angles), len(radii))
    k = np.argmax(nz < threshold, axis=1)  # first sample past the outline
    rows = np.arange(len(angles))
    n0, n1 = nz[rows, k - 1], nz[rows, k]
    r = radii[k - 1] + (radii[k] - radii[k - 1]) * (n0 - threshold) / (n0 - n1)
    outline = center + r[:, None] * direction  # right half, from the ear level to the chin
    seg = np.hypot(*np.diff(outline, axis=0).T)
    arc = np.concatenate([[0.0], np.cumsum(seg)])
    at = np.linspace(0.0, arc[-1], 9)
    right = np.stack([np.interp(at, arc, outline[:, 0]), np.interp(at, arc, outline[:, 1])], -1)
    right[-1, 0] = 0.0  # point 8 on the midline
    left = right[-2::-1] * np.array([-1.0, 1.0])
    return np.concatenate([right, left])


def _brow_points():
    """Five points along the left brow, inner to outer."""
    pts = np.asarray(A.BROW_POINTS)
    seg = np.hypot(*np.diff(pts, axis=0).T)
    arc = np.concatenate([[0.0], np.cumsum(seg)])
    at = np.linspace(0.02, 0.98, 5) * arc[-1]
    return np.stack([np.interp(at, arc, pts[:, 0]), np.interp(at, arc, pts[:, 1])], -1)


def _lid_point(t, upper):
    (xi, _), (xo, _) = A.EYE_INNER_CANTHUS, A.EYE_OUTER_CANTHUS
    x = xi + t * (xo - xi)
    _, up, low = head.eye_fissure(np.array([x]))
    return (x, float(up[0] - 0.3) if upper else float(low[0] + 0.3))


def landmark_targets():
    """``[68, 2]`` frontal ``(x, y)`` of the landmarks, except jaw (0-16) and inner lips."""
    xy = np.full((68, 2), np.nan)
    brow = _brow_points()  # left brow, inner to outer
    xy[22:27] = brow
    xy[17:22] = brow[::-1] * np.array([-1.0, 1.0])
    y_nose = np.linspace(A.NASION[1], A.NOSE_TIP_Y, 4)
    xy[27:31] = np.stack([np.zeros(4), y_nose], -1)
    xy[31:36] = [(-12.5, -28.3), (-6.5, -30.0), (0.0, A.SUBNASALE_Y), (6.5, -30.0), (12.5, -28.3)]
    (xi, yi), (xo, yo) = A.EYE_INNER_CANTHUS, A.EYE_OUTER_CANTHUS
    left_eye = [(xi + 0.4, yi), _lid_point(1 / 3, True), _lid_point(2 / 3, True),
                (xo - 0.4, yo), _lid_point(2 / 3, False), _lid_point(1 / 3, False)]  # fmt: skip
    xy[42:48] = left_eye
    # Right eye: outer corner, upper lid (outer to inner), inner corner, lower lid (inner to outer).
    right = np.asarray(left_eye) * np.array([-1.0, 1.0])
    xy[36:42] = right[[3, 2, 1, 0, 5, 4]]
    corner = A.MOUTH_CORNER_X + 0.8

    def upper(x):
        return (x, float(head.upper_vermilion_y(np.abs(np.array([x])))[0]) - 0.2)

    def lower(x):
        return (x, float(head.lower_vermilion_y(np.abs(np.array([x])))[0]) + 0.2)

    xy[48] = (-corner, A.MOUTH_Y)
    xy[49:54] = [upper(-15.0), upper(-A.CUPID_PEAK[0]), upper(0.0), upper(A.CUPID_PEAK[0]),
                 upper(15.0)]  # fmt: skip
    xy[54] = (corner, A.MOUTH_Y)
    xy[55:60] = [lower(15.0), lower(7.0), lower(0.0), lower(-7.0), lower(-15.0)]
    return xy


def _on_lip_line(mesh: HeadMesh, triangles, x, upper):
    """Triangle and weights of the point of the lip line at ``x``, on the upper or lower lip."""
    ids = mesh.lip_line_upper if upper else mesh.lip_line_lower
    xs = mesh.vertices[ids, 0]
    k = int(np.clip(np.searchsorted(xs, x) - 1, 0, len(ids) - 2))
    a, b = ids[k], ids[k + 1]
    s = float(np.clip((x - xs[k]) / (xs[k + 1] - xs[k]), 0.0, 1.0))
    cavity = mesh.part[triangles].max(axis=1) == MOUTH_CAVITY
    has = (np.sum((triangles == a) | (triangles == b), axis=1) == 2) & ~cavity
    f = int(np.flatnonzero(has)[0])
    bary = np.where(triangles[f] == a, 1.0 - s, 0.0) + np.where(triangles[f] == b, s, 0.0)
    return f, bary


def landmark_definition(mesh: HeadMesh):
    """``(triangles [68] int32, barycentric [68, 3])`` of the 68 landmarks on ``mesh``."""
    tris = mesh.triangles
    surface = mesh.part[tris].max(axis=1) != MOUTH_CAVITY
    surface_ids = np.flatnonzero(surface)
    xy = landmark_targets()
    xy[0:17] = _jaw_outline()
    lmk_tri = np.zeros(68, dtype=np.int64)
    lmk_bary = np.zeros((68, 3))
    corner_x = float(mesh.vertices[mesh.lip_line_upper[-1], 0])
    # The outer corners just outside the lip line's end (where the mesh has its corner).
    xy[[48, 54]] = [(-corner_x - 0.8, A.MOUTH_Y), (corner_x + 0.8, A.MOUTH_Y)]
    frontal = np.arange(48 + 12)
    tri, bary, _ = _frontal_hits(mesh.vertices, tris[surface], xy[frontal])
    lmk_tri[frontal], lmk_bary[frontal] = surface_ids[tri], bary
    inner = {60: (-corner_x, True), 61: (-8.0, True), 62: (0.0, True), 63: (8.0, True),
             64: (corner_x, True), 65: (8.0, False), 66: (0.0, False),
             67: (-8.0, False)}  # fmt: skip
    for k, (x, upper) in inner.items():
        lmk_tri[k], lmk_bary[k] = _on_lip_line(mesh, tris, x, upper)
    return lmk_tri.astype(np.int32), lmk_bary


def landmark_positions(vertices, triangles, lmk_tri, lmk_bary):
    """``[68, 3]`` landmark positions on a mesh with the given vertices (numpy)."""
    corners = vertices[triangles[lmk_tri]]  # [68, 3, 3]
    return np.einsum("lk,lkd->ld", lmk_bary, corners)
