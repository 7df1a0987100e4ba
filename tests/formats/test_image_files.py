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
