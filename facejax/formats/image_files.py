"""Image files: one reader for every photo facejax opens (command line and dataset builders).

Pixels are used as stored: the EXIF orientation is not applied (the landmarks and boxes that
datasets ship refer to the stored pixels). A missing file raises ``FileNotFoundError``, anything
else that is not a readable image (a truncated file, another format, a decompression bomb) an
:class:`ImageFileError`; both name the file.
"""

from __future__ import annotations

import contextlib
import os

import numpy as np


class ImageFileError(ValueError):
    """A file that is not a readable image; the message names the file."""


@contextlib.contextmanager
def _opened(path):
    from PIL import Image

    path = os.fspath(path)
    if not os.path.exists(path):
        raise FileNotFoundError(f"image not found: {path}")
    try:
        with Image.open(path) as image:
            yield image
    except (OSError, SyntaxError, ValueError, Image.DecompressionBombError) as err:
        raise ImageFileError(f"{path}: unreadable image ({err})") from err


def open_rgb_image(path):
    """The image at ``path`` as a fully decoded RGB ``PIL.Image.Image``.

    Raises:
      FileNotFoundError: the file does not exist.
      ImageFileError: naming the file if it is truncated or not an image.
    """
    with _opened(path) as image:
        image.load()  # decodes now, so a truncated file fails here and not later
        return image.convert("RGB")


def read_image(path) -> np.ndarray:
    """The image at ``path`` as ``[H, W, 3]`` uint8 RGB (errors as :func:`open_rgb_image`)."""
    return np.asarray(open_rgb_image(path))


def read_image_size(path) -> tuple[int, int]:
    """``(height, width)`` of the image at ``path`` from its header, without decoding pixels.

    Raises:
      FileNotFoundError: the file does not exist.
      ImageFileError: naming the file if its header is not an image's.
    """
    with _opened(path) as image:
        width, height = image.size
    return height, width
