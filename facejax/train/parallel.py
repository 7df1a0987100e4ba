"""Data parallelism two ways, chosen by config: ``jax.jit`` over a mesh, or ``jax.pmap``.

:class:`DataParallel` puts the state, the batches and the step on the devices for one of them:

* ``"jit"``: a 1D mesh over all devices (of all processes) with axis ``"data"``. The batch is a
  global array split over ``"data"`` (each process contributes its rows,
  facejax.data.pipeline.shard_batch_for_devices), the state and the base RNG key are replicated,
  and ``jax.jit`` compiles the step with these shardings given explicitly and the state donated
  (its buffers are reused for the new state). XLA inserts the gradient all-reduce itself.
* ``"pmap"``: the step is ``jax.pmap`` ped over the local devices with axis ``"batch"``; the
  state has a leading device axis (a copy per device), the batch is ``[D, B / D, ...]``
  (shard_batch_for_pmap) and the step averages over devices with ``lax.pmean``
  (facejax.train.step). Also with the state donated.

Whatever the mode, :meth:`DataParallel.get_state` returns the state in one *canonical* form, a
pytree of arrays replicated over the mesh (no device axis): that is what checkpoints store and
what evaluation reads, so a checkpoint written by one mode restores in the other.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterator, Mapping
from typing import Any

import jax
import numpy as np
from jax.sharding import Mesh, NamedSharding, PartitionSpec

from facejax.data.pipeline import DevicePrefetcher, prefetch_to_device
from facejax.train.step import PMAP_AXIS_NAME, batch_axis_name

PyTree = Any
DATA_AXIS = "data"


def local_value(x, *, device_axis: bool = False) -> np.ndarray:
    """A replicated array's value from this process's first device, as numpy.

    Works for a global array spanning several processes (``np.asarray`` would refuse one that
    is not fully addressable).

    Args:
      x: a replicated ``jax.Array`` (or a host value, returned as numpy).
      device_axis: ``x`` is in pmap form ``[D, ...]`` (one copy per device): return one copy.
    """
    if not isinstance(x, jax.Array):
        return np.asarray(x)
    value = np.asarray(x.addressable_shards[0].data)
    return value[0] if device_axis else value


def device_arrays(batch: Mapping[str, Any]) -> dict[str, jax.Array]:
    """The features of a placed batch that live on the devices (text stays on the host)."""
    return {name: value for name, value in batch.items() if isinstance(value, jax.Array)}


@dataclasses.dataclass(frozen=True)
class DataParallel:
    """How the step runs on the devices: ``"jit"`` over a mesh or ``"pmap"``.

    Attributes:
      parallelism: "jit" or "pmap".
      mesh: a 1D mesh with axis ``"data"`` over all devices (all processes).
    """

    parallelism: str
    mesh: Mesh

    @property
    def replicated(self) -> NamedSharding:
        """The sharding of the canonical state: the whole array on every device."""
        return NamedSharding(self.mesh, PartitionSpec())

    @property
    def batch_sharding(self) -> NamedSharding:
        """A jit batch's sharding: rows split over ``"data"``."""
        return NamedSharding(self.mesh, PartitionSpec(DATA_AXIS))

    @property
    def axis_name(self) -> str | None:
        """The axis name BatchNorm and the step reduce over (None under jit)."""
        return batch_axis_name(self.parallelism)

    @property
    def local_devices(self) -> list:
        """This process's devices in the mesh, in mesh order (pmap's devices)."""
        return [d for d in self.mesh.devices.flat if d.process_index == jax.process_index()]

    def compile(self, train_step: Callable) -> Callable:
        """``train_step(state, batch, rng)`` compiled for this mode, the state donated.

        Takes and returns the state in the *device* form (:meth:`put_state`); the metrics come
        back replicated (jit) or with a device axis (pmap): read them with
        :meth:`metrics_to_host`.
        """
        if self.parallelism == "pmap":
            return jax.pmap(
                train_step,
                axis_name=PMAP_AXIS_NAME,
                in_axes=(0, 0, None),
                donate_argnums=(0,),
                devices=list(self.mesh.devices.flat),  # all processes' devices, in mesh order
            )
        return jax.jit(
            train_step,
            in_shardings=(self.replicated, self.batch_sharding, self.replicated),
            out_shardings=(self.replicated, self.replicated),
            donate_argnums=(0,),
        )

    def replicate(self, tree: PyTree) -> PyTree:
        """A pytree of host or device values, identical on every process, replicated."""

        def put(x):
            if isinstance(x, jax.Array) and x.sharding.is_equivalent_to(self.replicated, x.ndim):
                return x  # already in place (e.g. the freshly initialised or restored state)
            value = local_value(x)
            return jax.make_array_from_callback(value.shape, self.replicated, lambda i: value[i])

        return jax.tree.map(put, tree)

    def put_state(self, state: PyTree) -> PyTree:
        """Canonical state (or host values, the same on every process) -> the step's form.

        Arrays already replicated over the mesh are used as they are, not copied: the step
        donates its state, so the argument is consumed by the first step.
        """
        if self.parallelism == "jit":
            return self.replicate(state)
        devices = self.local_devices
        # The sharding pmap gives its outputs: inputs laid out otherwise compile a second time.
        mesh = Mesh(np.array(devices), (PMAP_AXIS_NAME,))
        sharding = NamedSharding(mesh, PartitionSpec(PMAP_AXIS_NAME))

        def stack(x):
            value = local_value(x)
            return jax.device_put(np.broadcast_to(value, (len(devices), *value.shape)), sharding)

        return jax.tree.map(stack, state)

    def get_state(self, state: PyTree) -> PyTree:
        """The step's form of the state -> canonical (replicated, no device axis)."""
        if self.parallelism == "jit":
            return state
        return self.replicate(jax.tree.map(lambda x: local_value(x, device_axis=True), state))

    def put_rng(self, rng: jax.Array) -> jax.Array:
        """The base key (a raw uint32 ``PRNGKey``) where the step expects it (replicated; pmap
        broadcasts it)."""
        return self.replicate(rng) if self.parallelism == "jit" else rng

    def prefetch(self, iterator: Iterator, size: int = 2) -> DevicePrefetcher:
        """Host batches (this process's rows) -> device batches, ``size`` ahead."""
        if self.parallelism == "pmap":
            return prefetch_to_device(iterator, size, self.local_devices, pmap=True)
        return prefetch_to_device(iterator, size, self.batch_sharding)

    def to_host(self, tree: PyTree) -> PyTree:
        """Replicated values in the step's form (e.g. its metrics) -> numpy, one transfer.

        Blocks until the steps that produce them are done: call it at log steps, not every step.
        """
        shards = jax.device_get(jax.tree.map(lambda x: x.addressable_shards[0].data, tree))
        if self.parallelism == "pmap":
            return jax.tree.map(lambda v: np.asarray(v)[0], shards)
        return jax.tree.map(np.asarray, shards)


def make_data_parallel(parallelism: str, devices=None) -> DataParallel:
    """A :class:`DataParallel` over ``devices`` (default: all devices of all processes).

    Raises:
      ValueError: for a parallelism other than "jit" and "pmap".
    """
    batch_axis_name(parallelism)  # validates
    devices = jax.devices() if devices is None else list(devices)
    return DataParallel(parallelism, Mesh(np.array(devices), (DATA_AXIS,)))
