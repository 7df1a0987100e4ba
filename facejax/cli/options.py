"""Numeric command-line options checked where they enter: finite, in range, the range named.

Each function here builds an ``argparse`` ``type=``: a value that is not a number, not finite
(``nan``, ``inf``) or out of range is refused by the parser with the option's own name and the
valid range (``facejax fit: error: argument --focal: must be a finite number in (0, 1e+06],
got nan``), exit code 2, before anything is read or written.
"""

from __future__ import annotations

import argparse
import math


def _number(text: str, kind: type) -> float | int:
    try:
        return kind(text)
    except ValueError:
        name = "an integer" if kind is int else "a number"
        raise argparse.ArgumentTypeError(f"must be {name}, got {text!r}") from None


def float_in(low: float, high: float, *, low_open: bool = False):
    """A ``type=`` for a finite float in ``[low, high]`` (``(low, high]`` with ``low_open``)."""
    bracket = "(" if low_open else "["

    def parse(text: str) -> float:
        value = _number(text, float)
        below = value <= low if low_open else value < low
        if not math.isfinite(value) or below or value > high:
            raise argparse.ArgumentTypeError(
                f"must be a finite number in {bracket}{low:g}, {high:g}], got {text}"
            )
        return value

    return parse


def int_in(low: int, high: int):
    """A ``type=`` for an integer in ``[low, high]``."""

    def parse(text: str) -> int:
        value = _number(text, int)
        if not low <= value <= high:
            raise argparse.ArgumentTypeError(f"must be between {low} and {high}, got {value}")
        return value

    return parse


def angle_degrees(text: str) -> float:
    """A ``type=`` for an angle in degrees: finite, reduced to ``[-180, 180]`` (``1e9`` is
    ``-80``: the remainder is exact, where turning ``1e9`` degrees to radians in float32 is
    not)."""
    value = _number(text, float)
    if not math.isfinite(value):
        raise argparse.ArgumentTypeError(f"must be a finite angle in degrees, got {text}")
    return math.remainder(value, 360.0) + 0.0  # + 0.0: no -0.0
