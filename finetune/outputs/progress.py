"""A readable progress line while training, at a time cadence rather than every step.

The hook asks the session for nothing on ordinary steps (no per-step fetch), so it costs a
clock read per step; every `every_secs` it fetches the loss and global step and logs
step / max_steps, loss, examples per second and the time left.
"""

import logging
import time

import tensorflow as tf

from finetune.formatting import format_duration

log = logging.getLogger("finetune")


class ProgressHook(tf.compat.v1.train.SessionRunHook):
  """Logs `step/max_steps loss=.. ex/s=.. eta=..` every `every_secs` seconds."""

  def __init__(self, loss, max_steps, batch_size, every_secs=10.0):
    self._loss = loss
    self._max_steps = max_steps
    self._batch_size = batch_size
    self._every_secs = every_secs

  def begin(self):
    self._global_step = tf.compat.v1.train.get_global_step()

  def after_create_session(self, session, coord):
    self._last_time = time.time()
    # Counted in global steps, not runs: a run may do several steps (train_loop.py).
    self._last_step = session.run(self._global_step)

  def before_run(self, run_context):
    if time.time() - self._last_time < self._every_secs:
      return None
    return tf.compat.v1.train.SessionRunArgs(self._loss)

  def after_run(self, run_context, run_values):
    if run_values.results is None:
      return
    now = time.time()
    loss = run_values.results
    # Read after the step ran: fetched alongside the train op it may be the old value.
    step = run_context.session.run(self._global_step)
    rate = (step - self._last_step) / max(now - self._last_time, 1e-9)
    eta = (self._max_steps - step) / rate if rate else 0
    log.info("step %d/%d  loss=%.4f  %.0f examples/s  eta %s", step, self._max_steps, loss,
             rate * self._batch_size, format_duration(eta))
    self._last_time, self._last_step = now, step
