"""The one image reader: RGB uint8 pixels, the header's size, and errors that name the file."""

import numpy as np
import pytest
from PIL import Image

from facejax.formats import ImageFileError, read_image, read_image_size


def test_reads_rgb_pixels_and_the_header_size(tmp_path):
    grey = np.arange(12 * 20, dtype=np.uint8).reshape(12, 20)
    Image.fromarray(grey, mode="L").save(tmp_path / "grey.png")
    image = read_image(tmp_path / "grey.png")
    assert image.shape == (12, 20, 3) and image.dtype == np.uint8
    np.testing.assert_array_equal(image[..., 1], grey)
    assert read_image_size(tmp_path / "grey.png") == (12, 20)


@pytest.mark.parametrize("reader", [read_image, read_image_size])
def test_bad_files_name_the_file(tmp_path, reader):
    (tmp_path / "broken.jpg").write_bytes(b"not an image")
    with pytest.raises(ImageFileError, match="broken.jpg: unreadable image"):
        reader(tmp_path / "broken.jpg")
    png = tmp_path / "truncated.png"
    Image.new("RGB", (64, 64), (10, 20, 30)).save(png)
    png.write_bytes(png.read_bytes()[:60])
    if reader is read_image:  # the header alone is intact
        with pytest.raises(ImageFileError, match="truncated.png"):
            reader(png)
    with pytest.raises(FileNotFoundError, match="missing.png"):
        reader(tmp_path / "missing.png")


def _png_declaring(width, height) -> bytes:
    """A 1x1 PNG whose header says ``width x height`` (a decompression bomb's header, 70 bytes
    on disk): only the IHDR size and its CRC are rewritten."""
    import io
    import struct
    import zlib

    buffer = io.BytesIO()
    Image.new("RGB", (1, 1)).save(buffer, format="PNG")
    data = bytearray(buffer.getvalue())
    data[16:24] = struct.pack(">II", width, height)  # IHDR data starts at byte 16
    data[29:33] = struct.pack(">I", zlib.crc32(bytes(data[12:29])))
    return bytes(data)


@pytest.mark.parametrize("side", [11_000, 20_000])  # over facejax's limit; over Pillow's too
def test_an_image_over_the_pixel_limit_is_refused_undecoded(tmp_path, side):
    import warnings

    from facejax.formats.image_files import MAX_IMAGE_PIXELS

    assert 11_000**2 > MAX_IMAGE_PIXELS > 9_000**2
    path = tmp_path / "bomb.png"
    path.write_bytes(_png_declaring(side, side))
    with warnings.catch_warnings(record=True) as seen:
        warnings.simplefilter("always")
        with pytest.raises(ImageFileError, match=r"bomb.png: .*(facejax's limit|exceeds limit)"):
            read_image(path)
    assert not [w for w in seen if issubclass(w.category, Image.DecompressionBombWarning)]
