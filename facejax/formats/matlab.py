"""MATLAB ``.mat`` files: version 5/7 through ``scipy.io`` and version 7.3 (HDF5) through h5py.

Both readers return arrays in MATLAB's own shape, so a loader indexes a v5 and a v7.3 file the
same way. MATLAB writes column-major data; HDF5 records the dimensions in row-major order, so
h5py hands every array back with its axes reversed (a ``[3V, 1]`` variable reads as ``[1, 3V]``),
and the reader transposes it back. Structs become dicts of their fields.
"""

from __future__ import annotations

import os
from typing import Any

import numpy as np

# MATLAB keeps bookkeeping groups at the top of a v7.3 file next to the variables.
_H5_HIDDEN = ("#refs#", "#subsystem#")
_MI_COMPRESSED = 15


def is_matlab_v73(path: str | os.PathLike) -> bool:
    """Whether ``path`` is a MATLAB v7.3 file (an HDF5 file behind a 512-byte MATLAB header)."""
    import h5py

    return bool(h5py.is_hdf5(os.fspath(path)))


def mat_keys(path: str | os.PathLike) -> list[str]:
    """Names of the top-level variables of a ``.mat`` file, without reading their data.

    Raises:
      ValueError: naming the file if it is not a MATLAB file scipy or h5py can read.
    """
    path = os.fspath(path)
    if is_matlab_v73(path):
        import h5py

        with h5py.File(path, "r") as f:
            return [k for k in f if k not in _H5_HIDDEN]
    import scipy.io

    try:
        names = [name for name, _, _ in scipy.io.whosmat(path)]
    except Exception as err:  # scipy raises several types for a non-MAT file
        raise ValueError(f"{path}: not a readable MATLAB .mat file ({err})") from err
    _check_v5_complete(path)
    return names


def _check_v5_complete(path: str) -> None:
    """Raises a ValueError naming the file when a v5 ``.mat`` file ends inside a variable.

    scipy's ``whosmat`` stops quietly at a truncated variable and lists only those before it,
    so a cut-off model would look like a file of another layout. The top level of a v5 file is
    a 128-byte header and a sequence of data elements, each an 8-byte tag (type, byte count)
    and its data, padded to 8 bytes unless compressed (MATLAB's "MAT-File Format", 2-6).
    """
    size = os.path.getsize(path)
    with open(path, "rb") as f:
        header = f.read(128)
        if len(header) < 128 or header[126:128] not in (b"IM", b"MI"):
            return  # not a v5 file: scipy judged it already
        order = "<" if header[126:128] == b"IM" else ">"
        position = 128
        while position < size:
            f.seek(position)
            tag = f.read(8)
            if len(tag) < 8:
                break
            kind, count = np.frombuffer(tag, dtype=f"{order}u4")
            if kind >> 16:  # small data element: tag and data in 8 bytes
                position += 8
                continue
            end = position + 8 + int(count)
            if end > size:
                raise ValueError(
                    f"{path}: unreadable MATLAB .mat file: truncated (a variable needs "
                    f"{end - position} bytes at offset {position}, the file ends at {size})"
                )
            position = end if kind == _MI_COMPRESSED else end + -int(count) % 8


def load_mat(path: str | os.PathLike, keys: list[str] | None = None) -> dict[str, Any]:
    """Reads variables of a ``.mat`` file (v5/v7 or v7.3) in MATLAB's shapes.

    Args:
      path: the file.
      keys: variables to read (default: all). Names the file lacks are left out of the result,
        so the caller can say which one it needed.

    Returns:
      ``{name: value}``: numeric arrays keep MATLAB's dimensions (at least 2-D, e.g. a column
      vector is ``[n, 1]``), char arrays become ``str``, structs become dicts of their fields.

    Raises:
      ValueError: naming the file if it is not a MATLAB file.
    """
    path = os.fspath(path)
    if is_matlab_v73(path):
        return _load_v73(path, keys)
    import scipy.io

    try:
        raw = scipy.io.loadmat(path, variable_names=keys, squeeze_me=False, mat_dtype=False)
    except Exception as err:
        raise ValueError(f"{path}: not a readable MATLAB .mat file ({err})") from err
    return {k: _from_scipy(v) for k, v in raw.items() if not k.startswith("__")}


def require_array(path, data: dict, key: str) -> np.ndarray:
    """``data[key]`` as a numeric array, or a ValueError naming the file and the field."""
    if key not in data:
        raise ValueError(f"{path}: field '{key}' missing (variables: {sorted(data)})")
    value = data[key]
    if not isinstance(value, np.ndarray) or not np.issubdtype(value.dtype, np.number):
        raise ValueError(f"{path}: field '{key}' is not a numeric array")
    return value


def _from_scipy(value):
    if isinstance(value, np.ndarray) and value.dtype.names is not None:
        if value.size != 1:
            raise ValueError(f"struct arrays of size {value.shape} are not supported")
        record = value.reshape(-1)[0]
        return {name: _from_scipy(record[name]) for name in value.dtype.names}
    if isinstance(value, np.ndarray) and value.dtype.kind == "U":
        return "".join(value.reshape(-1).tolist())
    return value


def _load_v73(path: str, keys: list[str] | None) -> dict[str, Any]:
    import h5py

    with h5py.File(path, "r") as f:
        names = [k for k in f if k not in _H5_HIDDEN]
        if keys is not None:
            names = [k for k in names if k in keys]
        return {k: _from_h5(f, f[k]) for k in names}


def _from_h5(f, node):
    import h5py

    if isinstance(node, h5py.Group):
        return {k: _from_h5(f, node[k]) for k in node if k not in _H5_HIDDEN}
    matlab_class = node.attrs.get("MATLAB_class", b"")
    if isinstance(matlab_class, bytes):
        matlab_class = matlab_class.decode()
    if node.attrs.get("MATLAB_empty", 0):
        # An empty variable stores its dimensions as data, not as the dataset's shape.
        return np.zeros(tuple(int(d) for d in np.asarray(node[()]).reshape(-1)))
    data = np.asarray(node[()])
    if data.dtype == h5py.ref_dtype:  # a cell array: references to datasets in #refs#
        cells = np.empty(data.shape, dtype=object)
        for index in np.ndindex(data.shape):
            cells[index] = _from_h5(f, f[data[index]])
        return cells.transpose()
    # Reverse the axes HDF5's row-major dimensions put backwards.
    data = data.transpose()
    if matlab_class == "char":
        return "".join(chr(c) for c in data.reshape(-1))
    if matlab_class == "logical":
        return data.astype(bool)
    return data
