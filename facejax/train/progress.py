"""A progress bar with step rate, examples per second and ETA, for process 0.

:class:`Progress` is updated at log steps only (updating tqdm every step would cost a host
synchronisation per step). It measures the wall-clock rate over each log window, which the loop
also logs as ``steps_per_second`` and ``examples_per_second``. The first window starts after the
first step, so compilation does not count against the rate (the loop logs the first step's
time, compilation included, as ``first_step_seconds``).
"""

from __future__ import annotations

import sys
import time
from collections.abc import Mapping


class Progress:
    """tqdm bar over ``[initial_step, num_steps]`` and rates over log windows.

    Args:
      num_steps: the last step of the run.
      initial_step: the step the run starts (or resumes) from.
      examples_per_step: the global batch size (for examples/s).
      enabled: show the bar (False: only measure rates; e.g. processes other than 0, tests).
      clock: a time function (for tests).
    """

    def __init__(
        self,
        num_steps: int,
        *,
        initial_step: int = 0,
        examples_per_step: int = 0,
        enabled: bool = True,
        clock=time.perf_counter,
    ):
        self.num_steps = num_steps
        self.examples_per_step = examples_per_step
        self._clock = clock
        self._step = initial_step
        self._time = None
        self._bar = None
        if enabled:
            from tqdm.auto import tqdm

            self._bar = tqdm(
                total=num_steps,
                initial=initial_step,
                unit="step",
                dynamic_ncols=True,
                file=sys.stderr,
                smoothing=0.1,
            )

    def start(self, step: int) -> None:
        """Starts timing from ``step`` (call after the first, compiling, step)."""
        if self._bar is not None:
            self._bar.update(step - self._step)
        self._step = step
        self._time = self._clock()

    def update(self, step: int, scalars: Mapping[str, float] | None = None) -> dict[str, float]:
        """Moves the bar to ``step``; returns the window's rates (empty before :meth:`start`).

        Args:
          step: the current step.
          scalars: a few values to show beside the bar (e.g. the loss).

        Returns:
          ``{"steps_per_second", "examples_per_second"}`` since the previous update.
        """
        now = self._clock()
        rates = {}
        if self._time is not None and step > self._step and now > self._time:
            steps_per_second = (step - self._step) / (now - self._time)
            rates = {
                "steps_per_second": steps_per_second,
                "examples_per_second": steps_per_second * self.examples_per_step,
            }
        if self._bar is not None:
            self._bar.update(step - self._step)
            postfix = {k: f"{v:.4g}" for k, v in (scalars or {}).items()}
            if rates and self.examples_per_step:
                postfix["img/s"] = f"{rates['examples_per_second']:.1f}"
            self._bar.set_postfix(postfix, refresh=True)
        self._step = step
        self._time = now
        return rates

    def write(self, message: str) -> None:
        """Prints a line without breaking the bar."""
        if self._bar is not None:
            self._bar.write(message, file=sys.stderr)

    def close(self) -> None:
        if self._bar is not None:
            self._bar.close()
