"""The disentangle recipe learns: on people it never saw, its shapes beat the mean face.

A falling training loss is not enough (a network can learn the training people and nothing
that carries to new ones): a short run on ``tiny_people`` (400 training people x 2 images,
32 px, the small embedded model) must predict the held-out people's faces (identity and
expression) with a face-region RMSE well below the mean face's on the same images. Measured:
0.86 of the mean face after 300 steps (seed 0); a run that learns nothing scores 1.0.
"""

import pytest

from facejax.cli.train import load_config

CONFIG = "experiments/disentangle/config.py:smoke"
# Fraction of the mean face's face-region RMSE the held-out shapes must beat: halfway between
# the measured 0.86 and what no learning gives (1.0).
MAX_SHAPE_RATIO = 0.93


@pytest.mark.slow
def test_short_training_beats_the_mean_face_on_unseen_people(tmp_path_factory):
    from facejax.recipes import disentangle

    data_dir = tmp_path_factory.mktemp("datasets")
    config = load_config(
        CONFIG,
        [
            f"data.data_dir={data_dir}",
            "data.config=tiny_people",
            "num_steps=300",
            "checkpoint_every=300",
            "progress=False",
            "tensorboard=False",
        ],
    )
    metrics = disentangle.train_and_evaluate(config, tmp_path_factory.mktemp("run"))
    assert metrics["num_test_identities"] == 40
    assert metrics["shape_rmse_face_ratio"] < MAX_SHAPE_RATIO, metrics
    # The baseline is the training people's mean face, scored on the same held-out images.
    assert metrics["shape_rmse_face_mean_face_mm"] > metrics["shape_rmse_face_mm"]
