"""One entry point for every model file: :func:`load_model` and :func:`detect_format`.

The reader modules are imported only when their format is asked for, so a missing optional
dependency (eos-py) or a reader still being written never breaks the others. The readers in
turn end with :func:`create_file_model`, so every model read from a file is named, sized and
given its landmark file the same way.
"""

from __future__ import annotations

import importlib
import inspect
import os
import pickletools

from facejax.formats.landmark_files import read_vertex_indices
from facejax.morphable import MorphableModel, create_model

FORMATS = ("native", "bfm2009", "bfm2017", "deep3d", "3ddfa", "flame", "eos")

# format -> (module, loader function)
_LOADERS = {
    "native": ("facejax.formats.native", "load_native"),
    "bfm2009": ("facejax.formats.bfm2009", "load_bfm2009"),
    "bfm2017": ("facejax.formats.bfm2017", "load_bfm2017"),
    "deep3d": ("facejax.formats.deep3d", "load_deep3d"),
    "3ddfa": ("facejax.formats.threeddfa", "load_3ddfa"),
    "flame": ("facejax.formats.flame", "load_flame"),
    "eos": ("facejax.formats.eos", "load_eos"),
}

_SYNTHETIC = "synthetic"

# Strings that betray a pickle's dict keys; how many opcodes to inspect before giving up.
_PICKLE_STRING_OPS = {
    "SHORT_BINUNICODE",
    "BINUNICODE",
    "BINUNICODE8",
    "UNICODE",
    "SHORT_BINSTRING",
    "BINSTRING",
    "STRING",
    "SHORT_BINBYTES",
    "BINBYTES",
}
_PICKLE_MAX_OPS = 200_000


def _hint(keyword: str = "format=") -> str:
    return f"pass {keyword} one of " + ", ".join(repr(f) for f in FORMATS)


class LoadOptionError(ValueError):
    """A wrong or missing option of :func:`load_model`. Its message names the Python keywords
    (``format=``); :meth:`command_line_message` says the same with the command line's options
    (``--format``)."""

    def __init__(self, message: str, command_line_message: str):
        super().__init__(message)
        self._command_line_message = command_line_message

    def command_line_message(self) -> str:
        return self._command_line_message


class UnknownFormatError(LoadOptionError):
    """The model format of a file cannot be told (or is not one of ``FORMATS``)."""

    def __init__(self, problem: str):
        super().__init__(f"{problem}; {_hint()}", f"{problem}; {_hint('--format')}")
        self.problem = problem


def _pickle_keys(path: str) -> set[str]:
    """String constants of a pickle, found by reading its opcodes without executing any."""
    keys = set()
    with open(path, "rb") as f:
        try:
            for count, (op, arg, _) in enumerate(pickletools.genops(f)):
                if op.name in _PICKLE_STRING_OPS and len(arg) < 64:
                    keys.add(arg.decode("latin-1") if isinstance(arg, bytes) else arg)
                if count > _PICKLE_MAX_OPS or "v_template" in keys or _is_3ddfa(keys):
                    break
        except Exception:  # a truncated or foreign file: judge by what was seen
            pass
    return keys


def _is_3ddfa(keys: set[str]) -> bool:
    # 3DDFA_V2 stores the mean as "u"; 3DDFA v1 as "u_shp" + "u_exp".
    return "w_shp" in keys and ("u" in keys or "u_shp" in keys)


def detect_format(path) -> str:
    """The model format of a file, from its extension and, where needed, its variable names.

    ``.npz`` is native; ``.h5``/``.hdf5`` is BFM 2017; ``.bin`` is eos; a ``.mat`` with
    ``shapeMU`` is BFM 2009 and one with ``meanshape`` and ``idBase`` is Deep3DFaceRecon; a
    ``.pkl`` with ``v_template`` is FLAME and one with ``w_shp`` and ``u`` (or v1's ``u_shp``) is
    3DDFA (read by
    scanning the pickle's opcodes, never by unpickling).

    Raises:
      FileNotFoundError: if ``path`` does not exist.
      ValueError: naming the file, when the format is unknown or ambiguous.
    """
    path = os.fspath(path)
    if not os.path.exists(path):
        raise FileNotFoundError(f"model file not found: {path}")
    ext = os.path.splitext(path)[1].lower()
    if ext == ".npz":
        return "native"
    if ext in (".h5", ".hdf5"):
        return "bfm2017"
    if ext == ".bin":
        return "eos"
    if ext == ".mat":
        from facejax.formats.matlab import mat_keys

        keys = set(mat_keys(path))
        found = []
        if "shapeMU" in keys or "model" in keys:
            found.append("bfm2009")
        if {"meanshape", "idBase"} <= keys:
            found.append("deep3d")
        if len(found) == 1:
            return found[0]
        problem = "matches " + " and ".join(found) if found else "matches no known layout"
        raise UnknownFormatError(
            f"{path}: cannot tell the model format: the .mat file {problem} "
            f"(variables: {sorted(keys)[:12]})"
        )
    if ext == ".pkl":
        keys = _pickle_keys(path)
        if "v_template" in keys:
            return "flame"
        if _is_3ddfa(keys):
            return "3ddfa"
        raise UnknownFormatError(
            f"{path}: cannot tell the model format: the pickle has neither FLAME's 'v_template' "
            f"nor 3DDFA's 'u' and 'w_shp'"
        )
    raise UnknownFormatError(f"{path}: unknown model file type {ext!r}")


def create_file_model(
    path: str,
    format: str,
    mean_shape,
    triangles,
    *,
    landmarks=None,
    landmarks_one_based: bool = False,
    landmark_vertices=None,
    dtype,
    **parts,
) -> MorphableModel:
    """The :class:`MorphableModel` a reader returns, built from the arrays it read.

    Args:
      path: the model file; named in errors and, by its stem, in the model's name
        ``"<format>:<stem>"``.
      format: the reader's entry in :data:`FORMATS`.
      mean_shape: ``[V, 3]`` (or flat ``[3V]``) in millimetres.
      triangles: ``[F, 3]`` 0-based, counter-clockwise seen from outside.
      landmarks: optional ``.npy``/``.txt`` file of landmark vertex indices
        (:func:`~facejax.formats.read_vertex_indices`); it wins over ``landmark_vertices``.
      landmarks_one_based: whether that file counts vertices from 1.
      landmark_vertices: ``[N]`` 0-based landmark vertices the model file itself holds, if any.
      dtype: float dtype of the model arrays.
      **parts: the other :func:`~facejax.morphable.create_model` arguments (bases, standard
        deviations, albedo, ``expression_names``).

    Returns:
      The model in millimetres.
    """
    if landmarks is not None:
        landmark_vertices = read_vertex_indices(landmarks, one_based=landmarks_one_based)
    return create_model(
        mean_shape,
        triangles,
        landmark_vertices=landmark_vertices,
        name=f"{format}:{os.path.splitext(os.path.basename(path))[0]}",
        units="mm",
        dtype=dtype,
        source=path,
        **parts,
    )


def load_model(source, format: str | None = None, **kwargs) -> MorphableModel:
    """Loads a morphable model from any supported file, or the embedded synthetic model.

    Args:
      source: a path (``str`` or ``os.PathLike``), or ``"synthetic"`` /
        ``"synthetic:<variant>"`` (``"small"``) for the procedural model built into facejax.
      format: one of :data:`FORMATS`; ``None`` detects it (:func:`detect_format`).
      **kwargs: passed to the format's reader, e.g. ``landmarks=`` for BFM 2009/2017 and eos,
        ``expression=`` for BFM 2009, ``dtype=``.

    Returns:
      The model in millimetres, model frame y up / z out of the face, triangles 0-based and
      counter-clockwise seen from outside, coefficients in units of standard deviation.

    Raises:
      FileNotFoundError: if the file does not exist.
      ValueError: for an unknown format (listing the formats) or a malformed file.
    """
    if (
        isinstance(source, str)
        and (source == _SYNTHETIC or source.startswith(_SYNTHETIC + ":"))
        and not os.path.exists(source)
    ):
        from facejax.synthetic import synthetic_model

        variant = source.partition(":")[2] or "default"
        return synthetic_model(variant, **_loader_kwargs(synthetic_model, _SYNTHETIC, kwargs))
    path = os.fspath(source)
    if not os.path.exists(path):
        raise FileNotFoundError(f"model file not found: {path}")
    if format is None:
        format = detect_format(path)
    elif format not in _LOADERS:
        raise UnknownFormatError(f"unknown model format {format!r} for {path}")
    module_name, function_name = _LOADERS[format]
    loader = getattr(importlib.import_module(module_name), function_name)
    return loader(path, **_loader_kwargs(loader, format, kwargs))


def _loader_kwargs(loader, format: str, kwargs: dict) -> dict:
    """``kwargs`` checked against the reader's signature, ``landmarks=`` spelled its way.

    Every reader that takes a landmark file accepts it as ``landmarks=`` here, whether the
    reader names it ``landmarks`` or ``landmarks_path`` (FLAME, 3DDFA), so the command line can
    pass one option for all formats.
    """
    parameters = inspect.signature(loader).parameters
    if any(p.kind is inspect.Parameter.VAR_KEYWORD for p in parameters.values()):
        return kwargs
    kwargs = dict(kwargs)
    if "landmarks" in kwargs and "landmarks" not in parameters and "landmarks_path" in parameters:
        kwargs["landmarks_path"] = kwargs.pop("landmarks")
    accepted = list(parameters)[1:]  # the first parameter is the path
    unknown = [name for name in kwargs if name not in accepted]
    if unknown:
        raise LoadOptionError(
            f"the {format} reader takes no {', '.join(u + '=' for u in unknown)} "
            f"(it takes: {', '.join(a + '=' for a in accepted) or 'no options'})",
            f"the {format} reader takes no "
            f"{', '.join('--' + u.replace('_', '-') for u in unknown)}",
        )
    return kwargs
