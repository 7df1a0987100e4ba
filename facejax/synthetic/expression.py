"""The expression basis of the synthetic model: named facial movements, then local random ones.

The first components are designed movements, in this order (:data:`EXPRESSION_NAMES`):

``jaw_open``
    the mandible turns about the jaw joints and slides forward; the lower lip, chin and jaw
    move down and back, the lips part (they have separate vertices along the lip line).
``smile``
    the mouth corners go up, back and out; the cheeks lift, the lower lids rise a little.
``lip_pucker``
    the lips push forward and the mouth narrows.
``cheek_puff``
    the cheeks blow out.
``mouth_left``, ``mouth_right``
    the mouth moves to the subject's left (``+x``) or right, its corner on that side pulled back.
``brow_raise``
    both brows and the forehead go up.
``eye_close_left``, ``eye_close_right``
    the upper lid comes down over the eye (the subject's left: ``x > 0``; right: ``x < 0``).
``brow_frown``
    the inner ends of the brows go down and towards each other.

They are ordered by the size of their movement, so that their standard deviations decrease.
A coefficient of 1 is a moderate movement (about half of a strong one); see
docs/synthetic_model.md for the displacement of each. The rest are random smooth local
deformations of the face (one or two Gaussian bumps each), with falling standard deviations.
"""

from __future__ import annotations

import numpy as np

from facejax.synthetic import anatomy as A
from facejax.synthetic import fields as F
from facejax.synthetic import head, regions
from facejax.synthetic.mesh import MOUTH_CAVITY, HeadMesh

EXPRESSION_NAMES = (
    "jaw_open",
    "smile",
    "lip_pucker",
    "cheek_puff",
    "mouth_left",
    "mouth_right",
    "brow_raise",
    "eye_close_left",
    "eye_close_right",
    "brow_frown",
)
SEED = 20_24_12

# Jaw rotation per unit coefficient (radians) and the forward-down slide of the condyles that
# goes with it (mm per radian).
JAW_ANGLE = 0.09
_JAW_SLIDE = np.array([0.0, -45.0, 30.0])


def jaw_weight(mesh: HeadMesh):
    """How much each vertex follows the mandible (0 to 1)."""
    p = mesh.vertices
    ax, y, z = np.abs(p[:, 0]), p[:, 1], p[:, 2]
    corner = A.MOUTH_CORNER_X
    # Below a line that follows the lip line, then rises from the mouth corners to the joints.
    line = A.MOUTH_Y + np.maximum(ax - corner, 0.0) * 1.3
    w = head.smoothstep(line, line - 22.0, y)
    lower = regions.lip_side(mesh) < 0
    lips = np.clip(1.0 - (ax / (corner + 1.0)) ** 4, 0.0, 1.0)
    w = np.where(lower & (ax < corner + 1.0), np.maximum(w, lips), w)
    cavity = mesh.part == MOUTH_CAVITY
    depth = np.clip((mesh.cavity_angle - 0.5 * np.pi) / np.pi, 0.0, 1.0)
    w = np.where(cavity, lips * depth, w)
    # The neck and the back of the head stay.
    return w * head.smoothstep(-140.0, -105.0, y) * head.smoothstep(-25.0, 10.0, z)


def _eye_close(mesh: HeadMesh, side: int):
    """The upper lid comes down onto the lower lid: half-way at a coefficient of 1, closed at 2."""
    p = mesh.vertices
    ax, y = np.abs(p[:, 0]), p[:, 1]
    t, upper, lower = head.eye_fissure(ax)
    closing = lower + 0.1 * (upper - lower)
    along = np.clip(np.sin(np.pi * np.clip(t, 0.0, 1.0)), 0.0, 1.0) ** 0.3
    # Fissure and upper lid move; the effect fades towards the brow and below the lower lid.
    reach = head.smoothstep(upper + 9.0, upper + 1.0, y) * head.smoothstep(lower - 1.0, lower, y)
    w = along * reach * regions.front(mesh, 40.0) * (np.sign(p[:, 0]) == side)
    dy = -0.5 * (y - closing) * w
    return np.stack([np.zeros_like(dy), dy, 0.3 * np.abs(dy)], axis=-1)


def designed_fields(mesh: HeadMesh) -> list[np.ndarray]:
    """The ``[V, 3]`` fields of :data:`EXPRESSION_NAMES`, in order, at a coefficient of 1."""
    p = mesh.vertices
    x, y = p[:, 0], p[:, 1]
    sx = np.sign(x)
    normals = F.surface_normals(mesh)
    corner = (A.MOUTH_CORNER_X, A.MOUTH_Y, 70.0)
    lips = F.bump(p, (0.0, A.MOUTH_Y, 82.0), (16.0, 9.0, 12.0))

    pivot = np.array(A.JAW_PIVOT)
    r = p - pivot
    turn = np.stack([np.zeros_like(x), -r[:, 2], r[:, 1]], axis=-1)  # (1, 0, 0) x r
    jaw_open = JAW_ANGLE * jaw_weight(mesh)[:, None] * (turn + _JAW_SLIDE[None, :])

    corners = F.paired_bump(p, corner, (9.0, 8.0, 12.0))
    cheeks = F.paired_bump(p, (38.0, -20.0, 60.0), (14.0, 14.0, 16.0))
    lower_lids = F.paired_bump(p, (A.EYE_CENTER[0], 9.0, 68.0), (9.0, 4.0, 8.0))
    smile = np.stack([sx * 3.5 * corners + sx * 0.8 * cheeks, 4.0 * corners + 2.5 * cheeks
                      + 1.0 * lower_lids, -2.5 * corners + 1.5 * cheeks], axis=-1)  # fmt: skip
    smile[:, 0] += 0.08 * x * lips  # the lips stretch with the corners

    brows = F.paired_bump(p, (30.0, 40.0, 80.0), (20.0, 11.0, 16.0))
    forehead = head.smoothstep(20.0, 45.0, y) * head.smoothstep(110.0, 70.0, y)
    brow_raise = np.stack(
        [np.zeros_like(x), 4.0 * np.maximum(brows, 0.6 * forehead * regions.front(mesh)),
         0.5 * brows], axis=-1
    )  # fmt: skip

    inner = F.paired_bump(p, (18.0, 37.0, 82.0), (10.0, 7.0, 12.0))
    brow_frown = np.stack([-sx * 2.5 * inner, -3.0 * inner, 1.0 * inner], axis=-1)

    pucker_region = F.bump(p, (0.0, A.MOUTH_Y, 80.0), (18.0, 11.0, 14.0))
    lip_pucker = np.stack(
        [-sx * 4.0 * corners - 0.1 * x * pucker_region,
         -0.1 * (y - A.MOUTH_Y) * pucker_region, 6.0 * lips + 1.5 * corners], axis=-1
    )  # fmt: skip

    puff = F.paired_bump(p, (40.0, -45.0, 55.0), (14.0, 14.0, 16.0))
    cheek_puff = 5.0 * normals * puff[:, None]

    mouth = F.bump(p, (0.0, A.MOUTH_Y, 80.0), (20.0, 12.0, 16.0))
    pull = F.side_bump(p, corner, (8.0, 8.0, 12.0), side=1)
    mouth_left = np.stack([4.0 * mouth + 1.5 * pull, 2.5 * pull, -3.0 * pull], axis=-1)
    mouth_right = F.mirror_field(mouth_left, mesh.mirror)

    return [
        jaw_open,
        smile,
        lip_pucker,
        cheek_puff,
        mouth_left,
        mouth_right,
        brow_raise,
        _eye_close(mesh, side=1),
        _eye_close(mesh, side=-1),
        brow_frown,
    ]


def expression_basis(mesh: HeadMesh, count: int):
    """The expression basis of ``count`` components (the named ones first).

    Returns:
      ``(basis [V, 3, count], std [count], names)``, names of the leading named components.
    """
    named = designed_fields(mesh)[:count]
    stds = [F.norm2(f) for f in named]
    field_list = list(named)
    rng = np.random.RandomState(SEED)
    face = mesh.vertices[regions.face_region(mesh) > 0.5]
    smallest = min(stds)
    num_random = count - len(named)
    for k in range(num_random):
        frac = k / max(num_random - 1, 1)
        field = F.random_bumps(rng, face, 1 + k % 2, (8.0 + 6.0 * (1 - frac), 20.0), mesh.vertices)
        field_list.append(field)
        stds.append(0.8 * smallest * 0.15**frac)
    # The named movements are orthonormalized together, each changed as little as possible.
    basis, std = F.orthonormal_basis(field_list, F.decreasing(stds), together=len(named))
    return basis, std, EXPRESSION_NAMES[: len(named)]
