"""Colours of the synthetic face: the mean albedo and its basis.

The mean is a light skin tone painted with the parts of the face (lips, brows, lashes, eye
whites, a brown iris, pupils, nostrils, short dark hair, the inside of the mouth and the teeth).
The basis varies them in that order of importance: skin tone, hair, skin hue, flush of the
cheeks, lip colour, brows, eye colour; then smooth blotches of the skin. Every component is
kept inside the region it colours, and the standard deviations are limited so that albedo stays
in ``[0, 1]`` for any coefficients within ``+-3``.
"""

from __future__ import annotations

import numpy as np

from facejax.synthetic import fields as F
from facejax.synthetic import regions
from facejax.synthetic.mesh import MOUTH_CAVITY, HeadMesh

SKIN = np.array([0.70, 0.53, 0.44])
LIPS = np.array([0.66, 0.34, 0.34])
BROWS = np.array([0.22, 0.15, 0.11])
HAIR = np.array([0.21, 0.15, 0.11])
EYE_WHITE = np.array([0.88, 0.86, 0.83])
IRIS = np.array([0.36, 0.25, 0.16])
PUPIL = np.array([0.05, 0.04, 0.04])
LASHES = np.array([0.12, 0.08, 0.07])
NOSTRILS = np.array([0.32, 0.17, 0.15])
MOUTH = np.array([0.38, 0.10, 0.10])
TEETH = np.array([0.90, 0.88, 0.80])


def _paint(color, weight, paint):
    return color + weight[:, None] * (paint[None, :] - color)


def albedo_mean(mesh: HeadMesh) -> np.ndarray:
    """``[V, 3]`` mean RGB albedo in ``[0, 1]``."""
    v = mesh.vertices
    color = np.broadcast_to(SKIN, v.shape).copy()
    ax, y = np.abs(v[:, 0]), v[:, 1]
    flush = np.exp(-0.5 * (((ax - 42.0) / 12.0) ** 2 + ((y + 10.0) / 12.0) ** 2))
    color = _paint(color, 0.35 * flush * regions.front(mesh), np.array([0.74, 0.46, 0.40]))
    color = _paint(color, 0.3 * regions.ear_region(mesh), SKIN * np.array([1.04, 0.93, 0.93]))
    color = _paint(color, regions.scalp(mesh), HAIR)
    color = _paint(color, 0.9 * regions.brows(mesh), BROWS)
    color = _paint(color, regions.lips(mesh), LIPS)
    color = _paint(color, 0.8 * regions.nostrils(mesh), NOSTRILS)
    color = _paint(color, regions.eye_white(mesh), EYE_WHITE)
    color = _paint(color, regions.iris(mesh), IRIS)
    color = _paint(color, regions.pupil(mesh), PUPIL)
    color = _paint(color, 0.85 * regions.lash_line(mesh), LASHES)
    cavity = (mesh.part == MOUTH_CAVITY).astype(np.float64)
    color = _paint(color, cavity, MOUTH)
    color = _paint(color, regions.teeth(mesh), TEETH)
    return np.clip(color, 0.0, 1.0)


SEED = 20_24_13


def skin_weight(mesh: HeadMesh) -> np.ndarray:
    """``[V]`` where skin colour applies: not hair, brows, eyes, lashes, lips, nostrils, mouth."""
    parts = np.maximum.reduce(
        [
            regions.scalp(mesh),
            regions.brows(mesh),
            regions.eye_region(mesh, margin=1.0),
            regions.lash_line(mesh),
            regions.lips(mesh),
            regions.nostrils(mesh),
            (mesh.part == MOUTH_CAVITY).astype(np.float64),
        ]
    )
    return 1.0 - parts


def designed_fields(mesh: HeadMesh, mean: np.ndarray) -> list[tuple[str, np.ndarray]]:
    """``(name, [V, 3] colour change)`` of the designed albedo factors, one std each."""
    v = mesh.vertices
    ax, y = np.abs(v[:, 0]), v[:, 1]
    skin = skin_weight(mesh)[:, None]
    hair = regions.scalp(mesh)[:, None]
    lips = regions.lips(mesh)[:, None]
    brows = regions.brows(mesh)[:, None]
    iris = (regions.iris(mesh) * (1.0 - regions.pupil(mesh)))[:, None]
    flush = np.exp(-0.5 * (((ax - 42.0) / 12.0) ** 2 + ((y + 10.0) / 12.0) ** 2))[:, None]
    return [
        ("skin_tone", -0.065 * mean * skin),
        ("hair_colour", np.array([0.07, 0.05, 0.035]) * hair),
        ("skin_hue", np.array([0.012, -0.003, -0.015]) * skin),
        ("skin_gradient", np.array([0.01, 0.01, 0.007]) * skin * (y[:, None] / 100.0)),
        ("cheek_flush", np.array([0.013, -0.008, -0.008]) * flush * skin),
        ("lip_colour", np.array([0.06, -0.025, -0.01]) * lips),
        ("lip_darkness", np.array([-0.06, -0.045, -0.04]) * lips),
        ("brow_darkness", np.array([0.06, 0.045, 0.035]) * brows),
        ("eye_colour", np.array([-0.03, 0.02, 0.05]) * iris),
    ]


def albedo_basis(mesh: HeadMesh, mean: np.ndarray, count: int, bound: float = 3.0):
    """The albedo basis of ``count`` components.

    Designed factors first (ordered by size), then random smooth blotches of the skin. All
    standard deviations are then scaled by one factor (at most 1) so that
    ``mean + sum_k c_k std_k basis_k`` stays in ``[0, 1]`` for every ``|c_k| <= bound``.

    Returns:
      ``(basis [V, 3, count], std [count], names)``.
    """
    designed = designed_fields(mesh, mean)
    designed.sort(key=lambda item: -F.norm2(item[1]))
    designed = designed[:count]
    names = [n for n, _ in designed]
    field_list = [f for _, f in designed]
    stds = [F.norm2(f) for f in field_list]
    rng = np.random.RandomState(SEED)
    skin = skin_weight(mesh)
    face = mesh.vertices[(regions.face_region(mesh) > 0.5) & (skin > 0.99)]
    smallest = stds[-1]
    num_random = count - len(field_list)
    for k in range(num_random):
        frac = k / max(num_random - 1, 1)
        blotch = F.random_bumps(rng, face, 2, (8.0, 30.0 - 15.0 * frac), mesh.vertices)
        # A colour change along one random direction, brightness-weighted like skin tones.
        tint = np.abs(rng.normal(size=3)) * np.array([1.0, 0.8, 0.7]) * rng.choice([-1.0, 1.0])
        field = np.linalg.norm(blotch, axis=1, keepdims=True) * tint[None, :] * skin[:, None]
        field_list.append(field / F.norm2(field))
        stds.append(0.7 * smallest * 0.2**frac)
        names.append(f"random_{k}")
    basis, std = F.orthonormal_basis(field_list, F.decreasing(stds))
    # The designed factors get 80 % of the room around the mean, the blotches the rest.
    room = np.minimum(mean, 1.0 - mean)
    k = len(designed)
    std[:k] = _fit_in_range(0.8 * room, basis[..., :k], std[:k], bound)
    left = room - bound * np.einsum("vck,k->vc", np.abs(basis[..., :k]), std[:k])
    std[k:] = _fit_in_range(left, basis[..., k:], std[k:], bound)
    return basis, F.decreasing(std), tuple(names)


def _fit_in_range(room, basis, std, bound, iterations=30):
    """Standard deviations, lowered as little as needed to keep colours within ``room``.

    The largest excursion of a colour at ``|c_k| <= bound`` is ``bound * sum_k std_k |b_k|``.
    Where it exceeds the room, every component that matters there (5 % of its own largest) is
    scaled down by that overshoot; repeated, then one last common factor makes the bound
    exact. Components that do not overlap a tight spot keep their size.
    """
    if basis.shape[-1] == 0:
        return std
    reach = bound * np.abs(basis)  # [V, 3, K] per unit std
    significant = reach > 0.05 * reach.max(axis=(0, 1), keepdims=True)
    scale = np.ones_like(std)
    for _ in range(iterations):
        total = np.einsum("vck,k->vc", reach, std * scale)
        ratio = room / np.maximum(total, 1e-12)
        if ratio.min() >= 1.0:
            break
        worst = np.where(significant, ratio[..., None], np.inf).min(axis=(0, 1))
        scale *= np.minimum(worst, 1.0)
    total = np.einsum("vck,k->vc", reach, std * scale)
    scale *= min(1.0, float(np.min(np.maximum(room, 0.0) / np.maximum(total, 1e-12))))
    return std * scale
