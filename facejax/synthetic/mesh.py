"""The triangle mesh of the synthetic head: where its vertices are and how they are connected.

Every surface vertex lies on the implicit head of :mod:`facejax.synthetic.head`, found by a ray
from the origin (the head is star-shaped about the point between the ears). The directions
come in three parts:

* a **band**, a latitude-longitude grid all around the head (azimuth ``phi`` from ``+z``
  towards ``+x``, elevation ``theta`` from -62 to +60 degrees), its nodes spaced by arc length
  and denser on the face. One row is bent to follow the lip line exactly, and along the mouth it
  is cut: the upper and lower lips have their own vertices, so that the mouth can open;
* two **caps**, rings of latitude with fewer and fewer vertices up to the crown and down to the
  bottom of the neck;
* the **mouth cavity**, a closed pocket behind the lips joined to the cut (it shows when the jaw
  opens and keeps the mesh closed).

The mesh is closed and manifold, its triangles are wound counter-clockwise seen from outside,
and it is mirror-symmetric: :attr:`HeadMesh.mirror` maps each vertex to its mirror image.
"""

from __future__ import annotations

import collections
import dataclasses

import numpy as np

from facejax.synthetic import anatomy as A
from facejax.synthetic import head
from facejax.synthetic.refine import red_green_refine

# Vertex parts.
SURFACE, UPPER_LIP_LINE, LOWER_LIP_LINE, MOUTH_CAVITY = 0, 1, 2, 3


@dataclasses.dataclass(frozen=True)
class Resolution:
    """How finely the head is sampled.

    Attributes:
      columns: band columns all around the head (even; one column lies on the face's midline).
      rows: band rows.
      cap_spacing: spacing of the cap rings (degrees of latitude).
      cavity_segments: segments around the mouth cavity's cross-section (even).
      refine_eyes: how many times the triangles around the eyes are split in four (0 to 2).
      refine_ears: how many times the triangles of the ears are split in four.
    """

    columns: int
    rows: int
    cap_spacing: float
    cavity_segments: int
    refine_eyes: int = 2
    refine_ears: int = 1


@dataclasses.dataclass(frozen=True)
class HeadMesh:
    """A mesh of the synthetic head.

    Attributes:
      vertices: ``[V, 3]`` float64 positions (mm).
      triangles: ``[F, 3]`` int32, counter-clockwise seen from outside.
      mirror: ``[V]`` int32 index of each vertex's mirror image (``x -> -x``).
      part: ``[V]`` int8: 0 surface, 1 upper lip on the lip line, 2 lower lip on the lip line,
        3 mouth cavity.
      cavity_angle: ``[V]`` float64, for cavity vertices the angle around its cross-section
        (0 at the upper lip, pi at the back, 2 pi at the lower lip); 0 elsewhere.
      lip_line_upper: ``[S]`` int32 vertices of the lip line from the right corner to the left
        one, as the upper lip sees them (the corners are shared).
      lip_line_lower: ``[S]`` int32, the same points as the lower lip sees them.
    """

    vertices: np.ndarray
    triangles: np.ndarray
    mirror: np.ndarray
    part: np.ndarray
    cavity_angle: np.ndarray
    lip_line_upper: np.ndarray
    lip_line_lower: np.ndarray


_THETA_RANGE = (np.radians(-62.0), np.radians(60.0))


def directions(phi, theta):
    """Unit vectors at azimuth ``phi`` (from +z towards +x) and elevation ``theta``."""
    return np.stack(
        [np.cos(theta) * np.sin(phi), np.sin(theta), np.cos(theta) * np.cos(phi)], axis=-1
    )


def _equidistribute(grid, density, count):
    """``count`` nodes over ``grid`` whose spacing is inversely proportional to ``density``."""
    mass = np.concatenate([[0.0], np.cumsum(0.5 * (density[1:] + density[:-1]) * np.diff(grid))])
    return np.interp(np.linspace(0.0, mass[-1], count), mass, grid)


def _arc_density(phi, theta):
    """Surface arc length per radian along a line of directions (``[N]`` each, one varying)."""
    r = head.ray_cast(directions(phi, theta))
    param = phi if np.ptp(phi) > 0 else theta
    return np.hypot(r, np.gradient(r, param))


def _band_nodes(res):
    """Column azimuths ``[C]`` (from just above -pi to pi, 0 at index ``C/2 - 1``) and row
    elevations ``[R]``: spaced by arc length, denser on the face."""
    half = np.linspace(0.0, np.pi, 360)
    arcs = [_arc_density(half, np.full_like(half, np.radians(t))) for t in (12.0, -10.0, -32.0)]
    arc = np.mean([a / a.mean() for a in arcs], axis=0)
    weight = 0.3 + 0.7 * np.exp(-((half / np.radians(48.0)) ** 4))
    right = _equidistribute(half, arc * weight, res.columns // 2 + 1)
    phi = np.concatenate([-right[-2:0:-1], right])

    grid = np.linspace(*_THETA_RANGE, 400)
    arcs = [_arc_density(np.full_like(grid, np.radians(p)), grid) for p in (0.0, 8.0, 22.0)]
    arc = np.mean([a / a.mean() for a in arcs], axis=0)
    band = np.exp(-(((grid - np.radians(-12.0)) / np.radians(40.0)) ** 4))
    lips = np.exp(-(((grid - np.radians(-33.0)) / np.radians(6.0)) ** 2))
    theta = _equidistribute(grid, arc * (0.45 + 0.55 * band + 0.9 * lips), res.rows)
    return phi, theta


def _mouth_row_elevation(phi, theta0):
    """Elevation at which each azimuth's ray meets the lip line ``y = MOUTH_Y``.

    Fans of rays bracket the crossing, twice, then it is interpolated (to ~0.001 degree).
    """
    lo = np.full_like(phi, theta0 - np.radians(12.0))
    hi = np.full_like(phi, theta0 + np.radians(12.0))
    fan = np.linspace(0.0, 1.0, 49)
    for _ in range(2):
        thetas = lo[:, None] + (hi - lo)[:, None] * fan[None, :]  # [N, K]
        d = directions(np.broadcast_to(phi[:, None], thetas.shape), thetas).reshape(-1, 3)
        y = (head.ray_cast(d) * d[:, 1]).reshape(thetas.shape)
        k = np.clip(np.sum(y < A.MOUTH_Y, axis=1) - 1, 0, len(fan) - 2)  # y grows with theta
        rows = np.arange(len(phi))
        y0, y1 = y[rows, k], y[rows, k + 1]
        t0, t1 = thetas[rows, k], thetas[rows, k + 1]
        lo, hi = t0, t1
    return t0 + (t1 - t0) * (A.MOUTH_Y - y0) / (y1 - y0)


def _zip_loops(outer, u_outer, inner, u_inner):
    """Triangles of the strip between two closed loops parameterised by ``u`` in ``[0, 1)``."""
    tris = []
    i = j = 0
    na, nb = len(outer), len(inner)
    while i < na or j < nb:
        ua = u_outer[i + 1] if i + 1 < na else 1.0 + u_outer[0]
        ub = u_inner[j + 1] if j + 1 < nb else 1.0 + u_inner[0]
        if j >= nb or (i < na and ua <= ub):
            tris.append((outer[i], outer[(i + 1) % na], inner[j % nb]))
            i += 1
        else:
            tris.append((outer[i % na], inner[(j + 1) % nb], inner[j]))
            j += 1
    return tris


def orient_outwards(vertices, triangles):
    """Triangles wound consistently, counter-clockwise seen from outside (positive volume).

    Raises:
      ValueError: if an edge is shared by more than two triangles or the mesh is not orientable.
    """
    tris = np.array(triangles, dtype=np.int64)
    edges = collections.defaultdict(list)
    for f, (a, b, c) in enumerate(tris):
        for u, v in ((a, b), (b, c), (c, a)):
            edges[(min(u, v), max(u, v))].append(f)
    if max(len(fs) for fs in edges.values()) > 2:
        raise ValueError("an edge is shared by more than two triangles")
    done = np.zeros(len(tris), dtype=bool)
    for seed in range(len(tris)):
        if done[seed]:
            continue
        done[seed] = True
        queue = collections.deque([seed])
        while queue:
            f = queue.popleft()
            a, b, c = tris[f]
            for u, v in ((a, b), (b, c), (c, a)):
                for g in edges[(min(u, v), max(u, v))]:
                    if g == f:
                        continue
                    ga, gb, gc = tris[g]
                    same = (u, v) in ((ga, gb), (gb, gc), (gc, ga))
                    if done[g]:
                        if same:
                            raise ValueError("the mesh is not orientable")
                        continue
                    if same:
                        tris[g] = tris[g][::-1]
                    done[g] = True
                    queue.append(g)
    if signed_volume(vertices, tris) < 0.0:
        tris = tris[:, ::-1]
    return tris.astype(np.int32)


def signed_volume(vertices, triangles):
    """Volume enclosed by a closed mesh; positive when its triangles face outwards."""
    a, b, c = (vertices[triangles[:, k]] for k in range(3))
    return float(np.sum(a * np.cross(b, c)) / 6.0)


def _cap_rings(theta_start, theta_pole, spacing, first_count):
    """Latitude rings from ``theta_start`` (excluded) towards a pole (excluded).

    Returns:
      ``[(theta, count)]``, counts non-increasing so that each ring is about as fine as the
      spacing between rings.
    """
    span = theta_pole - theta_start
    n = max(int(round(abs(span) / spacing)), 2)
    rings, count = [], first_count
    for k in range(1, n):
        th = theta_start + span * k / n
        count = min(count, max(6, int(round(2.0 * np.pi * np.cos(th) / spacing))))
        rings.append((th, count))
    return rings


def _project(points):
    """Points moved onto the head surface along their rays from the origin."""
    d = points / np.linalg.norm(points, axis=-1, keepdims=True)
    return head.ray_cast(d)[:, None] * d


def build_mesh(res: Resolution) -> HeadMesh:
    """The head mesh at resolution ``res`` (deterministic, mirror-symmetric)."""
    phi, theta = _band_nodes(res)
    n_cols, n_rows = len(phi), len(theta)
    center = n_cols // 2 - 1  # the column at phi = 0
    col_mirror = (2 * center - np.arange(n_cols)) % n_cols

    # The lip-line row: the row nearest to the mouth on the midline, moved onto it exactly,
    # then bent so that it follows y = MOUTH_Y across the mouth. Neighbouring rows bend less.
    theta_mouth0 = _mouth_row_elevation(np.zeros(1), np.radians(-30.0))[0]
    row_m = int(np.argmin(np.abs(theta - theta_mouth0)))
    theta = theta.copy()
    theta[row_m] = theta_mouth0
    ray = head.ray_cast(directions(phi, np.full(n_cols, theta_mouth0)))
    x_row = ray * np.cos(theta_mouth0) * np.sin(phi)
    half_cols = np.arange(center, center + n_cols // 4)
    left_corner = int(half_cols[np.argmin(np.abs(x_row[half_cols] - A.MOUTH_CORNER_X))])
    right_corner = int(col_mirror[left_corner])
    reach = left_corner - center + 3
    cols = np.arange(center - reach, center + reach + 1)
    bend = np.zeros(n_cols)
    bend[cols] = _mouth_row_elevation(phi[cols], theta_mouth0) - theta_mouth0
    for k in range(1, 5):  # taper off beyond the bent columns
        bend[center + reach + k] = bend[center + reach] * (1.0 - k / 5.0)
        bend[center - reach - k] = bend[center - reach] * (1.0 - k / 5.0)
    rows = np.arange(n_rows)
    falloff = np.clip(1.0 - np.abs(rows - row_m) / 6.0, 0.0, 1.0)
    theta_grid = theta[:, None] + falloff[:, None] * bend[None, :]  # [R, C]
    band_dirs = directions(np.broadcast_to(phi, theta_grid.shape), theta_grid).reshape(-1, 3)
    band_ids = np.arange(n_rows * n_cols).reshape(n_rows, n_cols)

    # Caps: latitude rings towards the crown and the bottom of the neck.
    u_band = np.mod(phi / (2.0 * np.pi), 1.0)
    loop_order = np.argsort(u_band, kind="stable")  # starts at phi = 0
    spacing = np.radians(res.cap_spacing)
    caps = []
    for row, pole in ((n_rows - 1, np.pi / 2), (0, -np.pi / 2)):
        rings = _cap_rings(theta[row], pole, spacing, n_cols)
        caps.append((row, pole, rings))

    # Vertex ids: band, lower-lip copies of the cut, cap rings and poles, mouth cavity.
    cut = band_ids[row_m, right_corner + 1 : left_corner]
    next_id = n_rows * n_cols
    lower_copy = np.arange(next_id, next_id + len(cut))
    next_id += len(lower_copy)
    all_dirs = [band_dirs, band_dirs[cut]]
    cap_ids = []
    for _, pole, rings in caps:
        ids_list = []
        for th, count in rings:
            ring_phi = 2.0 * np.pi * np.arange(count) / count
            all_dirs.append(directions(ring_phi, np.full(count, th)))
            ids_list.append(np.arange(next_id, next_id + count))
            next_id += count
        all_dirs.append(directions(np.zeros(1), np.full(1, pole)))
        ids_list.append(np.array([next_id]))
        next_id += 1
        cap_ids.append(ids_list)
    surface_dirs = np.concatenate(all_dirs)
    surface = head.ray_cast(surface_dirs)[:, None] * surface_dirs

    tris = []
    lip_row = band_ids[row_m].copy()
    lip_row_lower = lip_row.copy()
    lip_row_lower[right_corner + 1 : left_corner] = lower_copy
    for j in range(n_rows - 1):
        low = lip_row_lower if j + 1 == row_m else band_ids[j + 1]
        high = lip_row if j == row_m else band_ids[j]
        for i in range(n_cols):
            i1 = (i + 1) % n_cols
            a, b, c, d = high[i], high[i1], low[i1], low[i]
            # Split each quad along its shorter diagonal.
            if np.sum((surface[a] - surface[c]) ** 2) <= np.sum((surface[b] - surface[d]) ** 2):
                tris += [(a, b, c), (a, c, d)]
            else:
                tris += [(a, b, d), (b, c, d)]
    for (row, _, rings), ids_list in zip(caps, cap_ids, strict=True):
        outer, u_outer = band_ids[row][loop_order], u_band[loop_order]
        for (_, count), ids in zip(rings, ids_list[:-1], strict=True):
            u = np.arange(count) / count
            tris += _zip_loops(outer, u_outer, ids, u)
            outer, u_outer = ids, u
        pole_id = ids_list[-1][0]
        tris += [(outer[m], outer[(m + 1) % len(outer)], pole_id) for m in range(len(outer))]

    # Mouth cavity: a loop behind each cut lip-line vertex, from the upper to the lower lip.
    upper = cut
    n_seg = res.cavity_segments
    angles = 2.0 * np.pi * np.arange(1, n_seg) / n_seg
    x_lip = surface[upper, 0]
    taper = np.sqrt(np.maximum(1.0 - (x_lip / A.MOUTH_CORNER_X) ** 2, 0.1))
    # The lips touch over 2 mm behind the lip line, then the cavity opens up and down.
    offsets = np.stack(
        [np.zeros_like(angles), 9.0 * np.sin(angles), -2.0 - 14.0 * (1.0 - np.cos(angles))], -1
    )
    cavity = surface[upper][:, None, :] + taper[:, None, None] * offsets[None]  # [S, n_seg-1, 3]
    # The contact rows keep their full size up to the corners (thin triangles would fold).
    cavity[:, 0] = surface[upper] + np.array([0.0, 0.8, -2.0])
    cavity[:, -1] = surface[upper] + np.array([0.0, -0.8, -2.0])
    cavity_ids = np.arange(next_id, next_id + cavity.shape[0] * cavity.shape[1]).reshape(
        cavity.shape[:2]
    )
    next_id += cavity_ids.size
    columns = np.concatenate([upper[:, None], cavity_ids, lower_copy[:, None]], axis=1)
    for i in range(len(upper) - 1):
        for q in range(n_seg):
            tris += [(columns[i, q], columns[i + 1, q], columns[i + 1, q + 1])]
            tris += [(columns[i, q], columns[i + 1, q + 1], columns[i, q + 1])]
    for corner, col in ((band_ids[row_m, right_corner], 0), (band_ids[row_m, left_corner], -1)):
        tris += [(corner, columns[col, q], columns[col, q + 1]) for q in range(n_seg)]

    vertices = np.concatenate([surface, cavity.reshape(-1, 3)])

    # Mirror map, built from the construction (exact, no search).
    mirror = np.empty(next_id, dtype=np.int64)
    mirror[band_ids] = band_ids[:, col_mirror]
    mirror[lower_copy] = lower_copy[::-1]
    for ids_list in cap_ids:
        for ids in ids_list:
            mirror[ids] = ids[(-np.arange(len(ids))) % len(ids)]
    mirror[cavity_ids] = cavity_ids[::-1]
    flip = np.array([-1.0, 1.0, 1.0])
    vertices = 0.5 * (vertices + vertices[mirror] * flip)
    triangles = orient_outwards(vertices, tris)

    # Finer triangles around the eyes (lids), and finer again on the eyeball, whose colours
    # (white, iris, pupil, lashes) need them. The second region lies well inside the first, so
    # that only triangles split in four are split again.
    for size in ((18.5, 9.5), (14.0, 5.0))[: res.refine_eyes]:
        ax, y, z = np.abs(vertices[:, 0]), vertices[:, 1], vertices[:, 2]
        ex, ey = A.EYE_CENTER
        near_eye = (np.hypot((ax - ex - 0.3) / size[0], (y - ey - 0.8) / size[1]) < 1.0) & (
            z > 40.0
        )
        vertices, triangles, mirror, _ = red_green_refine(
            vertices, triangles, mirror, near_eye[triangles].any(axis=1), _project
        )
        vertices = 0.5 * (vertices + vertices[mirror] * flip)
    # The ears are where the band is coarse: split their triangles too.
    for _ in range(res.refine_ears):
        ax, y, z = np.abs(vertices[:, 0]), vertices[:, 1], vertices[:, 2]
        cy, cz = A.EAR_CENTER
        near_ear = (np.hypot((y - cy) / 34.0, (z - cz) / 19.0) < 1.0) & (ax > 60.0)
        vertices, triangles, mirror, _ = red_green_refine(
            vertices, triangles, mirror, near_ear[triangles].any(axis=1), _project
        )
        vertices = 0.5 * (vertices + vertices[mirror] * flip)
    next_id = len(vertices)

    part = np.zeros(next_id, dtype=np.int8)
    part[upper] = UPPER_LIP_LINE
    part[lower_copy] = LOWER_LIP_LINE
    part[cavity_ids] = MOUTH_CAVITY
    cavity_angle = np.zeros(next_id)
    cavity_angle[cavity_ids] = np.broadcast_to(angles, cavity_ids.shape)
    return HeadMesh(
        vertices=vertices,
        triangles=triangles,
        mirror=mirror.astype(np.int32),
        part=part,
        cavity_angle=cavity_angle,
        lip_line_upper=lip_row[right_corner : left_corner + 1].astype(np.int32),
        lip_line_lower=lip_row_lower[right_corner : left_corner + 1].astype(np.int32),
    )
