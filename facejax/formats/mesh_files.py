"""Triangle meshes on disk (Wavefront OBJ, PLY) and the winding rule model loaders apply.

Readers return numpy arrays: vertices ``[V, 3]`` float64, triangles ``[F, 3]`` int32 (0-based;
polygons are split into a fan of triangles), and per-vertex RGB colours ``[V, 3]`` float64 in
``[0, 1]`` or ``None``. Writers take the same arrays (numpy or jax).
"""

from __future__ import annotations

import numpy as np

from facejax.formats.atomic_files import atomic_write

# ---------------------------------------------------------------------------------------------
# Winding


def orient_outward(vertices, triangles) -> tuple[np.ndarray, bool]:
    """Triangles wound counter-clockwise seen from outside (docs/conventions.md).

    "Outside" is judged over the whole mesh: the area-weighted normals must point away from the
    vertex centroid, ``sum_f (c_f - c) . n_f > 0`` with ``c_f`` a triangle's centroid and ``n_f``
    its unnormalised normal. For a closed head that is the sign of the enclosed volume; for an
    open face mask in the model frame (bulging towards +z, the centroid behind the surface) it
    is positive when normals point out of the face. Model files disagree on winding (BFM 2009's
    ``tl`` is clockwise), so loaders pass their triangles through this check.

    Args:
      vertices: ``[V, 3]`` vertex positions (the mean shape).
      triangles: ``[F, 3]`` 0-based vertex indices.

    Returns:
      ``(triangles [F, 3] int32, flipped)``: the triangles, with their last two columns swapped
      when the input was wound inwards, and whether that happened.
    """
    v = np.asarray(vertices, dtype=np.float64)
    t = np.asarray(triangles).astype(np.int64)
    if t.size == 0:
        return t.astype(np.int32).reshape(0, 3), False
    a, b, c = v[t[:, 0]], v[t[:, 1]], v[t[:, 2]]
    normals = np.cross(b - a, c - a)
    centroids = (a + b + c) / 3.0
    outwardness = float(np.sum((centroids - v.mean(axis=0)) * normals))
    if outwardness < 0.0:
        return t[:, [0, 2, 1]].astype(np.int32), True
    return t.astype(np.int32), False


# ---------------------------------------------------------------------------------------------
# OBJ


def _float_format(array: np.ndarray) -> str:
    # Enough digits that a float32 (9) or float64 (17) value reads back bit for bit.
    return "%.9g" if array.dtype.itemsize <= 4 else "%.17g"


def _check_mesh(path, vertices, triangles, colors=None, normals=None):
    v = np.asarray(vertices)
    t = np.asarray(triangles)
    if v.ndim != 2 or v.shape[1] != 3:
        raise ValueError(f"{path}: vertices must have shape [V, 3], got {v.shape}")
    if t.ndim != 2 or t.shape[1] != 3:
        raise ValueError(f"{path}: triangles must have shape [F, 3], got {t.shape}")
    if t.size and (t.min() < 0 or t.max() >= v.shape[0]):
        raise ValueError(f"{path}: triangle indices must lie in [0, {v.shape[0]})")
    for name, extra in (("colors", colors), ("normals", normals)):
        if extra is not None and np.shape(extra) != v.shape:
            raise ValueError(f"{path}: {name} must have shape {v.shape}, got {np.shape(extra)}")
    # A mesh with NaN vertices opens as nothing (or crashes viewers): never write one.
    for name, values in (("vertices", v), ("colors", colors), ("normals", normals)):
        if values is not None and not np.all(np.isfinite(np.asarray(values, np.float64))):
            raise ValueError(f"{path}: {name} contain NaN or infinite values; nothing written")
    return v, t.astype(np.int64)


def write_obj(path, vertices, triangles, colors=None, normals=None) -> None:
    """Writes a Wavefront OBJ file (1-based indices, as the format requires), whole or not at
    all (facejax.formats.atomic_files).

    Args:
      path: output file.
      vertices: ``[V, 3]``.
      triangles: ``[F, 3]`` 0-based.
      colors: optional ``[V, 3]`` RGB in ``[0, 1]``, written as ``v x y z r g b`` (the vertex
        colour extension MeshLab and Blender read).
      normals: optional ``[V, 3]`` per-vertex normals, written as ``vn`` and referenced by the
        faces as ``f a//a b//b c//c``.

    Raises:
      ValueError: naming the file, for bad shapes or NaN/infinite values (nothing is written).
    """
    v, t = _check_mesh(path, vertices, triangles, colors, normals)
    fmt = _float_format(v)
    lines = []
    if colors is None:
        lines.extend(f"v {fmt % x} {fmt % y} {fmt % z}" for x, y, z in v.tolist())
    else:
        c = np.asarray(colors, dtype=np.float64)
        lines.extend(
            f"v {fmt % p[0]} {fmt % p[1]} {fmt % p[2]} {q[0]:.6g} {q[1]:.6g} {q[2]:.6g}"
            for p, q in zip(v.tolist(), c.tolist(), strict=True)
        )
    one_based = (t + 1).tolist()
    if normals is None:
        lines.extend(f"f {a} {b} {c}" for a, b, c in one_based)
    else:
        n = np.asarray(normals)
        nfmt = _float_format(n)
        lines.extend(f"vn {nfmt % x} {nfmt % y} {nfmt % z}" for x, y, z in n.tolist())
        lines.extend(f"f {a}//{a} {b}//{b} {c}//{c}" for a, b, c in one_based)
    with atomic_write(path, "w") as f:
        f.write("# written by facejax\n")
        f.write("\n".join(lines))
        f.write("\n")


def read_obj(path) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
    """Reads the geometry of a Wavefront OBJ file.

    ``v`` lines give positions (and optional ``r g b`` vertex colours: floats in ``[0, 1]``, or
    in ``[0, 255]`` when any exceeds 1); ``f`` lines give polygons of 1-based (or negative,
    relative) indices in any of the ``a``, ``a/t``, ``a//n``, ``a/t/n`` forms; polygons with
    more than three corners are split into a triangle fan. Texture coordinates, normals,
    groups and materials are skipped.

    Returns:
      ``(vertices [V, 3] float64, triangles [F, 3] int32, colors [V, 3] float64 or None)``.

    Raises:
      ValueError: naming the file and line of a malformed ``v`` or ``f`` line, an index out of
      range, or colours given for only some vertices.
    """
    vertices, colors, triangles = [], [], []
    with open(path) as f:
        for line_number, line in enumerate(f, start=1):
            parts = line.split()
            if not parts or parts[0].startswith("#"):
                continue
            where = f"{path}, line {line_number}"
            if parts[0] == "v":
                if len(parts) not in (4, 5, 7):
                    raise ValueError(f"{where}: expected 'v x y z [w]' or 'v x y z r g b'")
                try:
                    values = [float(p) for p in parts[1:]]
                except ValueError as err:
                    raise ValueError(f"{where}: bad vertex: {line.strip()!r}") from err
                vertices.append(values[:3])
                colors.append(values[3:] if len(values) == 6 else None)
            elif parts[0] == "f":
                if len(parts) < 4:
                    raise ValueError(f"{where}: a face needs at least 3 vertices")
                try:
                    corners = [int(p.split("/")[0]) for p in parts[1:]]
                except ValueError as err:
                    raise ValueError(f"{where}: bad face: {line.strip()!r}") from err
                count = len(vertices)
                resolved = []
                for index in corners:
                    # Negative indices count back from the latest vertex (OBJ spec).
                    zero_based = index - 1 if index > 0 else count + index
                    if index == 0 or not 0 <= zero_based < count:
                        raise ValueError(f"{where}: vertex index {index} out of range")
                    resolved.append(zero_based)
                triangles.extend(
                    [resolved[0], resolved[k], resolved[k + 1]] for k in range(1, len(resolved) - 1)
                )
    if not vertices:
        raise ValueError(f"{path}: no vertices ('v' lines) found")
    v = np.asarray(vertices, dtype=np.float64)
    t = np.asarray(triangles, dtype=np.int32).reshape(-1, 3)
    has_color = [c is not None for c in colors]
    if any(has_color) and not all(has_color):
        raise ValueError(f"{path}: vertex colours given for only some vertices")
    c = np.asarray(colors, dtype=np.float64) if all(has_color) else None
    if c is not None and c.max(initial=0.0) > 1.0:
        c = c / 255.0
    return v, t, c


# ---------------------------------------------------------------------------------------------
# PLY

_PLY_TYPES = {
    "char": "i1",
    "int8": "i1",
    "uchar": "u1",
    "uint8": "u1",
    "short": "i2",
    "int16": "i2",
    "ushort": "u2",
    "uint16": "u2",
    "int": "i4",
    "int32": "i4",
    "uint": "u4",
    "uint32": "u4",
    "float": "f4",
    "float32": "f4",
    "double": "f8",
    "float64": "f8",
}


def write_ply(path, vertices, triangles, colors=None, binary: bool = True) -> None:
    """Writes a PLY file: float vertices, optional uchar ``red green blue``, int triangles;
    whole or not at all, never with NaN values (as :func:`write_obj`).

    Args:
      path: output file.
      vertices: ``[V, 3]`` (stored as float32).
      triangles: ``[F, 3]`` 0-based.
      colors: optional ``[V, 3]`` RGB in ``[0, 1]``, stored as uchar ``round(255 * c)``.
      binary: ``binary_little_endian`` (default) or ``ascii``.
    """
    v, t = _check_mesh(path, vertices, triangles, colors)
    vertex_fields = [("x", "<f4"), ("y", "<f4"), ("z", "<f4")]
    if colors is not None:
        vertex_fields += [("red", "u1"), ("green", "u1"), ("blue", "u1")]
    header = [
        "ply",
        f"format {'binary_little_endian' if binary else 'ascii'} 1.0",
        "comment written by facejax",
        f"element vertex {v.shape[0]}",
        "property float x",
        "property float y",
        "property float z",
    ]
    if colors is not None:
        header += ["property uchar red", "property uchar green", "property uchar blue"]
    header += [f"element face {t.shape[0]}", "property list uchar int vertex_indices", "end_header"]
    rows = np.zeros(v.shape[0], dtype=vertex_fields)
    rows["x"], rows["y"], rows["z"] = v[:, 0], v[:, 1], v[:, 2]
    if colors is not None:
        c8 = np.clip(np.rint(np.asarray(colors, dtype=np.float64) * 255.0), 0, 255).astype(np.uint8)
        rows["red"], rows["green"], rows["blue"] = c8[:, 0], c8[:, 1], c8[:, 2]
    faces = np.zeros(t.shape[0], dtype=[("n", "u1"), ("i", "<i4", (3,))])
    faces["n"] = 3
    faces["i"] = t
    with atomic_write(path, "wb") as f:
        f.write(("\n".join(header) + "\n").encode("ascii"))
        if binary:
            f.write(rows.tobytes())
            f.write(faces.tobytes())
        else:
            vertex_lines = [" ".join(f"{x:.9g}" for x in row) for row in v.astype(np.float32)]
            if colors is not None:
                vertex_lines = [
                    f"{line} {r} {g} {b}" for line, (r, g, b) in zip(vertex_lines, c8, strict=True)
                ]
            face_lines = [f"3 {a} {b} {c}" for a, b, c in t.tolist()]
            f.write(("\n".join(vertex_lines + face_lines) + "\n").encode("ascii"))


def _parse_ply_header(path, f):
    first = f.readline()
    if first.strip() != b"ply":
        raise ValueError(f"{path}: not a PLY file (first line is {first[:20]!r})")
    fmt, elements = None, []
    while True:
        line = f.readline()
        if not line:
            raise ValueError(f"{path}: PLY header has no 'end_header'")
        parts = line.decode("ascii", errors="replace").split()
        if not parts or parts[0] in ("comment", "obj_info"):
            continue
        if parts[0] == "end_header":
            break
        if parts[0] == "format":
            fmt = parts[1]
        elif parts[0] == "element":
            elements.append({"name": parts[1], "count": int(parts[2]), "props": []})
        elif parts[0] == "property":
            if not elements:
                raise ValueError(f"{path}: PLY property before any element")
            try:
                if parts[1] == "list":
                    prop = (parts[4], _PLY_TYPES[parts[2]], _PLY_TYPES[parts[3]])
                else:
                    prop = (parts[2], None, _PLY_TYPES[parts[1]])
            except (KeyError, IndexError) as err:
                raise ValueError(f"{path}: bad PLY property line {line.strip()!r}") from err
            elements[-1]["props"].append(prop)
    if fmt not in ("ascii", "binary_little_endian", "binary_big_endian"):
        raise ValueError(f"{path}: unsupported PLY format {fmt!r}")
    return fmt, elements


def _read_ply_binary(path, data: bytes, elements, endian: str):
    offset, out = 0, {}
    for element in elements:
        props, count = element["props"], element["count"]
        if all(p[1] is None for p in props):
            dtype = np.dtype([(name, endian + t) for name, _, t in props])
            end = offset + dtype.itemsize * count
            if end > len(data):
                raise ValueError(f"{path}: PLY file is truncated in element '{element['name']}'")
            out[element["name"]] = np.frombuffer(data[offset:end], dtype=dtype)
            offset = end
            continue
        fixed = _fixed_size_list(data, offset, props, count, endian)
        if fixed is not None:
            # The common case (every face a triangle): read the whole element in one go.
            out[element["name"]] = fixed
            offset += fixed.dtype.itemsize * count
            continue
        # Elements with list properties have variable-length rows: walk them one by one.
        rows = []
        try:
            for _ in range(count):
                row = {}
                for name, count_type, value_type in props:
                    if count_type is None:
                        dt = np.dtype(endian + value_type)
                        row[name] = np.frombuffer(data, dt, 1, offset)[0]
                        offset += dt.itemsize
                    else:
                        ct, vt = np.dtype(endian + count_type), np.dtype(endian + value_type)
                        n = int(np.frombuffer(data, ct, 1, offset)[0])
                        offset += ct.itemsize
                        row[name] = np.frombuffer(data, vt, n, offset)
                        offset += vt.itemsize * n
                rows.append(row)
        except ValueError as err:
            raise ValueError(
                f"{path}: PLY file is truncated in element '{element['name']}'"
            ) from err
        out[element["name"]] = rows
    return out


def _fan(polygons: np.ndarray) -> np.ndarray:
    """``[P, n]`` polygons as ``[P * (n - 2), 3]`` triangles ``(p0, pk, pk+1)``."""
    n = polygons.shape[1]
    if n < 3:
        return np.zeros((0, 3), dtype=np.int64)
    first = np.repeat(polygons[:, :1], n - 2, axis=1)
    fan = np.stack([first, polygons[:, 1 : n - 1], polygons[:, 2:n]], axis=-1)
    return fan.reshape(-1, 3)


def _fixed_size_list(data: bytes, offset: int, props, count: int, endian: str):
    """An element with one list property whose rows all have the same length, or None."""
    if len(props) != 1 or props[0][1] is None or count == 0:
        return None
    name, count_type, value_type = props[0]
    ct = np.dtype(endian + count_type)
    if offset + ct.itemsize > len(data):
        return None
    n = int(np.frombuffer(data, ct, 1, offset)[0])
    dtype = np.dtype([("n", ct), (name, endian + value_type, (n,))])
    end = offset + dtype.itemsize * count
    if n == 0 or end > len(data):
        return None
    rows = np.frombuffer(data[offset:end], dtype=dtype)
    return rows if np.all(rows["n"] == n) else None


def _read_ply_ascii(path, text: str, elements):
    lines = iter(text.splitlines())
    out = {}
    for element in elements:
        rows = []
        for _ in range(element["count"]):
            try:
                values = next(lines).split()
            except StopIteration as err:
                raise ValueError(
                    f"{path}: PLY file ends inside element '{element['name']}'"
                ) from err
            row, k = {}, 0
            try:
                for name, count_type, _ in element["props"]:
                    if count_type is None:
                        row[name] = float(values[k])
                        k += 1
                    else:
                        n = int(values[k])
                        row[name] = np.asarray([float(x) for x in values[k + 1 : k + 1 + n]])
                        if row[name].size != n:
                            raise IndexError
                        k += 1 + n
            except (IndexError, ValueError) as err:
                raise ValueError(
                    f"{path}: bad row in PLY element '{element['name']}': {' '.join(values)!r}"
                ) from err
            rows.append(row)
        out[element["name"]] = rows
    return out


def read_ply(path) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
    """Reads vertices, triangles and vertex colours of an ASCII or binary PLY file.

    Colours are the vertex properties ``red green blue`` (uchar, divided by 255; float values
    are taken as given). Faces come from the list property ``vertex_indices`` (or
    ``vertex_index``); polygons are split into triangle fans. Other elements are skipped.

    Returns:
      ``(vertices [V, 3] float64, triangles [F, 3] int32, colors [V, 3] float64 or None)``.

    Raises:
      ValueError: naming the file for a malformed header, a truncated body, or an index out of
      range.
    """
    with open(path, "rb") as f:
        fmt, elements = _parse_ply_header(path, f)
        body = f.read()
    if fmt == "ascii":
        parsed = _read_ply_ascii(path, body.decode("ascii", errors="replace"), elements)
    else:
        parsed = _read_ply_binary(path, body, elements, "<" if "little" in fmt else ">")
    if "vertex" not in parsed:
        raise ValueError(f"{path}: PLY file has no 'vertex' element")
    vertex = parsed["vertex"]

    def column(name):
        if isinstance(vertex, np.ndarray):
            return vertex[name].astype(np.float64) if name in vertex.dtype.names else None
        if vertex and name not in vertex[0]:
            return None
        return np.asarray([row[name] for row in vertex], dtype=np.float64)

    xyz = [column(axis) for axis in ("x", "y", "z")]
    if any(c is None for c in xyz):
        raise ValueError(f"{path}: PLY vertices need x, y and z properties")
    v = np.stack(xyz, axis=-1).reshape(-1, 3)
    rgb = [column(name) for name in ("red", "green", "blue")]
    colors = None
    if all(c is not None for c in rgb):
        colors = np.stack(rgb, axis=-1)
        color_type = next(
            t for e in elements if e["name"] == "vertex" for n, _, t in e["props"] if n == "red"
        )
        if color_type == "u1":
            colors = colors / 255.0
    faces = parsed.get("face", [])
    if isinstance(faces, np.ndarray):  # every face has the same number of corners
        polygon_groups = [faces[faces.dtype.names[1]].astype(np.int64)]
    else:
        polygon_groups = []
        for row in faces:
            polygon = row.get("vertex_indices", row.get("vertex_index"))
            if polygon is None:
                raise ValueError(f"{path}: PLY faces need a 'vertex_indices' list property")
            polygon_groups.append(np.asarray(polygon).astype(np.int64)[None, :])
    triangles = [_fan(p) for p in polygon_groups]
    triangles = np.concatenate(triangles) if triangles else np.zeros((0, 3), np.int64)
    t = triangles.reshape(-1, 3)
    if t.size and (t.min() < 0 or t.max() >= v.shape[0]):
        raise ValueError(f"{path}: PLY face index out of range [0, {v.shape[0]})")
    return v, t.astype(np.int32), colors
