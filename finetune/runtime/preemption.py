"""Pre-emption turned into a clean stop: SIGTERM (or Ctrl-C) while training steps run ends
training after the current step, and the Estimator saves a checkpoint at that step on the way
out. The signal handling itself, and what a signal does outside training, is in
process/signals.py.
"""

import tensorflow as tf


class StopHook(tf.compat.v1.train.SessionRunHook):
  """Tells the StopSignal when training steps run (from then on a signal asks for a clean
  stop instead of interrupting), and asks the session to stop after the step during which the
  stop was requested.

  `training` is not cleared at `end`: hooks end in order, and the checkpoint saver, which
  saves the final checkpoint, ends after this hook; a signal then must not interrupt it.
  """

  def __init__(self, stop):
    self._stop = stop

  def after_create_session(self, session, coord):
    self._stop.training = True

  def after_run(self, run_context, run_values):
    if self._stop.requested.is_set():
      run_context.request_stop()
