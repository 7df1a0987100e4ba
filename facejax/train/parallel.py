"""Data parallelism two ways, chosen once by config: ``jax.jit`` over a mesh, or ``jax.pmap``.

:func:`make_data_parallel` turns ``config.parallelism`` into a :class:`DataParallel`, the only
object that knows which of the two runs; the loop and the recipes call it and never branch:

* :attr:`~DataParallel.axis_name`: the axis the step and the model's BatchNorm average over
  (:func:`batch_axis_name` gives it from the config's string, to build a model);
* :meth:`~DataParallel.compile`: the step, compiled, the state donated;
* :meth:`~DataParallel.put_state`, :meth:`~DataParallel.put_rng`: the state and the base key
  where the compiled step expects them; :meth:`~DataParallel.get_state` the state back in
  canonical form;
* :meth:`~DataParallel.shard_batch`, :meth:`~DataParallel.prefetch`: host batches onto the
  devices; :meth:`~DataParallel.examples_per_step` the global batch size of a placed batch;
* :meth:`~DataParallel.to_host`: the step's metrics (or any replicated values) as numpy.

The two:

* ``"jit"`` (:class:`JitDataParallel`): a 1D mesh over all devices (of all processes) with axis
  ``"data"``. The batch is a global array split over ``"data"`` (each process contributes its
  rows, facejax.data.pipeline.shard_batch_for_devices), the state and the base RNG key are
  replicated, and ``jax.jit`` compiles the step with these shardings given explicitly and the
  state donated (its buffers are reused for the new state). XLA inserts the gradient all-reduce
  itself; there is no axis name.
* ``"pmap"`` (:class:`PmapDataParallel`): the step is ``jax.pmap`` ped over the devices with
  axis ``"batch"``; the state has a leading device axis (a copy per device), the batch is
  ``[D, B / D, ...]`` (shard_batch_for_pmap) and the step averages over devices with
  ``lax.pmean`` (facejax.train.step). Also with the state donated.

Whatever the mode, :meth:`DataParallel.get_state` returns the state in one *canonical* form, a
pytree of arrays replicated over the mesh (no device axis): that is what checkpoints store and
what evaluation reads, so a checkpoint written by one mode restores in the other.
"""

from __future__ import annotations

import abc
import dataclasses
from collections.abc import Callable, Iterator, Mapping
from typing import Any, ClassVar

import jax
import numpy as np
from jax.sharding import Mesh, NamedSharding, PartitionSpec

from facejax.data.pipeline import DevicePrefetcher, shard_batch_for_devices, shard_batch_for_pmap

PyTree = Any
DATA_AXIS = "data"
PMAP_AXIS_NAME = "batch"


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


def _first_shards(tree: PyTree) -> PyTree:
    """Each array's first addressable shard, as numpy, in one transfer."""
    return jax.device_get(jax.tree.map(lambda x: x.addressable_shards[0].data, tree))


@dataclasses.dataclass(frozen=True)
class DataParallel(abc.ABC):
    """How the step runs on the devices; made once, by :func:`make_data_parallel`.

    Attributes:
      mesh: a 1D mesh with axis ``"data"`` over all devices (all processes).
      parallelism: the config's name of the mode, "jit" or "pmap".
      axis_name: the axis name the step and BatchNorm average over (None: XLA does it).
    """

    mesh: Mesh
    parallelism: ClassVar[str]
    axis_name: ClassVar[str | None]

    @property
    def replicated(self) -> NamedSharding:
        """The sharding of the canonical state: the whole array on every device."""
        return NamedSharding(self.mesh, PartitionSpec())

    @property
    def local_devices(self) -> list:
        """This process's devices in the mesh, in mesh order."""
        return [d for d in self.mesh.devices.flat if d.process_index == jax.process_index()]

    def replicate(self, tree: PyTree) -> PyTree:
        """A pytree of host or device values, identical on every process, replicated."""

        def put(x):
            if isinstance(x, jax.Array) and x.sharding.is_equivalent_to(self.replicated, x.ndim):
                return x  # already in place (e.g. the freshly initialised or restored state)
            value = local_value(x)
            return jax.make_array_from_callback(value.shape, self.replicated, lambda i: value[i])

        return jax.tree.map(put, tree)

    def prefetch(self, iterator: Iterator, size: int = 2) -> DevicePrefetcher:
        """Host batches (this process's rows) -> device batches (:meth:`shard_batch`), ``size``
        ahead; a checkpointable iterator whatever ``iterator`` is."""
        return DevicePrefetcher(iterator, self.shard_batch, size=size)

    @abc.abstractmethod
    def compile(self, train_step: Callable) -> Callable:
        """``train_step(state, batch, rng)`` compiled for this mode, the state donated.

        Takes and returns the state in the *device* form (:meth:`put_state`); the metrics come
        back in a form :meth:`to_host` reads.
        """

    @abc.abstractmethod
    def put_state(self, state: PyTree) -> PyTree:
        """Canonical state (or host values, the same on every process) -> the step's form.

        Arrays already in place are used as they are, not copied: the step donates its state,
        so the argument is consumed by the first step.
        """

    @abc.abstractmethod
    def get_state(self, state: PyTree) -> PyTree:
        """The step's form of the state -> canonical (replicated, no device axis)."""

    @abc.abstractmethod
    def put_rng(self, rng: jax.Array) -> jax.Array:
        """The base key (a raw uint32 ``PRNGKey``) where the step expects it."""

    @abc.abstractmethod
    def shard_batch(self, batch: Mapping[str, np.ndarray]) -> dict[str, jax.Array]:
        """This process's host batch ``{name: [B, ...]}`` -> the step's device batch.

        Text features (which cannot live on a device) are left out.
        """

    @abc.abstractmethod
    def examples_per_step(self, batch: Mapping[str, jax.Array]) -> int:
        """The global batch size of a device batch (all processes together)."""

    @abc.abstractmethod
    def to_host(self, tree: PyTree) -> PyTree:
        """Replicated values in the step's form (e.g. its metrics) -> numpy, one transfer.

        Blocks until the steps that produce them are done: call it at log steps, not every step.
        """


class JitDataParallel(DataParallel):
    """``jax.jit`` with explicit shardings: the batch split over the mesh, the state replicated."""

    parallelism = "jit"
    axis_name = None

    @property
    def batch_sharding(self) -> NamedSharding:
        """A batch's sharding: rows split over ``"data"``."""
        return NamedSharding(self.mesh, PartitionSpec(DATA_AXIS))

    def compile(self, train_step: Callable) -> Callable:
        return jax.jit(
            train_step,
            in_shardings=(self.replicated, self.batch_sharding, self.replicated),
            out_shardings=(self.replicated, self.replicated),
            donate_argnums=(0,),
        )

    def put_state(self, state: PyTree) -> PyTree:
        return self.replicate(state)

    def get_state(self, state: PyTree) -> PyTree:
        return state

    def put_rng(self, rng: jax.Array) -> jax.Array:
        return self.replicate(rng)

    def shard_batch(self, batch: Mapping[str, np.ndarray]) -> dict[str, jax.Array]:
        return device_arrays(shard_batch_for_devices(batch, self.batch_sharding))

    def examples_per_step(self, batch: Mapping[str, jax.Array]) -> int:
        return int(next(iter(batch.values())).shape[0])  # one global array

    def to_host(self, tree: PyTree) -> PyTree:
        return jax.tree.map(np.asarray, _first_shards(tree))


class PmapDataParallel(DataParallel):
    """``jax.pmap`` over the mesh's devices: a copy of the state per device, ``lax.pmean``."""

    parallelism = "pmap"
    axis_name = PMAP_AXIS_NAME

    def compile(self, train_step: Callable) -> Callable:
        return jax.pmap(
            train_step,
            axis_name=PMAP_AXIS_NAME,
            in_axes=(0, 0, None),
            donate_argnums=(0,),
            devices=list(self.mesh.devices.flat),  # all processes' devices, in mesh order
        )

    def put_state(self, state: PyTree) -> PyTree:
        devices = self.local_devices
        # The sharding pmap gives its outputs: inputs laid out otherwise compile a second time.
        mesh = Mesh(np.array(devices), (PMAP_AXIS_NAME,))
        sharding = NamedSharding(mesh, PartitionSpec(PMAP_AXIS_NAME))

        def stack(x):
            value = local_value(x)
            return jax.device_put(np.broadcast_to(value, (len(devices), *value.shape)), sharding)

        return jax.tree.map(stack, state)

    def get_state(self, state: PyTree) -> PyTree:
        return self.replicate(jax.tree.map(lambda x: local_value(x, device_axis=True), state))

    def put_rng(self, rng: jax.Array) -> jax.Array:
        return rng  # pmap broadcasts it (in_axes None)

    def shard_batch(self, batch: Mapping[str, np.ndarray]) -> dict[str, jax.Array]:
        return device_arrays(shard_batch_for_pmap(batch, self.local_devices))

    def examples_per_step(self, batch: Mapping[str, jax.Array]) -> int:
        leaf = next(iter(batch.values()))  # [D_local, B / D, ...] on each process
        return int(leaf.shape[0] * leaf.shape[1] * jax.process_count())

    def to_host(self, tree: PyTree) -> PyTree:
        return jax.tree.map(lambda v: np.asarray(v)[0], _first_shards(tree))


PARALLELISMS: dict[str, type[DataParallel]] = {
    cls.parallelism: cls for cls in (JitDataParallel, PmapDataParallel)
}


def _data_parallel_class(parallelism: str) -> type[DataParallel]:
    if parallelism not in PARALLELISMS:
        names = " or ".join(repr(name) for name in PARALLELISMS)
        raise ValueError(f"parallelism must be {names}, got {parallelism!r}")
    return PARALLELISMS[parallelism]


def batch_axis_name(parallelism: str) -> str | None:
    """The axis name a model's BatchNorm must use under ``parallelism``: "batch" under pmap,
    None under jit (there the model sees the global batch and no axis is mapped).

    Raises:
      ValueError: for a parallelism other than "jit" and "pmap".
    """
    return _data_parallel_class(parallelism).axis_name


def make_data_parallel(parallelism: str, devices=None) -> DataParallel:
    """The :class:`DataParallel` of ``parallelism`` over ``devices`` (default: all devices of
    all processes).

    Raises:
      ValueError: for a parallelism other than "jit" and "pmap".
    """
    cls = _data_parallel_class(parallelism)
    devices = jax.devices() if devices is None else list(devices)
    return cls(Mesh(np.array(devices), (DATA_AXIS,)))
