"""A clear error when training diverges: the step and the metric values, not a NaN later.

The loop keeps each step's metrics on the devices and fetches them together at log steps (one
transfer, no per-step synchronisation), then checks them here in step order: the error names the
first step whose loss went non-finite, even though it is noticed up to ``log_every`` steps later.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

CHECKED = ("loss", "grad_norm")


def check_finite(
    step: int, metrics: Mapping[str, float], names: Sequence[str] = CHECKED, *, prefix: str = ""
) -> None:
    """Raises if any of ``names`` in ``metrics`` is NaN or infinite.

    Args:
      step: the step the metrics belong to (updates applied after it).
      metrics: ``{name: value}`` host scalars.
      names: the metrics that must be finite (those present are checked).
      prefix: prepended to names in the message (e.g. "train/").

    Raises:
      FloatingPointError: naming the step, the non-finite metrics and every metric's value.
    """
    bad = [name for name in names if name in metrics and not math.isfinite(float(metrics[name]))]
    if bad:
        values = ", ".join(f"{prefix}{name}={float(v):.6g}" for name, v in sorted(metrics.items()))
        raise FloatingPointError(
            f"training diverged at step {step}: {', '.join(prefix + n for n in bad)} not finite "
            f"({values}); lower the learning rate, enable grad_clip_norm, or check the inputs "
            f"and the loss for NaN/inf"
        )
