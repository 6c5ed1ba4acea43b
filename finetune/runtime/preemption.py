"""Pre-emption turned into a clean stop: SIGTERM ends training after the current step, and the
Estimator saves a checkpoint at that step on the way out.

The signal handler belongs to one run (`StopSignal` is entered around it and restores the
previous handler when it ends), so a Python caller's own handlers survive, and a second run in
the same process starts with no stop pending.
"""

import signal
import threading

import tensorflow as tf


class StopSignal:
  """Within `with StopSignal() as stop:`, SIGTERM sets `stop.requested`; `stop.hook()` ends
  training at the next step boundary."""

  def __init__(self, signum=signal.SIGTERM):
    self.signum = signum
    self.requested = threading.Event()
    self._previous = None

  def __enter__(self):
    # Python accepts signal handlers only in the main thread; elsewhere (a notebook's worker
    # thread) the run simply cannot be pre-empted by signal.
    if threading.current_thread() is threading.main_thread():
      self._previous = signal.signal(self.signum, self._handle)
    return self

  def __exit__(self, *exc):
    if self._previous is not None:
      signal.signal(self.signum, self._previous)
      self._previous = None

  def _handle(self, signum, frame):  # pylint: disable=unused-argument
    self.requested.set()

  def hook(self):
    return StopHook(self.requested)


class StopHook(tf.compat.v1.train.SessionRunHook):
  """Asks the session to stop after the step during which the stop was requested."""

  def __init__(self, requested):
    self._requested = requested

  def after_run(self, run_context, run_values):
    if self._requested.is_set():
      run_context.request_stop()
