"""Two processes on localhost (CPU, 2 devices each) train like one device on the global batch.

Each process runs tests/train/toy.py's worker: ``initialize_distributed`` (JAX's coordinator
service on a free local port; CPU collectives over gloo, JAX's default on CPU), then
``run_training`` with its own data shard, a global 4-device mesh and a shared workdir.
"""

import json
import os
import socket
import subprocess
import sys

import jax
import numpy as np
import pytest

from facejax.data.pipeline import make_loader
from facejax.train import initialize_distributed, read_jsonl, run_training
from facejax.train.distributed import detected_cluster

PROCESSES = 2
GLOBAL_BATCH = 16
# float32 sums in another order across 4 devices and 2 processes.
ATOL_TWO_PROCESSES = 2e-5
TIMEOUT_S = 240


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("localhost", 0))
        return s.getsockname()[1]


class _GlobalBatches:
    """The global batch of the two processes: shard 0's rows, then shard 1's."""

    def __init__(self, source):
        self.loaders = [
            make_loader(
                source,
                batch_size=GLOBAL_BATCH // PROCESSES,
                seed=0,
                shard_index=i,
                shard_count=PROCESSES,
            )
            for i in range(PROCESSES)
        ]

    def __iter__(self):
        return self

    def __next__(self):
        parts = [next(loader) for loader in self.loaders]
        return {k: np.concatenate([p[k] for p in parts]) for k in parts[0]}


@pytest.fixture(scope="module")
def one_device(toy, four_devices, tmp_path_factory):
    """The reference: one device, the two processes' global batches, the same config."""
    config = toy.make_config()
    init_fn, loss_fn = toy.make_fns(config)
    source = toy.make_source()
    state = run_training(
        config,
        tmp_path_factory.mktemp("reference"),
        init_fn=init_fn,
        loss_fn=loss_fn,
        train_data=lambda: _GlobalBatches(source),
        devices=four_devices[:1],
    )
    return {
        jax.tree_util.keystr(k): np.asarray(v)
        for k, v in jax.tree_util.tree_leaves_with_path(state.params)
    }


@pytest.mark.slow
@pytest.mark.parametrize("parallelism", ["jit", "pmap"])
def test_two_processes_match_one_device(toy, tmp_path, one_device, parallelism):
    port = _free_port()
    env = dict(os.environ)
    env["XLA_FLAGS"] = "--xla_force_host_platform_device_count=2"
    env["JAX_PLATFORMS"] = "cpu"
    workdir, out = tmp_path / "run", tmp_path / "out"
    out.mkdir()
    overrides = {"parallelism": parallelism, "checkpoint.async_save": True}
    procs = [
        subprocess.Popen(
            [
                sys.executable,
                str(toy.__file__),
                "worker",
                f"--port={port}",
                f"--process_id={i}",
                f"--processes={PROCESSES}",
                f"--workdir={workdir}",
                f"--out={out}",
                f"--global_batch={GLOBAL_BATCH}",
                f"--overrides={json.dumps(overrides)}",
            ],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        for i in range(PROCESSES)
    ]
    outputs = []
    try:
        for proc in procs:
            outputs.append(proc.communicate(timeout=TIMEOUT_S)[0])
    finally:
        for proc in procs:
            proc.kill()
    for proc, output in zip(procs, outputs, strict=True):
        assert proc.returncode == 0, output[-3000:]
        report = json.loads(output.strip().splitlines()[-1])
        assert (report["devices"], report["local"]) == (4, 2)

    params = [dict(np.load(out / f"params_{i}.npz")) for i in range(PROCESSES)]
    assert sorted(params[0]) == sorted(one_device)
    for key, value in one_device.items():
        np.testing.assert_array_equal(params[0][key], params[1][key])
        np.testing.assert_allclose(params[0][key], value, atol=ATOL_TWO_PROCESSES, err_msg=key)

    # Process 0 wrote the metrics; each process its data-iterator state.
    assert [r["step"] for r in read_jsonl(workdir / "metrics.jsonl")] == [2, 4, 6]
    last = workdir / "checkpoints" / str(toy.make_config().num_steps) / "data_iter"
    assert {"process_0-of-2.json", "process_1-of-2.json"} <= set(os.listdir(last))


def test_cluster_detection_from_the_environment():
    assert detected_cluster({}) is None
    assert detected_cluster({"SLURM_JOB_ID": "1", "SLURM_NTASKS": "1"}) is None
    assert detected_cluster({"SLURM_JOB_ID": "1", "SLURM_NTASKS": "8"}) == "slurm"
    assert detected_cluster({"OMPI_MCA_orte_hnp_uri": "x", "OMPI_COMM_WORLD_SIZE": "4"}) == "mpi"
    assert detected_cluster({"TPU_WORKER_HOSTNAMES": "a,b"}) == "tpu"
    assert detected_cluster({"TPU_WORKER_HOSTNAMES": "a"}) is None
    assert detected_cluster({"FACEJAX_DISTRIBUTED": "1"}) == "forced"


def test_single_process_needs_nothing_and_partial_settings_fail():
    assert initialize_distributed(environ={}) == (0, 1)
    # One process named explicitly: nothing to connect.
    assert initialize_distributed("localhost:1234", 1, 0, environ={}) == (0, 1)
    with pytest.raises(ValueError, match="together"):
        initialize_distributed(environ={"JAX_COORDINATOR_ADDRESS": "localhost:1234"})
    with pytest.raises(ValueError, match="not an integer"):
        initialize_distributed(environ={"JAX_NUM_PROCESSES": "two"})
