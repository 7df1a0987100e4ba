"""Where the time of image formation goes: each stage of ``morphable.decode`` timed alone.

The stages of the Deep3DFaceRecon-style forward (benchmarks/morphable_speed.py's model: 35,709
vertices, 70,789 triangles, 80/64/80 components, batch 32), each jit-compiled under ``jax.vmap``
as ``morphable.decode`` runs it, forward and forward + backward (the gradient of the sum of
squares of the stage's output with respect to its inputs), after a warm-up call:

* ``shape``: mean + identity and expression basis products;
* ``albedo``: mean + albedo basis product;
* ``pose_project``: rotation from Euler angles, rigid transform, perspective projection;
* ``normals``: area-weighted vertex normals of the canonical shape;
* ``shade``: rotate the normals, SH irradiance, times albedo;
* ``landmarks``: the 68 barycentric landmarks of the posed and of the projected vertices;
* ``decode``: the whole of ``morphable.decode`` (what morphable_speed.py times).

The stages' sum can differ from ``decode``: XLA fuses across stage boundaries inside one jit.
Wall-clock median and minimum of the repeats; on a shared CPU the minimum is the closest to
the uncontended cost. Prints JSON.

    python benchmarks/image_formation_stages.py            # batch 32, 10 repeats
    python benchmarks/image_formation_stages.py --repeats 3 --batch 8
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys

import jax
import jax.numpy as jnp

from facejax import geometry, lighting, morphable

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from morphable_speed import deep3d_sized_model  # noqa: E402
from timing import host_memory, median_and_min  # noqa: E402


def stages(model):
    """``{name: (fn(model, *inputs) -> output for one face, input names)}``."""

    def shape(model, identity, expression):
        return morphable.shape(model, identity, expression)

    def albedo(model, coeffs):
        return morphable.albedo(model, coeffs)

    def pose_project(model, vertices, params):
        camera = morphable.pose(params, vertices)
        return morphable.project(params, camera)

    def normals(model, vertices):
        return morphable.normals(model, vertices)

    def shade(model, albedo, normals, params):
        rotated = geometry.rotate_points(normals, morphable.rotation_matrix(params))
        return lighting.shade(albedo, rotated, params.sh_coeffs)

    def landmarks(model, camera_vertices, screen_vertices):
        return morphable.landmarks(model, camera_vertices), morphable.landmarks(
            model, screen_vertices
        )

    def decode(model, params):
        face = morphable.decode(model, params)
        return face.screen_vertices, face.colors, face.landmarks_2d

    return {
        "shape": (shape, ("identity", "expression")),
        "albedo": (albedo, ("albedo_coeffs",)),
        "pose_project": (pose_project, ("vertices", "params")),
        "normals": (normals, ("vertices",)),
        "shade": (shade, ("albedo", "normals", "params")),
        "landmarks": (landmarks, ("camera_vertices", "screen_vertices")),
        "decode": (decode, ("params",)),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batch", type=int, default=32)
    parser.add_argument("--repeats", type=int, default=10)
    parser.add_argument("--only", nargs="*", help="stage names (default: all)")
    args = parser.parse_args()

    model = morphable.to_device(deep3d_sized_model())
    keys = jax.random.split(jax.random.key(0), args.batch)
    params = jax.vmap(lambda k: morphable.random_params(model, k))(keys)
    face = jax.jit(jax.vmap(morphable.decode, in_axes=(None, 0)))(model, params)
    inputs = {
        "identity": params.identity,
        "expression": params.expression,
        "albedo_coeffs": params.albedo,
        "params": params,
        "vertices": face.vertices,
        "albedo": face.albedo,
        "normals": jax.vmap(morphable.normals, in_axes=(None, 0))(model, face.vertices),
        "camera_vertices": face.camera_vertices,
        "screen_vertices": face.screen_vertices,
    }

    results = {}
    for name, (fn, names) in stages(model).items():
        if args.only and name not in args.only:
            continue
        batched = jax.vmap(fn, in_axes=(None,) + (0,) * len(names))
        args_in = tuple(inputs[n] for n in names)

        def loss(args_in, model=model, batched=batched):
            out = batched(model, *args_in)
            return sum(jnp.sum(jnp.square(x)) for x in jax.tree.leaves(out))

        fwd = jax.jit(batched)
        fwd_bwd = jax.jit(jax.grad(loss, allow_int=True))
        f_med, f_min = median_and_min(lambda fwd=fwd, a=args_in: fwd(model, *a), args.repeats)
        b_med, b_min = median_and_min(lambda g=fwd_bwd, a=args_in: g(a), args.repeats)
        results[name] = {
            "forward_ms": round(f_med * 1e3, 2),
            "forward_min_ms": round(f_min * 1e3, 2),
            "forward_backward_ms": round(b_med * 1e3, 2),
            "forward_backward_min_ms": round(b_min * 1e3, 2),
        }
    print(
        json.dumps(
            {
                "benchmark": "image formation by stage (morphable.decode)",
                "vertices": model.num_vertices,
                "triangles": model.num_triangles,
                "batch": args.batch,
                "stages": results,
                "repeats": args.repeats,
                "device": str(jax.devices()[0]),
                "jax": jax.__version__,
                "cpu_count": os.cpu_count(),
                "machine": platform.machine(),
                "host_memory": host_memory(),
                "load_average": os.getloadavg(),
            },
            indent=2,
        )
    )


if __name__ == "__main__":
    main()
