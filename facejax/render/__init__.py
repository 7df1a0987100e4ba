"""Differentiable rasterization in pure JAX (CPU, GPU and TPU alike; no CUDA build, no OpenGL).

The low level takes screen-space vertices (pixel x, y and depth, as ``facejax.geometry``
projections return them) and does not import the rest of facejax.
"""

from facejax.render.interpolate import interpolate
from facejax.render.rasterize import Fragments, default_max_tiles, rasterize

__all__ = ["Fragments", "default_max_tiles", "interpolate", "rasterize"]
