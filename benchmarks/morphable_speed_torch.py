"""The image formation of ``morphable_speed.py`` in PyTorch eager, for the comparison issue 16
asks for on the same machine, and prints JSON.

    pip install torch        # not a facejax dependency: only this script needs it
    python benchmarks/morphable_speed_torch.py --repeats 5

The same model (``morphable_speed.deep3d_sized_model``: 35,709 vertices, 70,789 triangles,
80/64/80 components), the same random parameters (batch 32) and the same math as
``morphable_speed.numpy_forward`` (identity and expression basis products, Euler rotation,
perspective projection, area-weighted vertex normals by ``index_add``, their rotation, 9 SH
bands times the albedo) plus the 68 landmarks' screen positions (barycentric in their
triangles; eager PyTorch computes them, XLA drops them from the JAX program as unused: a few
microseconds either way). Forward, and forward + backward of the loss ``morphable_speed.py``
differentiates (gradients for all six parameter groups). Float32, eager, the threads PyTorch
picks (it records how many). The forward is checked against ``numpy_forward`` on the same
arrays.
"""

from __future__ import annotations

import argparse
import json
import os
import sys

import jax
import numpy as np
import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from morphable_speed import (  # noqa: E402
    KA,
    KE,
    KI,
    PARAMS,
    _time,
    deep3d_sized_model,
    image_formation,
    model_arrays,
    numpy_forward,
)
from timing import machine  # noqa: E402

from facejax import morphable  # noqa: E402


def _torch_unit_normals(verts: torch.Tensor, tris: torch.Tensor) -> torch.Tensor:
    corners = [verts[:, tris[:, k]] for k in range(3)]
    face_normals = torch.linalg.cross(corners[1] - corners[0], corners[2] - corners[0], dim=-1)
    normals = torch.zeros_like(verts)
    for k in range(3):
        normals = normals.index_add(1, tris[:, k], face_normals)
    return normals / torch.clamp(torch.linalg.norm(normals, dim=-1, keepdim=True), min=1e-12)


def torch_forward(m: dict, p: dict) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """``numpy_forward`` in torch: screen vertices, colours and the landmarks' screen points."""
    screen, colors = image_formation(m, p, torch, _torch_unit_normals)
    landmarks = torch.einsum("lk,blkc->blc", m["landmark_weights"], screen[:, m["landmarks"], :2])
    return screen, colors, landmarks


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--batch", type=int, default=32)
    parser.add_argument("--repeats", type=int, default=10)
    args = parser.parse_args()

    model = deep3d_sized_model()
    keys = jax.random.split(jax.random.key(0), args.batch)
    params = jax.vmap(lambda k: morphable.random_params(model, k))(keys)
    arrays = model_arrays(model)
    p_np = {k: np.asarray(getattr(params, k)) for k in PARAMS}
    m = {k: torch.from_numpy(np.ascontiguousarray(a)) for k, a in arrays.items()}
    m["triangles"] = m["triangles"].long()
    corners = np.asarray(model.triangles)[np.asarray(model.landmark_triangles)]  # [68, 3]
    m["landmarks"] = torch.from_numpy(corners).long()
    m["landmark_weights"] = torch.from_numpy(np.asarray(model.landmark_barycentric, np.float32))
    p = {k: torch.from_numpy(a.copy()) for k, a in p_np.items()}

    def forward():
        with torch.no_grad():
            return torch_forward(m, p)

    def forward_backward():
        leaves = {k: t.clone().requires_grad_(True) for k, t in p.items()}
        screen, colors, _ = torch_forward(m, leaves)
        loss = torch.mean(screen[..., :2] ** 2) * 1e-4 + torch.mean(colors**2)
        return torch.autograd.grad(loss, list(leaves.values()))

    f_med, f_min = _time(forward, args.repeats)
    b_med, b_min = _time(forward_backward, args.repeats)
    screen_np, colors_np = numpy_forward(arrays, p_np)
    screen_t, colors_t, _ = forward()
    print(
        json.dumps(
            {
                "benchmark": "morphable forward in PyTorch eager (decode+pose+project+normals+SH)",
                "vertices": model.num_vertices,
                "triangles": model.num_triangles,
                "components": [KI, KE, KA],
                "batch": args.batch,
                "forward_ms": round(1e3 * f_med, 2),
                "forward_min_ms": round(1e3 * f_min, 2),
                "forward_backward_ms": round(1e3 * b_med, 2),
                "forward_backward_min_ms": round(1e3 * b_min, 2),
                "max_abs_color_diff_vs_numpy": float(np.max(np.abs(colors_t.numpy() - colors_np))),
                "max_abs_screen_diff_vs_numpy": float(np.max(np.abs(screen_t.numpy() - screen_np))),
                "repeats": args.repeats,
                "torch": torch.__version__,
                "torch_threads": torch.get_num_threads(),
                "machine": machine(),
            },
            indent=2,
        )
    )


if __name__ == "__main__":
    main()
