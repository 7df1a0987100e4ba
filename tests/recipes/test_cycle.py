"""The cycle recipe end to end on the tiny synthetic clips: no 3D truth reaches the loss; train,
evaluate and reconstruct through the command line."""

import importlib.util
import json
from pathlib import Path

import jax
import numpy as np
import pytest

from facejax.cli import main
from facejax.cli.train import load_config
from facejax.formats import read_obj
from facejax.train import read_jsonl

CONFIG = "experiments/cycle/config.py:smoke"
REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory):
    return str(tmp_path_factory.mktemp("datasets"))


def _config(data_dir, *sets):
    base = [f"data.data_dir={data_dir}", "progress=False", "tensorboard=False"]
    return load_config(CONFIG, base + ["optimizer.warmup_steps=2", *sets])


def test_no_3d_truth_reaches_the_loss(data_dir):
    from facejax import morphable
    from facejax.formats import load_model
    from facejax.recipes import cycle, networks

    config = _config(data_dir, "data.batch_size=2", "model.width=4", "model.branch_width=8")
    builder = cycle._prepare_data(config)
    train_source = builder.as_data_source("train")
    # The training batches hold the two frames and their 2D landmarks, nothing else ...
    loader = cycle.train_data_fn(config, train_source)()
    batch = next(loader)
    loader.close()
    assert set(batch) == set(cycle.TRAIN_FEATURES)
    # ... while the clips they come from hold the 3D truth.
    truth_names = ("identity_coeffs", "expression_coeffs", "albedo_coeffs", "pose", "sh_coeffs")
    assert all(name in train_source[0] for name in truth_names)
    assert not set(cycle.TRAIN_FEATURES) & {f"{n}_a" for n in truth_names + ("mask",)}

    model3d = morphable.to_device(load_model(config.model3d))
    net = cycle.create_network(config)
    variables = networks.make_init_fn(net, model3d, 32)(jax.random.key(0))
    loss_fn = jax.jit(cycle.make_loss_fn(net, model3d, config), static_argnames="train")

    def loss(b):
        return float(
            loss_fn(variables["params"], variables["batch_stats"], b, None, train=False)[0]
        )

    rng = np.random.default_rng(0)
    scrambled = dict(batch)
    for side in ("a", "b"):  # the 3D truth of each frame, as a loader with all fields has it
        scrambled[f"pose_{side}"] = rng.normal(size=(2, 3)).astype(np.float32)
        scrambled[f"expression_coeffs_{side}"] = rng.normal(size=(2, 10)).astype(np.float32)
        scrambled[f"mask_{side}"] = rng.random((2, 32, 32)) > 0.5
    scrambled["identity_coeffs"] = rng.normal(size=(2, 10)).astype(np.float32)
    scrambled["albedo_coeffs"] = rng.normal(size=(2, 10)).astype(np.float32)
    both_cycles = loss(batch)
    assert np.isfinite(both_cycles)
    assert loss(scrambled) == both_cycles
    # The loss does read what it is given: another frame b changes it.
    moved = dict(batch, image_b=batch["image_a"], landmarks_b=batch["landmarks_a"])
    assert loss(moved) != both_cycles


def test_cycle_image_target_is_the_frame_or_its_rendering(data_dir):
    """``loss.cycle_image_target``: the image rendered back against frame a (also what a run
    saved before the option gets) or against frame a's own rendering; anything else is refused."""
    from facejax import losses, morphable
    from facejax.formats import load_model
    from facejax.recipes import cycle, networks
    from facejax.recipes import cycle_construction as cc
    from facejax.train import cast_images

    # The pose cycle alone: the expression cycle is built the same way (recipes/cycle.py).
    sets = (
        "data.batch_size=2",
        "model.width=4",
        "model.branch_width=8",
        "loss.expression_cycle=False",
    )
    model3d = morphable.to_device(load_model("synthetic:small"))
    config = _config(data_dir, *sets)
    loader = cycle.train_data_fn(config, cycle._prepare_data(config).as_data_source("train"))()
    batch = next(loader)
    loader.close()
    net = cycle.create_network(config)
    variables = networks.make_init_fn(net, model3d, 32)(jax.random.key(1))

    def terms(config):
        loss_fn = jax.jit(cycle.make_loss_fn(net, model3d, config), static_argnames="train")
        params, stats = variables["params"], variables["batch_stats"]
        metrics = loss_fn(params, stats, batch, None, train=False)[1][0]
        return {k: float(v) for k, v in metrics.items()}

    # The reference by hand: the network's codes of both frames, the pose cycle of frame a.
    frames_a = cast_images(batch["image_a"], "float32")

    @jax.jit
    def by_hand(frames_a, frames_b):
        encode = cycle._encoder(net, variables, model3d, config.precision, train=False)
        codes_a, codes_b = encode(frames_a), encode(frames_b)
        back = cc.pose_cycle(encode, model3d, codes_a, codes_b, frames_a).reversed_images
        return back, cc.render_codes(model3d, codes_a, frames_a).image

    back, own = by_hand(frames_a, cast_images(batch["image_b"], "float32"))

    def l1(reference):
        return float(np.mean(losses.cycle_consistency_loss(reference, back.image, back.face_mask)))

    frame = terms(config)
    np.testing.assert_allclose(frame["loss_pose_cycle_image"], l1(frames_a), rtol=1e-4)
    rendering = terms(_config(data_dir, *sets, "loss.cycle_image_target=rendering"))
    np.testing.assert_allclose(rendering["loss_pose_cycle_image"], l1(own), rtol=1e-4)
    assert abs(l1(own) - l1(frames_a)) > 1e-3  # the two references differ here
    # Only the cycle image terms change.
    for key in ("loss_photometric", "loss_landmarks", "loss_pose_cycle_code"):
        assert rendering[key] == frame[key]
    # A run saved before the option existed: the frame, as before.
    saved = _config(data_dir, *sets)
    with saved.unlocked():
        del saved.loss["cycle_image_target"]
    assert terms(saved) == frame
    with pytest.raises(ValueError, match="cycle_image_target"):
        cycle.make_loss_fn(net, model3d, _config(data_dir, *sets, "loss.cycle_image_target=x"))

    # experiments/cycle/cycle_signal.py measures these parts, and splits the gradient by term.
    spec = importlib.util.spec_from_file_location(
        "cycle_signal", REPO / "experiments/cycle/cycle_signal.py"
    )
    script = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(script)
    parts = script.image_parts(net, variables, model3d, config, batch, cycles=("pose_cycle",))
    np.testing.assert_allclose(parts["pose_cycle"]["back_vs_frame_a"], l1(frames_a), rtol=1e-4)
    np.testing.assert_allclose(parts["pose_cycle"]["back_vs_own_rendering"], l1(own), rtol=1e-4)
    means, grads = script.weighted_term_gradients(net, variables, model3d, config, batch)
    assert set(means) == set(frame)
    # The weighted per-term gradients add up to the loss's gradient in a training step.
    loss_fn = cycle.make_loss_fn(net, model3d, config)
    # Compiled: op by op, this gradient took about 70 s of the suite's time.
    total = jax.jit(jax.grad(lambda p: loss_fn(p, variables["batch_stats"], batch, None, True)[0]))(
        variables["params"]
    )
    summed = jax.tree.map(lambda *g: sum(g), *grads.values())
    for got, want in zip(jax.tree.leaves(summed), jax.tree.leaves(total), strict=True):
        np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-6)
    assert max(float(np.abs(g).max()) for g in jax.tree.leaves(total)) > 0
    report = script.term_report(means, grads, config.loss)
    assert report["photometric"]["cosine_with_photometric"] == pytest.approx(1.0, abs=1e-5)
    assert report["landmark_shape"]["weighted_gradient_norm"] == 0.0  # weight 0 in smoke


def test_fitted_targets_come_from_2d_landmarks_only(data_dir, tmp_path):
    from facejax import morphable
    from facejax.formats import load_model
    from facejax.recipes import clip_fit_targets, cycle, networks

    config = _config(
        data_dir, "data.batch_size=2", "model.width=4", "model.branch_width=8",
        "loss.w_fitted_identity=0.1", "loss.w_fitted_expression=0.1", "loss.w_fitted_pose=0.01",
        "loss.pose_cycle=False", "loss.expression_cycle=False",
    )  # fmt: skip
    model3d = morphable.to_device(load_model(config.model3d))
    train_source = cycle._prepare_data(config).as_data_source("train")
    fit = dict(model_name=config.model3d, clips_per_batch=4)
    targets = clip_fit_targets.cached_clip_targets(
        model3d, train_source, 32, str(tmp_path / "full"), **fit
    )
    # The same targets from clips stripped to their 2D landmarks: nothing else is read.
    stripped = [
        {k: train_source[i][k] for k in ("landmarks", "has_landmarks")}
        for i in range(len(train_source))
    ]
    alone = clip_fit_targets.cached_clip_targets(
        model3d, stripped, 32, str(tmp_path / "stripped"), **fit
    )
    for name in ("identity", "expression", "angles", "frame_valid"):
        np.testing.assert_array_equal(getattr(targets, name), getattr(alone, name))
    assert targets.valid.any() and targets.frame_valid.any()

    loader = cycle.train_data_fn(config, train_source, targets)()
    batch = next(loader)
    loader.close()
    assert set(batch) == set(cycle.TRAIN_FEATURES) | set(clip_fit_targets.FEATURES)
    net = cycle.create_network(config)
    variables = networks.make_init_fn(net, model3d, 32)(jax.random.key(0))
    loss_fn = jax.jit(cycle.make_loss_fn(net, model3d, config), static_argnames="train")

    def terms(b):
        _, (metrics, _) = loss_fn(variables["params"], variables["batch_stats"], b, None)
        return {k: float(v) for k, v in metrics.items()}

    base = terms(batch)
    # Each term reads its targets, a clip (or frame) whose fit is not valid counts for nothing,
    # and its gradient reaches its own branch.
    for term, target, valid, branch in (
        ("identity", "fitted_identity", ("fitted_identity_valid",), "identity"),
        ("expression", "fitted_expression_a", ("fitted_frame_valid_a", "fitted_frame_valid_b"),
         "expression"),
        ("pose", "fitted_angles_b", ("fitted_frame_valid_a", "fitted_frame_valid_b"), "pose"),
    ):  # fmt: skip
        name = f"loss_fitted_{term}"
        assert np.isfinite(base[name]) and base[name] > 0, term
        moved = dict(batch, **{target: batch[target] + 0.5})
        assert terms(moved)[name] != base[name], term
        invalid = dict(batch, **{v: np.zeros_like(batch[v]) for v in valid})
        assert terms(invalid)[name] == 0.0, term
        grads = jax.grad(
            lambda p, name=name: loss_fn(p, variables["batch_stats"], batch, None)[1][0][name]
        )(variables["params"])
        leaves = jax.tree_util.tree_leaves_with_path(grads)
        assert any(branch in jax.tree_util.keystr(path) and np.abs(g).max() > 0
                   for path, g in leaves), term  # fmt: skip
    # Each frame's own targets: the expression of frame b moves the term, as frame a's did.
    moved = dict(batch, fitted_expression_b=batch["fitted_expression_b"] + 0.5)
    assert terms(moved)["loss_fitted_expression"] != base["loss_fitted_expression"]


# The fitted identity term against float64 numpy; float32 sums over the vertices.
IDENTITY_TERM_RTOL = 1e-4


def test_fitted_identity_term_compares_shapes_as_configured():
    from facejax import morphable
    from facejax.formats import load_model
    from facejax.recipes import cycle

    model3d = morphable.to_device(load_model("synthetic:small"))
    host = load_model("synthetic:small")
    rng = np.random.default_rng(0)
    k = model3d.num_identity
    pred_a, pred_b, fitted = (rng.normal(size=(3, k)).astype(np.float32) for _ in range(3))
    valid = np.array([True, True, False])
    batch = {"fitted_identity": fitted, "fitted_identity_valid": valid}

    def shapes(coeffs):  # [B, V, 3] float64
        basis = np.asarray(host.identity_basis, np.float64) * np.asarray(host.identity_std)
        offsets = np.einsum("vck,bk->bvc", basis.reshape(-1, 3, k), coeffs.astype(np.float64))
        return np.asarray(host.mean_shape, np.float64) + offsets

    def scale_aligned(p, t, w):
        def centred(x):
            return x - (w[:, None] * x).sum(0) / w.sum()

        p, t = centred(p), centred(t)
        s = (w[:, None] * p * t).sum() / (w[:, None] * p * p).sum()
        return (w * np.square(s * p - t).sum(-1)).sum() / w.sum()

    face = np.asarray(host.face_mask) > 0.5

    def squared(p, t):
        return np.square(p - t).sum(-1).mean()

    target = shapes(fitted)
    cases = (
        ({"shape_loss": "squared", "shape_region": "head"}, squared),
        ({"shape_loss": "scale_aligned", "shape_region": "face"},
         lambda p, t: scale_aligned(p, t, face.astype(np.float64))),
        ({}, squared),  # runs saved before the options compare as before: squared, head
    )  # fmt: skip
    for options, reference in cases:
        term = cycle.fitted_identity_term(
            model3d, pred_a, pred_b, batch, cycle.fitted_identity_loss(model3d, options)
        )
        expected = [
            sum(reference(shapes(p)[i], target[i]) for p in (pred_a, pred_b)) * valid[i]
            for i in range(3)
        ]
        np.testing.assert_allclose(term, expected, rtol=IDENTITY_TERM_RTOL, err_msg=str(options))
    # scale_aligned: a prediction that is the target's face scaled and moved costs nothing.
    aligned = cycle.fitted_identity_loss(
        model3d, {"shape_loss": "scale_aligned", "shape_region": "face"}
    )
    t = jax.numpy.asarray(target[:1], jax.numpy.float32)
    assert float(aligned(1.07 * t + 3.0, t)[0]) < 1e-6 * float(jax.numpy.mean(t**2))
    with pytest.raises(ValueError, match="shape_loss must be one of"):
        cycle.fitted_identity_loss(model3d, {"shape_loss": "l1", "shape_region": "face"})


def test_targets_are_fitted_unless_the_truth_diagnostic_is_asked(data_dir, tmp_path, monkeypatch):
    from facejax.recipes import clip_fit_targets, cycle

    train_source = cycle._prepare_data(_config(data_dir)).as_data_source("train")
    fitted = object()  # what the fit gives, whatever it holds
    monkeypatch.setattr(clip_fit_targets, "cached_clip_targets", lambda *a, **k: fitted)

    def targets(*sets):
        config = _config(data_dir, *sets)
        return cycle._fit_targets(config, None, train_source, str(tmp_path))

    assert targets() is None  # smoke trains without the terms
    # The method: the fit of the 2D landmarks (the default, and what older runs get), for any
    # of the three fitted terms.
    for term in cycle.FITTED_TERMS:
        assert targets(f"loss.{term}=0.1") is fitted, term
    # The diagnostic: the clips' 3D truth, asked for by name.
    truth = targets("loss.w_fitted_expression=0.1", "loss.targets=truth")
    clips = [train_source[i] for i in range(len(train_source))]
    np.testing.assert_array_equal(
        truth.identity, np.asarray([c["identity_coeffs"] for c in clips], np.float32)
    )
    np.testing.assert_array_equal(
        truth.expression, np.asarray([c["expression_coeffs"] for c in clips], np.float32)
    )
    np.testing.assert_array_equal(truth.angles, np.asarray([c["pose"] for c in clips], np.float32))
    assert truth.valid.all() and truth.frame_valid.all()
    with pytest.raises(ValueError, match="loss.targets must be one of"):
        targets("loss.w_fitted_identity=0.1", "loss.targets=landmarks")


def test_train_evaluate_and_reconstruct(tmp_path, data_dir, monkeypatch, capsys):
    from facejax.recipes import cycle

    workdir = tmp_path / "run"
    # The plumbing, with the cycles off: their loss is checked above and their gradients in
    # test_cycle_construction.py (compiling them into the training step triples this test).
    config = _config(
        data_dir, "num_steps=4", "checkpoint_every=2", "log_every=2", "loss.pose_cycle=False",
        "loss.expression_cycle=False",
    )  # fmt: skip
    metrics = cycle.train_and_evaluate(config, workdir)
    records = [r for r in read_jsonl(workdir / "metrics.jsonl") if "train/loss" in r]
    assert [r["step"] for r in records] == [2, 4]
    assert all(np.isfinite(r["train/loss_photometric"]) for r in records)
    assert "train/loss_pose_cycle_image" not in records[0]
    saved = json.loads((workdir / "metrics.json").read_text())["metrics"]
    assert saved["num_test_identities"] == 2 and saved["num_test_images"] == 16
    for name in (
        "identity_rmse_face_mm", "shape_rmse_head_mm", "landmark_nme", "landmark_nme_balanced",
        "pose_error_geodesic_deg", "landmark_fit_pose_error_geodesic_deg",
        "landmark_fit_identity_rmse_face_ratio", "leakage_expression_under_pose",
        "leakage_pose_deg_under_expression", "truth_pose_change_deg",
    ):  # fmt: skip
        assert np.isfinite(metrics[name]), name
    for prefix in ("identity_rmse", "shape_rmse"):
        for region in ("head", "face"):
            learned = metrics[f"{prefix}_{region}_mm"]
            baseline = metrics[f"{prefix}_{region}_mean_face_mm"]
            assert baseline > 0
            assert metrics[f"{prefix}_{region}_ratio"] == pytest.approx(learned / baseline)
    # Pairs with only the pose changed do differ in pose, by the truth's amount.
    assert metrics["truth_pose_change_deg"] > 1.0 and metrics["truth_expression_change"] > 0.1
    counts = sum(metrics[f"landmark_nme_count_{b}"] for b in ("0_30", "30_60", "60_90"))
    assert counts == 16

    # facejax evaluate restores the latest checkpoint and reproduces the final metrics.
    monkeypatch.chdir(tmp_path)
    assert main(["evaluate", "--workdir", str(workdir)]) == 0
    again = json.loads((workdir / "metrics.json").read_text())["metrics"]
    assert again["shape_rmse_head_mm"] == pytest.approx(metrics["shape_rmse_head_mm"], rel=1e-5)

    # facejax reconstruct runs the checkpoint on a photo.
    photo = tmp_path / "photo.png"
    assert main(["render", "synthetic:small", "--out", str(photo), "--size", "48"]) == 0
    out = tmp_path / "recon"
    assert main(["reconstruct", "--workdir", str(workdir), str(photo), "--out", str(out)]) == 0
    assert "reconstructed 1 of 1" in capsys.readouterr().out
    record = json.loads((out / "photo.json").read_text())
    assert np.asarray(record["landmarks_2d"]).shape == (68, 2)
    assert set(record["pose_degrees"]) == {"pitch", "yaw", "roll"}
    vertices, triangles, _ = read_obj(out / "photo.obj")
    assert vertices.shape == (1468, 3) and len(triangles) > 0
    assert np.load(out / "photo_embedding.npy").shape == (10,)  # the identity coefficients
    assert (out / "photo_overlay.png").exists() and (out / "photo_identity.obj").exists()

    # The predictor gives what reconstruct does not write yet: albedo, lighting, expression.
    predict, _ = cycle.load_predictor(config, workdir)
    pred = predict(np.zeros((2, 32, 32, 3), np.uint8))
    assert pred["albedo"].shape == (2, 1468, 3) and pred["sh_coeffs"].shape == (2, 9, 3)
    assert pred["expression"].shape == (2, 10)

    # experiments/cycle/feature_probe.py: a linear probe of the run's shared features.
    spec = importlib.util.spec_from_file_location(
        "feature_probe", REPO / "experiments/cycle/feature_probe.py"
    )
    probe = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(probe)
    monkeypatch.setattr(
        "sys.argv", ["feature_probe.py", "--workdir", str(workdir), "--frames", "2"]
    )
    capsys.readouterr()
    probe.main()
    report = json.loads(capsys.readouterr().out)
    assert report["test_frames"] == 2 * report["test_clips"]
    assert report["test_clips"] >= saved["num_test_identities"]
    assert report["ridge_weight"] in probe.RIDGE_WEIGHTS
    for name in ("probe", "branch"):
        assert 0 < report[f"{name}_identity_rmse_face_ratio"] < 10, name


def test_feature_probe_ridge_is_least_squares_with_a_free_intercept():
    spec = importlib.util.spec_from_file_location(
        "feature_probe", REPO / "experiments/cycle/feature_probe.py"
    )
    probe = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(probe)
    rng = np.random.default_rng(0)
    features = rng.normal(size=(200, 5)) * [1.0, 2.0, 0.5, 3.0, 1.0] + 4.0
    targets = features @ rng.normal(size=(5, 3)) + 7.0 + 0.01 * rng.normal(size=(200, 3))
    new = rng.normal(size=(10, 5))
    # A vanishing weight: ordinary least squares with an intercept (float64 numpy reference).
    design = np.concatenate([features, np.ones((200, 1))], axis=1)
    coef, *_ = np.linalg.lstsq(design, targets, rcond=None)
    expected = np.concatenate([new, np.ones((10, 1))], axis=1) @ coef
    np.testing.assert_allclose(probe._ridge(features, targets, 1e-12)(new), expected, rtol=1e-4,
                               atol=1e-4)  # fmt: skip
    # A huge weight: every prediction is the targets' mean (the intercept is not penalised).
    np.testing.assert_allclose(
        probe._ridge(features, targets, 1e9)(new), np.broadcast_to(targets.mean(0), (10, 3)),
        atol=1e-3,
    )  # fmt: skip


def test_augmentation_moves_both_frames_alike_and_keeps_the_targets(data_dir, tmp_path):
    from facejax import morphable
    from facejax.formats import load_model
    from facejax.recipes import clip_fit_targets, cycle

    sets = ("data.batch_size=4", "loss.w_fitted_identity=0.1")
    plain = _config(data_dir, *sets)
    augmented = _config(
        data_dir, *sets, "data.zoom=0.1", "data.max_shift=0.05", "data.color_jitter=0.2"
    )
    assert cycle.augment_config(plain) is None
    with pytest.raises(ValueError, match=r"config.data.zoom must be in \[0, 1\), got 1.5"):
        cycle.augment_config(_config(data_dir, "data.zoom=1.5"))
    model3d = morphable.to_device(load_model(plain.model3d))
    train_source = cycle._prepare_data(plain).as_data_source("train")
    targets = clip_fit_targets.cached_clip_targets(
        model3d, train_source, 32, str(tmp_path), model_name=plain.model3d, clips_per_batch=4
    )
    batches = []
    for config in (plain, augmented):
        loader = cycle.train_data_fn(config, train_source, targets)()
        batches.append(next(loader))
        loader.close()
    before, after = batches
    # Only the view's (never set) flip flag joins the 2D features and the targets.
    assert set(after) == set(before) | {"flipped_a", "flipped_b"}
    assert not after["flipped_a"].any() and not after["flipped_b"].any()
    # The same pairs (one shuffle seed), their clips' targets as they were ...
    for name in clip_fit_targets.FEATURES:
        np.testing.assert_array_equal(after[name], before[name])
    assert not np.array_equal(after["image_a"], before["image_a"])
    # ... and one similarity of the image per pair, applied to both frames' landmarks.
    for i in range(4):
        src = np.concatenate([before["landmarks_a"][i], np.ones((68, 1))], axis=1)
        matrix, *_ = np.linalg.lstsq(src, after["landmarks_a"][i], rcond=None)
        assert not np.allclose(matrix[:2], np.eye(2), atol=1e-3)
        src_b = np.concatenate([before["landmarks_b"][i], np.ones((68, 1))], axis=1)
        np.testing.assert_allclose(src_b @ matrix, after["landmarks_b"][i], atol=1e-3)


def test_config_variants_and_overrides():
    with pytest.raises(ValueError, match="unknown variant"):
        load_config("experiments/cycle/config.py:huge")
    with pytest.raises(ValueError, match="no field 'loss.w_typo'"):
        load_config(CONFIG, ["loss.w_typo=1"])
    small = load_config("experiments/cycle/config.py:small")
    assert small.data.config == "small_frontal" and small.model3d == "synthetic"
    assert small.model.encoder == "spatial_cnn"
    medium = load_config("experiments/cycle/config.py:medium")
    assert medium.data.config == "medium_frontal" and medium.loss.w_fitted_identity == 1.0
    assert (medium.loss.shape_loss, medium.loss.shape_region) == ("scale_aligned", "face")
    assert (small.loss.shape_loss, small.loss.shape_region) == ("squared", "head")
    assert medium.loss.pose_cycle and medium.loss.expression_cycle
    full = load_config("experiments/cycle/config.py:full")
    assert full.data.builder == "facejax_identity_clips" and full.precision == "bfloat16"
    assert small.loss.w_fitted_identity == 0.1 and small.num_steps == 6000
    assert (small.data.zoom, small.data.max_shift, small.data.color_jitter) == (0.1, 0.05, 0.2)
    assert (medium.data.zoom, medium.data.max_shift, medium.data.color_jitter) == (0, 0, 0)
    assert medium.model.encoder == "keypoint_cnn" and medium.num_steps == 6000
    assert (medium.model.width, medium.model.branch_width) == (32, 0)
    assert (small.model.width, small.model.branch_width) == (16, 64)
    assert (medium.loss.w_fitted_expression, medium.loss.w_fitted_pose) == (0.1, 0.01)
    assert small.loss.w_fitted_expression == small.loss.w_fitted_pose == 0.0
    off = load_config(CONFIG, ["loss.pose_cycle=False"])
    assert off.loss.pose_cycle is False and off.loss.expression_cycle is True
