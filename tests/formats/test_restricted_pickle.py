"""The restricted unpickler: what it refuses, and the model-file pickles it must still read."""

import os
import pickle
import struct
import sys
import types

import numpy as np
import pytest
import scipy.sparse

from facejax.formats.restricted_pickle import (
    ChumpyStandIn,
    RefusedClassError,
    SparseStandIn,
    StandIn,
    load_numpy_object,
    load_pickle,
    loads,
    to_numpy,
)


class _Evil:
    """Pickles as a call of os.system: unpickling it with plain pickle would run a command."""

    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return (os.system, (f"touch {self.marker}",))


def _chumpy_classes(kit):
    def getstate(self):
        return dict(self.__dict__)

    def setstate(self, state):
        self.__dict__.update(state)

    extra = {"__getstate__": getstate, "__setstate__": setstate}
    return {
        "Ch": kit.fake_class("chumpy.ch", "Ch", **extra),
        "Reshape": kit.fake_class("chumpy.reordering", "Reshape", **extra),
        "transpose": kit.fake_class("chumpy.reordering", "transpose", **extra),
        "Select": kit.fake_class("chumpy.reordering", "Select", **extra),
        "add": kit.fake_class("chumpy.ch_ops", "add", **extra),
        "multiply": kit.fake_class("chumpy.ch_ops", "multiply", **extra),
    }


def _chumpy(cls, **terms):
    """A chumpy-like object whose state mimics chumpy's ``__getstate__`` (terms + bookkeeping)."""
    obj = object.__new__(cls)
    obj.__dict__.update(terms)
    obj.__dict__.update(
        {"_dirty_vars": {"x"}, "_itr": None, "_make_dense": False, "_make_sparse": False}
    )
    obj.__dict__["_depends_on_deps"] = {}
    return obj


def _py2_array(arr):
    """Bytes of a numpy array as Python 2's cPickle (protocol 2, numpy 1) writes it.

    The raw buffer is a Python 2 ``str`` (BINSTRING opcode): only ``encoding="latin1"`` turns it
    back into the bytes numpy expects.
    """
    arr = np.ascontiguousarray(arr)
    shape = (
        b"".join(b"J" + struct.pack("<i", n) for n in arr.shape)
        + b"\x85\x86\x87"[len(arr.shape) - 1 : len(arr.shape)]
    )
    code = arr.dtype.str[1:].encode()
    dtype = (
        b"cnumpy\ndtype\nU" + bytes([len(code)]) + code + b"K\x00K\x01\x87R"
        b"(K\x03U\x01<NNNJ\xff\xff\xff\xffJ\xff\xff\xff\xffK\x00tb"
    )
    raw = arr.tobytes()
    return (
        b"cnumpy.core.multiarray\n_reconstruct\ncnumpy\nndarray\nK\x00\x85U\x01b\x87R"
        b"(K\x01" + shape + dtype + b"\x89T" + struct.pack("<i", len(raw)) + raw + b"tb"
    )


def _py2_dict(items):
    """A Python 2 protocol-2 pickle of a dict of str keys to numpy arrays."""
    body = b"".join(b"U" + bytes([len(k)]) + k.encode() + _py2_array(v) for k, v in items.items())
    return b"\x80\x02}(" + body + b"u."


def test_refuses_os_system_and_runs_nothing(tmp_path):
    marker = tmp_path / "ran"
    for protocol in (0, 2, 4):
        path = tmp_path / f"evil{protocol}.pkl"
        path.write_bytes(pickle.dumps({"v": _Evil(marker)}, protocol=protocol))
        with pytest.raises(RefusedClassError, match=r"evil\d\.pkl.*'(posix|os|nt)\.system'"):
            load_pickle(path)
        assert not marker.exists()


def test_refuses_builtins_and_other_modules(tmp_path):
    eval_pickle = b"c__builtin__\neval\n(S'1+1'\ntR."  # Python 2 style call of eval
    assert pickle.loads(eval_pickle) == 2  # what plain pickle would do with it
    with pytest.raises(RefusedClassError, match=r"'__builtin__\.eval'"):
        loads(eval_pickle, source="f.pkl")
    path = tmp_path / "counter.pkl"
    path.write_bytes(pickle.dumps({"c": __import__("collections").Counter("ab")}))
    with pytest.raises(RefusedClassError, match=r"counter\.pkl.*'collections\.Counter'"):
        load_pickle(path)
    # A chumpy object is refused unless asked for, with a hint.
    with pytest.raises(RefusedClassError, match="allow_chumpy=True"):
        loads(b"\x80\x02cchumpy.ch\nCh\n)\x81}b.")
    with pytest.raises(ValueError):  # the error is also a ValueError, as loaders raise
        loads(b"\x80\x02cchumpy.ch\nCh\n)\x81}b.")


def test_reads_python2_pickle_of_arrays(tmp_path):
    expected = {
        "v_template": np.random.default_rng(0).normal(size=(4, 3)),
        "f": np.array([[0, 1, 2], [1, 2, 3]], np.uint32),
        "weights": np.float32([[0.25, 0.75]]),
    }
    data = _py2_dict(expected)
    reference = pickle.loads(data, encoding="latin1")  # the handmade bytes are a valid pickle
    path = tmp_path / "py2.pkl"
    path.write_bytes(data)
    got = load_pickle(path)
    assert sorted(got) == sorted(expected)
    for key, value in expected.items():
        np.testing.assert_array_equal(got[key], value)
        np.testing.assert_array_equal(reference[key], value)
        assert got[key].dtype == value.dtype


@pytest.mark.parametrize("protocol", [0, 2, 3, 5])
def test_reads_numpy_scipy_and_builtins_every_protocol(tmp_path, protocol):
    sparse = scipy.sparse.csc_matrix(np.array([[0.0, 2.0, 0.0], [1.0, 0.0, 3.0]]))
    obj = {
        "a": np.arange(6.0).reshape(2, 3),
        "fortran": np.asfortranarray(np.arange(6, dtype=np.int32).reshape(2, 3)),
        "scalar": np.float32(1.5),
        "set": {1, 2},
        "ordered": __import__("collections").OrderedDict(x=1),
        "bytes": b"\x00\xff",
        "sparse": sparse,
        "csr": sparse.tocsr(),
    }
    path = tmp_path / "ok.pkl"
    path.write_bytes(pickle.dumps(obj, protocol=protocol))
    got = load_pickle(path)
    np.testing.assert_array_equal(got["a"], obj["a"])
    np.testing.assert_array_equal(got["fortran"], obj["fortran"])
    assert got["scalar"] == np.float32(1.5) and got["set"] == {1, 2} and got["bytes"] == b"\x00\xff"
    assert got["ordered"] == {"x": 1}
    for key in ("sparse", "csr"):
        assert isinstance(got[key], SparseStandIn)
        assert got[key].shape == (2, 3)
        np.testing.assert_array_equal(to_numpy(got[key]), sparse.toarray())


def test_chumpy_objects_without_chumpy(tmp_path, monkeypatch, kit):
    assert "chumpy" not in sys.modules
    ch = _chumpy_classes(kit)
    x = np.arange(24.0).reshape(4, 3, 2)
    base = _chumpy(ch["Ch"], x=x)
    obj = {
        "shapedirs": base,
        "reshaped": _chumpy(ch["Reshape"], a=base, newshape=(12, 2)),
        "transposed": _chumpy(ch["transpose"], a=base, axes=(2, 0, 1)),
        "selected": _chumpy(ch["Select"], a=base, idxs=np.array([5, 0]), preferred_shape=(2, 1)),
        "sum": _chumpy(ch["add"], a=base, b=_chumpy(ch["multiply"], a=base, b=2.0)),
        "plain": np.ones(2),
    }
    data = kit.dump_with_fake_modules(monkeypatch, obj, ch.values())
    assert b"chumpy.ch\nCh\n" in data  # named exactly as in FLAME's generic_model.pkl
    path = tmp_path / "chumpy.pkl"
    path.write_bytes(data)
    with pytest.raises(RefusedClassError, match="'chumpy.ch.Ch'"):
        load_pickle(path)
    got = load_pickle(path, allow_chumpy=True)
    assert "chumpy" not in sys.modules
    assert isinstance(got["shapedirs"], ChumpyStandIn)
    assert got["shapedirs"].qualified_name == "chumpy.ch.Ch"
    np.testing.assert_array_equal(to_numpy(got["shapedirs"]), x)
    np.testing.assert_array_equal(to_numpy(got["reshaped"]), x.reshape(12, 2))
    np.testing.assert_array_equal(to_numpy(got["transposed"]), x.transpose(2, 0, 1))
    np.testing.assert_array_equal(to_numpy(got["selected"]), x.ravel()[[5, 0]].reshape(2, 1))
    np.testing.assert_array_equal(to_numpy(got["sum"]), 3.0 * x)
    np.testing.assert_array_equal(to_numpy(got["plain"]), np.ones(2))


def test_unknown_chumpy_operation_is_named(monkeypatch, kit):
    ch = _chumpy_classes(kit)
    cross = kit.fake_class("chumpy.ch_ops", "Cross", __setstate__=lambda self, s: None)
    data = kit.dump_with_fake_modules(
        monkeypatch, {"c": _chumpy(cross, a=1)}, [*ch.values(), cross]
    )
    got = loads(data, source="m.pkl", allow_chumpy=True)
    with pytest.raises(ValueError, match=r"m\.pkl: cannot evaluate chumpy 'chumpy.ch_ops.Cross'"):
        to_numpy(got["c"], source="m.pkl")


def _torch_like_tensor():
    """A stand-in for a torch tensor: pickles as a call of torch._utils._rebuild_tensor_v2."""

    def rebuild(*args):  # never called by the restricted unpickler
        raise AssertionError("the torch stand-in ran")

    rebuild.__module__, rebuild.__qualname__ = "torch._utils", "_rebuild_tensor_v2"
    tensor_cls = type("Tensor", (), {"__reduce__": lambda self: (rebuild, (b"storage", 0, (2,)))})
    return rebuild, tensor_cls()


def test_numpy_object_file(tmp_path, monkeypatch):
    faces = np.arange(68, dtype=np.int64)[None]
    bary = np.full((1, 68, 3), 1.0 / 3.0)
    rebuild, tensor = _torch_like_tensor()
    embedding = {"full_lmk_faces_idx": faces, "full_lmk_bary_coords": bary, "dynamic": tensor}
    path = tmp_path / "landmark_embedding.npy"
    with monkeypatch.context() as patch:
        patch.setitem(sys.modules, "torch", types.ModuleType("torch"))
        patch.setitem(sys.modules, "torch._utils", types.ModuleType("torch._utils"))
        sys.modules["torch._utils"]._rebuild_tensor_v2 = rebuild
        np.save(path, np.array(embedding, dtype=object), allow_pickle=True)
    with pytest.raises(RefusedClassError, match=r"landmark_embedding\.npy.*'torch\._utils\."):
        load_numpy_object(path)
    got = load_numpy_object(path, opaque_modules=("torch",))
    np.testing.assert_array_equal(got["full_lmk_faces_idx"], faces)
    np.testing.assert_array_equal(got["full_lmk_bary_coords"], bary)
    assert isinstance(got["dynamic"], StandIn)
    assert got["dynamic"].qualified_name == "torch._utils._rebuild_tensor_v2"
    with pytest.raises(ValueError, match="cannot be read as an array"):
        to_numpy(got["dynamic"])
    # A plain array file is read as usual; a file that is not .npy is named.
    plain = tmp_path / "plain.npy"
    np.save(plain, np.arange(3))
    np.testing.assert_array_equal(load_numpy_object(plain), np.arange(3))
    bad = tmp_path / "bad.npy"
    bad.write_bytes(b"not a numpy file")
    with pytest.raises(ValueError, match=r"bad\.npy: not a \.npy file"):
        load_numpy_object(bad)


def test_not_a_pickle_is_named(tmp_path):
    path = tmp_path / "garbage.pkl"
    path.write_bytes(b"\x00\x01garbage")
    with pytest.raises(ValueError, match=r"garbage\.pkl: not a readable pickle"):
        load_pickle(path)
