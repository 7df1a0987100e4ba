"""Yang et al. (IEEE TMM 2023), "Learning 3D Face Reconstruction From the Cycle-Consistency of
Dynamic Faces": the recipe.

A multi-branch network (``facejax.nn.MultiBranchFaceModel``: identity, expression, albedo,
lighting and pose branches on a shared backbone) reconstructs two frames ``a`` and ``b`` of one
clip. Its loss, per pair, is a weighted sum of

* **photometric**: each frame against its rendering (the face region of the rendered mask,
  colour distance, ``losses.photometric_loss``);
* **landmarks**: the projected 68 landmarks against the frame's 2D landmarks; and
  **landmark shape**: the same after the best in-plane similarity
  (``losses.similarity_aligned_landmark_loss``), so that the pose's error does not drown the
  shape's (``w_landmark_shape``, 0 unless set);
* **priors**: ``0.5 |c|^2`` of the identity, expression and albedo coefficients;
* **identity consistency**: the two frames' identity codes against each other
  (``losses.clip_consistency_loss``);
* **fitted identity** (``w_fitted_identity``, 0 unless set): each frame's identity shape against
  that of its clip's identity fitted to the clip's 2D landmarks before training
  (``facejax.recipes.clip_fit_targets``), compared as ``shape_loss`` over ``shape_region`` say
  (``recipes.joint_losses.make_shape_loss``, mm^2): ``squared`` over the ``head`` (the raw mean
  squared vertex distance), or ``scale_aligned`` over the ``face``, where the fit's error of the
  face's size and position, which no image shows, costs nothing;
* **fitted expression** and **fitted pose** (``w_fitted_expression``, ``w_fitted_pose``, 0 unless
  set): each frame's expression offsets against those of its own expression from the same fit
  (mm^2), and its rotation angles against the fit's (squared degrees, summed over pitch, yaw and
  roll);
* **the pose cycle** and **the expression cycle** (``facejax.recipes.cycle_construction``):
  ``b``'s pose (or expression) is injected into ``a``'s codes, rendered over frame ``a``,
  re-encoded and reversed; the image rendered back must reproduce frame ``a`` (``_image``) and
  the re-encoded codes must be the injected ones (``_code``).

Only images and 2D landmarks enter the loss (:data:`TRAIN_FEATURES`, and with the fitted terms
their targets, made from the 2D landmarks alone): no 3D ground truth. (The one exception is a
diagnostic a user must ask for, ``loss.targets = "truth"``: the fitted terms' targets are then the
clips' true identities, expressions and poses, to measure what the fit's error costs.) The
synthetic clips' truth is for evaluation on held-out people: identity and full shape RMSE with
the mean face beside them, landmark NME (overall and by yaw), pose error in degrees beside a
landmark-only fit's, and the pose/expression leakage (``facejax.recipes.clip_evaluation``).
"""

from __future__ import annotations

import logging
import types
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from facejax import evaluation, losses, morphable, nn
from facejax.formats import load_model
from facejax.recipes import clip_evaluation, clip_fit_targets, datasets, joint_losses, networks
from facejax.recipes import cycle_construction as cc
from facejax.recipes.crop_augmentation import crop_augmentation
from facejax.train import (
    cast_images,
    eval_variables,
    restore_variables,
    run_training,
)

_log = logging.getLogger(__name__)

# Everything a training batch holds: two frames and their 2D landmarks, nothing in 3D.
TRAIN_FEATURES = (
    "image_a",
    "image_b",
    "landmarks_a",
    "landmarks_b",
    "has_landmarks_a",
    "has_landmarks_b",
)


def create_network(config) -> nn.MultiBranchFaceModel:
    """The multi-branch network of ``config.model``."""
    m = config.model
    encoder = networks.create_encoder(config)
    return nn.MultiBranchFaceModel(encoder, branch_width=m.branch_width, fill=m.fill)


def _encoder(net, variables, model3d, precision: str, train: bool):
    """``encode(images [B, H, W, 3] floats in [0, 1]) -> FaceCodes`` of the network; in training
    its BatchNorm statistics updates are dropped (the frames' own pass keeps them)."""

    def encode(images):
        images = cast_images(images, precision)
        if train:
            return net.apply(variables, images, model3d, train=True, mutable=["batch_stats"])[0]
        return net.apply(variables, images, model3d, train=False)

    return encode


# The two cycles by their ablation switches (``loss.pose_cycle``, ``loss.expression_cycle``).
CYCLES = {"pose_cycle": cc.pose_cycle, "expression_cycle": cc.expression_cycle}
# What the image rendered back is compared with (``loss.cycle_image_target``).
CYCLE_IMAGE_TARGETS = ("frame", "rendering")


def cycle_terms(cycle: cc.Cycle, reference, image_size: int) -> dict[str, Any]:
    """``{"image": [B], "code": [B]}``: the image rendered back against ``reference`` (mean
    absolute colour difference over the face region it covers), and the re-encoded codes against
    the injected ones (mean squared difference of :func:`cycle_construction.code_vector`; the
    injected codes are the target, not moved by this term).

    ``reference`` is frame ``a`` itself (``loss.cycle_image_target = "frame"``, the method's
    loss) or frame ``a``'s own rendering held fixed (``"rendering"``): that leaves out what the
    renderer cannot reproduce of the frame whatever the cycle does, most of the first
    (experiments/cycle/README.md, *What the cycle terms weigh in training*).
    """
    back = cycle.reversed_images
    return {
        "image": losses.cycle_consistency_loss(reference, back.image, back.face_mask),
        "code": losses.cycle_consistency_loss(
            cc.code_vector(cycle.reencoded, image_size),
            jax.lax.stop_gradient(cc.code_vector(cycle.injected, image_size)),
            kind="squared",
        ),
    }


def make_loss_fn(net, model3d, config):
    """The loss ``loss_fn(params, batch_stats, batch, rng, train=True)`` of facejax.train.

    ``batch`` needs only :data:`TRAIN_FEATURES` (uint8 images ``[B, S, S, 3]``, landmarks ``[B,
    68, 2]`` pixels, ``has_landmarks`` ``[B]``); any other field is ignored.
    """
    weights = config.loss
    size = config.data.image_size
    # Runs saved before the option existed compared with the frame.
    cycle_image_target = weights.get("cycle_image_target", "frame")
    if cycle_image_target not in CYCLE_IMAGE_TARGETS:
        raise ValueError(
            f"loss.cycle_image_target must be one of {CYCLE_IMAGE_TARGETS}; "
            f"got {cycle_image_target!r}"
        )

    identity_shape_loss = fitted_identity_loss(model3d, weights)

    def loss_fn(params, batch_stats, batch, rng, train=True):
        del rng  # no dropout or sampling
        variables = {"params": params, "batch_stats": batch_stats}
        frames_a = cast_images(batch["image_a"], "float32")
        frames_b = cast_images(batch["image_b"], "float32")
        frames = jnp.concatenate([frames_a, frames_b])
        images = cast_images(frames, config.precision)
        if train:
            codes, updates = net.apply(
                variables, images, model3d, train=True, mutable=["batch_stats"]
            )
            new_batch_stats = updates["batch_stats"]
        else:
            codes, new_batch_stats = net.apply(variables, images, model3d, train=False), batch_stats
        pairs = frames_a.shape[0]
        codes_a = jax.tree.map(lambda x: x[:pairs], codes)
        codes_b = jax.tree.map(lambda x: x[pairs:], codes)

        rendered = cc.render_codes(model3d, codes, frames)
        landmarks = jnp.concatenate([batch["landmarks_a"], batch["landmarks_b"]])
        has = jnp.concatenate([batch["has_landmarks_a"], batch["has_landmarks_b"]])
        visibility = jnp.broadcast_to(has.astype(jnp.float32)[:, None], landmarks.shape[:2])
        # Percent of the image side, so the weights do not depend on the image size.
        to_pct = 100.0 / size
        predicted_pct, landmarks_pct = rendered.landmarks * to_pct, landmarks * to_pct
        per_frame = {
            "photometric": losses.photometric_loss(
                rendered.image, frames, rendered.face_mask, kind=weights.photometric_kind
            ),
            "landmarks": losses.landmark_loss(predicted_pct, landmarks_pct, visibility),
            # The landmarks' shape alone (up to position, size and roll), same units.
            "landmark_shape": losses.similarity_aligned_landmark_loss(
                predicted_pct, landmarks_pct, visibility
            ),
            "identity_prior": losses.coefficient_prior(codes.identity),
            "expression_prior": losses.coefficient_prior(codes.expression),
            "albedo_prior": losses.coefficient_prior(codes.albedo),
        }
        # Per pair: the frames' terms summed over the pair's two frames.
        terms = {k: v[:pairs] + v[pairs:] for k, v in per_frame.items()}
        terms["identity_consistency"] = losses.clip_consistency_loss(
            jnp.stack([codes_a.identity, codes_b.identity], axis=1)
        )
        if weights.w_fitted_identity:  # static: needs the targets in the batch
            terms["fitted_identity"] = fitted_identity_term(
                model3d, codes_a.identity, codes_b.identity, batch, identity_shape_loss
            )
        if weights.get("w_fitted_expression", 0.0):  # runs saved before the term: off
            terms["fitted_expression"] = fitted_expression_term(model3d, codes_a, codes_b, batch)
        if weights.get("w_fitted_pose", 0.0):
            terms["fitted_pose"] = fitted_pose_term(codes_a, codes_b, batch)
        encode = _encoder(net, variables, model3d, config.precision, train)
        reference = frames_a
        if cycle_image_target == "rendering":
            reference = jax.lax.stop_gradient(rendered.image[:pairs])
        for name, run_cycle in CYCLES.items():
            if weights[name]:  # the ablation switches (static: not traced at all when off)
                cycle = run_cycle(encode, model3d, codes_a, codes_b, frames_a)
                for part, value in cycle_terms(cycle, reference, size).items():
                    terms[f"{name}_{part}"] = value
        total = sum(_weight(weights, name) * jnp.mean(value) for name, value in terms.items())
        metrics = {f"loss_{name}": jnp.mean(value) for name, value in terms.items()}
        return total, (metrics, new_batch_stats)

    return loss_fn


def fitted_identity_loss(model3d, weights):
    """``loss(pred [B, V, 3], target [B, V, 3]) -> [B]`` of ``loss.shape_loss`` and
    ``loss.shape_region`` (``joint_losses.make_shape_loss``; runs saved before the options:
    ``squared`` over the ``head``)."""
    options = types.SimpleNamespace(
        shape_loss=weights.get("shape_loss", "squared"),
        shape_region=weights.get("shape_region", "head"),
    )
    return joint_losses.make_shape_loss(model3d, options)


def fitted_identity_term(model3d, identity_a, identity_b, batch, shape_loss):
    """``[B]``: the two frames' identity shapes against their clip's fitted one, compared by
    ``shape_loss`` (:func:`fitted_identity_loss`), summed over the pair; 0 for a clip whose fit
    is not valid. In mm^2."""
    shapes = jax.vmap(morphable.shape, in_axes=(None, 0))
    target = jax.lax.stop_gradient(shapes(model3d, batch["fitted_identity"]))
    valid = batch["fitted_identity_valid"].astype(target.dtype)
    error = sum(
        shape_loss(shapes(model3d, identity), target) for identity in (identity_a, identity_b)
    )
    return valid * error


def fitted_expression_term(model3d, codes_a, codes_b, batch):
    """``[B]``: each frame's expression offsets against those of its fitted expression (mean
    squared vertex distance in mm^2, summed over the pair; 0 for a frame whose fit is not
    valid)."""
    offset = jax.vmap(morphable.expression_offset, in_axes=(None, 0))
    error = 0.0
    for side, codes in (("a", codes_a), ("b", codes_b)):
        target = jax.lax.stop_gradient(offset(model3d, batch[f"fitted_expression_{side}"]))
        valid = batch[f"fitted_frame_valid_{side}"].astype(target.dtype)
        error = error + valid * losses.squared_vertex_error(
            offset(model3d, codes.expression), target
        )
    return error


def fitted_pose_term(codes_a, codes_b, batch):
    """``[B]``: each frame's rotation angles against its fitted ones (squared degrees, summed
    over pitch, yaw and roll and over the pair; 0 for a frame whose fit is not valid)."""
    error = 0.0
    for side, codes in (("a", codes_a), ("b", codes_b)):
        target = jax.lax.stop_gradient(batch[f"fitted_angles_{side}"])
        valid = batch[f"fitted_frame_valid_{side}"].astype(target.dtype)
        degrees = jnp.rad2deg(codes.pose.angles - target)
        error = error + valid * jnp.sum(jnp.square(degrees), axis=-1)
    return error


def _weight(weights, term: str) -> float:
    """The weight of a loss term: ``w_<term>``; the cycles' ``w_cycle_image`` / ``w_cycle_code``."""
    if term.endswith("_cycle_image"):
        return weights.w_cycle_image
    if term.endswith("_cycle_code"):
        return weights.w_cycle_code
    return weights[f"w_{term}"]


def make_forward(net, model3d, precision: str):
    """A jitted ``forward(variables, uint8 images [B, S, S, 3]) -> dict`` of numpy-ready
    predictions: ``codes`` and the decoded shapes and landmarks (see :func:`load_predictor`)."""

    @jax.jit
    def forward(variables, images):
        codes = net.apply(variables, cast_images(images, precision), model3d, train=False)
        shape = jax.vmap(morphable.shape, in_axes=(None, 0, 0))(
            model3d, codes.identity, codes.expression
        )
        identity_shape = jax.vmap(morphable.shape, in_axes=(None, 0))(model3d, codes.identity)
        landmarks_3d = jax.vmap(morphable.landmarks, in_axes=(None, 0))(model3d, shape)
        return {
            "shape": shape,
            "identity_shape": identity_shape,
            "screen_vertices": codes.pose.project(shape),
            "landmarks_2d": codes.pose.project(landmarks_3d)[..., :2],
            "landmarks_3d": landmarks_3d,
            "angles": codes.pose.angles,
            "rotation": codes.pose.rotation,
            "scale": codes.pose.scale,
            "identity": codes.identity,
            "expression": codes.expression,
            "albedo": jax.vmap(morphable.albedo, in_axes=(None, 0))(model3d, codes.albedo),
            "sh_coeffs": codes.sh_coeffs,
        }

    return forward


def evaluate_split(net, variables, model3d, source, config, mean_identity) -> dict:
    """Metrics of the held-out people's frames (``facejax.recipes.clip_evaluation``) from the
    network's predictions."""
    forward = make_forward(net, model3d, config.precision)
    return clip_evaluation.evaluate_clips(
        lambda images: forward(variables, images),
        model3d,
        source,
        mean_identity,
        batch_size=config.eval.batch_size,
        leakage_pairs=config.eval.leakage_pairs,
        landmark_fit_baseline=config.eval.landmark_fit_baseline,
    )


def _prepare_data(config):
    """The tfds builder of the configured clips, built first if it is missing, with frames of
    ``data.image_size`` (:func:`facejax.recipes.datasets.prepare_dataset`)."""
    return datasets.prepare_dataset(config)[0]


def _mean_identity(source, model3d) -> np.ndarray:
    """The training people's mean identity (the mean-face baseline), zeros without truth."""
    if "identity_coeffs" not in source[0]:
        return np.zeros((model3d.num_identity,), np.float32)
    return datasets.mean_identity_coeffs(source)


def augment_config(config):
    """The training pairs' augmentation of ``config.data`` (None when it is all off;
    :func:`facejax.recipes.crop_augmentation.crop_augmentation`), one draw for both frames of a
    pair. The pose is predicted, never a target, and the landmarks move with the image, so a
    crop changes no label; the fitted targets (identity, expression, rotation) do not change with
    it (there are no flips, which would mirror the rotation)."""
    passthrough = clip_fit_targets.FEATURES + clip_fit_targets.FRAME_FEATURES
    return crop_augmentation(config.data, share_across_views=True, passthrough=passthrough)


def train_data_fn(config, train_source, targets=None):
    """``train_data()`` of facejax.train: frame pairs of the training clips, only
    :data:`TRAIN_FEATURES` kept, and their clips' and frames' fitted targets when ``targets``
    (``clip_fit_targets.ClipTargets`` of ``train_source``) are given."""
    from facejax.data.pipeline import frame_pair_source, make_loader

    pairs = frame_pair_source(
        train_source,
        max_gap=config.data.max_gap,
        seed=config.seed,
        num_pairs=len(train_source) * config.data.pairs_per_clip,
    )
    features = TRAIN_FEATURES
    if targets is not None:
        pairs = clip_fit_targets.ClipTargetPairs(pairs, targets)
        features = TRAIN_FEATURES + clip_fit_targets.FEATURES
    augment = augment_config(config)

    def train_data():
        return make_loader(
            pairs,
            batch_size=config.data.batch_size // jax.process_count(),
            seed=config.seed,
            augment=augment,
            features=features,
        )

    return train_data


# Where the fitted terms' targets come from (``loss.targets``): the clips' 2D landmarks, fitted
# (the method), or their 3D ground truth (a diagnostic: clip_fit_targets.true_clip_targets).
TARGET_SOURCES = ("fitted", "truth")
FITTED_TERMS = ("w_fitted_identity", "w_fitted_expression", "w_fitted_pose")


def _fit_targets(config, model3d, train_source, workdir):
    """The training clips' targets of ``loss.targets`` (``None`` without a fitted term)."""
    # Runs saved before the options: identity_targets, else fitted.
    source = config.loss.get("targets", config.loss.get("identity_targets", "fitted"))
    if source not in TARGET_SOURCES:
        raise ValueError(f"loss.targets must be one of {TARGET_SOURCES}; got {source!r}")
    if not any(config.loss.get(term, 0.0) for term in FITTED_TERMS):
        return None
    if source == "truth":
        _log.warning(
            "loss.targets=truth: the clips' 3D ground-truth identities, expressions and poses are "
            "the targets of the fitted terms (a diagnostic, not the method: 3D truth enters the "
            "loss)"
        )
        return clip_fit_targets.true_clip_targets(train_source)
    return clip_fit_targets.cached_clip_targets(
        model3d, train_source, config.data.image_size, workdir, model_name=config.model3d
    )


def train_and_evaluate(config, workdir) -> dict:
    """Trains (resuming from ``workdir`` if a checkpoint is there), then evaluates on the
    test split and writes ``workdir/metrics.json``. Returns the metrics."""
    model3d = morphable.to_device(load_model(config.model3d))
    builder = _prepare_data(config)
    net = create_network(config)
    train_source = builder.as_data_source("train")
    test_source = builder.as_data_source("test")
    mean_identity = _mean_identity(train_source, model3d)
    # Built before the targets' fit so that a bad loss option stops the run at once.
    loss_fn = make_loss_fn(net, model3d, config)
    targets = _fit_targets(config, model3d, train_source, workdir)
    results: dict = {}

    def eval_fn(state, step):
        results.clear()
        results.update(
            evaluate_split(net, eval_variables(state), model3d, test_source, config, mean_identity)
        )
        return {k: v for k, v in results.items() if isinstance(v, float)}

    run_training(
        config,
        workdir,
        init_fn=networks.make_init_fn(net, model3d, config.data.image_size),
        loss_fn=loss_fn,
        train_data=train_data_fn(config, train_source, targets),
        eval_fn=eval_fn,
    )
    if jax.process_index() == 0:
        evaluation.write_metrics(
            workdir, results, metadata={"recipe": "cycle", "variant": config.variant}
        )
    return dict(results)


def restore(config, workdir):
    """``(net, variables, model3d, step)`` of the latest checkpoint in ``workdir`` (EMA
    parameters when the run kept them)."""
    model3d = morphable.to_device(load_model(config.model3d))
    net = create_network(config)
    variables, step = restore_variables(
        config, workdir, networks.make_init_fn(net, model3d, config.data.image_size)
    )
    return net, variables, model3d, step


def evaluate(config, workdir) -> dict:
    """Evaluates the latest checkpoint in ``workdir`` on the test split; writes metrics.json."""
    net, variables, model3d, step = restore(config, workdir)
    builder = _prepare_data(config)
    mean_identity = _mean_identity(builder.as_data_source("train"), model3d)
    results = evaluate_split(
        net, variables, model3d, builder.as_data_source("test"), config, mean_identity
    )
    evaluation.write_metrics(
        workdir, results, metadata={"recipe": "cycle", "variant": config.variant, "step": step}
    )
    return results


def load_predictor(config, workdir):
    """A function from face crops ``[B, S, S, 3]`` uint8 to numpy predictions, and the model.

    Returns ``(predict, model3d)``; ``predict(images)`` gives ``shape`` and ``identity_shape``
    ``[B, V, 3]`` (mm, model frame), ``screen_vertices`` ``[B, V, 3]`` (crop pixels and
    depth), ``landmarks_2d`` ``[B, 68, 2]`` (crop pixels), ``landmarks_3d`` ``[B, 68, 3]`` (mm),
    ``angles`` ``[B, 3]`` (radians, ``"xyz"``), ``rotation`` ``[B, 3, 3]``, ``scale`` ``[B]``
    (px/mm), ``expression`` ``[B, Ke]``, ``albedo`` ``[B, V, 3]`` (RGB per vertex, the
    predicted albedo decoded), ``sh_coeffs`` ``[B, 9, 3]`` and ``embedding`` ``[B, Ki]`` (the
    identity coefficients, the identity branch's output).
    """
    net, variables, model3d, _ = restore(config, workdir)
    forward = make_forward(net, model3d, config.precision)

    def predict(images):
        out = jax.tree.map(np.asarray, forward(variables, np.asarray(images)))
        out["embedding"] = out.pop("identity")
        return out

    return predict, model3d
