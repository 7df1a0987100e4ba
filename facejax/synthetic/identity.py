"""The identity (shape) basis of the synthetic model: how faces differ from one person to another.

The first components are designed factors of facial shape, each a smooth displacement field
sized like one standard deviation of that trait in adults (a few millimetres): head size, face
width and length, profile depth, jaw, forehead, nose size/length/width/bridge, eye spacing,
depth and height, brows, cheekbones and cheeks, chin, lips, mouth, ears, neck, back of the head
and a few left-right asymmetries (nose deviation, jaw shift, eye and brow height, mouth tilt).
The others are random smooth deformations of the face (sums of three Gaussian bumps, mostly
mirror-symmetric, one in four antisymmetric) whose standard deviations fall off geometrically,
finer ones being smaller. All are ordered by standard deviation.

All components are orthonormalized in order (:func:`facejax.synthetic.fields.orthonormal_basis`).
"""

from __future__ import annotations

import numpy as np

from facejax.synthetic import anatomy as A
from facejax.synthetic import fields as F
from facejax.synthetic import head, regions
from facejax.synthetic.mesh import HeadMesh

SEED = 20_24_11


def designed_fields(mesh: HeadMesh) -> list[tuple[str, np.ndarray]]:
    """``(name, [V, 3] field)`` of the designed identity factors, one standard deviation each."""
    p = mesh.vertices
    x, y, z = p[:, 0], p[:, 1], p[:, 2]
    sx = np.sign(x)
    zero = np.zeros_like(x)
    front = head.smoothstep(10.0, 40.0, z)
    normals = F.surface_normals(mesh)
    ex, ey = A.EYE_CENTER
    eye = (ex, ey, 70.0)

    def vec(dx=zero, dy=zero, dz=zero):
        return np.stack(np.broadcast_arrays(dx, dy, dz), axis=-1).astype(np.float64)

    mouth = F.bump(p, (0.0, A.MOUTH_Y, 80.0), (22.0, 10.0, 15.0))
    lower_face = head.smoothstep(20.0, -20.0, y)
    below_cheeks = head.smoothstep(-25.0, -75.0, y) * head.smoothstep(-140.0, -115.0, y)
    out = [
        ("head_size", 0.035 * p),
        ("face_width", vec(dx=0.035 * x)),
        ("face_length", vec(dy=0.05 * (y - 20.0) * lower_face)),
        ("profile_depth", vec(dz=0.04 * z * front)),
        ("jaw_width", vec(dx=0.07 * x * below_cheeks)),
        ("forehead_slope", vec(dz=0.06 * (y - 30.0) * head.smoothstep(30.0, 60.0, y) * front)),
        ("nose_size", 0.12 * (p - np.array([0.0, -10.0, 82.0])) * (
            F.bump(p, (0.0, -5.0, 90.0), (13.0, 20.0, 15.0)) * front)[:, None]),
        ("nose_projection", vec(dy=-1.0, dz=2.5) * F.bump(p, (0, -20, 98), (8, 8, 10))[:, None]),
        ("nose_width", vec(dx=0.15 * x * F.bump(p, (0.0, -24.0, 90.0), (16.0, 8.0, 12.0)))),
        ("nose_bridge", vec(dz=1.8 * F.bump(p, (0.0, 2.0, 92.0), (6.0, 12.0, 8.0)))),
        ("eye_spacing", vec(dx=2.2 * sx * F.paired_bump(p, eye, (14.0, 12.0, 15.0)))),
        ("eye_depth", vec(dz=-2.0 * F.paired_bump(p, eye, (12.0, 10.0, 12.0)))),
        ("eye_height", vec(dy=2.0 * F.paired_bump(p, (ex, ey + 2, 70), (16.0, 14.0, 15.0)))),
        ("brow_ridge", vec(dz=2.0 * F.paired_bump(p, (30.0, 36.0, 82.0), (16.0, 7.0, 12.0)))),
        ("cheekbones", 2.5 * normals * F.paired_bump(p, (50, 2, 55), (12, 12, 15))[:, None]),
        ("cheek_fullness", 3.0 * normals * F.paired_bump(p, (40, -35, 60), (15, 16, 18))[:, None]),
        ("chin", vec(dy=-1.5, dz=2.5) * F.bump(p, (0.0, -90.0, 75.0), (16, 10, 15))[:, None]),
        ("chin_width", vec(dx=0.12 * x * F.bump(p, (0.0, -90.0, 70.0), (25.0, 12.0, 20.0)))),
        ("lip_fullness", vec(dy=0.12 * (y - A.MOUTH_Y), dz=1.5)
            * F.bump(p, (0.0, A.MOUTH_Y, 84.0), (18.0, 9.0, 8.0))[:, None]),
        ("mouth_width", vec(dx=0.1 * x * mouth)),
        ("mouth_height", vec(dy=2.0 * mouth)),
        ("ear_protrusion", vec(dx=3.0 * sx * F.paired_bump(p, (74, 6, -12), (10, 25, 15)))),
        ("temples", vec(dx=2.0 * sx * F.paired_bump(p, (62.0, 40.0, 20.0), (10, 18, 20)))),
        ("neck_thickness", vec(dx=0.06 * x, dz=0.06 * (z + 14.0))
            * head.smoothstep(-100.0, -130.0, y)[:, None]),
        ("occiput", vec(dz=-3.0 * F.bump(p, (0.0, 40.0, -95.0), (50.0, 40.0, 30.0)))),
        ("crown_height", vec(dy=3.0 * F.bump(p, (0.0, 125.0, -10.0), (50.0, 30.0, 60.0)))),
        # Left-right asymmetries (antisymmetric fields).
        ("nose_deviation", vec(dx=1.5 * F.bump(p, (0.0, -10.0, 90.0), (10.0, 25.0, 15.0)))),
        ("jaw_shift", vec(dx=1.5 * head.smoothstep(-40.0, -80.0, y) * front)),
        ("eye_level", vec(dy=1.2 * sx * F.paired_bump(p, eye, (14.0, 12.0, 15.0)))),
        ("side_width", vec(dx=0.02 * np.abs(x))),
        ("mouth_tilt", vec(dy=0.06 * x * mouth)),
        ("brow_level", vec(dy=1.5 * sx * F.paired_bump(p, (30.0, 38.0, 80.0), (16, 8, 12)))),
    ]  # fmt: skip
    return out


def identity_basis(mesh: HeadMesh, count: int):
    """The identity basis of ``count`` components.

    Returns:
      ``(basis [V, 3, count], std [count], names)``: orthonormal components, non-increasing
      standard deviations (mm, the L2 norm over all vertices of one standard deviation's
      displacement), and the names of the designed ones (``"random_k"`` for the others).
    """
    designed = designed_fields(mesh)
    designed.sort(key=lambda item: -F.norm2(item[1]))  # stable: ties keep their order
    designed = designed[:count]
    names = [n for n, _ in designed]
    field_list = [f for _, f in designed]
    stds = [F.norm2(f) for f in field_list]

    rng = np.random.RandomState(SEED)
    face = mesh.vertices[regions.face_region(mesh) > 0.5]
    num_random = count - len(field_list)
    for k in range(num_random):
        frac = k / max(num_random - 1, 1)
        radius = (30.0 - 18.0 * frac, 40.0 - 22.0 * frac)
        field = F.random_bumps(rng, face, 3, radius, mesh.vertices)
        part = F.antisymmetric_part if k % 4 == 3 else F.symmetric_part
        field = part(field, mesh.mirror)
        field_list.append(field / F.norm2(field))
        # From about 1.5 mm at the most displaced vertex down to about 0.1 mm.
        stds.append(30.0 * 0.05**frac)
        names.append(f"random_{k}")
    order = np.argsort(-np.asarray(stds), kind="stable")  # decreasing std, designed first on ties
    basis, std = F.orthonormal_basis([field_list[k] for k in order], np.asarray(stds)[order])
    return basis, std, tuple(names[k] for k in order)
