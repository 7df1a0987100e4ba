"""Local mesh refinement: red-green subdivision of marked triangles, kept mirror-symmetric.

Marked triangles split into four (red); the closure also refines every triangle with two split
edges, so that the remaining ones have at most one split edge and are halved (green). The mesh
stays conforming (no hanging vertices), manifold and consistently wound. New vertices are the
midpoints of split edges, moved onto the surface by a caller-supplied projection.
"""

from __future__ import annotations

import numpy as np


def _edge_keys(triangles):
    """``[F, 3, 2]`` sorted vertex pairs of the edges (v0 v1), (v1 v2), (v2 v0) of each triangle."""
    e = np.stack([triangles, np.roll(triangles, -1, axis=1)], axis=-1)
    return np.sort(e, axis=-1)


def red_green_refine(vertices, triangles, mirror, marked, project):
    """Splits the ``marked`` triangles in four and their neighbours as needed.

    Args:
      vertices: ``[V, 3]`` positions.
      triangles: ``[F, 3]`` int, consistently wound.
      mirror: ``[V]`` int, mirror image of each vertex; the marking must be mirror-symmetric.
      marked: ``[F]`` bool, triangles to split in four.
      project: function ``[N, 3] -> [N, 3]`` that moves new midpoints onto the surface.

    Returns:
      ``(vertices [V', 3], triangles [F', 3], mirror [V'], parents [V' - V, 2])``: the new
      vertices come after the old ones, each the midpoint of the edge ``parents``.
    """
    triangles = np.asarray(triangles, dtype=np.int64)
    keys = _edge_keys(triangles)
    num_v = len(vertices)
    code = keys[..., 0] * num_v + keys[..., 1]  # [F, 3]
    split = np.zeros(code.shape, dtype=bool)
    split[marked] = True
    # Closure: an edge split in one triangle is split in both; two split edges make a red.
    while True:
        split_codes = np.unique(code[split])
        split = np.isin(code, split_codes)
        red = split.sum(axis=1) >= 2
        grown = split | red[:, None]
        if np.array_equal(grown, split):
            break
        split = grown

    edges = np.unique(code[split])
    parents = np.stack([edges // num_v, edges % num_v], axis=1)
    midpoint_id = dict(zip(edges.tolist(), range(num_v, num_v + len(edges)), strict=True))
    new_vertices = project(0.5 * (vertices[parents[:, 0]] + vertices[parents[:, 1]]))

    out = []
    for f, (a, b, c) in enumerate(triangles.tolist()):
        n = int(split[f].sum())
        if n == 0:
            out.append((a, b, c))
            continue
        m_ab, m_bc, m_ca = (midpoint_id.get(int(k)) for k in code[f])
        if n == 3:
            out += [(a, m_ab, m_ca), (m_ab, b, m_bc), (m_ca, m_bc, c), (m_ab, m_bc, m_ca)]
        elif m_ab is not None:
            out += [(a, m_ab, c), (m_ab, b, c)]
        elif m_bc is not None:
            out += [(a, b, m_bc), (a, m_bc, c)]
        else:
            out += [(a, b, m_ca), (m_ca, b, c)]

    # Mirror of a midpoint: the midpoint of the mirrored edge.
    mirrored = np.sort(np.asarray(mirror)[parents], axis=1)
    new_mirror = np.array(
        [midpoint_id[int(a * num_v + b)] for a, b in mirrored.tolist()], dtype=np.int64
    )
    return (
        np.concatenate([vertices, new_vertices]),
        np.asarray(out, dtype=np.int32),
        np.concatenate([np.asarray(mirror, dtype=np.int64), new_mirror]),
        parents,
    )
