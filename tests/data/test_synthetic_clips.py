"""facejax_synthetic_clips (tiny config): smooth motion, fixed scene, per-frame ground truth."""

import sys

import jax
import jax.numpy as jnp
import numpy as np
import pytest

# Decoded against stored landmarks, both float32 (see test_synthetic_faces).
LANDMARK_ATOL_PX = 1e-4
# Mean absolute difference (uint8 levels) of background pixels between two frames of one clip:
# only the per-frame pixel noise (std <= 0.02 * 255 = 5.1) and the moving face's blurred edge.
SAME_BACKGROUND_MAX_DIFF = 6.0
ANGLE_ATOL_DEG = 1e-3


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    from facejax.data.builders.synthetic_clips import SyntheticClips

    builder = SyntheticClips(
        config="tiny", data_dir=str(tmp_path_factory.mktemp("clips")), file_format="array_record"
    )
    builder.download_and_prepare()
    return builder


@pytest.fixture(scope="module")
def clips(built):
    source = built.as_data_source(split="train")
    return sorted((source[i] for i in range(len(source))), key=lambda e: e["clip_name"])


def test_layout_and_splits(built, clips):
    config = built.builder_config
    test = built.as_data_source(split="test")
    assert (len(clips), len(test)) == (4 * 2, 2 * 2)
    train_people = {c["identity"] for c in clips}
    test_people = {test[i]["identity"] for i in range(len(test))}
    assert not train_people & test_people
    frames, size = config.num_frames, config.image_size
    for clip in clips:
        assert clip["frames"].shape == (frames, size, size, 3) and clip["frames"].dtype == np.uint8
        assert clip["mask"].shape == (frames, size, size) and clip["mask"].dtype == bool
        assert clip["landmarks"].shape == (frames, 68, 2)
        assert clip["pose"].shape == (frames, 3) and clip["sh_coeffs"].shape == (frames, 9, 3)
        assert clip["identity_coeffs"].ndim == 1 and clip["albedo_coeffs"].ndim == 1
        np.testing.assert_array_equal(clip["frame_indices"], np.arange(frames))
        name = clip["clip_name"].decode()
        assert [p.decode() for p in clip["frame_paths"]] == [f"{name}/{t:03d}" for t in range(4)]
        assert clip["has_landmarks"].all()
    assert "tensorflow" not in sys.modules


def test_motion_is_smooth_and_moves(built, clips):
    config = built.builder_config
    bound = config.max_frame_step_deg()
    largest = np.zeros(3)
    for clip in clips:
        step = np.abs(np.diff(np.rad2deg(clip["pose"]), axis=0))
        assert np.all(step <= bound + ANGLE_ATOL_DEG), (clip["clip_name"], step, bound)
        largest = np.maximum(largest, step.max(axis=0))
        jaw = list(built.model.expression_names).index("jaw_open")
        assert clip["expression_coeffs"][:, jaw].min() >= 0.0
    assert np.all(largest > 0.1 * bound), "the heads should turn"


def test_scene_is_fixed_within_a_clip(clips):
    for clip in clips:
        for name in ("sh_coeffs", "camera_focal", "camera_principal_point"):
            np.testing.assert_array_equal(
                clip[name], np.broadcast_to(clip[name][0], clip[name].shape)
            )
        frames = clip["frames"].astype(np.float64)
        background = ~clip["mask"][0] & ~clip["mask"][-1]
        diff = np.abs(frames[0] - frames[-1])[background].mean()
        assert diff < SAME_BACKGROUND_MAX_DIFF, (clip["clip_name"], diff)
        assert not np.array_equal(clip["frames"][0], clip["frames"][-1])
    # Two clips of one person: the same person, another scene.
    a, b = clips[0], clips[1]
    assert a["identity"] == b["identity"]
    np.testing.assert_array_equal(a["identity_coeffs"], b["identity_coeffs"])
    np.testing.assert_array_equal(a["albedo_coeffs"], b["albedo_coeffs"])
    assert not np.array_equal(a["sh_coeffs"], b["sh_coeffs"])
    background = ~a["mask"][0] & ~b["mask"][0]
    other = np.abs(a["frames"][0].astype(np.float64) - b["frames"][0])[background].mean()
    assert other > 2 * SAME_BACKGROUND_MAX_DIFF, other


def test_every_frame_decodes_to_its_landmarks(built, clips):
    from facejax import morphable

    model = built.model
    assert clips[0]["model_fingerprint"].decode() == morphable.fingerprint(model)

    @jax.jit
    def landmarks(identity, albedo, expression, rotation, translation, focal, centre):
        params = morphable.neutral_params(model).replace(
            identity=identity,
            albedo=albedo,
            expression=expression,
            rotation=rotation,
            translation=translation,
        )
        camera = params.camera.replace(focal=focal, principal_point=centre)
        return morphable.decode(model, params.replace(camera=camera)).landmarks_2d[:, :2]

    per_frame = jax.vmap(landmarks, in_axes=(None, None, 0, 0, 0, 0, 0))
    for clip in clips:
        decoded = per_frame(
            clip["identity_coeffs"],
            clip["albedo_coeffs"],
            clip["expression_coeffs"],
            clip["pose"],
            clip["translation"],
            clip["camera_focal"],
            clip["camera_principal_point"],
        )
        np.testing.assert_allclose(decoded, clip["landmarks"], atol=LANDMARK_ATOL_PX)


def test_smoothstep_keyframes():
    from facejax.data.builders.synthetic_clips import interpolate_keyframes, smoothstep_weights

    segment, weight = smoothstep_weights(7, 3)
    keys = jnp.asarray([[0.0], [1.0], [3.0]])
    values = np.asarray(interpolate_keyframes(keys, segment, weight))[:, 0]
    # Frames 0, 3, 6 sit on the keyframes; frames between follow 3u^2 - 2u^3.
    np.testing.assert_allclose(values[[0, 3, 6]], [0.0, 1.0, 3.0], atol=1e-6)
    u = 1.0 / 3.0
    np.testing.assert_allclose(values[1], 3 * u**2 - 2 * u**3, atol=1e-6)
    np.testing.assert_allclose(values[5], 1.0 + 2.0 * (3 * 4 * u**2 - 2 * 8 * u**3), atol=1e-6)


def test_bad_clip_options_are_refused():
    from facejax.data.builders.synthetic_clips import SyntheticClipsConfig

    with pytest.raises(ValueError, match="num_keyframes must be in"):
        SyntheticClipsConfig(name="x", num_frames=4, num_keyframes=5)
    with pytest.raises(ValueError, match="num_frames must be >= 2"):
        SyntheticClipsConfig(name="x", num_frames=1, num_keyframes=2)


def test_frontal_clips_keep_the_head_within_45_degrees():
    from facejax.data.builders.synthetic_clips import SyntheticClips, sample_pose_keyframes

    configs = {c.name: c for c in SyntheticClips.BUILDER_CONFIGS}
    for name, train_people in (("small_frontal", 1500), ("medium_frontal", 4000)):
        c = configs[name]
        people = (c.num_train_identities, c.num_test_identities, c.clips_per_identity)
        assert people == (train_people, 200, 1) and c.image_size == 64, name
        assert c.scene == configs["small_frontal"].scene, name
    config = configs["small_frontal"]
    keys = jax.vmap(
        lambda k: sample_pose_keyframes(k, config.scene, config.num_keyframes, config.max_step_deg)
    )(jax.random.split(jax.random.key(0), 400))
    # Frames lie between their keyframes (smoothstep weights in [0, 1]): keyframes bound them.
    yaw = np.abs(np.rad2deg(np.asarray(keys[..., 1])))
    assert yaw.max() <= 45.0 + ANGLE_ATOL_DEG
    assert yaw.max() > 40.0  # the range is used, not collapsed
