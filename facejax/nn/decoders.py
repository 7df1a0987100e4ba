"""Shape decoders: a latent code ``[B, D]`` to a per-vertex offset ``[B, V, 3]`` in millimetres.

Linear decoders can start as a morphable model's basis: the kernel row of latent unit ``k`` is
component ``k`` times its standard deviation (:func:`basis_kernel`), so latent units are in
units of standard deviation like ``FaceParams`` coefficients, and ``latent @ kernel`` equals the
model's ``basis @ (coeffs * std)`` exactly. MLP decoders (and linear ones not initialised from a
basis) start random, their output layer scaled by the basis' typical size (:func:`basis_rms`) so
that a unit-variance latent gives offsets of about the model's natural spread.

The dense layers use ``Precision.HIGHEST``: on GPUs and TPUs a default float32 matmul may round
its inputs to TF32 or bfloat16, an error of a fraction of a millimetre on a 100 mm offset; the
decoders are cheap next to the encoder.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import flax.linen as nn
import jax
import jax.numpy as jnp

Array = Any


def basis_kernel(basis, std, latent_dim: int, start: int = 0, count: int | None = None) -> Array:
    """A ``[latent_dim, 3V]`` kernel whose rows ``start:start+count`` are the scaled components.

    Row ``start + k`` is ``(basis[:, :, k] * std[k])`` flattened in ``[V, 3]`` order, for the
    first ``count`` components; other rows are zero (latent units the basis does not cover).

    Args:
      basis: ``[V, 3, K]`` components.
      std: ``[K]`` standard deviations.
      latent_dim: rows of the kernel.
      start: first row to fill.
      count: components to use; default ``min(K, latent_dim - start)``.
    """
    num_vertices, _, num_components = basis.shape
    count = min(num_components, latent_dim - start) if count is None else count
    if count < 0 or count > num_components or start + count > latent_dim:
        raise ValueError(
            f"basis_kernel: cannot place {count} of {num_components} components at rows "
            f"{start}.. of a {latent_dim}-row kernel"
        )
    scaled = basis[:, :, :count] * std[None, None, :count]
    rows = jnp.transpose(scaled.reshape(3 * num_vertices, count))
    kernel = jnp.zeros((latent_dim, 3 * num_vertices), rows.dtype)
    return kernel.at[start : start + count].set(rows)


def basis_rms(basis, std) -> Array:
    """RMS per coordinate (mm) of ``basis @ (z * std)`` for ``z ~ N(0, I)``; 0 for no basis."""
    if basis.shape[-1] == 0:
        return jnp.zeros((), basis.dtype)
    return jnp.sqrt(jnp.mean(jnp.sum(jnp.square(basis * std[None, None, :]), axis=-1)))


class ShapeDecoder(nn.Module):
    """Latent ``[B, D]`` -> offset ``[B, V, 3]`` (mm): linear, or an MLP with ReLU hidden layers.

    Attributes:
      hidden: widths of the hidden layers; ``()`` makes the decoder linear.
      precision: precision of the dense layers (see the module docstring).
    """

    hidden: Sequence[int] = ()
    precision: Any = jax.lax.Precision.HIGHEST

    @nn.compact
    def __call__(self, latent, num_vertices: int, *, init_kernel=None, output_scale=1.0):
        """Decodes a batch of latents.

        Args:
          latent: ``[B, D]``.
          num_vertices: ``V``.
          init_kernel: optional ``[D, 3V]`` initial kernel of a linear decoder (from
            :func:`basis_kernel`); only read when the parameters are created.
          output_scale: mm; the random output layer starts with ``lecun_normal`` weights times
            this (ignored when ``init_kernel`` is given).

        Returns:
          ``[B, V, 3]`` offsets.
        """
        if init_kernel is not None and self.hidden:
            raise ValueError("ShapeDecoder: init_kernel is for linear decoders (hidden=())")
        x = latent
        for i, width in enumerate(self.hidden):
            x = nn.relu(nn.Dense(width, precision=self.precision, name=f"hidden_{i}")(x))
        if init_kernel is not None:

            def kernel_init(key, shape, dtype=jnp.float32):
                del key
                if tuple(init_kernel.shape) != tuple(shape):
                    raise ValueError(
                        f"ShapeDecoder: init_kernel {init_kernel.shape} != kernel shape {shape}"
                    )
                return jnp.asarray(init_kernel, dtype)

        else:

            def kernel_init(key, shape, dtype=jnp.float32):
                return (output_scale * nn.initializers.lecun_normal()(key, shape, dtype)).astype(
                    dtype
                )

        out = nn.Dense(
            3 * num_vertices, kernel_init=kernel_init, precision=self.precision, name="output"
        )(x)
        return out.reshape(out.shape[:-1] + (num_vertices, 3))
