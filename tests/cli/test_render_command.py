"""`facejax render`: a PNG of a model, named expressions, the turntable, and bad arguments."""

import numpy as np
import pytest
from PIL import Image

from facejax.cli import main
from facejax.cli.render import parse_expression

SIZE = 32


def test_render_writes_a_face_over_the_background(tmp_path, capsys):
    out = tmp_path / "face.png"
    assert main(["render", "synthetic:small", "--out", str(out), "--size", str(SIZE)]) == 0
    image = np.asarray(Image.open(out))
    assert image.shape == (SIZE, SIZE, 3)
    background = image[0, 0]
    covered = np.any(image != background, axis=-1)
    assert 0.15 < covered.mean() < 0.9 and covered[SIZE // 2, SIZE // 2]
    assert "wrote" in capsys.readouterr().out


def test_turntable_and_expressions(tmp_path):
    out = tmp_path / "strip.png"
    argv = ["render", "synthetic:small", "--out", str(out), "--size", str(SIZE), "--turntable", "3",
            "--random", "--seed", "2", "--expression", "jaw_open=1.5"]  # fmt: skip
    assert main(argv) == 0
    strip = np.asarray(Image.open(out))
    assert strip.shape == (SIZE, 3 * SIZE, 3)
    left, right = strip[:, :SIZE], strip[:, 2 * SIZE :]
    assert not np.array_equal(left, right)  # -90 and +90 degrees are different views


def test_parse_expression_by_name_and_index():
    assert parse_expression(["smile=1", "3=-0.5"], ("jaw_open", "smile"), 5) == {1: 1.0, 3: -0.5}
    with pytest.raises(ValueError, match="unknown component.*jaw_open"):
        parse_expression(["grin=1"], ("jaw_open",), 5)
    with pytest.raises(ValueError, match="NAME=VALUE"):
        parse_expression(["smile"], ("smile",), 5)


def test_bad_output_and_existing_file(tmp_path, capsys):
    assert main(["render", "synthetic:small", "--out", str(tmp_path / "x.jpg")]) == 2
    (tmp_path / "keep.png").write_bytes(b"mine")
    assert main(["render", "synthetic:small", "--out", str(tmp_path / "keep.png")]) == 2
    assert (tmp_path / "keep.png").read_bytes() == b"mine"
    assert "--force" in capsys.readouterr().err
