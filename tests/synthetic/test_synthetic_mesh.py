"""The synthetic head mesh: closed, manifold, outward-facing, well-shaped, symmetric, head-sized."""

import numpy as np
import pytest
from scipy.spatial import cKDTree

from facejax.synthetic import synthetic_model
from facejax.synthetic.mesh import orient_outwards, signed_volume

MIN_ANGLE_DEG = 3.0  # smallest triangle angle allowed (the mesh's worst is about 4 degrees)
MIN_AREA_MM2 = 1e-2
SYMMETRY_ATOL_MM = 1e-4  # float32 positions of a mirror-symmetric mean
VARIANT_NAMES = ("small", "default")


def _edges(triangles):
    return np.concatenate([triangles[:, [0, 1]], triangles[:, [1, 2]], triangles[:, [2, 0]]])


@pytest.fixture(scope="module", params=VARIANT_NAMES)
def model(request):
    return synthetic_model(request.param)


def test_every_edge_has_two_triangles_wound_opposite_ways(model):
    """Closed and manifold, with consistent winding: each directed edge occurs exactly once and
    its reverse once."""
    directed = _edges(np.asarray(model.triangles, np.int64))
    num_v = model.num_vertices
    codes = directed[:, 0] * num_v + directed[:, 1]
    assert len(np.unique(codes)) == len(codes), "a directed edge is used twice"
    reverse = directed[:, 1] * num_v + directed[:, 0]
    assert np.all(np.isin(reverse, codes)), "an edge has only one triangle (hole)"
    undirected = np.sort(directed, axis=1)
    _, counts = np.unique(undirected[:, 0] * num_v + undirected[:, 1], return_counts=True)
    assert counts.max() == 2


def test_every_vertex_is_used(model):
    assert np.array_equal(np.unique(model.triangles), np.arange(model.num_vertices))


def test_no_degenerate_or_needle_triangles(model):
    v = np.asarray(model.mean_shape, np.float64)
    a, b, c = (v[model.triangles[:, k]] for k in range(3))
    area = 0.5 * np.linalg.norm(np.cross(b - a, c - a), axis=1)
    assert area.min() > MIN_AREA_MM2

    def angle(p, q, r):
        u, w = q - p, r - p
        cos = np.sum(u * w, 1) / (np.linalg.norm(u, axis=1) * np.linalg.norm(w, axis=1))
        return np.degrees(np.arccos(np.clip(cos, -1.0, 1.0)))

    smallest = np.minimum(np.minimum(angle(a, b, c), angle(b, c, a)), angle(c, a, b))
    assert smallest.min() > MIN_ANGLE_DEG


def test_normals_point_outwards(model):
    v = np.asarray(model.mean_shape, np.float64)
    tris = np.asarray(model.triangles)
    volume = signed_volume(v, tris)
    # A head and neck of a few litres.
    assert 3.0e6 < volume < 6.5e6
    a, b, c = (v[tris[:, k]] for k in range(3))
    normal = np.cross(b - a, c - a)
    tip = int(np.argmax(v[:, 2]))
    tip_normal = normal[np.any(tris == tip, axis=1)].sum(axis=0)
    assert tip_normal[2] > 0.0
    assert v[tip, 2] > 90.0  # the nose tip is the front-most point
    # The head is star-shaped about the origin: (almost) every triangle faces away from it.
    center = (a + b + c) / 3.0
    facing = np.sum(normal * center, axis=1) > 0.0
    assert facing.mean() > 0.97


def test_orient_outwards_repairs_flipped_triangles(model):
    v = np.asarray(model.mean_shape, np.float64)
    tris = np.array(model.triangles)
    broken = tris.copy()
    broken[::7] = broken[::7, ::-1]
    np.testing.assert_array_equal(orient_outwards(v, broken), tris)
    with pytest.raises(ValueError, match="more than two triangles"):
        orient_outwards(v, np.concatenate([tris, tris[:1]]))


def test_mean_head_is_mirror_symmetric(model):
    v = np.asarray(model.mean_shape, np.float64)
    dist, _ = cKDTree(v).query(v * np.array([-1.0, 1.0, 1.0]))
    assert dist.max() < SYMMETRY_ATOL_MM


def test_adult_head_size(model):
    v = np.asarray(model.mean_shape)
    width = v[:, 0].max() - v[:, 0].min()  # the ears included
    head_width = np.ptp(v[np.abs(v[:, 1] - 45.0) < 5.0, 0])  # above the ears
    assert 140.0 < head_width < 160.0
    assert width < 185.0
    assert 120.0 < v[:, 1].max() < 135.0  # crown above the ear canals
    assert 95.0 < v[:, 2].max() < 105.0  # nose tip in front of the ear plane
    assert -110.0 < v[:, 2].min() < -90.0  # back of the head


def test_face_and_skin_masks(model):
    face, skin = np.asarray(model.face_mask), np.asarray(model.skin_mask)
    v = np.asarray(model.mean_shape)
    assert set(np.unique(face)) <= {0.0, 1.0} and set(np.unique(skin)) <= {0.0, 1.0}
    assert np.all(skin <= face)  # skin is part of the face
    tip = int(np.argmax(v[:, 2]))
    assert face[tip] == 1.0 and skin[tip] == 1.0
    assert np.all(face[v[:, 2] < 0.0] == 0.0)  # nothing behind the ear plane
    # Eyes, brows and lips are face but not skin: the darkest albedo of the face is not skin.
    luminance = np.asarray(model.albedo_mean).mean(axis=1)
    dark_face = (face == 1.0) & (luminance < 0.3)
    assert dark_face.any() and np.all(skin[dark_face] == 0.0)
    assert 0.2 < face.mean() < 0.7 and skin.sum() > 0.6 * face.sum()
