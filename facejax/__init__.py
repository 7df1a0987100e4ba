"""facejax: differentiable 3D morphable models and identity-aware 3D face reconstruction in JAX.

The top level re-exports the names most users need; everything else lives in its subpackage:
``facejax.geometry`` (rotations, cameras, normals, alignment), ``facejax.lighting`` (SH shading),
``facejax.morphable`` (the model pytree and decoding), ``facejax.formats`` (model, mesh and
landmark files), ``facejax.synthetic`` (the embedded model).

    >>> import facejax
    >>> model = facejax.load_model("synthetic")
"""

from facejax import formats, geometry, lighting, morphable
from facejax.formats import load_model, save_model
from facejax.morphable import FaceParams, MorphableModel

__version__ = "0.1.0"

__all__ = [
    "FaceParams",
    "MorphableModel",
    "formats",
    "geometry",
    "lighting",
    "load_model",
    "morphable",
    "save_model",
]
