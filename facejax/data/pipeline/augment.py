"""Augmentation that keeps labels right: random crop and scale, horizontal flip, colour jitter.

One example at a time, numpy only, randomness from the ``np.random.Generator`` that grain's
``random_map`` hands over (seeded from the loader seed and the example's position, so a resumed
loader redraws the same augmentation). Every feature of an example is either transformed with the
image or known not to change:

=========================================  ===================  ===============================
feature                                    crop and scale       flip
=========================================  ===================  ===============================
``image [H, W, 3]``                        bilinear warp        columns reversed; then jitter
``mask [H, W(, 1)]``                       bilinear warp        columns reversed
``landmarks``, ``landmarks_3d [68, 2]``    same affine          ``x -> W - x``, iBUG permutation
``landmarks_depth [68]``                   times the zoom       permutation
``landmark_visibility [68]``               unchanged            permutation
``crop_transform [2, 3]``                  composed             composed (a reflection)
``camera_scale []``                        times the zoom       unchanged
``camera_translation [2]``                 same affine          ``x -> W - x``
``pose [3]`` (either Euler convention)     unchanged            ``(pitch, -yaw, -roll)``
``sh_coeffs [9, 3]`` (camera frame)        unchanged            x-odd coefficients negated
=========================================  ===================  ===============================

Landmarks whose flag (``has_landmarks``, ``has_landmarks_3d``) is False stay zeros. Text, integer
and bool features of at most one dimension (labels, names, flags, indices) pass through, as do
the 3DMM coefficients and source-image quantities in :data:`PASSTHROUGH` and any name listed in
``AugmentConfig.passthrough``. Any other feature is an error: an unknown label is never carried
through a flip unchanged by accident. Morphable-model coefficients describe the *unflipped*
face (see facejax.data.pipeline.flip); each augmented view gets ``flipped`` (bool) so a loss can
mirror the decoded shape.

**Views.** An example with ``image`` is one view. A pair (``image_a``, ``image_b``, from
facejax.data.pipeline.pairs or frame_pairs) has one view per suffix: ``landmarks_a`` goes with
``image_a``. Views draw their own augmentation unless ``share_across_views`` (for frame pairs
whose motion between the frames must be kept).

**Output dtype.** ``image_dtype="uint8"`` rounds and clips back to uint8 (the stored format,
smallest batches); ``"float32"`` returns ``[0, 1]`` floats without the rounding.
"""

from __future__ import annotations

import dataclasses

import numpy as np

from facejax.data.pipeline import affine, color, flip

IMAGE_DTYPES = ("uint8", "float32")

# Features in crop pixels whose flag says whether they hold anything.
LANDMARK_FLAGS = {"landmarks": "has_landmarks", "landmarks_3d": "has_landmarks_3d"}

# Float features that no crop, scale or flip of the crop changes: 3DMM coefficients (of the
# unflipped face, see ``flipped``), the source image's pose and box, scan quantities.
PASSTHROUGH = frozenset(
    {
        "pose_params",
        "shape_params",
        "identity_coeffs",
        "expression_coeffs",
        "albedo_coeffs",
        "expression_params",
        "texture_params",
        "face_box",
        "scan_landmarks",
    }
)

_GEOMETRIC = frozenset(
    {
        "image",
        "mask",
        *LANDMARK_FLAGS,
        "landmarks_depth",
        "landmark_visibility",
        "crop_transform",
        "camera_scale",
        "camera_translation",
        "camera_focal",
        "camera_principal_point",
        "translation",
        "pose",
        "sh_coeffs",
    }
)


@dataclasses.dataclass(frozen=True)
class AugmentConfig:
    """Training-time augmentation (pass ``augment=None`` to the loader for evaluation).

    Attributes:
      crop_scale: ``(low, high)`` range of the zoom about the crop centre (``> 1`` enlarges the
        face); ``(1, 1)`` turns scaling off.
      max_shift: largest shift along each axis, as a fraction of the crop size (``0`` for none).
      flip_prob: probability of a horizontal flip.
      color_jitter: strength ``s`` of brightness, contrast and saturation jitter: factors in
        ``[1 - s, 1 + s]`` (``0`` for none).
      image_dtype: ``"uint8"`` (rounded, as stored) or ``"float32"`` (in ``[0, 1]``).
      share_across_views: one draw for all views of a pair (frame pairs), else one per view.
      passthrough: further float features that do not change with the image.
    """

    crop_scale: tuple[float, float] = (0.9, 1.1)
    max_shift: float = 0.05
    flip_prob: float = 0.5
    color_jitter: float = 0.2
    image_dtype: str = "uint8"
    share_across_views: bool = False
    passthrough: tuple[str, ...] = ()

    def __post_init__(self):
        low, high = self.crop_scale
        if not 0 < low <= high:
            raise ValueError(f"AugmentConfig: need 0 < crop_scale[0] <= [1], got {self.crop_scale}")
        if not 0 <= self.max_shift < 0.5:
            raise ValueError(f"AugmentConfig: max_shift must be in [0, 0.5), got {self.max_shift}")
        if not 0 <= self.flip_prob <= 1:
            raise ValueError(f"AugmentConfig: flip_prob must be in [0, 1], got {self.flip_prob}")
        if not 0 <= self.color_jitter < 1:
            raise ValueError(
                f"AugmentConfig: color_jitter must be in [0, 1), got {self.color_jitter}"
            )
        if self.image_dtype not in IMAGE_DTYPES:
            raise ValueError(
                f"AugmentConfig: image_dtype must be one of {IMAGE_DTYPES}, got "
                f"{self.image_dtype!r}"
            )
        object.__setattr__(self, "crop_scale", (float(low), float(high)))
        object.__setattr__(self, "passthrough", tuple(self.passthrough))


@dataclasses.dataclass(frozen=True)
class ViewDraw:
    """The random choices for one view: zoom, shift (fraction of the size), flip, jitter."""

    zoom: float
    shift: tuple[float, float]
    flip: bool
    jitter: np.ndarray | None


def draw(rng: np.random.Generator, config: AugmentConfig) -> ViewDraw:
    """Draws one view's augmentation; always the same number of draws, whatever the config."""
    zoom = float(rng.uniform(*config.crop_scale))
    shift = rng.uniform(-config.max_shift, config.max_shift, size=2)
    do_flip = bool(rng.random() < config.flip_prob)
    jitter = color.jitter_factors(rng, config.color_jitter)
    return ViewDraw(
        zoom=zoom,
        shift=(float(shift[0]), float(shift[1])),
        flip=do_flip,
        jitter=jitter if config.color_jitter > 0 else None,
    )


def view_suffixes(example: dict) -> list[str]:
    """``[""]`` for an example with ``image``; ``["_a", "_b", ...]`` for ``image_a``, ..."""
    if "image" in example:
        return [""]
    suffixes = sorted(
        key[len("image") :]
        for key, value in example.items()
        if key.startswith("image_") and np.ndim(value) == 3
    )
    if not suffixes:
        raise ValueError(
            f"augment: the example has no 'image' (or 'image_a', 'image_b', ...) feature, only "
            f"{sorted(example)}; for clips, sample frames with frame_pair_source first"
        )
    return suffixes


def _restore_dtype(warped: np.ndarray, dtype) -> np.ndarray:
    if dtype == np.bool_:
        return warped >= 0.5
    if np.issubdtype(dtype, np.integer):
        info = np.iinfo(dtype)
        return np.clip(np.rint(warped), info.min, info.max).astype(dtype)
    return warped.astype(dtype)


def _transform_field(name, value, view: dict, d: ViewDraw, matrix, size, config):
    """The augmented value of feature ``name`` of one view (``view``: that view's features)."""
    height, width = size
    if name == "image":
        image = value if matrix is None else affine.warp_image(value, matrix)
        image = flip.flip_image(image) if d.flip else image
        if d.jitter is not None:
            image = color.color_jitter(image, d.jitter)
        if config.image_dtype == "float32":
            return (np.asarray(image, dtype=np.float32) / 255.0).astype(np.float32)
        return np.clip(np.rint(image), 0, 255).astype(np.uint8)
    if name == "mask":
        mask = value
        if matrix is not None:
            mask = _restore_dtype(affine.warp_image(value, matrix), value.dtype)
        return flip.flip_image(mask) if d.flip else mask
    if name in LANDMARK_FLAGS:
        points = value if matrix is None else affine.transform_points(value, matrix)
        points = flip.mirror_points(points, width) if d.flip else points
        flag = view.get(LANDMARK_FLAGS[name], True)
        return np.where(np.asarray(flag)[..., None, None], points, 0).astype(value.dtype)
    if name == "landmarks_depth":
        depth = value * np.asarray(d.zoom, dtype=value.dtype)
        return flip.mirror_per_landmark(depth, axis=-1) if d.flip else depth
    if name == "landmark_visibility":
        return flip.mirror_per_landmark(value, axis=-1) if d.flip else value
    if name == "crop_transform":
        transform = value if matrix is None else affine.compose_crop_transform(matrix, value)
        return flip.mirror_crop_transform(transform, width) if d.flip else transform
    if name == "camera_scale":
        return (value * np.asarray(d.zoom, dtype=value.dtype)).astype(value.dtype)
    if name == "camera_translation":
        translation = value if matrix is None else affine.transform_points(value, matrix)
        return flip.mirror_camera_translation(translation, width) if d.flip else translation
    if name == "camera_focal":  # a pinhole camera: the zoom scales the focal lengths
        return (value * np.asarray(d.zoom, dtype=value.dtype)).astype(value.dtype)
    if name == "camera_principal_point":  # ... and moves the principal point like a pixel
        point = value if matrix is None else affine.transform_points(value, matrix)
        return flip.mirror_camera_translation(point, width) if d.flip else point
    if name == "translation":  # camera-frame translation (mm): a flip mirrors its x
        if not d.flip:
            return value
        return (value * np.asarray([-1.0, 1.0, 1.0], dtype=value.dtype)).astype(value.dtype)
    if name == "pose":
        return flip.mirror_pose(value) if d.flip else value
    if name == "sh_coeffs":
        return flip.mirror_sh_coeffs(value) if d.flip else value
    raise AssertionError(name)


def _is_passthrough(name: str, value, config: AugmentConfig) -> bool:
    if name in PASSTHROUGH or name in config.passthrough:
        return True
    if isinstance(value, bytes | str):
        return True
    value = np.asarray(value)
    return value.dtype.kind in "SUObiu" and value.ndim <= 1


def _check_passthrough(name, key, value, config):
    if not _is_passthrough(name, value, config):
        shape, dtype = np.shape(value), np.asarray(value).dtype
        raise ValueError(
            f"augment: feature {key!r} ({shape}, {dtype}) is not known to augmentation; list it "
            f"in AugmentConfig(passthrough=...) if a crop, scale or flip of the image leaves it "
            f"unchanged, or drop it with make_loader(features=...). Clips: sample frames with "
            f"frame_pair_source first"
        )


def augment_example(example: dict, rng: np.random.Generator, config: AugmentConfig) -> dict:
    """Augments one example (or each view of a pair), keeping every label consistent.

    Args:
      example: dict of numpy arrays / bytes with the features of facejax.data.features (one view
        ``image``; or views ``image_a``, ``image_b`` with suffixed features).
      rng: the generator grain's ``random_map`` passes.
      config: what to draw.

    Returns:
      A new dict with the same features (transformed as in the module table) plus ``flipped``
      (``flipped_a``, ...) bool per view.
    """
    suffixes = view_suffixes(example)
    shared_draw = draw(rng, config) if config.share_across_views else None
    out = {}
    owner = {}
    for key in example:
        for suffix in suffixes:
            if suffix == "" or (key.endswith(suffix) and len(key) > len(suffix)):
                owner[key] = suffix
                break
    for suffix in suffixes:
        view = {k[: len(k) - len(suffix)]: v for k, v in example.items() if owner.get(k) == suffix}
        image = np.asarray(view["image"])
        if image.ndim != 3:
            raise ValueError(f"augment: image{suffix} must be [H, W, C], got {image.shape}")
        d = shared_draw or draw(rng, config)
        height, width = image.shape[:2]
        matrix = None
        if d.zoom != 1.0 or d.shift != (0.0, 0.0):
            shift = (d.shift[0] * width, d.shift[1] * height)
            matrix = affine.affine_matrix(d.zoom, shift, width, height)
        for name, value in view.items():
            key = name + suffix
            if name in _GEOMETRIC:
                out[key] = _transform_field(
                    name, np.asarray(value), view, d, matrix, (height, width), config
                )
            elif name == "flipped":
                out[key] = np.bool_(bool(value) != d.flip)
            else:
                _check_passthrough(name, key, value, config)
                out[key] = value
        out.setdefault("flipped" + suffix, np.bool_(d.flip))
    for key, value in example.items():
        if key not in owner:
            if key in _GEOMETRIC:
                raise ValueError(f"augment: feature {key!r} belongs to no image view")
            _check_passthrough(key, key, value, config)
            out[key] = value
    return out


def make_augment_fn(config: AugmentConfig):
    """``fn(example, rng) -> example`` for grain's ``random_map``."""

    def augment(example, rng):
        return augment_example(example, rng, config)

    return augment
