"""Small meshes in millimetres shared by the scan-benchmark tests."""

import numpy as np
import pytest
from scipy.spatial import ConvexHull


def _bumpy_surface(n=25, size=60.0):
    x, y = np.meshgrid(np.linspace(-size / 2, size / 2, n), np.linspace(-size / 2, size / 2, n))
    z = 12 * np.exp(-(x**2 + (y - 5) ** 2) / 300) + 4 * np.sin(x / 9) * np.cos(y / 13) + 0.1 * x
    vertices = np.stack([x.ravel(), y.ravel(), z.ravel()], axis=1)
    i = (np.arange(n - 1)[:, None] * n + np.arange(n - 1)[None, :]).ravel()
    triangles = np.concatenate(
        [np.stack([i, i + 1, i + n], 1), np.stack([i + 1, i + n + 1, i + n], 1)]
    )
    return vertices, triangles


@pytest.fixture
def bumpy_surface():
    """A smooth, asymmetric height field (``[625, 3]`` mm, 60 mm wide) and its ``[1152, 3]``
    triangles: no sliding symmetry, so a surface fit pins down all seven parameters."""
    return _bumpy_surface()


def _sphere(n, radius):
    i = np.arange(n) + 0.5
    polar, azimuth = np.arccos(1 - 2 * i / n), np.pi * (1 + 5**0.5) * i
    directions = np.stack(
        [np.cos(azimuth) * np.sin(polar), np.sin(azimuth) * np.sin(polar), np.cos(polar)], 1
    )
    return radius * directions, ConvexHull(directions).simplices


@pytest.fixture
def sphere():
    """``(vertices [4000, 3], triangles)``: a sphere of radius 80 mm (Fibonacci points, convex
    hull); edges about 5 mm, faces at most ~0.05 mm inside the true sphere."""
    return _sphere(4000, 80.0)
