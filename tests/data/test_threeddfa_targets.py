"""3DDFA fits decoded with the user's BFM and checked against the landmarks stored beside them.

Fixtures in the real layouts: 3DDFA_V2's model pickles and face3d's ``BFM.mat`` (micrometres,
their index bases), and 300W-LP / AFLW2000-3D ``.mat`` files written with scipy (``[1, 7]``
``Pose_Para``, ``[199, 1]`` ``Shape_Para``, ``[29, 1]`` ``Exp_Para``, 1-based ``pt2d [2, 68]`` /
``pt3d_68 [3, 68]``) whose landmarks are 3DDFA's own projection (float64 numpy reference)."""

import numpy as np
import pytest

from facejax.data.builders import threeddfa_targets
from facejax.data.builders.threeddfa_targets import check_decoded_landmarks
from facejax.formats import load_model
from facejax.formats.threeddfa import load_3ddfa
from facejax.formats.threeddfa_params import coefficients_from_3ddfa

SIZE = 120  # source image side
# float32 model and camera against the float64 reference, landmarks ~60 px from the origin.
ATOL_PX = 2e-3
POSE = np.array([0.1, 0.4, -0.15, 61.0, 57.0, 3.0, 4e-4])  # a face ~64 px wide


def write_fit(path, kit, reference, shape, expression, *, field="pt2d", shift=0.0):
    kit.write_3ddfa_fit(path, reference, shape, expression, POSE, SIZE, field=field, shift=shift)


@pytest.fixture
def v2_model(tmp_path, kit):
    """3DDFA_V2's 40/10-component model and its reference quantities."""
    reference = kit.write_3ddfa_model(tmp_path / "configs")
    return load_model(str(tmp_path / "configs" / "bfm_noneck_v3.pkl")), reference


def test_3ddfa_v2_model_decodes_300w_lp_pt2d(tmp_path, kit, v2_model):
    model, reference = v2_model
    shape, expression = kit.threeddfa_params(reference, 1, tail=False)
    write_fit(tmp_path / "AFW_1_1_0.mat", kit, reference, shape, expression)
    errors = check_decoded_landmarks(model, tmp_path / "AFW_1_1_0.mat")
    assert errors.shape == (68,)
    np.testing.assert_array_less(errors, ATOL_PX)
    # In the model's units: Shape_Para over 3DDFA_V2's training std (param_mean_std file).
    identity, expr = coefficients_from_3ddfa(model, shape, expression)
    np.testing.assert_allclose(identity, shape[:40] / reference["shape_std"], rtol=1e-6)
    np.testing.assert_allclose(expr, expression[:10] / reference["exp_std"], rtol=1e-6)


def test_the_coefficients_do_not_depend_on_the_std_file(tmp_path, kit, v2_model):
    # Without param_mean_std the model's std is 1e-3 (raw units): another coefficient scale,
    # the same decoded face.
    _, reference = v2_model
    (tmp_path / "configs" / "param_mean_std_62d_120x120.pkl").unlink()
    with pytest.warns(UserWarning, match="raw alpha/beta"):
        raw_model = load_3ddfa(tmp_path / "configs" / "bfm_noneck_v3.pkl")
    shape, expression = kit.threeddfa_params(reference, 2, tail=False)
    write_fit(tmp_path / "a.mat", kit, reference, shape, expression)
    np.testing.assert_array_less(check_decoded_landmarks(raw_model, tmp_path / "a.mat"), ATOL_PX)


def test_truncated_model_drops_the_remaining_components(tmp_path, kit, v2_model):
    # 300W-LP's fits use all 199/29 components; 3DDFA_V2 keeps 40/10. The landmarks written
    # here come from the 40/10 the reference has, so the check still passes: the dropped tail
    # is ignored, not misread as other components.
    model, reference = v2_model
    shape, expression = kit.threeddfa_params(reference, 3, tail=True)
    write_fit(tmp_path / "a.mat", kit, reference, shape, expression)
    np.testing.assert_array_less(check_decoded_landmarks(model, tmp_path / "a.mat"), ATOL_PX)


@pytest.mark.parametrize("field", ["pt2d", "pt3d_68"])
def test_face3d_bfm_decodes_every_component(tmp_path, kit, field):
    reference = kit.write_face3d_bfm(tmp_path / "BFM" / "BFM.mat")
    model = load_model(str(tmp_path / "BFM" / "BFM.mat"))
    assert (model.num_identity, model.num_expression) == (199, 29)
    shape, expression = kit.threeddfa_params(reference, 4)
    write_fit(tmp_path / "image00002.mat", kit, reference, shape, expression, field=field)
    errors = check_decoded_landmarks(model, tmp_path / "image00002.mat")
    np.testing.assert_array_less(errors, ATOL_PX)


def _std_not_divided(model, shape, expression):
    return shape[: model.num_identity] * 1e-3, expression[: model.num_expression] * 1e-3


def _micrometres_as_millimetres(model, shape, expression):
    identity, expr = coefficients_from_3ddfa(model, shape, expression)
    return identity * 1e3, expr * 1e3


def _expression_ignored(model, shape, expression):
    identity, expr = coefficients_from_3ddfa(model, shape, expression)
    return identity, np.zeros_like(expr)


@pytest.mark.parametrize(
    "wrong", [_std_not_divided, _micrometres_as_millimetres, _expression_ignored]
)
def test_the_check_catches_a_wrong_conversion(tmp_path, kit, v2_model, monkeypatch, wrong):
    model, reference = v2_model
    shape, expression = kit.threeddfa_params(reference, 5, tail=False)
    write_fit(tmp_path / "a.mat", kit, reference, shape, expression)
    monkeypatch.setattr(threeddfa_targets, "coefficients_from_3ddfa", wrong)
    assert np.mean(check_decoded_landmarks(model, tmp_path / "a.mat")) > 0.5


def test_the_check_catches_a_one_pixel_index_base_mixup(tmp_path, kit, v2_model):
    # Landmarks written 0-based (one pixel too far up-left) are a pixel off in x and y.
    model, reference = v2_model
    shape, expression = kit.threeddfa_params(reference, 6, tail=False)
    write_fit(tmp_path / "a.mat", kit, reference, shape, expression, shift=-1.0)
    errors = check_decoded_landmarks(model, tmp_path / "a.mat")
    np.testing.assert_allclose(errors, np.sqrt(2.0), atol=ATOL_PX)


def test_models_without_landmarks_or_not_3ddfa_are_refused(tmp_path, kit, v2_model):
    _, reference = v2_model
    shape, expression = kit.threeddfa_params(reference, 7)
    write_fit(tmp_path / "a.mat", kit, reference, shape, expression)
    with pytest.raises(ValueError, match=r"'synthetic-small' is not a BFM 2009 / 3DDFA model"):
        check_decoded_landmarks(load_model("synthetic:small"), tmp_path / "a.mat")
    no_landmarks = load_3ddfa(tmp_path / "configs" / "bfm_noneck_v3.pkl", landmarks=False)
    with pytest.raises(ValueError, match=r"'3ddfa:bfm_noneck_v3' has 0 landmarks"):
        check_decoded_landmarks(no_landmarks, tmp_path / "a.mat")
