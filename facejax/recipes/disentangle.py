"""Liu et al. (CVPR 2018), "Disentangling Features in 3D Face Shapes for Joint Face
Reconstruction and Recognition": the recipe.

An encoder gives an identity latent and a residual latent; two decoders give shape offsets;
the face is mean + identity part + residual part (``facejax.nn.DisentangledFaceModel``). The
joint loss weights, per image:

* identification of the training subject from the identity latent (softmax, or an ArcFace /
  CosFace margin softmax);
* the identity shape against the subject's neutral shape (identity coefficients only);
* the full shape against the image's shape (identity and expression);
* 2D landmark reprojection, weighted by landmark visibility.

Targets come from the dataset's coefficients (exact for the synthetic faces, fitted for real
identity folders) decoded with the same morphable model. Evaluation on the held-out people:
vertex RMSE (mm) after similarity alignment of the identity and full shapes, 68-landmark NME,
and recognition from the identity feature (LFW-protocol verification, rank-1 identification).
"""

from __future__ import annotations

import functools

import jax
import jax.numpy as jnp
import numpy as np

from facejax import evaluation, morphable, nn
from facejax.formats import load_model
from facejax.recipes import datasets, held_out_metrics, joint_losses, networks, photos
from facejax.recipes.joint_losses import identification_loss, make_shape_loss, target_shapes
from facejax.train import (
    cast_images,
    eval_variables,
    run_training,
)

TRAIN_FEATURES = (
    "image",
    "identity",
    "identity_coeffs",
    "expression_coeffs",
    "landmarks",
    "landmark_visibility",
)
EVAL_FEATURES = TRAIN_FEATURES + ("image_path",)


def create_network(config, model3d: morphable.MorphableModel, num_classes: int):
    """The disentangled encoder-decoder of ``config.model`` for ``num_classes`` subjects."""
    m = config.model
    return nn.DisentangledFaceModel(
        networks.create_encoder(config),
        identity_dim=m.identity_dim or model3d.num_identity,
        residual_dim=m.residual_dim or model3d.num_expression,
        num_classes=num_classes,
        decoder=m.decoder,
        init_from_model=m.init_from_model,
        entangled=m.entangled,
    )


def make_loss_fn(net, model3d, config):
    """The joint loss ``loss_fn(params, batch_stats, batch, rng, train=True)`` of facejax.train."""
    weights = config.loss
    image_size = config.data.image_size
    shape_loss = make_shape_loss(model3d, weights)

    def loss_fn(params, batch_stats, batch, rng, train=True):
        del rng  # no dropout or sampling in this model
        images = cast_images(batch["image"], config.precision)
        variables = {"params": params, "batch_stats": batch_stats}
        if train:
            outputs, updates = net.apply(
                variables, images, model3d, train=True, mutable=["batch_stats"]
            )
            new_batch_stats = updates["batch_stats"]
        else:
            outputs, new_batch_stats = (
                net.apply(variables, images, model3d, train=False),
                batch_stats,
            )
        neutral, full = target_shapes(model3d, batch["identity_coeffs"], batch["expression_coeffs"])
        terms = {
            "identification": identification_loss(
                outputs,
                batch["label"],
                weights.identification,
                scale=weights.margin_scale,
                margin=weights.margin,
            ),
            "identity_shape": shape_loss(outputs.identity_shape, neutral),
            "shape": shape_loss(outputs.shape, full),
            "landmarks": joint_losses.landmark_percent_loss(
                outputs.landmarks_2d, batch["landmarks"], batch["landmark_visibility"], image_size
            ),
        }
        total = sum(weights[f"w_{name}"] * jnp.mean(value) for name, value in terms.items())
        metrics = {f"loss_{name}": jnp.mean(value) for name, value in terms.items()}
        metrics["train_accuracy"] = jnp.mean(
            (jnp.argmax(outputs.logits, axis=-1) == batch["label"]).astype(jnp.float32)
        )
        return total, (metrics, new_batch_stats)

    return loss_fn


def predict(
    net, variables, model3d, images: np.ndarray, *, precision: str, batch_size: int, feature: str
):
    """Identity features (``feature``: ``"latent"`` or ``"shape"``), identity shapes, shapes
    and 2D landmarks of ``images`` (numpy), in fixed-size jit-compiled batches (the last one
    padded, so one compilation serves the whole split)."""
    from facejax.data.fixed_batches import map_fixed_batches

    @functools.partial(jax.jit, static_argnames="kind")
    def forward(variables, images, kind):
        outputs = net.apply(variables, cast_images(images, precision), model3d, train=False)
        return (
            nn.identity_feature(outputs, kind),
            outputs.identity_shape,
            outputs.shape,
            outputs.landmarks_2d,
        )

    return list(
        map_fixed_batches(lambda batch: forward(variables, batch, feature), images, batch_size)
    )


def evaluate_split(net, variables, model3d, source, metadata, config, mean_identity) -> dict:
    """Metrics of the held-out people, each beside its trivial baseline.

    Shape RMSE (mm, after similarity alignment) of the identity (neutral) and full shapes over
    the whole head and the face region, beside the mean face's (``mean_identity`` decoded, with
    a neutral expression) and the ratio; landmark NME; verification (10 folds) and rank-1
    identification from the identity feature, beside chance. A TAR the impostor pairs cannot
    resolve is null, with the reason in ``verification_notes``.
    """
    data = datasets.read_split(source, EVAL_FEATURES)
    features, identity_shape, shape, landmarks = predict(
        net, variables, model3d, data["image"], precision=config.precision,
        batch_size=config.eval.batch_size, feature=config.eval.feature,
    )  # fmt: skip
    metrics = held_out_metrics.reconstruction_metrics(
        model3d, identity_shape, shape, landmarks, data, mean_identity
    )
    metrics.update(held_out_metrics.recognition_metrics(features, data, metadata))
    return metrics


def train_and_evaluate(config, workdir) -> dict:
    """Trains (resuming from ``workdir`` if a checkpoint is there), then evaluates on the
    test split and writes ``workdir/metrics.json``. Returns the metrics."""
    from facejax.data.pipeline import AugmentConfig, make_loader

    model3d = morphable.to_device(load_model(config.model3d))
    builder, metadata = datasets.prepare_dataset(config)
    table = datasets.train_label_map(metadata)
    # Recorded in the config saved beside the checkpoints, so a predictor can rebuild the
    # network without the dataset.
    config.model.num_classes = datasets.num_train_classes(metadata)
    net = create_network(config, model3d, num_classes=config.model.num_classes)
    train_source = builder.as_data_source("train")
    test_source = builder.as_data_source("test")
    mean_identity = datasets.mean_identity_coeffs(train_source)
    augment = None
    if config.data.color_jitter > 0:
        # Flips and crops would move the coefficients' shapes away from their targets.
        augment = AugmentConfig(
            crop_scale=(1.0, 1.0), max_shift=0.0, flip_prob=0.0,
            color_jitter=config.data.color_jitter,
        )  # fmt: skip

    def train_data():
        loader = make_loader(
            train_source,
            batch_size=config.data.batch_size // jax.process_count(),
            seed=config.seed,
            augment=augment,
            features=TRAIN_FEATURES,
        )
        return datasets.RelabelledBatches(loader, table)

    results: dict = {}

    def eval_fn(state, step):
        variables = eval_variables(state)
        results.clear()
        results.update(
            evaluate_split(net, variables, model3d, test_source, metadata, config, mean_identity)
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
        evaluation.write_metrics(
            workdir, results, metadata={"recipe": "disentangle", "variant": config.variant}
        )
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
    results = evaluate_split(
        net, variables, model3d, builder.as_data_source("test"), metadata, config, mean_identity
    )
    evaluation.write_metrics(
        workdir,
        results,
        metadata={"recipe": "disentangle", "variant": config.variant, "step": step},
    )
    return results


def load_predictor(config, workdir):
    """A function from face crops ``[B, S, S, 3]`` uint8 to numpy predictions, and the model.

    Returns ``(predict, model3d)``; ``predict(images)`` gives ``shape`` and ``identity_shape``
    ``[B, V, 3]`` (mm, model frame), ``screen_vertices`` ``[B, V, 3]`` (crop pixels and
    depth), ``landmarks_2d`` ``[B, 68, 2]`` (crop pixels), ``landmarks_3d`` ``[B, 68, 3]`` (mm,
    model frame), ``angles`` ``[B, 3]`` (radians, ``"xyz"``), ``scale`` ``[B]`` (px/mm) and
    ``embedding`` ``[B, D]`` (the identity feature).
    """
    net, variables, model3d, _ = restore(config, workdir)
    feature = config.eval.feature

    @jax.jit
    def forward(variables, images):
        out = net.apply(variables, cast_images(images, config.precision), model3d, train=False)
        return photos.predictor_outputs(
            model3d,
            shape=out.shape,
            identity_shape=out.identity_shape,
            landmarks_2d=out.landmarks_2d,
            pose=out.pose,
            embedding=nn.identity_feature(out, feature),
        )

    def predict(images):
        return jax.tree.map(np.asarray, forward(variables, np.asarray(images)))

    return predict, model3d
