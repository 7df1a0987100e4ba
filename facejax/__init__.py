"""facejax: differentiable 3D morphable models and identity-aware 3D face reconstruction in JAX.

The top level re-exports the names most users need; everything else lives in its subpackage
(``facejax.geometry``, ``facejax.morphable``, ``facejax.lighting``, ``facejax.formats``, ...).
"""

__version__ = "0.1.0"
