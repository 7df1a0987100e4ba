"""Files written whole or not at all: a write that fails halfway leaves the previous file.

A full disk is simulated two ways: the file system's own limit (``RLIMIT_FSIZE``, what
``ulimit -f`` sets, in a child process) and a writer that raises after writing part of its data.
"""

import errno
import os
import re
import subprocess
import sys
import textwrap

import numpy as np
import pytest

from facejax.evaluation import read_metrics, write_metrics
from facejax.formats import (
    atomic_files,
    load_model,
    save_model,
    write_obj,
    write_ply,
    write_png,
    write_pts,
)


def _fail_after_partial_output(monkeypatch):
    """Every atomic write raises ENOSPC after its data went to the temporary file."""

    def fsync(fd):
        assert os.fstat(fd).st_size > 0  # part of the file was written
        raise OSError(errno.ENOSPC, "No space left on device")  # as write() does: no file name

    monkeypatch.setattr(atomic_files.os, "fsync", fsync)


def _no_temporary_files(folder):
    assert not [name for name in os.listdir(folder) if name.endswith(".tmp")]


def test_a_write_that_raises_midway_keeps_the_previous_file(tmp_path):
    path = tmp_path / "kept.txt"
    path.write_text("previous")
    with pytest.raises(RuntimeError, match="midway"), atomic_files.atomic_write(path) as f:
        f.write("half of the new")
        f.flush()
        raise RuntimeError("midway")
    assert path.read_text() == "previous"
    _no_temporary_files(tmp_path)
    atomic_files.write_text_atomic(path, "new")
    assert path.read_text() == "new"
    assert oct(path.stat().st_mode & 0o777) != oct(0o600)  # not mkstemp's private mode


@pytest.mark.parametrize(
    "name, write",
    [
        ("model.npz", lambda p: save_model(load_model("synthetic:small"), p)),
        ("mesh.obj", lambda p: write_obj(p, np.eye(3), [[0, 1, 2]])),
        ("picture.png", lambda p: write_png(p, np.zeros((4, 4, 3), np.uint8))),
        ("points.pts", lambda p: write_pts(p, np.ones((68, 2)))),
        ("metrics.json", lambda p: write_metrics(p, {"score": 1.0})),
    ],
)
def test_every_user_file_writer_keeps_the_previous_file_on_a_full_disk(
    tmp_path, monkeypatch, name, write
):
    path = tmp_path / name
    path.write_bytes(b"previous good file")
    _fail_after_partial_output(monkeypatch)
    with pytest.raises(OSError, match=re.escape(f"No space left on device: '{path}'")):
        write(path)
    assert path.read_bytes() == b"previous good file"
    _no_temporary_files(tmp_path)


def test_a_mesh_with_nan_is_never_written(tmp_path):
    path = tmp_path / "face.obj"
    vertices = np.eye(3)
    vertices[1, 2] = np.nan
    for writer in (write_obj, write_ply):
        with pytest.raises(ValueError, match="face.obj: vertices contain NaN"):
            writer(path, vertices, [[0, 1, 2]])
    assert not path.exists()


def test_empty_metrics_are_refused_and_the_run_keeps_its_results(tmp_path):
    write_metrics(tmp_path, {"score": 0.9}, metadata={"step": 6})
    with pytest.raises(ValueError, match="no metrics to write"):
        write_metrics(tmp_path, {})
    assert read_metrics(tmp_path)["metrics"] == {"score": 0.9}


def test_convert_force_over_a_full_disk_keeps_the_model(tmp_path):
    """`ulimit -f` in a child process: the real write fails with EFBIG part-way."""
    out = tmp_path / "model.npz"
    save_model(load_model("synthetic:small"), out)
    good = out.read_bytes()
    limit = len(good) // 2
    script = textwrap.dedent(
        f"""
        import resource, signal, sys
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # a write past the limit: EFBIG, no kill
        resource.setrlimit(resource.RLIMIT_FSIZE, ({limit}, {limit}))
        from facejax import cli
        sys.exit(cli.main(["convert", "synthetic:small", {str(out)!r}, "--force"]))
        """
    )
    env = {**os.environ, "PYTHONPATH": os.getcwd(), "JAX_PLATFORMS": "cpu"}
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, env=env, timeout=120
    )
    assert done.returncode == 2, done.stderr
    errors = [line for line in done.stderr.splitlines() if "error" in line]
    assert errors and "Traceback" not in done.stderr
    assert "File too large" in errors[-1] and "model.npz" in errors[-1]
    assert out.read_bytes() == good
    _no_temporary_files(tmp_path)
