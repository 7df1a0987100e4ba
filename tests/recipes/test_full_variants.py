"""Each recipe's ``full`` variant as its config's docstring says to run it, end to end on tiny
copies of the real datasets in their real layouts: the Siamese recipe on 300W-LP and
AFLW2000-3D (tests/data: folders, ``.mat`` keys, 1-based pixels) with a user's 3DDFA or face3d
model file, the disentangle recipe on identity folders with fitted targets, the cycle recipe on
person / clip / frame folders. Only the sizes are overridden (crop, batch, steps, a narrow
encoder in float32), so that a user's first ``full`` command cannot stop on something a CPU
could have caught."""

import json
from pathlib import Path

import numpy as np
import pytest

from facejax.cli import main
from facejax.formats import load_model, read_obj

from ..data.conftest import BuilderKit as kit
from .folders import write_identity_folders

REPO = Path(__file__).resolve().parents[2]
PEOPLE = 5  # 300W-LP source photos, each with 2 profile views and their flips
# AFLW2000-3D yaws (radians): two in each of the protocol's bins [0,30], [30,60], [60,90] deg.
AFLW_YAWS = (0.2, -0.3, 0.7, -0.8, 1.2, -1.3)
SOURCE = 120  # pixels of the fixtures' source images
MODEL_FILES = {"3ddfa": "bfm_noneck_v3.pkl", "face3d": "BFM.mat"}
# Sizes a CPU test affords, for every recipe.
SMALL = ["data.image_size=32", "data.batch_size=4", "precision=float32", "num_steps=4"]
SMALL += ["checkpoint_every=4", "eval_every=4", "optimizer.warmup_steps=1", "log_every=2"]
SMALL += ["progress=False", "tensorboard=False"]


def _train(recipe, workdir, sets):
    argv = ["train", "--config", f"{REPO}/experiments/{recipe}/config.py:full"]
    argv += ["--workdir", str(workdir)]
    for item in sets:
        argv += ["--set", item]
    return main(argv)


def _pose(yaw):
    """3DDFA's Pose_Para: pitch, yaw, roll, translation (pixels), scale."""
    return np.array([0.1, yaw, -0.05, 61.0, 57.0, 3.0, 4e-4])


def _write_datasets(root, kind):
    configs = root / "configs"
    if kind == "3ddfa":
        reference = kit.write_3ddfa_model(configs)
    else:
        reference = kit.write_face3d_bfm(configs / MODEL_FILES[kind])
    w300lp = root / "300W_LP"
    (w300lp / "landmarks").mkdir(parents=True)
    for subset in ("AFW", "HELEN", "IBUG", "LFPW"):
        (w300lp / subset).mkdir()
        (w300lp / f"{subset}_Flip").mkdir()
    for person in range(PEOPLE):
        subset = ("AFW", "HELEN", "IBUG", "LFPW")[person % 4]
        shape, expression = kit.threeddfa_params(reference, person)
        for view, yaw in enumerate((0.0, 0.6)):
            for folder, sign in ((subset, 1.0), (f"{subset}_Flip", -1.0)):
                path = w300lp / folder / f"{subset}_{1000 + person}_1_{view}.mat"
                seed = 10 * person + 2 * view + (sign < 0)
                kit.write_3ddfa_fit(
                    path, reference, shape, expression, _pose(sign * yaw), SOURCE, seed=seed
                )
    aflw = root / "AFLW2000"
    for i, yaw in enumerate(AFLW_YAWS):
        shape, expression = kit.threeddfa_params(reference, 100 + i)
        kit.write_3ddfa_fit(
            aflw / f"image{i:05d}.mat",
            reference,
            shape,
            expression,
            _pose(yaw),
            SOURCE,
            field="pt3d_68",
            seed=500 + i,
        )
    return configs / MODEL_FILES[kind], w300lp, aflw


@pytest.mark.parametrize("kind", sorted(MODEL_FILES))
def test_siamese_full_trains_on_300w_lp_and_evaluates_on_aflw2000(tmp_path, capsys, kind):
    model_file, w300lp, aflw = _write_datasets(tmp_path, kind)
    workdir = tmp_path / "run"
    # The variant's documented settings, and small sizes.
    sets = [f"model3d={model_file}", f"data.manual_dir={w300lp}", f"eval.manual_dir={aflw}"]
    sets += [f"data.data_dir={tmp_path / 'datasets'}", "model.encoder=spatial_cnn"]
    if kind == "face3d":  # the ablation's other code: the shape, over every vertex here
        sets.append("loss.contrastive_on=shape")
    assert _train("siamese", workdir, [*sets, *SMALL, "model.width=8", "eval.batch_size=8"]) == 0

    config = json.loads((workdir / "config.json").read_text())
    assert config["model"]["num_classes"] == PEOPLE  # a source photo's views are one person
    assert config["loss"]["shape_region"] == "head"
    metrics = json.loads((workdir / "metrics.json").read_text())["metrics"]
    assert metrics["num_test_images"] == len(AFLW_YAWS)
    bins = ("0_30", "30_60", "60_90")
    assert [metrics[f"landmark_nme_count_{b}"] for b in bins] == [2, 2, 2]
    assert metrics["landmark_nme_yaw_balanced"] == pytest.approx(
        np.mean([metrics[f"landmark_nme_yaw_{b}"] for b in bins])
    )
    for name in ("landmark_nme", "identity_rmse_head_ratio", "pose_error_yaw_degrees"):
        assert np.isfinite(metrics[name]) and metrics[name] > 0, name
    # These models have no face mask: no face-region figures.
    assert not any(name.startswith(("identity_rmse_face", "shape_rmse_face")) for name in metrics)

    # facejax evaluate reproduces the final metrics from the checkpoint.
    assert main(["evaluate", "--workdir", str(workdir)]) == 0
    again = json.loads((workdir / "metrics.json").read_text())["metrics"]
    assert again["landmark_nme"] == pytest.approx(metrics["landmark_nme"], rel=1e-5)

    # facejax reconstruct: a mesh of the user's model from one of the AFLW2000-3D photos.
    out = tmp_path / "recon"
    photo = aflw / "image00002.jpg"
    assert main(["reconstruct", "--workdir", str(workdir), str(photo), "--out", str(out)]) == 0
    vertices, _, _ = read_obj(out / "image00002.obj")
    assert vertices.shape == (load_model(str(model_file)).num_vertices, 3)
    assert np.all(np.isfinite(vertices))
    capsys.readouterr()


def test_disentangle_full_trains_on_identity_folders_with_fitted_targets(tmp_path, capsys):
    # 40 people: the default config holds 10 % out, the 4 that verification's two folds need.
    write_identity_folders(tmp_path / "casia", people=40, photos=2)
    workdir = tmp_path / "run"
    sets = ["data.builder=facejax_fitted_targets", "data.config=default"]
    sets += [f"data.manual_dir={tmp_path / 'casia'}", f"data.data_dir={tmp_path / 'datasets'}"]
    assert _train("disentangle", workdir, [*sets, *SMALL, "model.encoder=spatial_cnn"]) == 0
    metrics = json.loads((workdir / "metrics.json").read_text())["metrics"]
    assert metrics["num_test_identities"] == 4 and metrics["num_test_images"] == 8
    for name in ("verification_accuracy", "verification_auc", "identity_rmse_face_ratio"):
        assert np.isfinite(metrics[name]), name
    capsys.readouterr()


def test_cycle_full_trains_on_clip_folders_at_the_configs_image_size(tmp_path, capsys):
    # person / clip / frames: each person's 4 photos as the frames of one clip.
    root = tmp_path / "clips"
    write_identity_folders(root, people=40, photos=4)
    for person in root.iterdir():
        clip = person / "clip0"
        clip.mkdir()
        for frame in sorted(person.glob("*.*")):
            frame.rename(clip / frame.name)
    workdir = tmp_path / "run"
    sets = [f"data.manual_dir={root}", f"data.data_dir={tmp_path / 'datasets'}"]
    sets += ["model.encoder=spatial_cnn", "model.branch_width=16", "eval.batch_size=8"]
    assert _train("cycle", workdir, [*sets, *SMALL]) == 0
    # The clips were cropped to the config's 32 px, not the builder's default 112.
    assert (tmp_path / "datasets" / "facejax_identity_clips" / "default_32px").is_dir()
    metrics = json.loads((workdir / "metrics.json").read_text())["metrics"]
    assert metrics["num_test_identities"] == 4 and np.isfinite(metrics["landmark_nme"])
    capsys.readouterr()
