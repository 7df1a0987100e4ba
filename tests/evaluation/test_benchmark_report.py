"""Benchmark reports: plots refuse blank or NaN data, the report names every excluded
prediction, predictions folders are read with their problems named."""

import json

import numpy as np
import pytest
from PIL import Image

from facejax.evaluation import markdown_report, plots, prediction_folders
from facejax.evaluation.benchmark_runs import BenchmarkRun, Excluded, protocol_module

from ..data.layouts import cap_mesh


def _varied(pixels) -> bool:
    pixels = np.asarray(pixels)
    return pixels.ndim == 3 and pixels.shape[-1] == 3 and float(pixels.std()) > 1.0


def _cap_mesh(n=12):
    """A face-sized cap (mm, z out) and its triangles."""
    return cap_mesh(n, n, width=120, height=160, top=40, curvature=300, counter_clockwise=False)


def test_curves_are_drawn_and_nan_or_empty_data_is_refused():
    far = np.linspace(0, 1, 20)
    assert _varied(plots.roc_plot({"a": (far, np.sqrt(far))}))
    assert _varied(
        plots.cumulative_error_plot({"a": np.random.default_rng(0).random(50)}, unit="mm")
    )
    with pytest.raises(ValueError, match="NaN or infinite"):
        plots.roc_plot({"a": (far, np.full(20, np.nan))})
    with pytest.raises(ValueError, match="no errors"):
        plots.cumulative_error_plot({}, unit="mm")
    with pytest.raises(ValueError, match="NaN or infinite"):
        plots.cumulative_error_plot({"a": [1.0, np.inf]}, unit="mm")
    with pytest.raises(ValueError, match="blank"):
        plots.check_not_blank(np.zeros((8, 8, 3), np.uint8), "test")


def test_heatmap_renders_on_the_mesh_and_checks_its_errors():
    vertices, triangles = _cap_mesh()
    errors = np.linalg.norm(vertices[:, :2], axis=1) / 10
    picture = plots.vertex_error_heatmap(vertices, triangles, errors, size=96)
    assert _varied(picture)
    with pytest.raises(ValueError, match="NaN or infinite"):
        plots.vertex_error_heatmap(vertices, triangles, np.full(len(vertices), np.nan))
    with pytest.raises(ValueError, match="vertices"):
        plots.vertex_error_heatmap(vertices, triangles, errors[:-1])


def test_report_names_every_excluded_prediction(tmp_path):
    run = BenchmarkRun(
        "aflw2000",
        {"nme_balanced": 0.03},
        num_expected=4,
        excluded=[
            Excluded("image00002", "missing", "no image00002.npy"),
            Excluded("image00004", "malformed", "image00004.npy: shape [3], expected 68x2"),
        ],
        errors={"AFLW2000-3D": np.array([0.01, 0.05])},
        error_unit="NME",
    )
    written = markdown_report.write_report(tmp_path, run, source="test", metadata={})
    text = (tmp_path / "report.md").read_text()
    assert "Scored 2 of 4" in text and "image00002 | missing" in text
    assert "image00004 | malformed" in text and "cumulative_error.png" in text
    saved = json.loads((tmp_path / "metrics.json").read_text())
    assert saved["metadata"]["benchmark"] == "aflw2000"
    counts = saved["metrics"]["aflw2000"]
    assert (counts["num_missing"], counts["num_malformed"], counts["num_scored"]) == (1, 1, 2)
    assert {e["name"] for e in counts["excluded"]} == {"image00002", "image00004"}
    assert _varied(Image.open(written["cumulative_error"]).convert("RGB"))


def test_nested_metrics_get_a_row_each_and_curves_are_counted():
    run = BenchmarkRun(
        "lfw",
        {
            "verification_roc": {"auc": 0.91, "tar_at_far": {"1e-2": None}, "far": list(range(50))},
            "rank_1": 0.5,
        },
        num_expected=2,
    )
    text = markdown_report.report_markdown(run, source="test", plot_files={})
    rows = [line for line in text.splitlines() if line.startswith("| verification_roc")]
    assert rows == [
        "| verification_roc.auc | 0.91 |",
        "| verification_roc.tar_at_far.1e-2 | n/a |",
        "| verification_roc.far | 50 values (in metrics.json) |",
    ]
    assert "| rank_1 | 0.5 |" in text and "{" not in text


def test_mesh_predictions_missing_and_malformed_are_named(tmp_path):
    from facejax.formats import write_obj

    vertices, triangles = _cap_mesh(4)
    (tmp_path / "s" / "c").mkdir(parents=True)
    write_obj(tmp_path / "s/c/good.obj", vertices, triangles)
    np.save(tmp_path / "s/c/good.npy", np.zeros((7, 3)))
    write_obj(tmp_path / "s/c/nan.obj", vertices, triangles)
    np.save(tmp_path / "s/c/nan.npy", np.full((7, 3), np.nan))
    (tmp_path / "s/c/junk.obj").write_text("v 1 2\nf 1 2 3\n")
    np.save(tmp_path / "s/c/junk.npy", np.zeros((7, 3)))
    names = ["s/c/good", "s/c/nan", "s/c/junk", "s/c/gone"]
    items, excluded = prediction_folders.read_mesh_predictions(tmp_path, names, 7)
    assert [i[0] for i in items] == ["s/c/good"]
    kinds = {e.name: e.kind for e in excluded}
    assert kinds == {"s/c/nan": "malformed", "s/c/junk": "malformed", "s/c/gone": "missing"}


def test_a_missing_protocol_is_refused_never_faked():
    with pytest.raises(ValueError, match="protocol not available in this build"):
        protocol_module("no_such_protocol")
