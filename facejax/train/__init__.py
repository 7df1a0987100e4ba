"""Training machinery: state, optimizer, step, data parallelism, checkpoints, metrics, the loop.

Generic over the model: an experiment supplies ``init_fn`` (variables), ``loss_fn`` (mean loss,
metrics, new BatchNorm statistics) and its data, and calls :func:`run_training`.

* :class:`TrainState`, :func:`create_train_state`, :func:`eval_variables` (facejax.train.state)
* :func:`make_optimizer`, :func:`make_schedule`, :func:`update_ema` (optimizer)
* :func:`make_train_step` (step): ``train_step(state, batch, rng)``
* :class:`DataParallel`, :func:`make_data_parallel`, :func:`batch_axis_name` (parallel): the one
  place ``jax.jit`` over a mesh or ``jax.pmap`` is chosen (:class:`JitDataParallel`,
  :class:`PmapDataParallel`)
* :func:`compute_dtype`, :func:`floats_at_least_float32`, :func:`cast_images` (precision)
* :func:`make_checkpoint_manager`, :func:`save_checkpoint`, :func:`restore_checkpoint`
  (checkpoint, Orbax)
* :func:`make_metric_writers`, :func:`read_jsonl`, :func:`read_tfevents_scalars` (metric_writers)
* :class:`Progress` (progress), :func:`check_finite` (finite)
* :func:`initialize_distributed` (distributed)
* :func:`weighted_term_gradients`, :func:`term_report` (term_gradients): each loss term's share
  of a training step's gradient
* :func:`initial_train_state`, :func:`restore_train_state`, :func:`restore_variables`,
  :func:`open_checkpoints`, :func:`config_to_dict` (workdir): a run's state, new or restored
* :func:`default_config`, :func:`validate_config` (config), :func:`run_training` (loop)

docs/training.md describes the whole.
"""

from facejax.train.checkpoint import (
    DamagedCheckpointError,
    Restored,
    make_checkpoint_manager,
    restore_checkpoint,
    save_checkpoint,
)
from facejax.train.config import default_config, validate_config
from facejax.train.distributed import initialize_distributed
from facejax.train.finite import check_finite
from facejax.train.loop import run_training
from facejax.train.metric_writers import (
    JsonlWriter,
    MultiWriter,
    TensorBoardWriter,
    make_metric_writers,
    read_jsonl,
    read_tfevents_scalars,
)
from facejax.train.optimizer import make_optimizer, make_schedule, update_ema
from facejax.train.parallel import (
    DataParallel,
    JitDataParallel,
    PmapDataParallel,
    batch_axis_name,
    device_arrays,
    make_data_parallel,
)
from facejax.train.precision import cast_images, compute_dtype, floats_at_least_float32
from facejax.train.progress import Progress
from facejax.train.state import TrainState, create_train_state, eval_variables
from facejax.train.step import make_train_step
from facejax.train.term_gradients import term_report, weighted_term_gradients
from facejax.train.workdir import (
    config_to_dict,
    initial_train_state,
    make_run_optimizer,
    open_checkpoints,
    restore_train_state,
    restore_variables,
    seed_keys,
)

__all__ = [
    "DataParallel",
    "JitDataParallel",
    "JsonlWriter",
    "MultiWriter",
    "PmapDataParallel",
    "Progress",
    "DamagedCheckpointError",
    "Restored",
    "TensorBoardWriter",
    "TrainState",
    "floats_at_least_float32",
    "batch_axis_name",
    "cast_images",
    "check_finite",
    "compute_dtype",
    "config_to_dict",
    "create_train_state",
    "default_config",
    "device_arrays",
    "eval_variables",
    "initial_train_state",
    "initialize_distributed",
    "make_checkpoint_manager",
    "make_data_parallel",
    "make_metric_writers",
    "make_optimizer",
    "make_run_optimizer",
    "make_schedule",
    "make_train_step",
    "open_checkpoints",
    "read_jsonl",
    "read_tfevents_scalars",
    "restore_checkpoint",
    "restore_train_state",
    "restore_variables",
    "run_training",
    "save_checkpoint",
    "seed_keys",
    "term_report",
    "update_ema",
    "validate_config",
    "weighted_term_gradients",
]


def __getattr__(name: str):
    # Deprecated for one release: the pytree cast is named for what it does, and the array
    # version lives in facejax.numerics.
    if name == "at_least_float32":
        import warnings

        warnings.warn(
            "facejax.train.at_least_float32 is now facejax.train.floats_at_least_float32",
            DeprecationWarning,
            stacklevel=2,
        )
        return floats_at_least_float32
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
