"""Multi-host start-up: ``jax.distributed.initialize`` when the environment says so.

Call :func:`initialize_distributed` first thing in an entry point (before any other JAX call:
JAX refuses to connect processes once its backends are up). It decides:

1. explicit arguments, or the environment variables ``JAX_COORDINATOR_ADDRESS`` (host:port of
   process 0), ``JAX_NUM_PROCESSES`` and ``JAX_PROCESS_ID``: initialise with them (any cluster,
   also several processes on one machine);
2. else a multi-process launch JAX can read by itself: SLURM with more than one task
   (``srun``), Open MPI with more than one rank (``mpirun``), a multi-host Cloud TPU slice on
   GKE (``TPU_WORKER_HOSTNAMES`` with several hosts), or ``FACEJAX_DISTRIBUTED=1`` (e.g. a TPU
   pod slice on GCE VMs, where JAX reads the topology from the metadata server): initialise
   with no arguments and let JAX detect the rest;
3. else one process: nothing to do.

After it, every process sees all devices (``jax.devices()``) and its own
(``jax.local_devices()``); facejax.train.run_training builds its mesh over all of them and each
process feeds its own rows of the global batch.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping, Sequence

import jax

logger = logging.getLogger(__name__)


def _int(environ: Mapping[str, str], name: str) -> int | None:
    value = environ.get(name)
    if value in (None, ""):
        return None
    try:
        return int(value)
    except ValueError:
        raise ValueError(f"initialize_distributed: {name}={value!r} is not an integer") from None


def detected_cluster(environ: Mapping[str, str] | None = None) -> str | None:
    """The multi-process launcher JAX can auto-detect, from the environment, or None.

    Returns:
      "slurm", "mpi", "tpu" or "forced" (``FACEJAX_DISTRIBUTED=1``), or None for one process.
    """
    environ = os.environ if environ is None else environ
    if environ.get("FACEJAX_DISTRIBUTED", "") in ("1", "true", "True"):
        return "forced"
    if "SLURM_JOB_ID" in environ and (_int(environ, "SLURM_NTASKS") or 1) > 1:
        return "slurm"
    if "OMPI_MCA_orte_hnp_uri" in environ and (_int(environ, "OMPI_COMM_WORLD_SIZE") or 1) > 1:
        return "mpi"
    hosts = [h for h in environ.get("TPU_WORKER_HOSTNAMES", "").split(",") if h]
    if len(hosts) > 1:
        return "tpu"
    return None


def initialize_distributed(
    coordinator_address: str | None = None,
    num_processes: int | None = None,
    process_id: int | None = None,
    *,
    local_device_ids: Sequence[int] | None = None,
    environ: Mapping[str, str] | None = None,
) -> tuple[int, int]:
    """Connects this process to the others, if it is one of several (see the module docstring).

    Args:
      coordinator_address: ``host:port`` of process 0's coordinator service.
      num_processes: the number of processes.
      process_id: this process's index in ``[0, num_processes)``.
      local_device_ids: the local devices this process uses (default: all; e.g. one GPU per
        process with ``[int(os.environ["SLURM_LOCALID"])]``).
      environ: the environment to read (default ``os.environ``).

    Returns:
      ``(jax.process_index(), jax.process_count())``.

    Raises:
      ValueError: when only some of the three settings are given.
      RuntimeError: from JAX, when called after JAX's backends started.
    """
    environ = os.environ if environ is None else environ
    if jax.distributed.is_initialized():
        return jax.process_index(), jax.process_count()
    address = coordinator_address or environ.get("JAX_COORDINATOR_ADDRESS") or None
    count = num_processes if num_processes is not None else _int(environ, "JAX_NUM_PROCESSES")
    index = process_id if process_id is not None else _int(environ, "JAX_PROCESS_ID")
    explicit = (address, count, index)
    if any(v is not None for v in explicit):
        if any(v is None for v in explicit):
            raise ValueError(
                f"initialize_distributed: give the coordinator address, the number of processes "
                f"and the process id together (arguments or JAX_COORDINATOR_ADDRESS, "
                f"JAX_NUM_PROCESSES, JAX_PROCESS_ID); got {address!r}, {count!r}, {index!r}"
            )
        if count > 1:
            logger.info("jax.distributed.initialize(%s, %d, %d)", address, count, index)
            jax.distributed.initialize(address, count, index, local_device_ids=local_device_ids)
    elif (cluster := detected_cluster(environ)) is not None:
        logger.info("jax.distributed.initialize() on a detected %s launch", cluster)
        jax.distributed.initialize(local_device_ids=local_device_ids)
    return jax.process_index(), jax.process_count()
