"""Host batches -> device arrays: global arrays sharded over a mesh's data axis, or pmap-style.

**Global arrays (jit with shardings).** Every process holds its own batch (its shard of the data,
facejax.data.pipeline.sharding) and passes it to :func:`shard_batch_for_devices`, which builds one
global ``jax.Array`` per feature with ``jax.make_array_from_process_local_data``: the global batch
is the processes' batches stacked in process order, rows split over the mesh's data axis (or
axes), replicated over the others. Within a process the rows go to its devices in mesh order:
device ``k`` of ``D`` along the data axis holds local rows ``[k B / D, (k + 1) B / D)``.

**pmap.** :func:`shard_batch_for_pmap` reshapes ``[B, ...]`` to ``[D, B / D, ...]`` for the ``D``
local devices and puts slice ``k`` on device ``k``, which is what ``jax.pmap`` expects.

Text features (``bytes_``/``str_``/object arrays) cannot live on a device: they are returned as
the process's numpy arrays. Integers and floats are converted to JAX's default width (int64 ->
int32 unless x64 is enabled), as ``jnp.asarray`` would.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import jax
import numpy as np
from jax.sharding import Mesh, NamedSharding, PartitionSpec

PMAP_AXIS = "devices"


def _is_text(value: np.ndarray) -> bool:
    return value.dtype.kind in "SUO"


def data_sharding(mesh_or_devices, data_axis: str | tuple[str, ...] = "data") -> NamedSharding:
    """The sharding of a batch: its first axis split over ``data_axis``, the rest replicated.

    Args:
      mesh_or_devices: a ``Mesh`` (with ``data_axis`` among its axes), a ``NamedSharding``
        (returned as it is), or a sequence of devices (a 1D mesh over them named ``data_axis``).
      data_axis: the mesh axis (or axes) the batch is split over.
    """
    if isinstance(mesh_or_devices, NamedSharding):
        return mesh_or_devices
    axes = (data_axis,) if isinstance(data_axis, str) else tuple(data_axis)
    if isinstance(mesh_or_devices, Mesh):
        mesh = mesh_or_devices
        missing = [axis for axis in axes if axis not in mesh.axis_names]
        if missing:
            raise ValueError(
                f"data_sharding: mesh axes {mesh.axis_names} do not include the data axis {missing}"
            )
    else:
        devices = list(mesh_or_devices)
        if not devices or len(axes) != 1:
            raise ValueError(
                f"data_sharding: need a non-empty device list and one data axis, got "
                f"{len(devices)} devices and axes {axes}"
            )
        mesh = Mesh(np.array(devices), axes)
    return NamedSharding(mesh, PartitionSpec(axes if len(axes) > 1 else axes[0]))


def _local_data_shards(sharding: NamedSharding) -> int:
    """How many distinct row blocks this process's devices hold."""
    mesh = sharding.mesh
    spec = sharding.spec[0] if len(sharding.spec) else None
    axes = (spec,) if isinstance(spec, str) else tuple(spec or ())
    positions = [mesh.axis_names.index(axis) for axis in axes]
    blocks = set()
    for index, device in np.ndenumerate(mesh.devices):
        if device.process_index == jax.process_index():
            blocks.add(tuple(index[p] for p in positions))
    return len(blocks)


def _host_array(name: str, value) -> np.ndarray:
    value = np.asarray(value)
    if value.ndim == 0:
        raise ValueError(f"placement: feature {name!r} is a scalar, not a batch [B, ...]")
    if _is_text(value):
        return value
    return value.astype(jax.dtypes.canonicalize_dtype(value.dtype), copy=False)


def shard_batch_for_devices(
    batch: Mapping[str, np.ndarray], mesh_or_devices, *, data_axis: str | tuple[str, ...] = "data"
) -> dict:
    """This process's batch -> global ``jax.Array`` s split over the data axis of a mesh.

    Args:
      batch: ``{name: [B, ...]}`` numpy arrays, this process's rows.
      mesh_or_devices: a ``Mesh``, a ``NamedSharding`` or devices (see :func:`data_sharding`).
      data_axis: the mesh axis (or axes) the batch is split over.

    Returns:
      ``{name: jax.Array [B * process_count, ...]}`` (text features: this process's numpy arrays).

    Raises:
      ValueError: when ``B`` is not a multiple of the row blocks of this process's devices.
    """
    sharding = data_sharding(mesh_or_devices, data_axis)
    blocks = _local_data_shards(sharding)
    placed = {}
    for name, value in batch.items():
        value = _host_array(name, value)
        if _is_text(value):
            placed[name] = value
            continue
        if value.shape[0] % blocks:
            raise ValueError(
                f"shard_batch_for_devices: feature {name!r} has {value.shape[0]} rows on this "
                f"process, not a multiple of the {blocks} data shards of its devices"
            )
        placed[name] = jax.make_array_from_process_local_data(sharding, value)
    return placed


def shard_batch_for_pmap(batch: Mapping[str, np.ndarray], devices: Sequence | None = None) -> dict:
    """This process's batch ``[B, ...]`` -> ``[D, B / D, ...]`` arrays, slice ``k`` on device ``k``.

    Args:
      batch: ``{name: [B, ...]}`` numpy arrays.
      devices: the ``D`` devices ``jax.pmap`` runs on (default ``jax.local_devices()``).

    Returns:
      ``{name: jax.Array [D, B / D, ...]}`` (text features: numpy arrays reshaped alike).
    """
    devices = list(jax.local_devices() if devices is None else devices)
    sharding = NamedSharding(Mesh(np.array(devices), (PMAP_AXIS,)), PartitionSpec(PMAP_AXIS))
    count = len(devices)
    placed = {}
    for name, value in batch.items():
        value = _host_array(name, value)
        if value.shape[0] % count:
            raise ValueError(
                f"shard_batch_for_pmap: feature {name!r} has {value.shape[0]} rows, not a "
                f"multiple of {count} devices"
            )
        value = value.reshape(count, value.shape[0] // count, *value.shape[1:])
        placed[name] = value if _is_text(value) else jax.device_put(value, sharding)
    return placed
