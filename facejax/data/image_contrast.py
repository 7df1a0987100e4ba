"""How much there is to see in a photo crop: a cheap screen for blank or flat inputs.

A network that predicts a face from a crop predicts one from anything: a grey wall, a black
frame, a lens cap. :func:`rms_contrast` measures whether the crop holds any structure at all:
the standard deviation of its grey levels on a 0-1 scale (the RMS contrast of Peli 1990). A
photo of a face is typically 0.1 to 0.3; a flat image is 0. It does not tell a face from
other texture: it only catches the inputs that certainly hold none.
"""

from __future__ import annotations

import numpy as np

# Below this (about 2.5 grey levels of 255) a crop is flat: nothing in it to reconstruct.
FLAT_CONTRAST = 0.01

# ITU-R BT.601 luma weights.
_LUMA = np.array([0.299, 0.587, 0.114])


def rms_contrast(image) -> float:
    """The standard deviation of the grey levels of ``[H, W, 3]`` (or ``[H, W]``) uint8 pixels,
    in ``[0, 0.5]``."""
    pixels = np.asarray(image, np.float64) / 255.0
    grey = pixels @ _LUMA if pixels.ndim == 3 else pixels
    return float(np.std(grey))
