"""Displacement fields on the head mesh, and how they become an orthonormal basis.

A field is a ``[V, 3]`` float64 array (millimetres, or colour units for the albedo): what one
standard deviation of a component does to each vertex. Fields are built from smooth bumps around
anatomical points, made exactly mirror-symmetric or antisymmetric with the mesh's mirror map, and
turned into a basis by Gram-Schmidt in a fixed order (deterministic, no LAPACK sign choices).
"""

from __future__ import annotations

import numpy as np

_FLIP = np.array([-1.0, 1.0, 1.0])


def bump(points, center, radii):
    """Gaussian weight ``[V]`` around ``center`` (3 values; ``None`` ignores that axis).

    Args:
      points: ``[V, 3]``.
      center: ``(x, y, z)``; use ``abs(x)`` of the points by giving a paired ``x`` via
        :func:`paired_bump`.
      radii: ``(sx, sy, sz)`` standard deviations (mm).
    """
    q = 0.0
    for k in range(3):
        if center[k] is not None:
            q = q + ((points[:, k] - center[k]) / radii[k]) ** 2
    return np.exp(-0.5 * q)


def paired_bump(points, center, radii):
    """A bump around ``(+x, y, z)`` and its mirror image ``(-x, y, z)`` (exactly symmetric)."""
    mirrored = np.stack([np.abs(points[:, 0]), points[:, 1], points[:, 2]], axis=-1)
    return bump(mirrored, center, radii)


def side_bump(points, center, radii, side):
    """A bump around ``(side * |x|, y, z)`` only: ``side=+1`` the subject's left, ``-1`` right."""
    return paired_bump(points, center, radii) * (np.sign(points[:, 0]) == side)


def mirror_field(field, mirror):
    """The mirror image of a field: what the field does on the other side of the face."""
    return field[mirror] * _FLIP


def symmetric_part(field, mirror):
    return 0.5 * (field + mirror_field(field, mirror))


def antisymmetric_part(field, mirror):
    return 0.5 * (field - mirror_field(field, mirror))


def surface_normals(mesh, smoothing=8):
    """``[V, 3]`` smooth unit vertex normals of the outer surface, for fields that push along it.

    The mouth cavity is left out (so the lip line's normals are those of the lips), and the
    normals are averaged with their neighbours ``smoothing`` times, so that a push along them
    does not open small creases (the lip line, the lid margins) into folds. They are made
    exactly mirror-symmetric (the triangulation of the caps is not).
    """
    outer = mesh.triangles[mesh.part[mesh.triangles].max(axis=1) != 3]
    normals = vertex_normals(mesh.vertices, outer)
    edges = np.concatenate([outer[:, [0, 1]], outer[:, [1, 2]], outer[:, [2, 0]]])
    for _ in range(smoothing):
        total = normals.copy()
        np.add.at(total, edges[:, 0], normals[edges[:, 1]])
        np.add.at(total, edges[:, 1], normals[edges[:, 0]])
        normals = total / np.maximum(np.linalg.norm(total, axis=1, keepdims=True), 1e-12)
    normals = symmetric_part(normals, mesh.mirror)  # zero in the cavity, which has none
    return normals / np.maximum(np.linalg.norm(normals, axis=1, keepdims=True), 1e-12)


def vertex_normals(vertices, triangles):
    """``[V, 3]`` unit area-weighted vertex normals."""
    a, b, c = (vertices[triangles[:, k]] for k in range(3))
    n = np.cross(b - a, c - a)
    out = np.zeros_like(vertices)
    for k in range(3):
        np.add.at(out, triangles[:, k], n)
    return out / np.maximum(np.linalg.norm(out, axis=1, keepdims=True), 1e-12)


def orthonormal_basis(fields, stds, together=0):
    """Orthonormal components from fields, in order, and their standard deviations.

    The first ``together`` fields are orthonormalized symmetrically (Loewdin:
    ``N (N^T N)^(-1/2)`` of the unit fields ``N``), which changes each of them as little as
    possible and treats none as more important than another; mirror-image fields stay mirror
    images. Every later field is orthogonalized against the components before it and scaled to
    unit norm over its flattened ``[3V]`` vector: classical Gram-Schmidt run twice, with
    ``einsum`` loops rather than BLAS (the same sums in the same order on every machine, and no
    thread start-up cost for these small products).

    Args:
      fields: sequence of ``[V, 3]`` fields.
      stds: ``[K]`` standard deviation of each.
      together: how many leading fields to orthonormalize symmetrically.

    Returns:
      ``(basis [V, 3, K], stds [K])``.

    Raises:
      ValueError: if a field is (numerically) in the span of the ones before it.
    """
    shape = fields[0].shape
    columns = [np.asarray(f, dtype=np.float64).ravel() for f in fields]
    q = np.zeros((len(columns), columns[0].size))
    if together:
        unit = np.stack([c / norm2(c) for c in columns[:together]])
        gram = np.einsum("in,jn->ij", unit, unit)
        values, vectors = np.linalg.eigh(gram)
        if values.min() < 1e-8:
            raise ValueError(f"the first {together} fields are linearly dependent")
        inv_sqrt = np.einsum("ik,k,jk->ij", vectors, values**-0.5, vectors)
        q[:together] = np.einsum("ij,in->jn", inv_sqrt, unit)
    for k in range(together, len(columns)):
        vec = columns[k]
        for _ in range(2):
            vec = vec - np.einsum("kn,k->n", q[:k], np.einsum("kn,n->k", q[:k], vec))
        norm = norm2(vec)
        if norm < 1e-6 * norm2(columns[k]):
            raise ValueError(f"field {k} is in the span of the fields before it")
        q[k] = vec / norm
    return q.T.reshape(*shape, len(fields)), np.asarray(stds, np.float64)


def norm2(x):
    """Euclidean norm of a whole array (without BLAS, see :func:`orthonormal_basis`)."""
    return float(np.sqrt(np.sum(np.square(x))))


def decreasing(values, ratio=1.0):
    """``values`` made non-increasing (each at most ``ratio`` times the one before)."""
    out = np.array(values, dtype=np.float64)
    for k in range(1, len(out)):
        out[k] = min(out[k], ratio * out[k - 1])
    return out


def random_bumps(rng, centers, count, radius_range, points):
    """A smooth random field: ``count`` Gaussian bumps with random 3D displacements.

    Args:
      rng: ``numpy.random.RandomState`` (its stream is frozen across numpy versions).
      centers: ``[N, 3]`` candidate centres (e.g. vertices of the face).
      count: number of bumps.
      radius_range: ``(min, max)`` bump radius (mm).
      points: ``[V, 3]`` where the field is evaluated.

    Returns:
      ``[V, 3]`` field of unit norm.
    """
    field = np.zeros_like(points)
    for _ in range(count):
        c = centers[rng.randint(len(centers))]
        r = rng.uniform(*radius_range)
        direction = rng.normal(size=3)
        field += bump(points, c, (r, r, r))[:, None] * direction[None, :]
    return field / norm2(field)
