"""Times the morphable-model forward pass (decode + pose + projection + normals + SH shading),
its forward+backward, and a plain numpy implementation of the same math, and prints JSON.

    python benchmarks/morphable_speed.py                # Deep3DFaceRecon-sized model, batch 32
    python benchmarks/morphable_speed.py --quick        # fewer repeats
    python benchmarks/morphable_speed.py --decode batch # morphable.decode_batch, not vmap

The model has Deep3DFaceRecon's sizes (35,709 vertices, 70,789 triangles, 80/64/80
components) with random bases: speed does not depend on the values.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time

import jax
import jax.numpy as jnp
import numpy as np

from facejax import morphable

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from timing import host_memory  # noqa: E402

NUM_VERTICES, NUM_TRIANGLES = 35_709, 70_789
KI, KE, KA = 80, 64, 80


def deep3d_sized_model(seed=0) -> morphable.MorphableModel:
    """A 189 x 189 grid (35,721 vertices) cut to 35,709, topped up with repeated triangles."""
    rng = np.random.default_rng(seed)
    side = 189
    u, v = np.meshgrid(np.linspace(-1, 1, side), np.linspace(-1, 1, side))
    grid = np.stack([u * 90, v * 110, 60 * np.sqrt(np.clip(1.5 - u**2 - v**2, 0, None))], -1)
    vertices = grid.reshape(-1, 3)[:NUM_VERTICES]
    idx = np.arange(side * side).reshape(side, side)
    a, b, c, d = idx[:-1, :-1], idx[:-1, 1:], idx[1:, :-1], idx[1:, 1:]
    tris = np.concatenate([np.stack([a, c, b], -1), np.stack([b, c, d], -1)]).reshape(-1, 3)
    tris = tris[(tris < NUM_VERTICES).all(1)]
    extra = rng.choice(len(tris), NUM_TRIANGLES - len(tris), replace=False)
    tris = np.concatenate([tris, tris[extra]])
    return morphable.create_model(
        vertices,
        tris,
        identity_basis=rng.normal(size=(NUM_VERTICES, 3, KI)).astype(np.float32) * 0.01,
        identity_std=np.linspace(3, 0.5, KI),
        expression_basis=rng.normal(size=(NUM_VERTICES, 3, KE)).astype(np.float32) * 0.01,
        albedo_mean=rng.uniform(0.3, 0.7, size=(NUM_VERTICES, 3)),
        albedo_basis=rng.normal(size=(NUM_VERTICES, 3, KA)).astype(np.float32) * 0.01,
        landmark_vertices=rng.choice(NUM_VERTICES, 68, replace=False),
        name="deep3d-sized random",
    )


PARAMS = ("identity", "expression", "albedo", "rotation", "translation", "sh_coeffs")


def model_arrays(model: morphable.MorphableModel) -> dict:
    """The model as the plain arrays ``numpy_forward`` reads (bases as ``[K, 3V]`` matrices)."""
    from facejax.lighting import LAMBERT_FACTORS, SH_CONSTANTS

    return {
        "mean": np.asarray(model.mean_shape).reshape(-1),
        "id_basis": np.asarray(model.identity_basis).reshape(-1, KI).T.copy(),
        "id_std": np.asarray(model.identity_std),
        "ex_basis": np.asarray(model.expression_basis).reshape(-1, KE).T.copy(),
        "ex_std": np.asarray(model.expression_std),
        "al_mean": np.asarray(model.albedo_mean).reshape(-1),
        "al_basis": np.asarray(model.albedo_basis).reshape(-1, KA).T.copy(),
        "al_std": np.asarray(model.albedo_std),
        "triangles": np.asarray(model.triangles),
        "sh_factors": (SH_CONSTANTS * LAMBERT_FACTORS).astype(np.float32),
    }


def image_formation(m: dict, p: dict, xp, unit_normals) -> tuple:
    """Screen vertices ``[B, V, 3]`` and colours ``[B, V, 3]`` from the arrays ``m`` and the
    parameters ``p``, in the array library ``xp`` (numpy here, torch in
    morphable_speed_torch.py), with its ``unit_normals(vertices [B, V, 3], triangles)``."""
    b = p["identity"].shape[0]
    v = m["mean"].shape[0] // 3
    verts = (
        m["mean"][None]
        + (p["identity"] * m["id_std"]) @ m["id_basis"]
        + (p["expression"] * m["ex_std"]) @ m["ex_basis"]
    ).reshape(b, v, 3)
    x, y, z = p["rotation"][:, 0], p["rotation"][:, 1], p["rotation"][:, 2]
    cx, sx, cy, sy, cz, sz = xp.cos(x), xp.sin(x), xp.cos(y), xp.sin(y), xp.cos(z), xp.sin(z)
    one, zero = xp.ones_like(x), xp.zeros_like(x)
    rx = xp.stack([one, zero, zero, zero, cx, -sx, zero, sx, cx], -1).reshape(b, 3, 3)
    ry = xp.stack([cy, zero, sy, zero, one, zero, -sy, zero, cy], -1).reshape(b, 3, 3)
    rz = xp.stack([cz, -sz, zero, sz, cz, zero, zero, zero, one], -1).reshape(b, 3, 3)
    rot = rz @ ry @ rx
    cam = xp.einsum("bij,bvj->bvi", rot, verts) + p["translation"][:, None]
    depth = -cam[..., 2]
    screen = xp.stack(
        [112 + 1015 * cam[..., 0] / depth, 112 - 1015 * cam[..., 1] / depth, depth], -1
    )
    normals = xp.einsum("bij,bvj->bvi", rot, unit_normals(verts, m["triangles"]))
    albedo = (m["al_mean"][None] + (p["albedo"] * m["al_std"]) @ m["al_basis"]).reshape(b, v, 3)
    nx, ny, nz = normals[..., 0], normals[..., 1], normals[..., 2]
    terms = [xp.ones_like(nx), ny, nz, nx, nx * ny, ny * nz, 3 * nz * nz - 1, nx * nz]
    basis = xp.stack([*terms, nx * nx - ny * ny], -1) * m["sh_factors"]
    colors = albedo * xp.einsum("bvk,bkc->bvc", basis, p["sh_coeffs"])
    return screen, colors


def _numpy_unit_normals(verts: np.ndarray, tris: np.ndarray) -> np.ndarray:
    b, v = verts.shape[:2]
    e1 = verts[:, tris[:, 1]] - verts[:, tris[:, 0]]
    e2 = verts[:, tris[:, 2]] - verts[:, tris[:, 0]]
    fn = np.cross(e1, e2)
    normals = np.empty_like(verts)
    flat = tris.reshape(-1)
    for i in range(b):
        rep = np.repeat(fn[i], 3, axis=0)
        for c in range(3):
            normals[i, :, c] = np.bincount(flat, weights=rep[:, c], minlength=v)
    return normals / np.maximum(np.linalg.norm(normals, axis=-1, keepdims=True), 1e-12)


def numpy_forward(m: dict, p: dict) -> tuple[np.ndarray, np.ndarray]:
    """The same math in plain numpy (float32), batched over the leading axis of ``p``."""
    return image_formation(m, p, np, _numpy_unit_normals)


def _time(fn, repeats):
    fn()  # warm-up (and compile)
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return float(np.median(times)), float(np.min(times))


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--batch", type=int, default=32)
    parser.add_argument("--repeats", type=int, default=10)
    parser.add_argument("--quick", action="store_true")
    parser.add_argument(
        "--decode",
        choices=["vmap", "batch"],
        default="vmap",
        help="jax.vmap(morphable.decode) or morphable.decode_batch (normals natively batched)",
    )
    args = parser.parse_args()
    repeats = 3 if args.quick else args.repeats

    model = morphable.to_device(deep3d_sized_model())
    keys = jax.random.split(jax.random.key(0), args.batch)
    params = jax.vmap(lambda k: morphable.random_params(model, k))(keys)

    decode = (
        morphable.decode_batch
        if args.decode == "batch"
        else jax.vmap(morphable.decode, in_axes=(None, 0))
    )

    def forward(model, params):
        face = decode(model, params)
        return face.screen_vertices, face.colors

    def loss(params, model):
        screen, colors = forward(model, params)
        return jnp.mean(screen[..., :2] ** 2) * 1e-4 + jnp.mean(colors**2)

    fwd = jax.jit(forward)
    fwd_bwd = jax.jit(jax.value_and_grad(loss))

    start = time.perf_counter()
    jax.block_until_ready(fwd(model, params))
    compile_fwd = time.perf_counter() - start
    start = time.perf_counter()
    jax.block_until_ready(fwd_bwd(params, model))
    compile_bwd = time.perf_counter() - start

    f_med, f_min = _time(lambda: jax.block_until_ready(fwd(model, params)), repeats)
    b_med, b_min = _time(lambda: jax.block_until_ready(fwd_bwd(params, model)), repeats)

    m = model_arrays(model)
    p = {k: np.asarray(getattr(params, k)) for k in PARAMS}
    n_med, n_min = _time(lambda: numpy_forward(m, p), repeats)

    screen_np, colors_np = numpy_forward(m, p)
    screen_jax, colors_jax = fwd(model, params)
    agreement = float(np.max(np.abs(np.asarray(colors_jax) - colors_np)))

    print(
        json.dumps(
            {
                "benchmark": "morphable forward (decode+pose+project+normals+SH)",
                "vertices": model.num_vertices,
                "triangles": model.num_triangles,
                "components": [KI, KE, KA],
                "batch": args.batch,
                "decode": args.decode,
                "forward_ms": round(f_med * 1e3, 2),
                "forward_min_ms": round(f_min * 1e3, 2),
                "forward_backward_ms": round(b_med * 1e3, 2),
                "forward_backward_min_ms": round(b_min * 1e3, 2),
                "backward_over_forward": round(b_med / f_med, 2),
                "numpy_forward_ms": round(n_med * 1e3, 2),
                "jax_speedup_over_numpy": round(n_med / f_med, 2),
                "compile_forward_s": round(compile_fwd, 2),
                "compile_forward_backward_s": round(compile_bwd, 2),
                "max_abs_color_diff_vs_numpy": agreement,
                "repeats": repeats,
                "device": str(jax.devices()[0]),
                "jax": jax.__version__,
                "cpu_count": os.cpu_count(),
                "machine": platform.machine(),
                "host_memory": host_memory(),
            },
            indent=2,
        )
    )


if __name__ == "__main__":
    main()
