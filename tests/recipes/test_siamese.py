"""The Siamese recipe: its contrastive term on hand-made pairs, and the whole method end to end
on the tiny synthetic faces through the command line (train, resume, evaluate, reconstruct)."""

import functools
import importlib.util
import json
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from jax.test_util import check_grads

from facejax import losses, morphable, nn, train
from facejax.cli import main
from facejax.cli.train import load_config
from facejax.formats import load_model, read_obj
from facejax.recipes import siamese
from facejax.recipes.trained_run import load_run_config
from facejax.train import read_jsonl

REPO = Path(__file__).resolve().parents[2]
CONFIG = "experiments/siamese/config.py:smoke"
# Float32 codes against float64 numpy references.
CODE_RTOL = 1e-5
LOSS_ATOL = 1e-6


@pytest.fixture(scope="module")
def model3d():
    return morphable.to_device(load_model("synthetic:small"))


class _Outputs:
    """The fields of SiameseOutputs that identity_code reads."""

    def __init__(self, identity_coeffs, identity_shape):
        self.identity_coeffs = identity_coeffs
        self.identity_shape = identity_shape


def _outputs(model3d, coeffs):
    coeffs = jnp.asarray(coeffs, jnp.float32)
    shapes = jax.vmap(morphable.shape, in_axes=(None, 0))(model3d, coeffs)
    return _Outputs(coeffs, shapes)


def _shape_code_reference(points, model3d, region="face"):
    """float64 numpy: the region's points about their centre, at the mean face's RMS size."""
    face = np.asarray(model3d.face_mask) > 0.5
    if region == "head":
        face = np.ones_like(face)

    def centred(x):
        x = np.asarray(x, np.float64)[face]
        x = x - x.mean(0)
        return x, np.sqrt(np.mean(np.sum(x * x, -1)))

    _, mean_size = centred(model3d.mean_shape)
    x, size = centred(points)
    return x * mean_size / size


def test_identity_codes_and_the_contrastive_term_on_hand_made_pairs(model3d):
    ki = model3d.num_identity
    rng = np.random.default_rng(0)
    person = rng.normal(size=ki)
    far = person + 10.0  # RMS difference 10 std, far beyond the margin of 1
    outputs = _outputs(model3d, np.stack([person, person, person, far]))
    code = siamese.identity_code(outputs, model3d, "coefficients")
    np.testing.assert_allclose(code[0], person / np.sqrt(ki), rtol=CODE_RTOL)
    a, b = code[jnp.array([0, 2])], code[jnp.array([1, 3])]

    # The same person with identical codes, and two people far apart: nothing to pull or push.
    terms = losses.contrastive_loss(a, b, jnp.array([1.0, 0.0]), margin=1.0)
    np.testing.assert_allclose(terms, [0.0, 0.0], atol=LOSS_ATOL)
    # The same two codes with the labels swapped cost what Hadsell et al.'s formula says.
    swapped = losses.contrastive_loss(a, b, jnp.array([0.0, 1.0]), margin=1.0)
    np.testing.assert_allclose(swapped, [0.5, 0.5 * 10.0**2], rtol=CODE_RTOL)

    # The shape code ignores where the face is and how large: a moved and scaled copy of a
    # face has the same code; another face's distance is the RMS face-region distance (mm) at
    # the mean face's size.
    other = rng.normal(size=ki)
    outputs = _outputs(model3d, np.stack([person, other]))
    moved = 1.3 * outputs.identity_shape[0] + jnp.array([[5.0, -2.0, 7.0]])
    shapes = jnp.stack([outputs.identity_shape[0], moved, outputs.identity_shape[1]])
    code = siamese.identity_code(_Outputs(None, shapes), model3d, "shape")
    np.testing.assert_allclose(code[1], code[0], rtol=1e-4, atol=1e-5)
    reference = [_shape_code_reference(s, model3d) for s in np.asarray(shapes)]
    rms = np.sqrt(np.mean(np.sum((reference[0] - reference[2]) ** 2, -1)))
    np.testing.assert_allclose(np.linalg.norm(code[0] - code[2]), rms, rtol=1e-4)
    # Over every vertex (loss.shape_region="head", what a model without a face mask uses).
    code = siamese.identity_code(_Outputs(None, shapes), model3d, "shape", "head")
    np.testing.assert_allclose(code[1], code[0], rtol=1e-4, atol=1e-5)
    reference = [_shape_code_reference(s, model3d, "head") for s in np.asarray(shapes)]
    rms = np.sqrt(np.mean(np.sum((reference[0] - reference[2]) ** 2, -1)))
    np.testing.assert_allclose(np.linalg.norm(code[0] - code[2]), rms, rtol=1e-4)
    with pytest.raises(ValueError, match="contrastive_on"):
        siamese.identity_code(outputs, model3d, "latent")
    maskless = model3d.replace(face_mask=None)
    with pytest.raises(ValueError, match="the face region needs a face mask"):
        siamese.identity_code(_Outputs(None, shapes), maskless, "shape", "face")


def test_shape_code_gradients(model3d, x64):
    noise = np.random.default_rng(2).normal(scale=2.0, size=(2, model3d.num_vertices, 3))
    shapes = jnp.asarray(np.asarray(model3d.mean_shape, np.float64)[None] + noise)
    check_grads(
        lambda s: siamese.identity_code(_Outputs(None, s), model3d, "shape"),
        (shapes,),
        order=1,
        modes=("rev",),
    )


def _pair_batch(model3d, pairs: int, size: int, *, same_images: bool):
    rng = np.random.default_rng(1)
    image_a = rng.integers(0, 256, (pairs, size, size, 3)).astype(np.uint8)
    image_b = (
        image_a.copy() if same_images else rng.integers(0, 256, image_a.shape).astype(np.uint8)
    )
    batch = {"image_a": image_a, "image_b": image_b, "same": np.ones(pairs, bool)}
    for side in "ab":
        batch[f"identity_coeffs_{side}"] = rng.normal(size=(pairs, model3d.num_identity))
        batch[f"expression_coeffs_{side}"] = rng.normal(size=(pairs, model3d.num_expression))
        batch[f"landmarks_{side}"] = rng.uniform(0, size, (pairs, 68, 2))
        batch[f"landmark_visibility_{side}"] = np.ones((pairs, 68), bool)
        batch[f"label_{side}"] = np.arange(pairs) % 3
    return jax.tree.map(jnp.asarray, batch)


def test_loss_terms_and_the_zero_weight_variant(model3d):
    without_config = load_config(CONFIG, ["loss.w_contrastive=0"])
    with_config = load_config(CONFIG, ["loss.w_contrastive=2.5"])
    net = siamese.create_network(without_config, model3d, num_classes=3)
    size = without_config.data.image_size
    variables = net.init(jax.random.key(0), jnp.zeros((1, size, size, 3)), model3d, train=False)
    params, batch_stats = variables["params"], variables["batch_stats"]
    without_fn = siamese.make_loss_fn(net, model3d, without_config)
    with_fn = siamese.make_loss_fn(net, model3d, with_config)

    @jax.jit  # one compilation for both configs and both batches
    def totals(batch):
        without, (metrics, _) = without_fn(params, batch_stats, batch, None, train=True)
        with_term, _ = with_fn(params, batch_stats, batch, None, train=True)
        return without, with_term, metrics

    # Identical images of one person: identical codes, no contrastive cost.
    _, _, metrics = totals(_pair_batch(model3d, 4, size, same_images=True))
    assert float(metrics["loss_contrastive"]) == pytest.approx(0.0, abs=LOSS_ATOL)
    # Different images, two pairs of one person and two of two people (an untrained network's
    # codes are close: the push term is large): the term is there, and its weight is all that
    # separates the totals.
    batch = _pair_batch(model3d, 4, size, same_images=False)
    batch["same"] = jnp.array([True, False, True, False])
    without, with_term, metrics = totals(batch)
    metrics = {k: float(v) for k, v in metrics.items()}
    assert metrics["loss_contrastive"] > 0.1
    others = sum(
        without_config.loss[f"w_{name}"] * metrics[f"loss_{name}"]
        for name in ("identification", "params", "identity_shape", "shape", "landmarks")
    )
    # Float32 totals of a few hundred (the landmark term): a tolerance of their rounding.
    tolerance = 1e-5 * float(without)
    assert float(without) == pytest.approx(others, abs=tolerance)
    assert float(with_term - without) == pytest.approx(
        2.5 * metrics["loss_contrastive"], abs=tolerance
    )
    with pytest.raises(ValueError, match="distance"):
        siamese.make_loss_fn(net, model3d, load_config(CONFIG, ["loss.distance=manhattan"]))

    # experiments/siamese/siamese_signal.py splits the gradient by term: the weighted
    # per-term gradients add up to the loss's gradient in a training step.
    means, grads = train.weighted_term_gradients(
        with_fn, params, batch_stats, batch, lambda term: with_config.loss[f"w_{term}"]
    )
    assert set(means) == {k for k in metrics if k.startswith("loss_")}
    total = jax.grad(lambda p: with_fn(p, batch_stats, batch, None, True)[0])(params)
    summed = jax.tree.map(lambda *g: sum(g), *grads.values())
    largest = max(float(np.abs(g).max()) for g in jax.tree.leaves(total))
    assert largest > 0
    for got, want in zip(jax.tree.leaves(summed), jax.tree.leaves(total), strict=True):
        # Float32 sums of terms up to a few hundred: rounding relative to the largest entry.
        np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-5 * largest)


def test_the_keypoint_term_supervises_the_encoders_keypoints(model3d):
    from facejax.recipes.joint_losses import landmark_percent_loss
    from facejax.train import cast_images

    sets = ["model.encoder=keypoint_cnn", "model.num_keypoints=70", "loss.w_keypoints=0.5"]
    config = load_config(CONFIG, sets)
    net = siamese.create_network(config, model3d, num_classes=3)
    size = config.data.image_size
    variables = net.init(jax.random.key(0), jnp.zeros((1, size, size, 3)), model3d, train=False)
    batch = _pair_batch(model3d, 2, size, same_images=False)
    loss_fn = siamese.make_loss_fn(net, model3d, config)
    total, (metrics, _) = jax.jit(functools.partial(loss_fn, train=True))(
        variables["params"], variables["batch_stats"], batch, None
    )
    # The term is the first 68 of the 70 keypoints against the landmarks, as the landmark term.
    images = cast_images(jnp.concatenate([batch["image_a"], batch["image_b"]]), "float32")
    _, state = net.apply(
        variables, images, model3d, train=True, mutable=["batch_stats", "intermediates"]
    )
    keypoints = nn.sown_keypoints(state["intermediates"])
    assert keypoints.shape == (4, 70, 2)
    expected = landmark_percent_loss(
        keypoints[:, :68],
        jnp.concatenate([batch["landmarks_a"], batch["landmarks_b"]]),
        jnp.concatenate([batch["landmark_visibility_a"], batch["landmark_visibility_b"]]),
        size,
    )
    assert float(metrics["loss_keypoints"]) == pytest.approx(float(jnp.mean(expected)), rel=1e-5)
    assert float(metrics["loss_keypoints"]) > 1.0  # an untrained detector is far off
    others = sum(
        config.loss[f"w_{name}"] * float(metrics[f"loss_{name}"])
        for name in ("contrastive", "identification", "params", "identity_shape", "shape")
        + ("landmarks",)
    )
    assert float(total) == pytest.approx(others + 0.5 * float(metrics["loss_keypoints"]), rel=1e-5)
    spatial = load_config(CONFIG, ["loss.w_keypoints=1"])
    with pytest.raises(ValueError, match="w_keypoints needs model.encoder='keypoint_cnn'"):
        siamese.make_loss_fn(net, model3d, spatial)
    few = load_config(CONFIG, ["model.encoder=keypoint_cnn", "loss.w_keypoints=1"])
    few_net = siamese.create_network(few, model3d, num_classes=3)
    few_variables = few_net.init(
        jax.random.key(0), jnp.zeros((1, size, size, 3)), model3d, train=False
    )
    with pytest.raises(ValueError, match=r"model.num_keypoints >= 68 \(the landmarks\), got 32"):
        siamese.make_loss_fn(few_net, model3d, few)(
            few_variables["params"], few_variables["batch_stats"], batch, None
        )


def test_train_resume_evaluate_and_reconstruct_through_the_cli(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    workdir = tmp_path / "run"
    sets = [f"data.data_dir={tmp_path / 'datasets'}", "progress=False", "tensorboard=False"]
    sets += ["optimizer.warmup_steps=2", "checkpoint_every=2", "log_every=2"]

    def train(steps):
        argv = ["train", "--config", str(REPO / CONFIG), "--workdir", str(workdir)]
        for item in [*sets, f"num_steps={steps}"]:
            argv += ["--set", item]
        assert main(argv) == 0

    train(2)  # a run stopped at step 2 ...
    train(4)  # ... resumed by the same command with the full step count
    records = [r for r in read_jsonl(workdir / "metrics.jsonl") if "train/loss" in r]
    assert [r["step"] for r in records] == [2, 4]
    for record in records:
        assert (
            np.isfinite(record["train/loss_contrastive"]) and record["train/loss_contrastive"] > 0
        )
        assert "train/pair_distance_same" in record
    saved = json.loads((workdir / "metrics.json").read_text())
    assert saved["metadata"]["recipe"] == "siamese"
    metrics = saved["metrics"]
    assert metrics["num_test_identities"] == 20 and metrics["num_test_images"] == 60
    expected = [
        f"{prefix}_rmse_{region}_{kind}"
        for prefix in ("identity", "shape")
        for region in ("head", "face")
        for kind in ("mm", "mean_face_mm", "ratio")
    ]
    expected += ["landmark_nme", "landmark_nme_yaw_balanced", "verification_auc", "rank_1"]
    expected += [f"landmark_nme_yaw_{b}" for b in ("0_30", "30_60", "60_90")]
    expected += ["pose_error_yaw_degrees", "pose_error_yaw_frontal_degrees"]
    expected += ["identity_consistency_ratio", "identity_consistency_ratio_yaw_45_180"]
    expected += ["identity_consistency_between_true_mm", "rank_1_chance"]
    for name in expected:
        assert np.isfinite(metrics[name]), name
    assert metrics["identity_rmse_face_ratio"] == pytest.approx(
        metrics["identity_rmse_face_mm"] / metrics["identity_rmse_face_mean_face_mm"]
    )

    # facejax evaluate restores the latest checkpoint and reproduces the final metrics.
    assert main(["evaluate", "--workdir", str(workdir)]) == 0
    again = json.loads((workdir / "metrics.json").read_text())
    assert again["metadata"]["step"] == 4
    assert again["metrics"]["shape_rmse_head_mm"] == pytest.approx(
        metrics["shape_rmse_head_mm"], rel=1e-5
    )

    # experiments/siamese/train_split_metrics.py: the same checkpoint on its training people.
    spec = importlib.util.spec_from_file_location(
        "train_split_metrics", REPO / "experiments/siamese/train_split_metrics.py"
    )
    script = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(script)
    on_train = script.train_split_metrics(str(workdir), num_images=12)
    assert on_train["split"] == "train" and on_train["images"] == 12 and on_train["step"] == 4
    assert set(script.KEYS) <= set(on_train)
    for key in script.KEYS:
        assert np.isfinite(on_train[key]), key
    # Another recipe's run is named as such, not failed on a missing config field.
    other = tmp_path / "other_run"
    other.mkdir()
    config = json.loads((workdir / "config.json").read_text())
    (other / "config.json").write_text(json.dumps({**config, "recipe": "cycle"}))
    with pytest.raises(ValueError, match="a cycle run, not a siamese one"):
        script.train_split_metrics(str(other))

    # experiments/siamese/siamese_signal.py on the same checkpoint: every term measured, the
    # unused ones at weight 1 (the smoke run trains with both).
    spec = importlib.util.spec_from_file_location(
        "siamese_signal", REPO / "experiments/siamese/siamese_signal.py"
    )
    signal = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(signal)
    config = load_run_config(workdir, recipe="siamese")
    report = signal.measure(config, workdir, pairs=6)
    assert report["step"] == 4 and report["pairs"] == 6
    assert 0 <= report["positive_pairs"] <= 6
    assert report["trained_weights"] == {"w_contrastive": 1.0, "w_identification": 1.0}
    terms = report["terms"]
    assert {"contrastive", "identification", "landmarks", "total"} <= set(terms)
    shares = [row["share_of_norms"] for name, row in terms.items() if name != "total"]
    assert sum(shares) == pytest.approx(1.0, abs=1e-6)
    assert terms["landmarks"]["cosine_with_landmarks"] == pytest.approx(1.0, abs=1e-5)
    assert terms["contrastive"]["weighted_gradient_norm"] > 0
    # A run that trained without the contrastive loss: the term is measured at weight 1, and
    # (the same checkpoint and batch) its gradient is the one above.
    config = load_run_config(workdir, recipe="siamese")
    with config.unlocked():
        config.loss.w_contrastive = 0.0
    unused = signal.measure(config, workdir, pairs=6)
    assert unused["trained_weights"] == {"w_contrastive": 0.0, "w_identification": 1.0}
    assert unused["terms"]["contrastive"]["weight"] == 1.0
    assert unused["terms"]["contrastive"]["weighted_gradient_norm"] == pytest.approx(
        terms["contrastive"]["weighted_gradient_norm"], rel=1e-5
    )

    # facejax reconstruct runs the checkpoint on a photo; the embedding is the identity code.
    photo = tmp_path / "photo.png"
    assert main(["render", "synthetic:small", "--out", str(photo), "--size", "48"]) == 0
    out = tmp_path / "recon"
    assert main(["reconstruct", "--workdir", str(workdir), str(photo), "--out", str(out)]) == 0
    record = json.loads((out / "photo.json").read_text())
    assert np.asarray(record["landmarks_2d"]).shape == (68, 2)
    vertices, triangles, _ = read_obj(out / "photo.obj")
    assert vertices.shape[1] == 3 and len(triangles) > 0
    assert np.load(out / "photo_embedding.npy").shape == (10,)  # synthetic:small's Ki
    capsys.readouterr()


def test_config_variants():
    from facejax.cli.train import load_config

    small = load_config("experiments/siamese/config.py:small", [])
    medium = load_config("experiments/siamese/config.py:medium", [])
    # medium is small with the larger synthetic benchmark, twice the steps and the keypoint
    # encoder, nothing else.
    assert (small.data.config, medium.data.config) == ("small_frontal", "medium_frontal")
    assert medium.num_steps == 2 * small.num_steps
    assert medium.loss.to_dict() == small.loss.to_dict()
    assert (small.model.encoder, medium.model.encoder) == ("spatial_cnn", "keypoint_cnn")
    assert {**medium.model.to_dict(), "encoder": "spatial_cnn"} == small.model.to_dict()
    assert medium.data.batch_size == small.data.batch_size
    with pytest.raises(ValueError, match="unknown variant 'large'"):
        load_config("experiments/siamese/config.py:large", [])


def test_crop_augmentation_moves_each_image_with_its_landmarks(tmp_path):
    from facejax.recipes import datasets

    sets = [f"data.data_dir={tmp_path / 'datasets'}", "data.batch_size=4"]
    plain = load_config(str(REPO / CONFIG), sets)
    augmented = load_config(
        str(REPO / CONFIG), [*sets, "data.zoom=0.1", "data.max_shift=0.05", "data.color_jitter=0.2"]
    )
    with pytest.raises(ValueError, match=r"config.data.zoom must be in \[0, 1\), got 1.5"):
        siamese._pair_loader(load_config(str(REPO / CONFIG), [*sets, "data.zoom=1.5"]), [], "")
    train_source = datasets.prepare_dataset(plain)[0].as_data_source("train")
    batches = []
    for config in (plain, augmented):
        loader = siamese._pair_loader(config, train_source, str(tmp_path / "run"))
        batches.append(next(iter(loader)))
        loader.close()
    before, after = batches
    # The same pairs (one seed); their coefficients and labels untouched, no flip.
    assert not after["flipped_a"].any() and not after["flipped_b"].any()
    for name in ("identity_coeffs_a", "expression_coeffs_b", "identity_a", "same"):
        np.testing.assert_array_equal(after[name], before[name])
    assert not np.array_equal(after["image_a"], before["image_a"])
    # Each image drew its own crop (a pair's two images are not one view): the landmarks of
    # each moved by a similarity of their own.
    for i in range(4):
        moved = []
        for side in "ab":
            src = np.concatenate([before[f"landmarks_{side}"][i], np.ones((68, 1))], axis=1)
            matrix, *_ = np.linalg.lstsq(src, after[f"landmarks_{side}"][i], rcond=None)
            np.testing.assert_allclose(src @ matrix, after[f"landmarks_{side}"][i], atol=1e-3)
            assert abs(matrix[0, 0] - matrix[1, 1]) < 1e-4 and abs(matrix[0, 1]) < 1e-4
            moved.append(matrix)
        assert not np.allclose(moved[0], moved[1], atol=1e-3)
