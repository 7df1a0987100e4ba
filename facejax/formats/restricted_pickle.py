"""Reading pickled model files without running code from them.

``pickle.load`` calls whatever the file names: a model downloaded from a web page could run
``os.system``. FLAME, 3DDFA and DECA ship their models as pickles, so facejax reads them with an
unpickler whose ``find_class`` hands out only an allow-list:

* numpy arrays, dtypes and scalars (``numpy.core.multiarray._reconstruct``, ``numpy.ndarray``,
  ``numpy.dtype``, ``numpy.core.multiarray.scalar``, ``numpy.core.numeric._frombuffer``, under
  both the numpy 1 ``numpy.core`` and numpy 2 ``numpy._core`` module names);
* a few builtins: ``set``, ``frozenset``, ``object``, ``complex``, ``slice``, ``bytearray``,
  ``collections.OrderedDict``, ``copyreg._reconstructor`` (Python 2's way of rebuilding
  objects, whose class argument is itself checked) and ``_codecs.encode`` for latin-1 only (how a
  Python 3 pickle of protocol < 3 stores bytes);
* scipy sparse matrices (``scipy.sparse.csc_matrix`` / ``csr_matrix`` under any of their module
  paths, e.g. FLAME's ``J_regressor`` of ``scipy.sparse.csc``), rebuilt as a
  :class:`SparseStandIn` holding the CSC/CSR arrays, without importing scipy;
* with ``allow_chumpy=True``, any ``chumpy.*`` class (FLAME's ``generic_model.pkl`` stores some
  arrays as ``chumpy.ch.Ch`` objects, pickled as ``chumpy.ch Ch`` plus a state dict whose ``'x'``
  is the array), rebuilt as a :class:`ChumpyStandIn` that only records its state, so chumpy need
  not be installed; :func:`to_numpy` evaluates the few chumpy operations that occur in model
  files (``Ch``, ``Reshape``, ``transpose``, ``Select``, ``Concatenate``, ``add``, ``subtract``,
  ``multiply``, ``divide``, ``negative``, ``dot``);
* classes of modules named in ``opaque_modules`` (DECA's ``landmark_embedding.npy`` holds torch
  tensors next to the numpy arrays facejax reads): each becomes an inert :class:`StandIn` that
  records its arguments and is never called.

Everything else raises :class:`RefusedClassError` naming the file and the class (``module.name``)
before anything is constructed. Python 2 pickles are read with ``encoding="latin1"``, the encoding
numpy needs for their array buffers.
"""

from __future__ import annotations

import collections
import copyreg
import io
import os
import pickle
from typing import Any

import numpy as np

# Python 2 module names that pickles of protocol < 3 use for builtins.
_PY2_MODULES = {"__builtin__": "builtins", "copy_reg": "copyreg", "exceptions": "builtins"}

_NUMPY_PREFIXES = ("numpy.core.", "numpy._core.")
_SPARSE_FORMATS = {"csc_matrix": "csc", "csr_matrix": "csr", "csc_array": "csc", "csr_array": "csr"}


class RefusedClassError(pickle.UnpicklingError, ValueError):
    """A pickle named a class or function that facejax does not load."""


def _frombuffer(buffer, dtype, shape, order):
    """numpy's protocol-5 array rebuild (``numpy.core.numeric._frombuffer``), as a copy."""
    return np.frombuffer(buffer, dtype=dtype).reshape(shape, order=order).copy()


def _latin1_encode(text, encoding="latin1"):
    """``_codecs.encode`` as Python 3 pickles bytes at protocol < 3: latin-1 only."""
    if encoding.lower().replace("_", "-") not in ("latin1", "latin-1", "iso-8859-1"):
        raise pickle.UnpicklingError(f"refused _codecs.encode with encoding {encoding!r}")
    return text.encode("latin1")


def _numpy_allowed() -> dict[str, Any]:
    reconstruct = np.ndarray.__reduce__(np.zeros(1))[0]
    scalar = np.float64(0).__reduce__()[0]
    return {
        "multiarray._reconstruct": reconstruct,
        "multiarray.scalar": scalar,
        "multiarray.ndarray": np.ndarray,
        "multiarray.dtype": np.dtype,
        "numeric._frombuffer": _frombuffer,
    }


_ALLOWED = {
    "numpy.ndarray": np.ndarray,
    "numpy.dtype": np.dtype,
    "builtins.set": set,
    "builtins.frozenset": frozenset,
    "builtins.object": object,
    "builtins.complex": complex,
    "builtins.slice": slice,
    "builtins.bytearray": bytearray,
    "collections.OrderedDict": collections.OrderedDict,
    "copyreg._reconstructor": copyreg._reconstructor,
    "_codecs.encode": _latin1_encode,
}


class StandIn:
    """An inert object built in place of a class the unpickler does not import.

    It records what the pickle gave it (constructor arguments, ``__setstate__`` state) and does
    nothing else. ``qualified_name`` is the ``module.name`` the pickle asked for.
    """

    qualified_name = "?"
    args: tuple = ()
    kwargs: dict = {}
    state: Any = None

    def __new__(cls, *args, **kwargs):
        obj = object.__new__(cls)
        obj.args, obj.kwargs = args, kwargs
        return obj

    def __init__(self, *args, **kwargs):
        pass

    def __setstate__(self, state):
        self.state = state

    def __reduce__(self):
        raise TypeError(f"a stand-in for {self.qualified_name} cannot be pickled again")

    def __repr__(self):
        return f"<stand-in for {self.qualified_name}>"


class ChumpyStandIn(StandIn):
    """Stand-in for a chumpy object; :func:`to_numpy` evaluates it from its recorded state."""


class SparseStandIn(StandIn):
    """Stand-in for a scipy CSC/CSR matrix: its arrays, and ``toarray()`` without scipy."""

    sparse_format = "csc"

    def _field(self, *names):
        state = self.state if isinstance(self.state, dict) else {}
        for name in names:
            if name in state:
                return state[name]
        raise ValueError(f"{self.qualified_name} state has none of the fields {names}")

    @property
    def shape(self) -> tuple[int, int]:
        return tuple(int(n) for n in self._field("_shape", "shape"))

    def toarray(self) -> np.ndarray:
        """The dense ``[rows, cols]`` matrix (duplicate entries summed, as scipy does)."""
        data = np.asarray(self._field("data"))
        indices = np.asarray(self._field("indices")).astype(np.int64)
        indptr = np.asarray(self._field("indptr")).astype(np.int64)
        rows, cols = self.shape
        major = cols if self.sparse_format == "csc" else rows
        minor = rows if self.sparse_format == "csc" else cols
        if indptr.shape != (major + 1,) or indptr[-1] != indices.size or data.size < indices.size:
            raise ValueError(f"{self.qualified_name}: inconsistent sparse arrays for {self.shape}")
        if indices.size and (indices.min() < 0 or indices.max() >= minor):
            raise ValueError(f"{self.qualified_name}: sparse index out of range for {self.shape}")
        dense = np.zeros(self.shape, dtype=np.result_type(data.dtype, np.float64))
        owner = np.repeat(np.arange(major), np.diff(indptr))
        if self.sparse_format == "csc":
            np.add.at(dense, (indices, owner), data[: indices.size])
        else:
            np.add.at(dense, (owner, indices), data[: indices.size])
        return dense


def _normalise(module: str) -> str:
    head, _, rest = module.partition(".")
    head = _PY2_MODULES.get(head, head)
    return f"{head}.{rest}" if rest else head


class RestrictedUnpickler(pickle.Unpickler):
    """A ``pickle.Unpickler`` whose ``find_class`` allows only the classes listed in this module.

    Args:
      file: a binary file object.
      source: the file name used in error messages.
      allow_chumpy: rebuild ``chumpy.*`` objects as :class:`ChumpyStandIn`.
      opaque_modules: top-level module names (e.g. ``("torch",)``) whose classes become inert
        :class:`StandIn` objects instead of being refused.
    """

    def __init__(
        self,
        file,
        *,
        source: str = "<pickle>",
        allow_chumpy: bool = False,
        opaque_modules: tuple[str, ...] = (),
    ):
        super().__init__(file, encoding="latin1")
        self._source = source
        self._allow_chumpy = allow_chumpy
        self._opaque = tuple(opaque_modules)
        self._numpy = _numpy_allowed()
        self._stand_ins: dict[str, type] = {}

    def _stand_in(self, base: type, qualified: str, **attributes) -> type:
        # One class per name, so that pickles that compare classes (memo) stay consistent.
        if qualified not in self._stand_ins:
            name = qualified.rsplit(".", 1)[-1]
            attributes["qualified_name"] = qualified
            self._stand_ins[qualified] = type(name, (base,), attributes)
        return self._stand_ins[qualified]

    def find_class(self, module: str, name: str):
        written = f"{module}.{name}"
        module = _normalise(module)
        qualified = f"{module}.{name}"
        top = module.split(".", 1)[0]
        if qualified in _ALLOWED:
            return _ALLOWED[qualified]
        for prefix in _NUMPY_PREFIXES:
            if module.startswith(prefix):
                key = f"{module[len(prefix) :]}.{name}"
                if key in self._numpy:
                    return self._numpy[key]
        if (module == "scipy.sparse" or module.startswith("scipy.sparse.")) and (
            name in _SPARSE_FORMATS
        ):
            return self._stand_in(SparseStandIn, qualified, sparse_format=_SPARSE_FORMATS[name])
        if top == "chumpy" and self._allow_chumpy:
            return self._stand_in(ChumpyStandIn, qualified)
        if top in self._opaque:
            return self._stand_in(StandIn, qualified)
        hint = " (pass allow_chumpy=True for FLAME-style chumpy objects)" if top == "chumpy" else ""
        raise RefusedClassError(
            f"{self._source}: refused to unpickle '{written}': facejax only loads numpy arrays, "
            f"scipy sparse matrices and plain containers from pickles{hint}"
        )

    def persistent_load(self, pid):
        raise RefusedClassError(f"{self._source}: refused a persistent id in the pickle ({pid!r})")


def loads(data: bytes, *, source: str = "<bytes>", **options) -> Any:
    """Unpickles ``data`` with :class:`RestrictedUnpickler` (options as its constructor's)."""
    return RestrictedUnpickler(io.BytesIO(data), source=source, **options).load()


def load_pickle(
    path: str | os.PathLike, *, allow_chumpy: bool = False, opaque_modules: tuple[str, ...] = ()
) -> Any:
    """Reads a pickle file (Python 2 or 3) through the restricted unpickler.

    Args:
      path: the ``.pkl`` file.
      allow_chumpy: rebuild chumpy objects as :class:`ChumpyStandIn` (convert with
        :func:`to_numpy`); otherwise they are refused.
      opaque_modules: modules whose objects become inert :class:`StandIn` objects.

    Returns:
      The unpickled object (dicts, lists, numpy arrays, stand-ins).

    Raises:
      RefusedClassError: naming the file and the class, for any class not allowed.
      ValueError: naming the file, if it is not a readable pickle.
    """
    path = os.fspath(path)
    with open(path, "rb") as f:
        unpickler = RestrictedUnpickler(
            f, source=path, allow_chumpy=allow_chumpy, opaque_modules=opaque_modules
        )
        try:
            return unpickler.load()
        except RefusedClassError:
            raise
        except (pickle.UnpicklingError, EOFError, ValueError, TypeError, AttributeError) as err:
            raise ValueError(f"{path}: not a readable pickle ({err})") from err


def load_numpy_object(path: str | os.PathLike, *, opaque_modules: tuple[str, ...] = ()) -> Any:
    """Reads a ``.npy`` file that holds a pickled object (``np.save`` of a dict), safely.

    The header is parsed by ``numpy.lib.format``; the pickled payload goes through the restricted
    unpickler instead of ``np.load(allow_pickle=True)``. A 0-d object array (what ``np.save``
    writes for a dict) is unwrapped to its item.

    Args:
      path: the ``.npy`` file, e.g. DECA's ``landmark_embedding.npy``.
      opaque_modules: modules whose objects become inert :class:`StandIn` objects (``("torch",)``
        for files that hold torch tensors).

    Returns:
      The stored object, or the array itself if the file holds a plain (non-object) array.

    Raises:
      RefusedClassError: for a class outside the allow-list.
      ValueError: naming the file, if it is not a ``.npy`` file.
    """
    path = os.fspath(path)
    fmt = np.lib.format
    with open(path, "rb") as f:
        try:
            version = fmt.read_magic(f)
            if version == (1, 0):
                shape, fortran, dtype = fmt.read_array_header_1_0(f)
            else:
                shape, fortran, dtype = fmt.read_array_header_2_0(f)
        except ValueError as err:
            raise ValueError(f"{path}: not a .npy file ({err})") from err
        if not dtype.hasobject:
            f.seek(0)
            return np.load(f, allow_pickle=False)
        unpickler = RestrictedUnpickler(f, source=path, opaque_modules=opaque_modules)
        try:
            array = unpickler.load()
        except RefusedClassError:
            raise
        except (pickle.UnpicklingError, EOFError, ValueError, TypeError) as err:
            raise ValueError(f"{path}: unreadable pickled payload ({err})") from err
    if isinstance(array, np.ndarray) and array.shape == () and array.dtype.hasobject:
        return array.item()
    return array


def _chumpy_value(obj: ChumpyStandIn, source: str, depth: int) -> np.ndarray:
    if depth > 64:
        raise ValueError(f"{source}: chumpy expression nested too deeply")
    state = obj.state if isinstance(obj.state, dict) else {}
    kind = obj.qualified_name.rsplit(".", 1)[-1]

    def term(name):
        if name not in state:
            raise ValueError(f"{source}: chumpy {obj.qualified_name} has no term '{name}'")
        return to_numpy(state[name], source=source, _depth=depth + 1)

    if kind == "Ch":
        return term("x")
    if kind == "Reshape":
        return term("a").reshape(state["newshape"])
    if kind == "transpose":
        return np.transpose(term("a"), state.get("axes"))
    if kind == "Select":
        result = term("a").ravel()[np.asarray(state["idxs"])]
        return result.reshape(state["preferred_shape"]) if "preferred_shape" in state else result
    if kind == "Concatenate":
        parts = [term(name) for name in state.get("dterms", [])]
        return np.concatenate(parts, axis=state.get("axis", 0))
    binary = {"add": np.add, "subtract": np.subtract, "multiply": np.multiply, "dot": np.dot}
    if kind in binary:
        return binary[kind](term("a"), term("b"))
    if kind == "divide":
        return term("x1") / term("x2")
    if kind == "negative":
        return -term("x")
    raise ValueError(
        f"{source}: cannot evaluate chumpy '{obj.qualified_name}' without chumpy; convert the "
        "file to numpy arrays with chumpy installed"
    )


def to_numpy(value, *, source: str = "<pickle>", _depth: int = 0) -> np.ndarray:
    """A numpy array from an unpickled value: array, chumpy or sparse stand-in, list or scalar.

    Args:
      value: what :func:`load_pickle` returned for one field.
      source: the file name used in error messages.

    Returns:
      The dense numpy array.

    Raises:
      ValueError: naming ``source``, for a value with no array meaning (an unknown stand-in).
    """
    if isinstance(value, ChumpyStandIn):
        return np.asarray(_chumpy_value(value, source, _depth))
    if isinstance(value, SparseStandIn):
        return value.toarray()
    if isinstance(value, StandIn):
        raise ValueError(f"{source}: '{value.qualified_name}' object cannot be read as an array")
    return np.asarray(value)
