"""Luo, Tu and Xie, "Learning Robust 3D Face Reconstruction and Discriminative Identity
Representation": the Siamese 3DMM regressor, as a recipe.

A CNN regresses 3DMM parameters (identity and expression coefficients, weak-perspective pose;
``facejax.nn.SiameseFaceModel``) from each image of a pair; the two images go through the same
network as one batch of ``2B`` images (the two branches share their weights). The loss weights,
averaged over the batch:

* ``w_contrastive``: the contrastive loss (``facejax.losses.contrastive_loss``) between the two
  identity codes of each pair: same person pulled together across poses, different people
  pushed beyond ``loss.margin``. The code (``loss.contrastive_on``) is the identity
  coefficients divided by ``sqrt(Ki)`` (so a Euclidean distance is the RMS coefficient
  difference, in standard deviations), or the decoded neutral face over the region of the
  shape losses (``loss.shape_region``: the face, or every vertex) with its translation and
  size removed (a Euclidean distance is then the RMS vertex distance in mm at the mean face's
  size); ``loss.distance`` is ``"euclidean"`` or ``"cosine"``;
* ``w_identification``: identification of the training subject from the identity coefficients
  (softmax, or an ArcFace / CosFace margin softmax), on both images;
* ``w_params``: squared error of the identity and expression coefficients (mean over them);
* ``w_identity_shape``, ``w_shape``: the neutral and full shapes against their targets
  (:func:`facejax.recipes.joint_losses.make_shape_loss`);
* ``w_landmarks``: 2D landmark reprojection (squared percent of the image side);
* ``w_keypoints`` (0 unless set; ``model.encoder="keypoint_cnn"`` with ``model.num_keypoints``
  at least 68): the encoder's first 68 keypoints against the 2D landmarks, in the same units, so
  that the keypoints the heads read are a landmark detector's.

Pairs come from ``facejax.data.pipeline.pair_source`` over the training split
(``pairs.positive_fraction`` of them of one person; positives across poses: of
``pairs.pose_candidates`` partners the one whose yaw differs most). Evaluation on the held-out
people, single images, each metric beside its baseline: shape RMSE beside the mean face,
landmark NME (also by yaw bin) and head-pose error in degrees when the test split has the true
``pose``, verification and rank-1 from the identity coefficients beside chance
(:mod:`facejax.recipes.held_out_metrics`).
"""

from __future__ import annotations

import functools
import os

import jax
import jax.numpy as jnp
import numpy as np

from facejax import evaluation, geometry, losses, morphable, nn
from facejax.formats import load_model
from facejax.recipes import datasets, held_out_metrics, networks, photos
from facejax.recipes.crop_augmentation import crop_augmentation
from facejax.recipes.joint_losses import (
    face_region_weights,
    identification_loss,
    landmark_percent_loss,
    make_shape_loss,
    target_shapes,
)
from facejax.train import (
    cast_images,
    eval_variables,
    run_training,
)

IMAGE_FEATURES = (
    "image",
    "identity",
    "identity_coeffs",
    "expression_coeffs",
    "landmarks",
    "landmark_visibility",
)
PAIR_FEATURES = tuple(f"{name}_{side}" for name in IMAGE_FEATURES for side in "ab") + ("same",)
CONTRASTIVE_CODES = ("coefficients", "shape")


def create_network(config, model3d, num_classes: int) -> nn.SiameseFaceModel:
    """The Siamese regressor of ``config.model`` for ``num_classes`` training subjects
    (``model3d`` unused: the numbers of coefficients are read at call time)."""
    del model3d
    return nn.SiameseFaceModel(
        networks.create_encoder(config),
        num_classes=num_classes,
        hidden=tuple(config.model.hidden),
    )


def identity_code(outputs: nn.SiameseOutputs, model3d, on: str, region: str = "face"):
    """``[B, D]`` the identity code the contrastive loss compares (``on``: see the module
    docstring; ``"coefficients"`` ``D = Ki``, ``"shape"`` ``D = 3V`` with zeros off the
    ``region``: ``"face"``, the model's face mask, or ``"head"``, every vertex)."""
    if on == "coefficients":
        coeffs = outputs.identity_coeffs
        return coeffs / jnp.sqrt(float(coeffs.shape[-1]))
    if on != "shape":
        raise ValueError(
            f"config.loss.contrastive_on must be one of {CONTRASTIVE_CODES}, got {on!r}"
        )
    if region == "face":
        weights = face_region_weights(model3d)  # [V]; raises for a model without a face mask
    else:
        weights = jnp.ones(model3d.num_vertices, jnp.float32)
    count = jnp.sum(weights)

    def centred_and_size(points):  # [V, 3] -> face-region points about their centre, RMS radius
        centre = jnp.sum(points * weights[:, None], axis=0) / count
        centred = (points - centre[None, :]) * weights[:, None]
        return centred, geometry.safe_norm(centred.reshape(-1)) / jnp.sqrt(count)

    _, mean_size = centred_and_size(model3d.mean_shape)

    def code(points):
        centred, size = centred_and_size(points)
        # At the mean face's size, divided by sqrt(face vertices): a Euclidean distance between
        # two codes is the RMS vertex distance in mm.
        return (centred * (mean_size / jnp.maximum(size, 1e-6))).reshape(-1) / jnp.sqrt(count)

    return jax.vmap(code)(outputs.identity_shape)


def _both(batch, name):
    """``[2B, ...]``: feature ``name`` of the images ``a`` then ``b`` of each pair."""
    return jnp.concatenate([batch[f"{name}_a"], batch[f"{name}_b"]], axis=0)


def keypoint_loss(intermediates, batch, image_size: int):
    """``[2B]`` the first 68 keypoints a ``keypoint_cnn`` encoder sowed against the images' 2D
    landmarks (squared percent of the image side, as the landmark term).

    Raises:
      ValueError: the encoder has fewer than 68 keypoints.
    """
    keypoints = nn.sown_keypoints(intermediates)
    if keypoints.shape[1] < 68:  # make_loss_fn checks the config; a hand-built net may differ
        raise ValueError(
            f"config.loss.w_keypoints needs model.num_keypoints >= 68 (the landmarks), "
            f"got {keypoints.shape[1]}"
        )
    return landmark_percent_loss(
        keypoints[:, :68],
        _both(batch, "landmarks"),
        _both(batch, "landmark_visibility"),
        image_size,
    )


def make_loss_fn(net, model3d, config):
    """The joint loss ``loss_fn(params, batch_stats, batch, rng, train=True)`` of facejax.train
    over a batch of ``B`` pairs (``PAIR_FEATURES`` with ``label_a``, ``label_b``)."""
    weights = config.loss
    image_size = config.data.image_size
    shape_loss = make_shape_loss(model3d, weights)
    if weights.w_keypoints and config.model.encoder != "keypoint_cnn":
        raise ValueError(
            f"config.loss.w_keypoints needs model.encoder='keypoint_cnn', "
            f"got {config.model.encoder!r}"
        )
    if weights.distance not in losses.DISTANCES:
        raise ValueError(
            f"config.loss.distance must be one of {losses.DISTANCES}, got {weights.distance!r}"
        )

    def loss_fn(params, batch_stats, batch, rng, train=True):
        del rng  # no dropout or sampling in this model
        # Both images of every pair in one batch: the two Siamese branches are one network.
        images = cast_images(_both(batch, "image"), config.precision)
        variables = {"params": params, "batch_stats": batch_stats}
        mutable = ["batch_stats"] if train else []
        mutable += ["intermediates"] if weights.w_keypoints else []
        outputs, updates = net.apply(variables, images, model3d, train=train, mutable=mutable)
        new_batch_stats = updates["batch_stats"] if train else batch_stats
        identity, expression = _both(batch, "identity_coeffs"), _both(batch, "expression_coeffs")
        labels = _both(batch, "label")
        neutral, full = target_shapes(model3d, identity, expression)
        predicted = jnp.concatenate([outputs.identity_coeffs, outputs.expression_coeffs], -1)
        code = identity_code(outputs, model3d, weights.contrastive_on, weights.shape_region)
        code_a, code_b = jnp.split(code, 2)
        same = batch["same"].astype(jnp.float32)
        terms = {
            "contrastive": losses.contrastive_loss(
                code_a, code_b, same, weights.margin, distance=weights.distance
            ),
            "identification": identification_loss(
                outputs,
                labels,
                weights.identification,
                scale=weights.margin_scale,
                margin=weights.margin_softmax,
            ),
            "params": jnp.mean(
                jnp.square(predicted - jnp.concatenate([identity, expression], -1)), -1
            ),
            "identity_shape": shape_loss(outputs.identity_shape, neutral),
            "shape": shape_loss(outputs.shape, full),
            "landmarks": landmark_percent_loss(
                outputs.landmarks_2d,
                _both(batch, "landmarks"),
                _both(batch, "landmark_visibility"),
                image_size,
            ),
        }
        if weights.w_keypoints:
            terms["keypoints"] = keypoint_loss(updates.get("intermediates", {}), batch, image_size)
        total = sum(weights[f"w_{name}"] * jnp.mean(value) for name, value in terms.items())
        metrics = {f"loss_{name}": jnp.mean(value) for name, value in terms.items()}
        metrics["train_accuracy"] = jnp.mean(
            (jnp.argmax(outputs.logits, axis=-1) == labels).astype(jnp.float32)
        )
        # How far apart the codes of one person's and of two people's images are (in the
        # contrastive loss's distance): what the margin acts on.
        distance = losses.pair_distance(code_a, code_b, weights.distance)
        metrics["pair_distance_same"] = losses.masked_mean(distance, same)
        metrics["pair_distance_different"] = losses.masked_mean(distance, 1.0 - same)
        return total, (metrics, new_batch_stats)

    return loss_fn


def predict(net, variables, model3d, images: np.ndarray, *, precision: str, batch_size: int):
    """``(identity_coeffs, identity_shape, shape, landmarks_2d, angles)`` of ``images``
    (numpy), in fixed-size jit-compiled batches (the last one padded)."""
    from facejax.data.fixed_batches import map_fixed_batches

    @jax.jit
    def forward(variables, images):
        out = net.apply(variables, cast_images(images, precision), model3d, train=False)
        return out.identity_coeffs, out.identity_shape, out.shape, out.landmarks_2d, out.pose.angles

    return list(map_fixed_batches(functools.partial(forward, variables), images, batch_size))


def evaluate_split(net, variables, model3d, source, metadata, config, mean_identity) -> dict:
    """Metrics of the held-out people (single images), each beside its baseline.

    What the split allows (:mod:`facejax.recipes.held_out_metrics`): shape RMSE beside the mean
    face when it has ``identity_coeffs`` and ``expression_coeffs``; landmark NME always; NME by
    yaw bin and the head-pose error in degrees when it has the true ``pose`` (compared in the
    dataset's ``metadata["pose_convention"]``); verification and rank-1 from the identity
    coefficients, beside chance, when its metadata has the protocols (``verification_pairs``,
    ``identification``); identity consistency of the predicted neutral shapes (overall and by
    yaw difference) when it has identity labels.
    """
    available = set(source[0])
    coefficients = {"identity_coeffs", "expression_coeffs"} <= available
    recognition = "verification_pairs" in metadata and "identification" in metadata
    wanted = ["image", "landmarks", "landmark_visibility"]
    wanted += ["identity_coeffs", "expression_coeffs"] if coefficients else []
    wanted += ["identity"] if "identity" in available else []
    wanted += ["image_path"] if recognition else []
    wanted += ["pose"] if "pose" in available else []
    data = datasets.read_split(source, tuple(wanted))
    features, identity_shape, shape, landmarks, angles = predict(
        net, variables, model3d, data["image"], precision=config.precision,
        batch_size=config.eval.batch_size,
    )  # fmt: skip
    nme = held_out_metrics.landmark_nme_per_face(landmarks, data)
    if coefficients:
        metrics = held_out_metrics.reconstruction_metrics(
            model3d, identity_shape, shape, landmarks, data, mean_identity
        )
    else:
        metrics = {"landmark_nme": float(np.mean(nme))}
    if "pose" in data:
        metrics.update(held_out_metrics.landmark_nme_by_yaw(nme, data["pose"][:, 1]))
        metrics.update(
            held_out_metrics.pose_error_metrics(
                angles,
                data["pose"],
                pred_convention=geometry.DEFAULT_EULER_CONVENTION,
                true_convention=metadata.get("pose_convention", "xyz"),
            )
        )
    if "identity" in data and np.any(data["identity"] >= 0):
        metrics.update(held_out_metrics.identity_consistency_metrics(model3d, identity_shape, data))
    if recognition:
        metrics.update(held_out_metrics.recognition_metrics(features, data, metadata))
    metrics["num_test_images"] = len(data["image"])
    return metrics


def _test_split(config, builder, metadata):
    """``(source, metadata)`` of the evaluation images: the training dataset's test split, or
    the test split of ``config.eval.builder`` when set (e.g. AFLW2000-3D for 300W-LP)."""
    if not config.eval.builder:
        return builder.as_data_source("test"), metadata
    other = datasets.prepare_builder(
        config.eval.builder, config.eval.config, config.data.data_dir,
        manual_dir=config.eval.manual_dir, model=config.model3d,
        image_size=config.data.image_size,
    )  # fmt: skip
    datasets.check_image_size(other, config.data.image_size)
    return other.as_data_source("test"), other.info.metadata


def _pair_loader(config, train_source, workdir):
    """The training pairs' loader (``config.data.batch_size`` pairs a batch, this process's
    share), labels not yet renumbered."""
    from facejax.data.pipeline import make_loader, pair_source

    # The shape targets are compared with translation and scale aligned away and the pose is
    # never a target, so a crop changes no label (the landmarks move with the image); no flips.
    augment = crop_augmentation(config.data, share_across_views=False)
    pairs = pair_source(
        train_source,
        seed=config.seed,
        positive_fraction=config.pairs.positive_fraction,
        num_pairs=config.pairs.num_pairs or None,
        pose_candidates=config.pairs.pose_candidates,
        cache_path=os.path.join(workdir, "train_identity_index.npz"),
    )
    return make_loader(
        pairs,
        batch_size=config.data.batch_size // jax.process_count(),
        seed=config.seed,
        augment=augment,
        features=PAIR_FEATURES,
    )


def _metadata(config, **extra) -> dict:
    return {"recipe": "siamese", "variant": config.variant, **extra}


def train_and_evaluate(config, workdir) -> dict:
    """Trains on pairs (resuming from ``workdir`` if a checkpoint is there), then evaluates on
    the test split and writes ``workdir/metrics.json``. Returns the metrics."""
    model3d = morphable.to_device(load_model(config.model3d))
    builder, metadata = datasets.prepare_dataset(config)
    table = datasets.train_label_map(metadata)
    # Recorded in the config saved beside the checkpoints, so a predictor can rebuild the
    # network without the dataset.
    config.model.num_classes = datasets.num_train_classes(metadata)
    net = create_network(config, model3d, num_classes=config.model.num_classes)
    train_source = builder.as_data_source("train")
    test_source, test_metadata = _test_split(config, builder, metadata)
    mean_identity = datasets.mean_identity_coeffs(train_source)
    os.makedirs(workdir, exist_ok=True)

    def train_data():
        loader = _pair_loader(config, train_source, workdir)
        return datasets.RelabelledBatches(loader, table, datasets.PAIR_LABELS)

    results: dict = {}

    def eval_fn(state, step):
        variables = eval_variables(state)
        results.clear()
        results.update(
            evaluate_split(
                net, variables, model3d, test_source, test_metadata, config, mean_identity
            )
        )
        return {
            k: v for k, v in results.items() if isinstance(v, float) and not k.startswith("num_")
        }

    run_training(
        config,
        workdir,
        init_fn=networks.make_init_fn(net, model3d, config.data.image_size),
        loss_fn=make_loss_fn(net, model3d, config),
        train_data=train_data,
        eval_fn=eval_fn,
    )
    if jax.process_index() == 0:
        evaluation.write_metrics(workdir, results, metadata=_metadata(config))
    return dict(results)


def restore(config, workdir):
    """``(net, variables, model3d, step)`` of the latest checkpoint in ``workdir`` (EMA
    parameters when the run kept them)."""
    return networks.restore(config, workdir, create_network)


def evaluate(config, workdir) -> dict:
    """Evaluates the latest checkpoint in ``workdir`` on the test split; writes metrics.json."""
    net, variables, model3d, step = restore(config, workdir)
    builder, metadata = datasets.prepare_dataset(config)
    mean_identity = datasets.mean_identity_coeffs(builder.as_data_source("train"))
    test_source, test_metadata = _test_split(config, builder, metadata)
    results = evaluate_split(
        net, variables, model3d, test_source, test_metadata, config, mean_identity
    )
    evaluation.write_metrics(workdir, results, metadata=_metadata(config, step=step))
    return results


def load_predictor(config, workdir):
    """A function from face crops ``[B, S, S, 3]`` uint8 to numpy predictions, and the model.

    Returns ``(predict, model3d)``; ``predict(images)`` gives the arrays of
    :func:`facejax.recipes.photos.predictor_outputs` (what ``facejax reconstruct`` writes), as
    numpy, with the identity coefficients ``[B, Ki]`` as the ``embedding``.
    """
    net, variables, model3d, _ = restore(config, workdir)

    @jax.jit
    def forward(variables, images):
        out = net.apply(variables, cast_images(images, config.precision), model3d, train=False)
        return photos.predictor_outputs(
            model3d,
            shape=out.shape,
            identity_shape=out.identity_shape,
            landmarks_2d=out.landmarks_2d,
            pose=out.pose,
            embedding=out.identity_coeffs,
        )

    def predict(images):
        return jax.tree.map(np.asarray, forward(variables, np.asarray(images)))

    return predict, model3d
