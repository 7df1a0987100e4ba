"""Shared pieces of the model-file reader tests: a small face-like surface, PCA bases, and
pickles of classes from modules that are not installed (chumpy, old scipy paths, torch)."""

import pickle
import sys
import types

import numpy as np
import pytest


def _face_grid(nx=5, ny=4):
    """A face-like open surface (mm) facing +z, triangles counter-clockwise seen from +z.

    Returns:
      ``([nx * ny, 3]`` float64 vertices in mm, ``[2 (nx - 1)(ny - 1), 3]`` int triangles``)``.
    """
    x, y = np.meshgrid(np.linspace(-60.0, 60.0, nx), np.linspace(-70.0, 70.0, ny))
    z = 90.0 - 0.006 * (x**2 + (y + 10.0) ** 2)
    triangles = []
    for r in range(ny - 1):
        for c in range(nx - 1):
            k = r * nx + c
            triangles += [[k, k + 1, k + nx], [k + 1, k + nx + 1, k + nx]]
    return np.stack([x, y, z], axis=-1).reshape(-1, 3), np.asarray(triangles)


def _orthonormal(rows, cols, seed):
    """``[rows, cols]`` float64 with orthonormal columns, seeded (a PCA basis)."""
    return np.linalg.qr(np.random.default_rng(seed).normal(size=(rows, cols)))[0]


def _decode(model, alpha, beta, gamma):
    """float64 ``([V, 3]`` shape, ``[V, 3]`` colour``)`` of a model's coefficients, in numpy."""

    def part(basis, coeff, std):
        return np.einsum("vck,k->vc", np.asarray(basis, np.float64), coeff * np.asarray(std))

    shape = (
        np.asarray(model.mean_shape, np.float64)
        + part(model.identity_basis, alpha, model.identity_std)
        + part(model.expression_basis, beta, model.expression_std)
    )
    colour = np.asarray(model.albedo_mean, np.float64) + part(
        model.albedo_basis, gamma, model.albedo_std
    )
    return shape, colour


def _fake_class(module, name, bases=(object,), **namespace):
    """A class that pickles as ``module name``; its module exists only while dumping."""
    cls = type(name, bases, dict(namespace))
    cls.__module__, cls.__qualname__ = module, name
    return cls


def _dump_with_fake_modules(monkeypatch, obj, classes, protocol=2):
    """Pickles ``obj`` whose classes claim modules that are not installed."""
    with monkeypatch.context() as patch:
        made = {}
        for cls in classes:
            parts = cls.__module__.split(".")
            for name in (".".join(parts[:i]) for i in range(1, len(parts) + 1)):
                if name not in made:
                    made[name] = types.ModuleType(name)
                    patch.setitem(sys.modules, name, made[name])
            setattr(made[cls.__module__], cls.__qualname__, cls)
        return pickle.dumps(obj, protocol=protocol)


class FormatKit:
    face_grid = staticmethod(_face_grid)
    orthonormal = staticmethod(_orthonormal)
    decode = staticmethod(_decode)
    fake_class = staticmethod(_fake_class)
    dump_with_fake_modules = staticmethod(_dump_with_fake_modules)


@pytest.fixture
def kit():
    return FormatKit
