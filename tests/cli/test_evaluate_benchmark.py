"""``facejax evaluate --benchmark``: the report of a smoke-trained run on its synthetic test
split, and of predictions folders in the benchmarks' own layouts (tiny fixtures with one
prediction missing and one malformed, which the report must name)."""

import json
import pathlib
import subprocess
import sys

import numpy as np
import pytest
import scipy.io
from PIL import Image

from facejax import cli
from facejax.formats import write_obj

REPO = pathlib.Path(__file__).parents[2]
PLOTS = ("roc.png", "cumulative_error.png", "vertex_error_heatmap.png", "reconstructions.png")


def _run(argv, capsys):
    try:
        code = cli.main(argv)
    except SystemExit as exit:
        code = exit.code
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def _not_blank(path) -> bool:
    pixels = np.asarray(Image.open(path).convert("RGB"), np.float64)
    return pixels.size > 0 and np.all(np.isfinite(pixels)) and pixels.std() > 1.0


def _lfw_layout(root, seed=0):
    """LFW as it ships, tiny: 10 people x 2 noise images and a 10-fold pairs.txt."""
    rng = np.random.default_rng(seed)
    people = [f"Person_{c}" for c in "ABCDEFGHIJ"]
    lines = ["10 1"]
    for i, person in enumerate(people):
        (root / "lfw" / person).mkdir(parents=True)
        for n in (1, 2):
            pixels = rng.integers(0, 256, (60, 60, 3), dtype=np.uint8)
            Image.fromarray(pixels).save(root / "lfw" / person / f"{person}_000{n}.jpg")
        lines += [f"{person}\t1\t2", f"{person}\t1\t{people[(i + 1) % 10]}\t2"]
    (root / "pairs.txt").write_text("\n".join(lines) + "\n")
    return root


def _smoke_run(root, env):
    """A disentangle smoke run of 2 steps (the shortest training that leaves a checkpoint),
    then ``facejax evaluate --benchmark synthetic`` and ``--benchmark lfw`` (on a tiny LFW) on
    it, in one process of its own (``quick_subprocess_env``: its XLA flags and compilation
    cache stay out of this process). One test uses it: a fixture shared by two tests would
    train once per pytest-xdist worker."""
    lfw = _lfw_layout(root / "lfw_data")
    train = ["train", "--config", f"{REPO}/experiments/disentangle/config.py:smoke",
             "--workdir", str(root / "run")]  # fmt: skip
    for override in (f"data.data_dir={root / 'data'}", "progress=False", "tensorboard=False",
                     "num_steps=2", "checkpoint_every=2", "log_every=1",
                     "optimizer.warmup_steps=1"):  # fmt: skip
        train += ["--set", override]
    synthetic = ["evaluate", "--benchmark", "synthetic", "--workdir", str(root / "run")]
    on_lfw = ["evaluate", "--benchmark", "lfw", "--workdir", str(root / "run"), "--data",
              str(lfw), "--out", str(root / "lfw_report")]  # fmt: skip
    script = (
        "import sys\nfrom facejax.cli import main\n"
        f"assert main({train!r}) == 0\nassert main({synthetic!r}) == 0\n"
        f"sys.exit(main({on_lfw!r}))\n"
    )
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                            env=env, cwd=root, timeout=600)  # fmt: skip
    assert result.returncode == 0, result.stderr[-3000:]
    return root / "run", result.stdout


def test_a_smoke_run_gets_its_synthetic_and_lfw_reports(tmp_path, capsys, quick_subprocess_env):
    workdir, printed = _smoke_run(tmp_path, quick_subprocess_env)
    assert "synthetic: scored 60 of 60" in printed
    folder = workdir / "benchmarks" / "synthetic"
    saved = json.loads((folder / "metrics.json").read_text())
    metrics = saved["metrics"]["synthetic"]
    assert metrics["num_scored"] == metrics["num_expected"] == 60
    for key in ("shape_rmse_face_mm", "landmark_nme", "verification_auc"):
        assert np.isfinite(metrics[key]), key
    assert saved["metadata"]["recipe"] == "disentangle" and saved["metadata"]["step"] == 2
    report = (folder / "report.md").read_text()
    for name in PLOTS:
        assert _not_blank(folder / name), name
        assert f"]({name})" in report
    # The run's own metrics.json is not the benchmark's.
    assert "synthetic" not in json.loads((workdir / "metrics.json").read_text())["metrics"]
    # A used report folder is refused before any work, unless --force.
    code, _, err = _run(["evaluate", "--benchmark", "synthetic", "--workdir", str(workdir)],
                        capsys)  # fmt: skip
    assert code == 2 and "--force" in err

    # The same run on a tiny LFW: its predictions in LFW's layout, then their report.
    assert "lfw: scored 20 of 20" in printed
    report = workdir.parent / "lfw_report"
    assert (report / "predictions" / "Person_A" / "Person_A_0001.npy").is_file()
    metrics = json.loads((report / "metrics.json").read_text())["metrics"]["lfw"]
    assert metrics["verification_num_pairs"] == 20 and metrics["num_excluded"] == 0
    assert _not_blank(report / "roc.png")


@pytest.mark.parametrize(
    "argv, message",
    [
        (["--benchmark", "lfw"], "--workdir"),
        (["--benchmark", "lfw", "--workdir", "w", "--predictions", "p"], "one of them"),
        (["--benchmark", "lfw", "--predictions", "p"], "--out: required"),
        (["--benchmark", "synthetic", "--predictions", "p", "--out", "o"], "trained run"),
        (["--workdir", "w", "--predictions", "p"], "only with --benchmark"),
    ],
)
def test_bad_argument_combinations_are_refused(argv, message, capsys, tmp_path):
    argv = [str(tmp_path / a) if a in ("w", "p", "o") else a for a in argv]
    code, _, err = _run(["evaluate", *argv], capsys)
    assert code == 2 and message in err and "Traceback" not in err


def test_aflw2000_predictions_report_names_missing_and_malformed(tmp_path, capsys):
    from facejax.formats import read_landmarks

    data = tmp_path / "AFLW2000"
    data.mkdir()
    rng = np.random.default_rng(0)
    stems = ["image00002", "image00004", "image00006", "image00008"]
    for stem, yaw in zip(stems, [0.1, 0.7, 1.2, -0.2], strict=True):
        points = np.stack(
            [rng.uniform(100, 350, 68), rng.uniform(100, 350, 68), rng.normal(size=68)]
        )
        pose = np.array([[0.0, yaw, 0.0, 0.0, 0.0, 0.0, 1e-3]])
        scipy.io.savemat(data / f"{stem}.mat", {"pt3d_68": points, "Pose_Para": pose})
        Image.new("RGB", (8, 8)).save(data / f"{stem}.jpg")
    predictions = tmp_path / "pred"
    predictions.mkdir()
    for stem in stems[:2]:  # exact predictions, in facejax's pixel convention
        truth = read_landmarks(data / f"{stem}.mat", field="pt3d_68")[:, :2]
        np.save(predictions / f"{stem}.npy", truth)
    np.save(predictions / "image00006.npy", np.zeros(3))  # malformed; image00008 missing
    out = tmp_path / "report"
    code, printed, err = _run(["evaluate", "--benchmark", "aflw2000", "--predictions",
                               str(predictions), "--data", str(tmp_path), "--out", str(out)],
                              capsys)  # fmt: skip
    assert code == 0, err
    metrics = json.loads((out / "metrics.json").read_text())["metrics"]["aflw2000"]
    assert (metrics["num_scored"], metrics["num_missing"], metrics["num_malformed"]) == (2, 1, 1)
    assert metrics["nme_all"] == pytest.approx(0.0, abs=1e-9)
    report = (out / "report.md").read_text()
    assert "image00008 | missing" in report and "image00006 | malformed" in report
    assert "excluded image00008 (missing)" in printed
    assert _not_blank(out / "cumulative_error.png")


def test_lfw_predictions_give_the_roc(tmp_path, capsys):
    people = [f"P{i}" for i in range(10)]
    lines = ["10 1"]
    for fold, person in enumerate(people):
        lines += [f"{person}\t1\t2", f"{person}\t1\t{people[(fold + 1) % 10]}\t1"]
    (tmp_path / "pairs.txt").write_text("\n".join(lines) + "\n")
    rng = np.random.default_rng(0)
    predictions = tmp_path / "pred"
    for i, person in enumerate(people):
        (predictions / person).mkdir(parents=True)
        centre = rng.normal(size=16)
        for n in (1, 2):
            if (i, n) != (0, 2):  # P0_0002 missing
                np.save(predictions / person / f"{person}_000{n}.npy", centre + 0.1 * n)
    out = tmp_path / "report"
    code, _, err = _run(["evaluate", "--benchmark", "lfw", "--predictions", str(predictions),
                         "--data", str(tmp_path), "--out", str(out)], capsys)  # fmt: skip
    assert code == 0, err
    metrics = json.loads((out / "metrics.json").read_text())["metrics"]["lfw"]
    assert metrics["num_missing"] == 1 and metrics["verification_num_pairs"] == 19
    assert metrics["verification_auc"] > 0.9
    assert "P0/P0_0002 | missing" in (out / "report.md").read_text()
    assert _not_blank(out / "roc.png")


def _cap(n=30):
    """A face-sized cap (mm, z out), its triangles, and 7 NoW landmarks on it."""
    x, y = np.meshgrid(np.linspace(-80, 80, n), np.linspace(-100, 100, n))
    z = 60 - (x**2 + y**2) / 300
    tris = []
    for i in range(n - 1):
        for j in range(n - 1):
            k = i * n + j
            tris += [[k, k + n, k + 1], [k + 1, k + n, k + n + 1]]
    xy = np.array([[-45, 30], [-15, 30], [15, 30], [45, 30], [0, -10], [-25, -35], [25, -35]])
    landmarks = np.column_stack([xy, 60 - (xy**2).sum(1) / 300]).astype(np.float64)
    return np.stack([x, y, z], -1).reshape(-1, 3), np.array(tris), landmarks


def _now_fixture(tmp_path):
    """NoW's layout with one subject's scan; predictions: two exact, one missing, one
    malformed (landmarks of the wrong shape)."""
    root = tmp_path / "NoW_Dataset" / "final_release_version"
    names = [f"FaMoS_1/multiview_neutral/IMG_000{i}" for i in range(4)]
    (root / "scans" / "FaMoS_1").mkdir(parents=True)
    (root / "scans_lmks_onlypp" / "FaMoS_1").mkdir(parents=True)
    (root / "imagepathsvalidation.txt").write_text("".join(f"{n}.jpg\n" for n in names))
    vertices, triangles, landmarks = _cap()
    write_obj(root / "scans/FaMoS_1/natural_head_rotation.000001.obj", vertices, triangles)
    points = "".join(f'<point x="{x}" y="{y}" z="{z}" name="{i}" active="1"/>\n'
                     for i, (x, y, z) in enumerate(landmarks))  # fmt: skip
    (root / "scans_lmks_onlypp/FaMoS_1/scan_picked_points.pp").write_text(
        f"<!DOCTYPE PickedPoints>\n<PickedPoints>\n{points}</PickedPoints>\n"
    )
    predictions = tmp_path / "pred"
    (predictions / "FaMoS_1" / "multiview_neutral").mkdir(parents=True)
    for name in names[:3]:
        write_obj(predictions / f"{name}.obj", vertices, triangles)
        np.save(predictions / f"{name}.npy", landmarks if name != names[2] else landmarks[:5])
    return names, predictions


def test_now_predictions_report_names_missing_and_malformed(tmp_path, capsys):
    names, predictions = _now_fixture(tmp_path)
    out = tmp_path / "report"
    code, _, err = _run(["evaluate", "--benchmark", "now", "--predictions", str(predictions),
                         "--data", str(tmp_path), "--out", str(out)], capsys)  # fmt: skip
    assert code == 0, err
    metrics = json.loads((out / "metrics.json").read_text())["metrics"]["now"]
    assert (metrics["num_scored"], metrics["num_missing"], metrics["num_malformed"]) == (2, 1, 1)
    assert metrics["median_mm"] == pytest.approx(0.0, abs=1e-3)  # exact predictions
    report = (out / "report.md").read_text()
    assert f"{names[3]} | missing" in report and f"{names[2]} | malformed" in report
    assert _not_blank(out / "cumulative_error.png")


def test_now_without_its_protocol_is_refused(tmp_path, capsys, monkeypatch):
    # A build without facejax.evaluation.now_protocol (None in sys.modules: its import fails).
    monkeypatch.setitem(sys.modules, "facejax.evaluation.now_protocol", None)
    _, predictions = _now_fixture(tmp_path)
    out = tmp_path / "report"
    code, _, err = _run(["evaluate", "--benchmark", "now", "--predictions", str(predictions),
                         "--data", str(tmp_path), "--out", str(out)], capsys)  # fmt: skip
    assert code == 2 and "protocol not available in this build" in err
    assert not out.exists()


def test_micc_predictions_report_names_missing_and_malformed(tmp_path, capsys):
    vertices, triangles, _ = _cap()
    # 68 landmarks on scan vertices, the nose tip (iBUG index 30) at the cap's top.
    picked = np.linspace(0, len(vertices) - 1, 68).astype(int)
    picked[30] = int(np.argmax(vertices[:, 2]))
    landmarks = vertices[picked]
    scan = tmp_path / "Florence" / "subject_01" / "Model" / "frontal1" / "obj"
    scan.mkdir(parents=True)
    write_obj(scan / "110920150452.obj", vertices, triangles)
    np.save(scan / "110920150452.npy", landmarks)
    predictions = tmp_path / "pred" / "subject_01"
    predictions.mkdir(parents=True)
    for setting in ("Indoor-Cooperative", "PTZ-Outdoor"):  # PTZ-Indoor missing
        write_obj(predictions / f"{setting}.obj", vertices, triangles)
        values = landmarks if setting == "Indoor-Cooperative" else np.full((68, 3), np.nan)
        np.save(predictions / f"{setting}.npy", values)
    out = tmp_path / "report"
    code, _, err = _run(["evaluate", "--benchmark", "micc", "--predictions",
                         str(predictions.parent), "--data", str(tmp_path), "--out", str(out)],
                        capsys)  # fmt: skip
    assert code == 0, err
    metrics = json.loads((out / "metrics.json").read_text())["metrics"]["micc"]
    assert (metrics["num_scored"], metrics["num_missing"], metrics["num_malformed"]) == (1, 1, 1)
    assert metrics["cooperative_mean_mm"] == pytest.approx(0.0, abs=1e-3)  # exact prediction
    report = (out / "report.md").read_text()
    assert "subject_01/PTZ-Indoor | missing" in report
    assert "subject_01/PTZ-Outdoor | malformed" in report


def test_ytf_predictions_report_names_missing_and_malformed(tmp_path, capsys):
    people = [f"P{i}" for i in range(10)]
    lines = ["split number, first name, second name, first length, second length, is same"]
    for fold, person in enumerate(people, start=1):
        other = people[fold % 10]
        lines += [f"{fold}, {person}/0, {person}/1, 10, 10, 1",
                  f"{fold}, {person}/0, {other}/1, 10, 10, 0"]  # fmt: skip
    (tmp_path / "splits.txt").write_text("\n".join(lines) + "\n")
    rng = np.random.default_rng(0)
    predictions = tmp_path / "pred"
    for person in people:
        (predictions / person).mkdir(parents=True)
        centre = rng.normal(size=16)
        for video in ("0", "1"):
            frames = centre + 0.1 * rng.normal(size=(3, 16))
            np.save(predictions / person / f"{video}.npy", frames)
    (predictions / "P0" / "1.npy").unlink()  # missing
    np.save(predictions / "P5" / "1.npy", np.full((3, 16), np.inf))  # malformed
    out = tmp_path / "report"
    code, _, err = _run(["evaluate", "--benchmark", "ytf", "--predictions", str(predictions),
                         "--data", str(tmp_path), "--out", str(out)], capsys)  # fmt: skip
    assert code == 0, err
    metrics = json.loads((out / "metrics.json").read_text())["metrics"]["ytf"]
    assert (metrics["num_missing"], metrics["num_malformed"]) == (1, 1)
    assert metrics["verification_auc"] > 0.9
    report = (out / "report.md").read_text()
    assert "P0/1 | missing" in report and "P5/1 | malformed" in report
    assert _not_blank(out / "roc.png")
