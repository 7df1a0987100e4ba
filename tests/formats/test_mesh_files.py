"""OBJ and PLY round trips, hand-written files, corrupt files, and the outward winding rule."""

import numpy as np
import pytest

from facejax.formats.mesh_files import orient_outward, read_obj, read_ply, write_obj, write_ply

COLOUR_ATOL_UCHAR = 0.5 / 255  # PLY stores colours as uchar
ATOL_F32 = 0.0  # float32 vertices must survive a text or binary round trip exactly


def _face_grid(nx=5, ny=4):
    """A face-like open surface facing +z, triangles counter-clockwise seen from +z."""
    x, y = np.meshgrid(np.linspace(-60.0, 60.0, nx), np.linspace(-70.0, 70.0, ny))
    z = 90.0 - 0.006 * (x**2 + (y + 10.0) ** 2)
    vertices = np.stack([x, y, z], axis=-1).reshape(-1, 3).astype(np.float32)
    triangles = []
    for r in range(ny - 1):
        for c in range(nx - 1):
            k = r * nx + c
            triangles += [[k, k + 1, k + nx], [k + 1, k + nx + 1, k + nx]]
    return vertices, np.asarray(triangles, dtype=np.int32)


def _colours(num):
    rng = np.random.default_rng(0)
    return rng.integers(0, 256, size=(num, 3)) / 255.0


def test_obj_round_trip_with_colours_and_normals(tmp_path):
    vertices, triangles = _face_grid()
    colours = _colours(len(vertices))
    normals = np.tile(np.array([[0.0, 0.0, 1.0]], np.float32), (len(vertices), 1))
    path = tmp_path / "face.obj"
    write_obj(path, vertices, triangles, colors=colours, normals=normals)
    v, t, c = read_obj(path)
    np.testing.assert_array_equal(v.astype(np.float32), vertices)
    np.testing.assert_array_equal(t, triangles)
    np.testing.assert_allclose(c, colours, atol=1e-6)
    text = path.read_text()
    assert "\nf 1//1 2//2 6//6\n" in text  # 1-based in the file


def test_obj_float64_round_trip_is_exact(tmp_path):
    vertices, triangles = _face_grid()
    vertices = vertices.astype(np.float64) + 1e-9
    write_obj(tmp_path / "a.obj", vertices, triangles)
    v, t, c = read_obj(tmp_path / "a.obj")
    np.testing.assert_array_equal(v, vertices)
    assert c is None


def test_obj_quads_negative_indices_and_extras(tmp_path):
    path = tmp_path / "quad.obj"
    path.write_text(
        "# a unit square and a triangle\nmtllib x.mtl\no square\n"
        "v 0 0 0\nv 1 0 0\nv 1 1 0\nv 0 1 0\nvt 0 0\nvn 0 0 1\n"
        "usemtl skin\ns off\nf 1/1/1 2/1/1 3/1/1 4/1/1\nf -4 -3 -1\n"
    )
    v, t, c = read_obj(path)
    assert v.shape == (4, 3) and c is None
    np.testing.assert_array_equal(t, [[0, 1, 2], [0, 2, 3], [0, 1, 3]])


def test_obj_colours_in_0_255_are_scaled(tmp_path):
    path = tmp_path / "c.obj"
    path.write_text("v 0 0 0 255 0 0\nv 1 0 0 0 255 0\nv 0 1 0 0 0 51\nf 1 2 3\n")
    _, _, c = read_obj(path)
    np.testing.assert_allclose(c, [[1, 0, 0], [0, 1, 0], [0, 0, 0.2]])


@pytest.mark.parametrize(
    "body, line, message",
    [
        ("v 0 0 0\nv 1 0 zero\nf 1 2 1\n", 2, "bad vertex"),
        ("v 0 0 0\nv 1 0 0\nv 0 1 0\nf 1 2 4\n", 4, "out of range"),
        ("v 0 0 0\nv 1 0 0\nf 1 2\n", 3, "at least 3"),
        ("v 0 0 0\nv 1 0 0\nv 0 1 0\nf 1 b 3\n", 4, "bad face"),
    ],
)
def test_obj_bad_lines_name_file_and_line(tmp_path, body, line, message):
    path = tmp_path / "bad.obj"
    path.write_text(body)
    with pytest.raises(ValueError, match=rf"bad\.obj, line {line}: .*{message}"):
        read_obj(path)


def test_obj_partial_colours_rejected(tmp_path):
    path = tmp_path / "p.obj"
    path.write_text("v 0 0 0 1 0 0\nv 1 0 0\nv 0 1 0\nf 1 2 3\n")
    with pytest.raises(ValueError, match="only some vertices"):
        read_obj(path)


@pytest.mark.parametrize("binary", [True, False])
def test_ply_round_trip(tmp_path, binary):
    vertices, triangles = _face_grid()
    colours = _colours(len(vertices))
    path = tmp_path / "face.ply"
    write_ply(path, vertices, triangles, colors=colours, binary=binary)
    v, t, c = read_ply(path)
    np.testing.assert_array_equal(v.astype(np.float32), vertices)
    np.testing.assert_array_equal(t, triangles)
    np.testing.assert_allclose(c, colours, atol=COLOUR_ATOL_UCHAR)
    header = path.read_bytes().split(b"end_header")[0]
    assert (b"binary_little_endian" in header) == binary


def test_ply_without_colours(tmp_path):
    vertices, triangles = _face_grid()
    write_ply(tmp_path / "a.ply", vertices, triangles)
    _, t, c = read_ply(tmp_path / "a.ply")
    assert c is None and t.shape == triangles.shape


def test_ply_hand_written_ascii_quads_and_extra_elements(tmp_path):
    path = tmp_path / "q.ply"
    path.write_text(
        "ply\nformat ascii 1.0\ncomment made by hand\nelement vertex 5\n"
        "property float x\nproperty float y\nproperty float z\nproperty float nx\n"
        "element face 2\nproperty list uchar int vertex_index\n"
        "element edge 1\nproperty int vertex1\nproperty int vertex2\nend_header\n"
        "0 0 0 0\n1 0 0 0\n1 1 0 0\n0 1 0 0\n2 2 0 0\n4 0 1 2 3\n3 2 4 3\n0 1\n"
    )
    v, t, c = read_ply(path)
    assert v.shape == (5, 3) and c is None
    np.testing.assert_array_equal(t, [[0, 1, 2], [0, 2, 3], [2, 4, 3]])


def test_ply_binary_mixed_polygons(tmp_path):
    header = (
        b"ply\nformat binary_little_endian 1.0\nelement vertex 4\nproperty double x\n"
        b"property double y\nproperty double z\nelement face 2\n"
        b"property list uchar uint vertex_indices\nend_header\n"
    )
    verts = np.array([[0, 0, 0], [1, 0, 0], [1, 1, 0], [0, 1, 0]], "<f8").tobytes()
    quad = np.array([4], "u1").tobytes() + np.array([0, 1, 2, 3], "<u4").tobytes()
    tri = np.array([3], "u1").tobytes() + np.array([0, 2, 3], "<u4").tobytes()
    (tmp_path / "m.ply").write_bytes(header + verts + quad + tri)
    _, t, _ = read_ply(tmp_path / "m.ply")
    np.testing.assert_array_equal(t, [[0, 1, 2], [0, 2, 3], [0, 2, 3]])


def test_ply_corrupt_files(tmp_path):
    vertices, triangles = _face_grid()
    path = tmp_path / "face.ply"
    write_ply(path, vertices, triangles)
    data = path.read_bytes()
    (tmp_path / "short.ply").write_bytes(data[: len(data) - 40])
    with pytest.raises(ValueError, match=r"short\.ply: PLY file is truncated"):
        read_ply(tmp_path / "short.ply")
    (tmp_path / "noply.ply").write_bytes(b"solid stl\n" + data)
    with pytest.raises(ValueError, match=r"noply\.ply: not a PLY file"):
        read_ply(tmp_path / "noply.ply")
    (tmp_path / "nohead.ply").write_bytes(b"ply\nformat ascii 1.0\nelement vertex 1\n")
    with pytest.raises(ValueError, match="end_header"):
        read_ply(tmp_path / "nohead.ply")
    bad = bytearray(data)
    bad[-4:] = np.array([99], "<i4").tobytes()  # last index of the last triangle
    (tmp_path / "index.ply").write_bytes(bytes(bad))
    with pytest.raises(ValueError, match=r"index\.ply: PLY face index out of range"):
        read_ply(tmp_path / "index.ply")


def test_writers_check_shapes(tmp_path):
    vertices, triangles = _face_grid()
    with pytest.raises(ValueError, match=r"vertices must have shape \[V, 3\]"):
        write_obj(tmp_path / "a.obj", vertices[:, :2], triangles)
    with pytest.raises(ValueError, match="triangle indices"):
        write_ply(tmp_path / "a.ply", vertices, triangles + 100)


def _vertex_normal(vertices, triangles, index):
    v = vertices.astype(np.float64)
    n = np.cross(v[triangles[:, 1]] - v[triangles[:, 0]], v[triangles[:, 2]] - v[triangles[:, 0]])
    return n[np.any(triangles == index, axis=1)].sum(axis=0)


def test_orient_outward_open_face():
    vertices, triangles = _face_grid()
    nose = int(np.argmax(vertices[:, 2]))
    same, flipped = orient_outward(vertices, triangles)
    assert not flipped
    np.testing.assert_array_equal(same, triangles)
    fixed, flipped = orient_outward(vertices, triangles[:, [0, 2, 1]])
    assert flipped
    np.testing.assert_array_equal(fixed, triangles)
    assert _vertex_normal(vertices, fixed, nose)[2] > 0


def test_orient_outward_closed_mesh():
    # A tetrahedron around the origin, wound inwards.
    vertices = np.array([[0, 0, 1], [1, 0, -1], [-1, 1, -1], [-1, -1, -1]], float)
    outward = np.array([[0, 1, 2], [0, 2, 3], [0, 3, 1], [1, 3, 2]])
    centre = vertices.mean(axis=0)
    for tri in outward:  # the reference really points outwards
        a, b, c = vertices[tri]
        assert np.dot(np.cross(b - a, c - a), (a + b + c) / 3 - centre) > 0
    fixed, flipped = orient_outward(vertices, outward[:, ::-1])
    assert flipped
    np.testing.assert_array_equal(fixed, outward[:, ::-1][:, [0, 2, 1]])
