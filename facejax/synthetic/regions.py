"""Soft masks of the parts of the face on the mesh: eyes, iris, brows, lips, nostrils, scalp.

Each function takes a :class:`~facejax.synthetic.mesh.HeadMesh` and returns ``[V]`` float64 weights
in ``[0, 1]``. They are computed on the mean (neutral) face and used for the albedo, the masks
of the model and the local deformations of the bases.
"""

from __future__ import annotations

import numpy as np

from facejax.synthetic import anatomy as A
from facejax.synthetic import head
from facejax.synthetic.mesh import LOWER_LIP_LINE, MOUTH_CAVITY, UPPER_LIP_LINE, HeadMesh


def _coords(mesh: HeadMesh):
    v = mesh.vertices
    return np.abs(v[:, 0]), v[:, 1], v[:, 2]


def front(mesh: HeadMesh, min_z=20.0, width=10.0):
    """1 on the front of the head (``z`` well above ``min_z``), 0 behind; not the mouth cavity."""
    _, _, z = _coords(mesh)
    return head.smoothstep(min_z, min_z + width, z) * (mesh.part != MOUTH_CAVITY)


def eye_white(mesh: HeadMesh):
    """The visible eyeball inside the palpebral fissure (sclera, iris and pupil)."""
    ax, y, _ = _coords(mesh)
    near = np.abs(y - A.EYE_CENTER[1]) < 12.0
    return head.eye_opening(ax, y, softness=0.25) * near * front(mesh, 40.0)


def _eye_radius(mesh: HeadMesh):
    ax, y, _ = _coords(mesh)
    return np.hypot(ax - A.EYE_CENTER[0], y - A.EYE_CENTER[1])


def iris(mesh: HeadMesh):
    """The iris disc (including the pupil), clipped by the lids."""
    r = _eye_radius(mesh)
    return head.smoothstep(A.IRIS_RADIUS + 0.3, A.IRIS_RADIUS - 0.3, r) * eye_white(mesh)


def pupil(mesh: HeadMesh):
    r = _eye_radius(mesh)
    return head.smoothstep(A.PUPIL_RADIUS + 0.4, A.PUPIL_RADIUS - 0.4, r) * eye_white(mesh)


def lash_line(mesh: HeadMesh):
    """The dark margins of the lids (lashes), strongest on the upper lid."""
    ax, y, _ = _coords(mesh)
    t, upper, lower = head.eye_fissure(ax)
    along = head.smoothstep(-0.05, 0.08, t) * head.smoothstep(1.1, 0.95, t)
    up = np.exp(-(((y - upper - 0.6) / 1.0) ** 2)) * (1.0 - 0.4 * (1.0 - t))
    low = 0.45 * np.exp(-(((y - lower + 0.4) / 0.7) ** 2))
    return np.clip(np.maximum(up, low) * along * (1.0 - eye_white(mesh)), 0, 1) * front(mesh, 40.0)


def eye_region(mesh: HeadMesh, margin=4.0):
    """The eye and the lids around it (for skin_mask and the eye expressions)."""
    ax, y, _ = _coords(mesh)
    (xi, _), (xo, _) = A.EYE_INNER_CANTHUS, A.EYE_OUTER_CANTHUS
    cx, cy = 0.5 * (xi + xo), A.EYE_CENTER[1]
    rx, ry = 0.5 * (xo - xi) + margin, A.EYE_UPPER_LID_HEIGHT + margin
    d = np.hypot((ax - cx) / rx, (y - cy) / ry)
    return head.smoothstep(1.15, 0.95, d) * front(mesh, 40.0)


def _polyline_distance(ax, y, points):
    points = np.asarray(points, dtype=np.float64)
    best = np.full(ax.shape, np.inf)
    along = np.zeros(ax.shape)
    total = np.concatenate([[0.0], np.cumsum(np.linalg.norm(np.diff(points, axis=0), axis=1))])
    for k in range(len(points) - 1):
        a, b = points[k], points[k + 1]
        d = b - a
        s = np.clip(((ax - a[0]) * d[0] + (y - a[1]) * d[1]) / (d @ d), 0.0, 1.0)
        dist = np.hypot(ax - a[0] - s * d[0], y - a[1] - s * d[1])
        closer = dist < best
        best = np.where(closer, dist, best)
        along = np.where(closer, (total[k] + s * np.linalg.norm(d)) / total[-1], along)
    return best, along


def brows(mesh: HeadMesh):
    """The eyebrows: a band along the brow curve, thicker at the inner end."""
    ax, y, _ = _coords(mesh)
    dist, along = _polyline_distance(ax, y, A.BROW_POINTS)
    half = A.BROW_HALF_THICKNESS * (1.25 - 0.55 * along)
    ends = head.smoothstep(-0.04, 0.06, along) * head.smoothstep(1.08, 0.9, along)
    return head.smoothstep(half + 1.5, half - 1.5, dist) * ends * front(mesh, 40.0)


def lips(mesh: HeadMesh):
    """The red of the lips (vermilion), upper and lower."""
    ax, y, _ = _coords(mesh)
    top = head.upper_vermilion_y(ax)
    bottom = head.lower_vermilion_y(ax)
    inside = np.minimum(top - y, y - bottom)
    lateral = head.smoothstep(A.MOUTH_CORNER_X + 1.0, A.MOUTH_CORNER_X - 1.5, ax)
    on_line = (mesh.part == UPPER_LIP_LINE) | (mesh.part == LOWER_LIP_LINE)
    red = np.maximum(head.smoothstep(-0.5, 0.6, inside) * lateral, on_line)
    return red * front(mesh, 50.0)


def lip_side(mesh: HeadMesh):
    """+1 for the upper lip and the region above the lip line, -1 below it (with the lower-lip
    copies of the cut and the lower half of the mouth cavity)."""
    _, y, _ = _coords(mesh)
    side = np.where(y >= A.MOUTH_Y, 1.0, -1.0)
    side[mesh.part == UPPER_LIP_LINE] = 1.0
    side[mesh.part == LOWER_LIP_LINE] = -1.0
    cavity = mesh.part == MOUTH_CAVITY
    side[cavity] = np.where(mesh.cavity_angle[cavity] < np.pi, 1.0, -1.0)
    return side


def nostrils(mesh: HeadMesh):
    ax, y, _ = _coords(mesh)
    nx, ny = A.NOSTRIL
    return np.exp(-0.5 * (((ax - nx) / 2.6) ** 2 + ((y - ny) / 1.4) ** 2)) * front(mesh, 60.0)


def teeth(mesh: HeadMesh):
    """Upper and lower teeth just behind the lips, inside the mouth cavity."""
    a = mesh.cavity_angle
    up = (a > 0.12 * np.pi) & (a < 0.55 * np.pi)
    down = (a > 1.45 * np.pi) & (a < 1.85 * np.pi)
    return ((mesh.part == MOUTH_CAVITY) & (up | down)).astype(np.float64)


def scalp(mesh: HeadMesh):
    """Where hair grows: above a hairline over the forehead, temples, around the ears, nape."""
    x, y, z = mesh.vertices[:, 0], mesh.vertices[:, 1], mesh.vertices[:, 2]
    azimuth = np.abs(np.arctan2(x, z))  # 0 in front, pi at the back
    # Hairline height by azimuth: forehead, temples, sideburns in front of the ears, behind the
    # ears, nape.
    hairline = np.interp(
        azimuth,
        np.radians([0, 25, 40, 55, 68, 80, 90, 105, 125, 150, 180]),
        [86, 84, 76, 64, 52, 22, 18, 40, 24, -30, -40],
    )
    ear = ear_region(mesh)
    # A wider edge where the mesh is coarse (sides and back), so that it does not look jagged.
    soft = np.interp(azimuth, np.radians([0, 40, 70, 180]), [3.0, 4.0, 8.0, 8.0])
    return head.smoothstep(hairline - soft, hairline + soft, y) * (1.0 - ear)


def ear_region(mesh: HeadMesh):
    ax, y, z = _coords(mesh)
    cy, cz = A.EAR_CENTER
    d = np.hypot((y - cy) / (A.EAR_HALF_SIZE[0] + 5.0), (z - cz) / (A.EAR_HALF_SIZE[1] + 6.0))
    return head.smoothstep(1.0, 0.85, d) * head.smoothstep(64.0, 70.0, ax)


def face_region(mesh: HeadMesh):
    """The front of the face: an oval from the forehead to under the chin, ears excluded."""
    ax, y, _ = _coords(mesh)
    d = np.hypot(ax / A.FACE_OVAL_HALF_WIDTH, (y - A.FACE_OVAL_CENTER_Y) / A.FACE_OVAL_HALF_HEIGHT)
    return (d <= 1.0) * front(mesh, A.FACE_MIN_Z, 1e-6) * (1.0 - scalp(mesh) > 0.5)
