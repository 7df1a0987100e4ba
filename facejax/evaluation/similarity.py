"""Cosine similarity of face-recognition features: the score of verification and identification."""

import jax
import jax.numpy as jnp
import numpy as np

from facejax.geometry import safe_norm
from facejax.geometry._validation import as_float

# Features shorter than this count as zero: the similarity of a zero feature is 0, not NaN.
COSINE_EPS = 1e-8


def cosine_similarity(a, b, *, eps: float = COSINE_EPS) -> jax.Array:
    """``a . b / (max(|a|, eps) * max(|b|, eps))`` over the last axis.

    In ``[-1, 1]``; a (near-)zero feature scores 0 against anything. Works under ``jax.jit``,
    ``jax.vmap`` and ``jax.grad`` (finite at the zero vector).

    Args:
      a: ``[..., D]`` features.
      b: ``[..., D]`` features, same shape (index pairs first: ``features[index_a]``).
      eps: smallest norm divided by.

    Returns:
      ``[...]`` similarities.
    """
    a, b = as_float(a), as_float(b)
    if a.shape != b.shape or a.ndim < 1:
        raise ValueError(
            f"cosine_similarity: a and b must have the same shape [..., D], got {a.shape} and "
            f"{b.shape}"
        )
    norm_a = jnp.maximum(safe_norm(a, axis=-1), eps)
    norm_b = jnp.maximum(safe_norm(b, axis=-1), eps)
    return jnp.sum(a * b, axis=-1) / (norm_a * norm_b)


def normalized_features(features, *, eps: float = COSINE_EPS, name: str = "features") -> np.ndarray:
    """Host-side (numpy float64) ``features / max(|features|, eps)`` row by row, so that a dot
    product of two rows is their :func:`cosine_similarity`.

    Args:
      features: ``[N, D]`` features (numpy or JAX), finite.
      eps: smallest norm divided by.
      name: the argument's name in error messages.

    Returns:
      ``[N, D]`` float64 rows of norm 1 (or 0 for a zero feature).
    """
    features = np.asarray(features, dtype=np.float64)
    if features.ndim != 2:
        raise ValueError(f"{name} must have shape [N, D], got {features.shape}")
    if not np.all(np.isfinite(features)):
        raise ValueError(f"{name} contains NaN or infinite values")
    norms = np.sqrt(np.sum(features**2, axis=-1, keepdims=True))
    return features / np.maximum(norms, eps)
