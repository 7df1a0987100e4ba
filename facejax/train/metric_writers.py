"""Metric files: JSON lines and TensorBoard event files (no TensorFlow), from process 0 only.

* ``workdir/metrics.jsonl``: one JSON object per logged step, ``{"step": 100, "train/loss":
  0.61, ...}``; non-finite values are written as ``null`` (strict JSON).
* ``workdir/tensorboard/events.out.tfevents.*``: scalar summaries written with ``tensorboardX``
  (protobuf only); ``tensorboard --logdir workdir/tensorboard`` shows them. Non-finite values
  (a metric with no data, such as an empty yaw bin) are left out, as ``null`` is in the JSON.

**Resumed runs.** The steps after the restored checkpoint were run (and logged) by the killed
run and are run again: :class:`JsonlWriter` drops records after the restored step when it opens
the file, and the TensorBoard writer starts its new event file with a ``purge_step``, which
tells TensorBoard to discard the older files' events from that step on. Each step then appears
once.
"""

from __future__ import annotations

import json
import math
import os
import struct
from collections.abc import Iterator, Mapping, Sequence
from typing import Protocol

from facejax.formats.atomic_files import write_text_atomic

JSONL_NAME = "metrics.jsonl"
TENSORBOARD_DIR = "tensorboard"


class MetricWriter(Protocol):
    """Something that records scalars per step."""

    def write_scalars(self, step: int, scalars: Mapping[str, float]) -> None: ...

    def flush(self) -> None: ...

    def close(self) -> None: ...


def _json_value(value: float) -> float | None:
    value = float(value)
    return value if math.isfinite(value) else None


class JsonlWriter:
    """Appends ``{"step": step, **scalars}`` lines to a file.

    Args:
      path: the ``.jsonl`` file (its folder is created).
      resume_step: when resuming from the checkpoint of this step, records of later steps (run
        by the interrupted run after its last checkpoint) are dropped first.
    """

    def __init__(self, path: str | os.PathLike, *, resume_step: int | None = None):
        self.path = os.fspath(path)
        os.makedirs(os.path.dirname(self.path) or ".", exist_ok=True)
        if resume_step is not None and os.path.exists(self.path):
            kept = [r for r in read_jsonl(self.path) if r.get("step", 0) <= resume_step]
            write_text_atomic(self.path, "".join(json.dumps(r) + "\n" for r in kept))
        self._file = open(self.path, "a")  # noqa: SIM115 (closed in close())

    def write_scalars(self, step: int, scalars: Mapping[str, float]) -> None:
        record = {"step": int(step), **{k: _json_value(v) for k, v in scalars.items()}}
        self._file.write(json.dumps(record, allow_nan=False) + "\n")

    def flush(self) -> None:
        self._file.flush()

    def close(self) -> None:
        if not self._file.closed:
            self._file.close()


class TensorBoardWriter:
    """Scalars to a TensorBoard event file with ``tensorboardX`` (no TensorFlow needed).

    Args:
      logdir: the folder of the event files.
      resume_step: on a resumed run, the restored step (events from ``resume_step + 1`` on in
        earlier files are purged by TensorBoard).
    """

    def __init__(self, logdir: str | os.PathLike, *, resume_step: int | None = None):
        from tensorboardX import SummaryWriter  # imported only when TensorBoard files are asked

        purge = None if resume_step is None else int(resume_step) + 1
        self.logdir = os.fspath(logdir)
        self._writer = SummaryWriter(self.logdir, purge_step=purge, flush_secs=30)

    def write_scalars(self, step: int, scalars: Mapping[str, float]) -> None:
        for name, value in scalars.items():
            if _json_value(value) is not None:  # no value, as in metrics.jsonl
                self._writer.add_scalar(name, float(value), int(step))

    def flush(self) -> None:
        self._writer.flush()

    def close(self) -> None:
        self._writer.close()


class MultiWriter:
    """Writes to several writers (or to none: a no-op writer for processes other than 0)."""

    def __init__(self, writers: Sequence[MetricWriter] = ()):
        self.writers = list(writers)

    def write_scalars(self, step: int, scalars: Mapping[str, float]) -> None:
        for writer in self.writers:
            writer.write_scalars(step, scalars)

    def flush(self) -> None:
        for writer in self.writers:
            writer.flush()

    def close(self) -> None:
        for writer in self.writers:
            writer.close()


def make_metric_writers(
    workdir: str | os.PathLike,
    *,
    process_index: int = 0,
    tensorboard: bool = True,
    resume_step: int | None = None,
) -> MultiWriter:
    """The metric writers of a run: ``workdir/metrics.jsonl`` and ``workdir/tensorboard/``.

    Args:
      workdir: the run's folder.
      process_index: this process (``jax.process_index()``); only process 0 writes.
      tensorboard: also write TensorBoard event files.
      resume_step: the step the run resumed from (see the module docstring), or None.
    """
    if process_index != 0:
        return MultiWriter()
    writers: list[MetricWriter] = [
        JsonlWriter(os.path.join(workdir, JSONL_NAME), resume_step=resume_step)
    ]
    if tensorboard:
        writers.append(
            TensorBoardWriter(os.path.join(workdir, TENSORBOARD_DIR), resume_step=resume_step)
        )
    return MultiWriter(writers)


def read_jsonl(path: str | os.PathLike) -> list[dict]:
    """The records of a ``metrics.jsonl`` file, in order."""
    with open(path) as f:
        return [json.loads(line) for line in f if line.strip()]


def _tfrecords(path: str) -> Iterator[bytes]:
    # TFRecord framing: uint64 length, uint32 masked CRC of the length, data, uint32 CRC.
    with open(path, "rb") as f:
        while header := f.read(12):
            if len(header) < 12:
                raise ValueError(f"{path}: truncated record header")
            (length,) = struct.unpack("<Q", header[:8])
            data = f.read(length)
            if len(data) < length or len(f.read(4)) < 4:
                raise ValueError(f"{path}: truncated record")
            yield data


def read_tfevents_scalars(path: str | os.PathLike) -> list[tuple[int, str, float]]:
    """``(step, tag, value)`` of the scalar summaries in a TensorBoard event file, in order.

    Reads the records with tensorboardX's protobuf classes; no TensorFlow or TensorBoard.
    """
    from tensorboardX.proto import event_pb2

    scalars = []
    for record in _tfrecords(os.fspath(path)):
        event = event_pb2.Event.FromString(record)
        for value in event.summary.value:
            if value.HasField("simple_value"):
                scalars.append((int(event.step), value.tag, float(value.simple_value)))
    return scalars
