"""Learning-rate regimes: linear warm-up from 0, then a decay counted from the end of warm-up.

Configured in gin as `learning_rate_schedule` and passed to `optimization` by reference; one
object, checked once against the run's length (`check`) and called wherever the rate is needed.
"""

from typing import Optional, Sequence

import gin
import tensorflow as tf

from finetune import checks
from finetune.errors import FinetuneError

DECAYS = ("constant", "linear", "polynomial", "cosine", "exponential", "piecewise_constant")


@gin.configurable("learning_rate_schedule")
class LearningRateSchedule:
  """The learning rate as a function of the global step.

  Args:
    base_learning_rate: the rate reached at the end of warm-up.
    warmup_steps: steps of linear warm-up; the rate is base * step / warmup_steps there.
    decay: one of constant, linear, polynomial, cosine, exponential, piecewise_constant.
      Decay starts after warm-up and counts steps from its end.
    decay_steps: decay horizon (default: train_steps - warmup_steps). For exponential decay,
      the rate is multiplied by decay_rate every decay_steps.
    end_learning_rate: where linear and polynomial decay end.
    power: the polynomial's power (linear is power 1).
    decay_rate: exponential decay factor.
    alpha: cosine decay's floor, as a fraction of the base rate.
    boundaries, multipliers: piecewise_constant: base * multipliers[i] between boundaries
      (global steps); len(multipliers) == len(boundaries) + 1.
  """

  def __init__(self,
               base_learning_rate: float = 1e-3,
               warmup_steps: int = 0,
               decay: str = "constant",
               decay_steps: Optional[int] = None,
               end_learning_rate: float = 0.0,
               power: float = 1.0,
               decay_rate: float = 0.1,
               alpha: float = 0.0,
               boundaries: Sequence[int] = (),
               multipliers: Sequence[float] = ()):
    self.base_learning_rate = checks.positive_number(
        base_learning_rate, "learning_rate_schedule.base_learning_rate")
    self.warmup_steps = warmup_steps
    self.decay = decay
    self.decay_steps = decay_steps
    self.end_learning_rate = end_learning_rate
    self.power = power
    self.decay_rate = decay_rate
    self.alpha = alpha
    self.boundaries = [int(b) for b in boundaries]
    self.multipliers = list(multipliers)
    self._check_shape()

  def _check_shape(self):
    """What can be refused without knowing the run's length."""
    if self.decay not in DECAYS:
      raise FinetuneError(f"learning_rate_schedule.decay = '{self.decay}' is unknown; use one "
                          f"of: {', '.join(DECAYS)}.")
    checks.non_negative_number(self.end_learning_rate, "learning_rate_schedule.end_learning_rate")
    if self.decay_steps is not None:
      checks.positive_int(self.decay_steps, "learning_rate_schedule.decay_steps")
    if self.decay == "piecewise_constant":
      if len(self.multipliers) != len(self.boundaries) + 1:
        raise FinetuneError(
            "learning_rate_schedule: piecewise_constant needs len(multipliers) == "
            f"len(boundaries) + 1; got {len(self.multipliers)} multipliers and "
            f"{len(self.boundaries)} boundaries.")
      if any(m < 0 for m in self.multipliers) or self.boundaries != sorted(self.boundaries):
        raise FinetuneError("learning_rate_schedule: piecewise_constant needs increasing "
                            "boundaries and non-negative multipliers.")

  def check(self, train_steps):
    """Refuses a warm-up that does not fit in the run."""
    if (isinstance(self.warmup_steps, bool) or not isinstance(self.warmup_steps, int) or
        self.warmup_steps < 0 or self.warmup_steps >= train_steps):
      raise FinetuneError(
          f"learning_rate_schedule.warmup_steps = {self.warmup_steps!r} must be an integer "
          f">= 0 and shorter than training (train_steps = {train_steps}).")

  def __call__(self, global_step, train_steps):
    """The rate at `global_step` (a tensor) as a float32 scalar tensor."""
    decay_steps = self.decay_steps or max(train_steps - self.warmup_steps, 1)
    step = tf.cast(global_step, tf.float32)
    after = tf.maximum(step - self.warmup_steps, 0.0)
    base = tf.constant(self.base_learning_rate, tf.float32)
    v1 = tf.compat.v1.train
    if self.decay == "constant":
      rate = base
    elif self.decay in ("linear", "polynomial"):
      power = 1.0 if self.decay == "linear" else self.power
      rate = v1.polynomial_decay(base, after, decay_steps, self.end_learning_rate, power=power)
    elif self.decay == "cosine":
      rate = v1.cosine_decay(base, after, decay_steps, alpha=self.alpha)
    elif self.decay == "exponential":
      rate = v1.exponential_decay(base, after, decay_steps, self.decay_rate)
    else:
      values = [self.base_learning_rate * m for m in self.multipliers]
      rate = v1.piecewise_constant(tf.cast(global_step, tf.int64), self.boundaries, values)
    if self.warmup_steps:
      warm = base * step / float(self.warmup_steps)
      rate = tf.where(step < self.warmup_steps, warm, rate)
    return tf.cast(rate, tf.float32, name="learning_rate")
