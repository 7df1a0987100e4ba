"""`facejax synth`: builds the tiny synthetic datasets and says where they are.

The command is exercised through its own ``add_parser``/``run`` in a small argparse parser, as
``facejax.cli.main`` does for every registered subcommand.
"""

import argparse
import sys

import pytest


def _synth(argv):
    from facejax.cli import synth

    parser = argparse.ArgumentParser(prog="facejax")
    synth.add_parser(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(["synth", *argv])
    return args.run(args)


def test_synth_builds_both_datasets_and_says_where(tmp_path, capsys):
    import tensorflow_datasets as tfds

    out = tmp_path / "data"
    assert _synth(["--out", str(out), "--config", "tiny"]) == 0
    printed = capsys.readouterr().out
    from facejax.data.builders import SyntheticClips, SyntheticFaces

    for name, counts, version in (
        ("faces", "test 60, train 30", SyntheticFaces.VERSION),
        ("clips", "test 4, train 8", SyntheticClips.VERSION),
    ):
        folder = out / f"facejax_synthetic_{name}" / "tiny" / str(version)
        assert f"facejax_synthetic_{name}/tiny (built): {counts}" in printed
        assert f"in {folder}" in printed
        assert f"tfds.builder_from_directory('{folder}')" in printed
        # What the message says to run reads the dataset, without TensorFlow.
        train = tfds.builder_from_directory(str(folder)).as_data_source(split="train")
        assert len(train) == int(counts.split()[-1])
    assert "tensorflow" not in sys.modules
    # A second run finds the datasets and does not render again.
    assert _synth(["--out", str(out), "--config", "tiny", "--datasets", "faces"]) == 0
    assert "facejax_synthetic_faces/tiny (already built, reused)" in capsys.readouterr().out


def test_synth_refuses_unknown_datasets_and_configs(tmp_path):
    with pytest.raises(ValueError, match="--datasets: expected names among"):
        _synth(["--out", str(tmp_path), "--datasets", "faces,videos"])
    with pytest.raises(ValueError, match="'medium' is not a config of the faces dataset"):
        _synth(["--out", str(tmp_path), "--config", "medium"])
    # A faces-only config is refused for both datasets before anything is rendered.
    with pytest.raises(ValueError, match="not a config of the clips dataset.*--datasets"):
        _synth(["--out", str(tmp_path), "--config", "tiny_people"])
    assert not any(tmp_path.iterdir())
