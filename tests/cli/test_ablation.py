"""``facejax.cli.ablation.run_ablation``: the command each run trains with, and the table."""

import pytest

from facejax import evaluation


@pytest.fixture
def commands(monkeypatch):
    """Replaces ``facejax.cli.main`` by a fake train that records its command line and writes
    a metric that depends on the seed."""
    import facejax.cli

    seen = []

    def fake_main(argv):
        seen.append(list(argv))
        workdir = argv[argv.index("--workdir") + 1]
        seed = next(int(v.split("=")[1]) for v in argv if v.startswith("seed="))
        evaluation.write_metrics(workdir, {"auc": 0.5 + 0.1 * seed})
        return 0

    monkeypatch.setattr(facejax.cli, "main", fake_main)
    return seen


def _ablation(argv):
    from facejax.cli.ablation import run_ablation

    variants = {"joint": [], "recon only": ["loss.w_id=0"]}
    return run_ablation(
        "experiments/x/config.py:small", variants, [("auc", "AUC")], description="t", argv=argv
    )


def test_runs_train_the_config_variant_with_the_overrides(tmp_path, commands):
    table = _ablation(["--workdir", str(tmp_path), "--seeds", "0", "1", "--set", "a=1"])
    assert len(commands) == 4
    assert commands[0][:4] == ["train", "--config", "experiments/x/config.py:small", "--workdir"]
    assert commands[2][commands[2].index("--workdir") + 1] == str(tmp_path / "recon_only" / "0")
    sets = [commands[2][i + 1] for i, v in enumerate(commands[2]) if v == "--set"]
    assert sets == ["a=1", "loss.w_id=0", "seed=0", "progress=False"]
    assert "| joint | 2 | 0.550 ± 0.071 |" in table


def test_config_variant_replaces_the_scripts_variant(tmp_path, commands):
    _ablation(
        ["--workdir", str(tmp_path), "--seeds", "2", "--variants", "joint",
         "--config-variant", "medium"]
    )  # fmt: skip
    assert [c[2] for c in commands] == ["experiments/x/config.py:medium"]
    # A finished run is not trained again.
    _ablation(["--workdir", str(tmp_path), "--seeds", "2", "--variants", "joint"])
    assert len(commands) == 1


@pytest.mark.parametrize("experiment", ["disentangle", "siamese", "cycle"])
def test_every_experiments_ablation_variant_is_a_valid_config(experiment):
    """Each variant's overrides name fields of its config with values of their type, so no run
    of an ablation fails on a typo after the runs before it took their time."""
    import importlib.util
    from pathlib import Path

    from facejax.cli.train import load_config

    path = Path(__file__).parents[2] / "experiments" / experiment / "ablation.py"
    spec = importlib.util.spec_from_file_location(f"{experiment}_ablation", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    assert len(module.VARIANTS) >= 2
    configs = [load_config(module.CONFIG, list(o)) for o in module.VARIANTS.values()]
    assert len({c.to_json() for c in configs}) == len(configs)  # the variants differ
