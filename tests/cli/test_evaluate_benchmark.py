"""``facejax evaluate --benchmark``: the report of a smoke-trained run on its synthetic test
split, and of predictions folders in the benchmarks' own layouts (tiny fixtures with one
prediction missing and one malformed, which the report must name)."""

import fcntl
import json
import os
import pathlib
import shutil
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


# A trained run on each benchmark, with the data folder (the builder's manual dir) it reads.
SMOKE_BENCHMARKS = ("lfw", "aflw2000", "now", "micc", "ytf")
# Two folds of YouTube Faces pairs over the fixture's three videos, each fold with a genuine
# and an impostor pair (a fold's threshold is chosen on the other folds).
YTF_SPLITS = """split number, first name, second name, first name num, is same
1, Aaron_Eckhart/0, Aaron_Eckhart/1, 0.5, 1
1, Aaron_Eckhart/0, Zach_Zorn/3, 0.5, 0
2, Aaron_Eckhart/1, Aaron_Eckhart/0, 0.5, 1
2, Aaron_Eckhart/1, Zach_Zorn/3, 0.9, 0
"""


def _benchmark_data(root):
    """``{benchmark: its data folder}``: the tiny copies the builder tests read, in the real
    layouts (tests/data/layouts.py), and a tiny LFW."""
    from ..data import layouts

    layouts.write_aflw2000(root / "aflw2000" / "AFLW2000")
    layouts.write_now(root / "now")
    layouts.write_micc(root / "micc" / "Florence")
    layouts.write_youtube_faces(root / "ytf" / "YouTubeFaces", splits=YTF_SPLITS)
    _lfw_layout(root / "lfw")
    return {name: root / name for name in SMOKE_BENCHMARKS}


def _train_and_evaluate(root, env):
    """A disentangle smoke run of 2 steps (the shortest training that leaves a checkpoint),
    then ``facejax evaluate --benchmark synthetic`` and ``--benchmark NAME --workdir --data``
    for each of :data:`SMOKE_BENCHMARKS` on it, in one process of its own
    (``quick_subprocess_env``: its XLA flags and compilation cache stay out of this process;
    the predictor compiles once for all benchmarks). Writes ``codes.json`` (each command's exit
    status), ``stdout.txt`` and ``stderr.txt`` into ``root``."""
    data = _benchmark_data(root / "benchmark_data")
    run = str(root / "run")
    train = ["train", "--config", f"{REPO}/experiments/disentangle/config.py:smoke",
             "--workdir", run]  # fmt: skip
    for override in (f"data.data_dir={root / 'data'}", "progress=False", "tensorboard=False",
                     "num_steps=2", "checkpoint_every=2", "log_every=1",
                     "optimizer.warmup_steps=1"):  # fmt: skip
        train += ["--set", override]
    commands = {"train": train, "synthetic": ["evaluate", "--benchmark", "synthetic",
                                              "--workdir", run]}  # fmt: skip
    for name, folder in data.items():
        commands[name] = ["evaluate", "--benchmark", name, "--workdir", run, "--data",
                          str(folder), "--out", str(root / f"{name}_report")]  # fmt: skip
    script = (
        "import json, sys, traceback\nfrom facejax.cli import main\ncodes = {}\n"
        f"for name, argv in {commands!r}.items():\n"
        "    try:\n        codes[name] = main(argv)\n"
        "    except SystemExit as exit:\n        codes[name] = exit.code\n"
        "    except Exception:\n        traceback.print_exc()\n        codes[name] = 'raised'\n"
        "    if name == 'train' and codes[name] != 0:\n        break\n"
        f"open({str(root / 'codes.json')!r}, 'w').write(json.dumps(codes))\n"
    )
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                            env=env, cwd=root, timeout=600)  # fmt: skip
    (root / "stdout.txt").write_text(result.stdout)
    (root / "stderr.txt").write_text(result.stderr)


class SmokeRun:
    """The smoke run's folders, what it printed, and each command's exit status."""

    def __init__(self, root):
        self.root = root
        self.workdir = root / "run"
        self.printed = (root / "stdout.txt").read_text()
        self.stderr = (root / "stderr.txt").read_text()
        codes = root / "codes.json"
        self.codes = json.loads(codes.read_text()) if codes.is_file() else {}
        assert self.codes.get("train") == 0, self.stderr[-3000:]

    def report(self, benchmark):
        """The ``--out`` folder of ``evaluate --benchmark`` (its exit status checked)."""
        assert self.codes.get(benchmark) == 0, self.stderr[-3000:]
        return self.root / f"{benchmark}_report"

    def metrics(self, benchmark):
        folder = self.report(benchmark)
        return json.loads((folder / "metrics.json").read_text())["metrics"][benchmark]


@pytest.fixture(scope="session")
def smoke_run(tmp_path_factory, quick_subprocess_env):
    """:func:`_train_and_evaluate` once per test run: its folder is shared by the pytest-xdist
    workers (one above their own, as ``quick_subprocess_env``'s cache); the first worker to
    need it trains under a lock, the others wait for it and read its results."""
    base = tmp_path_factory.getbasetemp()
    if os.environ.get("PYTEST_XDIST_WORKER"):
        base = base.parent
    root = base / "evaluate_smoke_run"
    with open(base / "evaluate_smoke_run.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not (root / "stderr.txt").is_file():
            shutil.rmtree(root, ignore_errors=True)
            root.mkdir()
            _train_and_evaluate(root, quick_subprocess_env)
    return SmokeRun(root)


def test_a_smoke_run_gets_its_synthetic_report(smoke_run, capsys):
    workdir, printed = smoke_run.workdir, smoke_run.printed
    assert smoke_run.codes.get("synthetic") == 0, smoke_run.stderr[-3000:]
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


def _check_report(smoke_run, benchmark, title):
    """The report of the run on ``benchmark``: it names the benchmark and the run, its step."""
    folder = smoke_run.report(benchmark)
    saved = json.loads((folder / "metrics.json").read_text())
    assert saved["metadata"]["recipe"] == "disentangle" and saved["metadata"]["step"] == 2
    assert saved["metadata"]["workdir"] == str(smoke_run.workdir)
    report = (folder / "report.md").read_text()
    assert report.startswith(f"# {title}: `facejax evaluate --benchmark {benchmark}`")
    assert f"the run `{smoke_run.workdir}` (recipe disentangle, step 2)" in report
    return folder, report


def test_a_smoke_run_on_lfw(smoke_run):
    # The run on a tiny LFW: its predictions in LFW's layout, then their report.
    assert "lfw: scored 20 of 20" in smoke_run.printed
    folder, _ = _check_report(smoke_run, "lfw", "LFW")
    assert (folder / "predictions" / "Person_A" / "Person_A_0001.npy").is_file()
    metrics = smoke_run.metrics("lfw")
    assert metrics["verification_num_pairs"] == 20 and metrics["num_excluded"] == 0
    assert 0.0 <= metrics["verification_auc"] <= 1.0
    assert _not_blank(folder / "roc.png")


def test_a_smoke_run_on_aflw2000(smoke_run):
    from ..data import layouts

    folder, report = _check_report(smoke_run, "aflw2000", "AFLW2000-3D")
    # The builder kept image00002 and image00004 (image00008's image is corrupt): their
    # landmarks [68, 2] in the image's pixels; no file for the rest.
    predictions = folder / "predictions"
    assert sorted(p.name for p in predictions.iterdir()) == ["image00002.npy", "image00004.npy"]
    size = layouts.AFLW2000_SIZE
    for name in ("image00002.npy", "image00004.npy"):
        points = np.load(predictions / name)
        assert points.shape == (68, 2) and np.all(np.isfinite(points))
        # Mapped back from the crop: about the face, in or near the 40 x 40 image.
        assert np.all(np.abs(points.mean(0) - size / 2) < size)
    metrics = smoke_run.metrics("aflw2000")
    assert (metrics["num_expected"], metrics["num_scored"], metrics["num_missing"]) == (5, 2, 3)
    # Yaw -0.6 rad (34 degrees): both in the 30-60 bin. An untrained model's landmarks are off
    # by a sizeable fraction of the face, not by orders of magnitude.
    assert metrics["nme_count_30_60"] == 2 and metrics["nme_count_0_30"] == 0
    assert 0.01 < metrics["nme_all"] < 5.0 and metrics["nme_yaw_30_60"] == metrics["nme_all"]
    # Images without ground truth (image00006: 60 landmarks, image00010: no .mat) and without
    # a prediction (image00008) are named.
    for stem in ("image00006", "image00008", "image00010"):
        assert f"| {stem} | missing |" in report, stem
    assert "no ground truth" in report
    assert _not_blank(folder / "cumulative_error.png")


def test_a_smoke_run_on_now(smoke_run):
    from ..data import layouts

    folder, report = _check_report(smoke_run, "now", "NoW")
    # The two validation images the builder kept: mesh and NoW's 7 landmarks each; the third
    # (its box file refused) is named missing, the test split's image is not scored.
    predictions = folder / "predictions"
    written = sorted(str(p.relative_to(predictions)) for p in predictions.rglob("*.*"))
    stems = [line[:-4] for line in layouts.NOW_VALIDATION[:2]]
    assert written == sorted(f"{stem}.{ext}" for stem in stems for ext in ("npy", "obj"))
    for stem in stems:
        assert np.load(predictions / f"{stem}.npy").shape == (7, 3)
    metrics = smoke_run.metrics("now")
    assert (metrics["num_expected"], metrics["num_scored"], metrics["num_missing"]) == (3, 2, 1)
    assert metrics["num_scans"] == 2 and metrics["num_distances"] > 0
    # Scan to predicted surface after a similarity alignment on the 7 landmarks: millimetres,
    # neither zero nor metres (the scan is a cap, not a face).
    assert 0.1 < metrics["median_mm"] < 50.0 and np.isfinite(metrics["mean_mm"])
    assert f"| {layouts.NOW_VALIDATION[2][:-4]} | missing |" in report
    assert _not_blank(folder / "cumulative_error.png")


def test_a_smoke_run_on_micc(smoke_run):
    folder, report = _check_report(smoke_run, "micc", "MICC Florence")
    # One mesh and 68 landmarks per video with frames: the mean over its frames.
    predictions = folder / "predictions"
    videos = ["subject_01/Indoor-Cooperative", "subject_01/PTZ-Indoor",
              "subject_02/Indoor-Cooperative"]  # fmt: skip
    written = sorted(str(p.relative_to(predictions)) for p in predictions.rglob("*.*"))
    assert written == sorted(f"{video}.{ext}" for video in videos for ext in ("npy", "obj"))
    for video in videos:
        assert np.load(predictions / f"{video}.npy").shape == (68, 3)
    metrics = smoke_run.metrics("micc")
    assert (metrics["num_expected"], metrics["num_scored"], metrics["num_missing"]) == (6, 3, 3)
    assert (metrics["cooperative_n"], metrics["indoor_n"], metrics["outdoor_n"]) == (2, 1, 0)
    for key in ("cooperative_mean_mm", "indoor_mean_mm"):
        assert 0.1 < metrics[key] < 50.0, key
    for video in ("subject_01/PTZ-Outdoor", "subject_02/PTZ-Indoor", "subject_02/PTZ-Outdoor"):
        assert f"| {video} | missing |" in report, video


def test_a_smoke_run_on_ytf(smoke_run):
    folder, _ = _check_report(smoke_run, "ytf", "YouTube Faces")
    # One feature per readable frame: Aaron_Eckhart/0 keeps 4 of its 5 (0.557 is corrupt).
    predictions = folder / "predictions"
    frames = {f"{p.parent.name}/{p.stem}": len(np.load(p)) for p in predictions.glob("*/*.npy")}
    assert frames == {"Aaron_Eckhart/0": 4, "Aaron_Eckhart/1": 2, "Zach_Zorn/3": 2}
    metrics = smoke_run.metrics("ytf")
    assert (metrics["num_expected"], metrics["num_scored"], metrics["num_excluded"]) == (3, 3, 0)
    assert metrics["verification_num_pairs"] == 4 and metrics["verification_num_folds"] == 2
    assert 0.0 <= metrics["verification_auc"] <= 1.0
    assert 0.0 <= metrics["verification_accuracy"] <= 1.0
    assert _not_blank(folder / "roc.png")


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


def _now_fixture(tmp_path):
    """NoW's layout with one subject's scan; predictions: two exact, one missing, one
    malformed (landmarks of the wrong shape)."""
    from ..data import layouts

    root = tmp_path / "NoW_Dataset" / "final_release_version"
    names = [f"FaMoS_1/multiview_neutral/IMG_000{i}" for i in range(4)]
    (root / "scans" / "FaMoS_1").mkdir(parents=True)
    (root / "scans_lmks_onlypp" / "FaMoS_1").mkdir(parents=True)
    (root / "imagepathsvalidation.txt").write_text("".join(f"{n}.jpg\n" for n in names))
    vertices, triangles, landmarks = layouts.face_cap()
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
    from ..data import layouts

    vertices, triangles, _ = layouts.face_cap()
    landmarks = layouts.cap_landmarks_68(vertices)
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
