"""Image files: one reader for every photo facejax opens (command line and dataset builders),
and the PNG writer of every picture it writes.

Pixels are used as stored: the EXIF orientation is not applied (the landmarks and boxes that
datasets ship refer to the stored pixels). A missing file raises ``FileNotFoundError``, anything
else that is not a readable image (a truncated file, another format, a decompression bomb) an
:class:`ImageFileError`; both name the file.

**Pixel limit.** An image is decoded only when it has at most :data:`MAX_IMAGE_PIXELS` pixels
(100 megapixels, e.g. 10000 x 10000; about 300 MB decoded as RGB). A file whose header declares
more is refused with an :class:`ImageFileError` before any pixel is decoded: a small file can
declare a huge image (a "decompression bomb"). This limit is facejax's own; Pillow's global
``Image.MAX_IMAGE_PIXELS`` and its ``DecompressionBombWarning`` are not relied on (Pillow's
error, at twice its own limit, is reported the same way).
"""

from __future__ import annotations

import contextlib
import os
import warnings

import numpy as np

from facejax.formats.atomic_files import atomic_write

MAX_IMAGE_PIXELS = 100_000_000


class ImageFileError(ValueError):
    """A file that is not a readable image; the message names the file."""


@contextlib.contextmanager
def _opened(path):
    from PIL import Image

    path = os.fspath(path)
    if not os.path.exists(path):
        raise FileNotFoundError(f"image not found: {path}")
    try:
        with warnings.catch_warnings():
            # Our own limit applies (open_rgb_image); Pillow's warning would only repeat it.
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            with Image.open(path) as image:
                yield image
    except ImageFileError:
        raise
    except (OSError, SyntaxError, ValueError, Image.DecompressionBombError) as err:
        raise ImageFileError(f"{path}: unreadable image ({err})") from err


def open_rgb_image(path):
    """The image at ``path`` as a fully decoded RGB ``PIL.Image.Image``.

    Raises:
      FileNotFoundError: the file does not exist.
      ImageFileError: naming the file if it is truncated, not an image, or larger than
        :data:`MAX_IMAGE_PIXELS`.
    """
    with _opened(path) as image:
        width, height = image.size
        if width * height > MAX_IMAGE_PIXELS:
            raise ImageFileError(
                f"{os.fspath(path)}: {width}x{height} image is over facejax's limit of "
                f"{MAX_IMAGE_PIXELS:,} pixels (refused undecoded)"
            )
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


def write_png(path, pixels) -> None:
    """Writes ``[H, W, 3]`` (or ``[H, W]``) uint8 pixels as a PNG file, whole or not at all
    (facejax.formats.atomic_files)."""
    from PIL import Image

    picture = Image.fromarray(np.asarray(pixels))
    with atomic_write(path, "wb") as f:
        picture.save(f, format="PNG")
