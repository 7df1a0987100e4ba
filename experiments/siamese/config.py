"""Luo, Tu and Xie: the Siamese 3DMM regressor with contrastive and identity losses.

Run (a variant after the colon; ``--set`` overrides any field):

    facejax train --config experiments/siamese/config.py:smoke --workdir /tmp/siamese
    facejax train --config experiments/siamese/config.py:small --workdir runs/siamese_small
    facejax train --config experiments/siamese/config.py:medium --workdir runs/siamese_medium
    facejax train --config experiments/siamese/config.py:full --workdir runs/siamese_full \\
        --set model3d=/data/3ddfa/BFM.mat --set data.manual_dir=/data/300W_LP \\
        --set eval.manual_dir=/data/AFLW2000
    facejax evaluate --workdir runs/siamese_small
    facejax reconstruct --workdir runs/siamese_small photo.jpg --out recon/

Variants:
  smoke: CPU, about a minute; the embedded small model, the tiny synthetic faces (built on
    the fly into the data dir if missing), a narrow spatial CNN.
  small: CPU, sized as the disentangle small (same images a step, same steps: about 17
    minutes of training on 2 quiet CPU cores, measured; README, *Speed*); the embedded model,
    the disentangle recipe's small benchmark: 64x64 synthetic faces ``small_frontal`` (the
    1,500 train / 200 test people x 4 images of ``small`` 1.1.0, head turned at most 45
    degrees), the spatial CNN; 16 pairs (32 images) a step, the images a step of the
    disentangle recipe's small variant.
  medium: CPU, the issue's larger configuration, as the disentangle recipe's medium: small
    with 4,000 training people (``medium_frontal``: 4,000 train / 200 test people x 4
    images, 64 px, |yaw| <= 45), twice the steps (8,000 of 16 pairs) and the keypoint CNN (the
    spatial CNN with 32 learned keypoints: experiments/siamese/README.md, *Positions as
    numbers*).
  full: GPU/TPU; ResNet-50 in bfloat16 at 112x112 on 300W-LP (the profile-synthesised views of
    one photo share an identity: cross-pose positives), evaluated on AFLW2000-3D. It needs
    ``--set model3d=<the user's 3DDFA BFM>`` (the model the datasets' ``identity_coeffs`` /
    ``expression_coeffs`` are expressed in, standard-deviation units) and ``data.manual_dir``
    / ``eval.manual_dir`` (the user's copies of 300W-LP and AFLW2000-3D; see
    docs/datasets.md). Not run in this repository.

``data.batch_size`` counts pairs: a step runs ``2 x batch_size`` images through the network.
``loss.margin`` is in the units of the contrastive code and distance: RMS coefficient
difference in standard deviations (``contrastive_on="coefficients"``, ``distance="euclidean"``;
two random people are about sqrt(2) = 1.41 apart), RMS vertex distance in mm at the mean
face's size (``"shape"``, ``"euclidean"``), or ``1 - cos`` in [0, 2] (``"cosine"``).
Ablation knobs (experiments/siamese/README.md): loss.w_contrastive, loss.w_identification.
Augmentation of the training images (off in every variant): data.zoom, data.max_shift,
data.color_jitter; no flips. Encoders: model.encoder (spatial_cnn, keypoint_cnn, small_cnn,
resnet18/34/50).
"""

import ml_collections

from facejax.train import default_config

VARIANTS = ("smoke", "small", "medium", "full")


def get_config(variant: str = "smoke") -> ml_collections.ConfigDict:
    if variant not in VARIANTS:
        raise ValueError(f"unknown variant {variant!r}; known: {', '.join(VARIANTS)}")
    config = default_config()
    with config.unlocked():
        config.recipe = "siamese"
        config.variant = variant
        config.model3d = "synthetic"
        config.data = ml_collections.ConfigDict(
            {
                "builder": "facejax_synthetic_faces",
                "config": "small",
                "data_dir": "",  # "" -> $FACEJAX_DATA_DIR or ~/.cache/facejax/datasets
                "manual_dir": "",  # real datasets: the user's local copy
                "image_size": 64,
                "batch_size": 16,  # pairs (2 images each)
                # Training augmentation, one draw per image (recipes/crop_augmentation.py): a
                # zoom in [1 - zoom, 1 + zoom], a shift up to max_shift of the side, colour
                # jitter. No label changes with a crop; no flips.
                "zoom": 0.0,
                "max_shift": 0.0,
                "color_jitter": 0.0,
            }
        )
        config.pairs = ml_collections.ConfigDict(
            {
                "positive_fraction": 0.5,
                "pose_candidates": 4,  # k: positives across poses; 1 = a uniform partner
                # Pair i is a pure function of (seed, i): a source longer than a run draws makes
                # every pair of the run a new one (0 -> one pair per training image, repeated
                # each epoch in a new order).
                "num_pairs": 1_000_000,
            }
        )
        config.model = ml_collections.ConfigDict(
            {
                "encoder": "spatial_cnn",  # or "small_cnn", "resnet18/34/50"
                "num_filters": 64,  # ResNets only
                "width": 32,  # small/spatial CNN: stage widths width x (1, 2, 4, 8)
                "hidden": (),  # hidden widths of the coefficient heads
                "num_keypoints": 32,  # keypoint_cnn only; >= 68 with loss.w_keypoints
                "num_classes": 0,  # set by training: the people of the training split
            }
        )
        config.loss = ml_collections.ConfigDict(
            {
                "contrastive_on": "coefficients",  # or "shape"
                "distance": "euclidean",  # or "cosine"
                "margin": 1.0,  # see the module docstring for its units
                "w_contrastive": 1.0,
                "identification": "softmax",  # or "arcface", "cosface"
                "margin_scale": 30.0,  # of a margin softmax
                "margin_softmax": 0.3,  # its angular / cosine margin
                "w_identification": 1.0,
                "w_params": 1.0,  # per squared standard deviation
                # As the disentangle recipe: translation and scale aligned away, face region
                # only (experiments/disentangle/README.md).
                "shape_loss": "scale_aligned",  # or "squared", "distance"
                "shape_region": "face",  # or "head"
                "w_identity_shape": 1.0,  # per mm^2
                "w_shape": 1.0,
                "w_landmarks": 1.0,  # squared % of the image side
                # keypoint_cnn's first 68 keypoints against the landmarks (same units)
                "w_keypoints": 0.0,
            }
        )
        config.eval = ml_collections.ConfigDict(
            {
                "batch_size": 128,
                # Another dataset's test split to evaluate on ("" -> the training dataset's).
                "builder": "",
                "config": "",
                "manual_dir": "",
            }
        )

    config.optimizer.learning_rate = 2e-3
    config.optimizer.warmup_steps = 50
    config.log_every = 25
    if variant == "smoke":
        config.model3d = "synthetic:small"
        config.data.config = "tiny"
        config.data.image_size = 32
        config.data.batch_size = 8
        config.model.width = 8
        config.num_steps = 60
        config.log_every = 10
        config.checkpoint_every = 30
        config.optimizer.warmup_steps = 10
        config.eval.batch_size = 32
    elif variant == "small":
        # The small benchmark of experiments/disentangle: the people of ``small`` 1.1.0 with the
        # head turned at most 45 degrees, so that the images show the face's shape. Same-person
        # yaw differences still reach 90 degrees (a quarter of the pairs differ by more than 45).
        config.data.config = "small_frontal"
        config.num_steps = 4000
        config.checkpoint_every = 1000
        config.eval_every = 0  # evaluated once, at the end
    elif variant == "medium":
        # The larger configuration of the disentangle recipe (its README, "medium"): more
        # people, so that the network learns shape rather than the people, and more steps.
        config.data.config = "medium_frontal"
        # Positions as numbers: 0.859 -> 0.745 of the mean face, AUC 0.714 -> 0.916 (3 seeds).
        config.model.encoder = "keypoint_cnn"
        config.num_steps = 8000
        config.checkpoint_every = 2000
        config.eval_every = 0
    else:  # full
        config.model3d = ""  # the user's 3DDFA BFM: --set model3d=...
        config.data.builder = "facejax_300w_lp"
        config.data.config = "default"
        config.data.image_size = 112
        config.data.batch_size = 128
        config.data.color_jitter = 0.2
        config.eval.builder = "facejax_aflw2000_3d"
        config.eval.config = "default"
        config.model.encoder = "resnet50"
        config.precision = "bfloat16"
        config.num_steps = 100_000
        config.optimizer.learning_rate = 1e-3
        config.optimizer.warmup_steps = 2000
        config.optimizer.ema_decay = 0.999
        config.loss.identification = "arcface"
        # The shape losses over every vertex: the 3DDFA and face3d models, the only ones
        # 300W-LP's parameters belong to, carry no face mask (bfm_noneck_v3 is itself the face
        # without neck and ears), and "face" stopped the run before its first step.
        config.loss.shape_region = "head"
        config.checkpoint_every = 5000
        config.eval_every = 5000
        config.checkpoint.keep_best = 1
        config.checkpoint.best_metric = "eval/landmark_nme_yaw_balanced"
        config.checkpoint.best_mode = "min"
    config.lock()
    return config
