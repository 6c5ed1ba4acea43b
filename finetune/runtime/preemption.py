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

  Once the last step has run, no step is left to stop after: the Estimator saves the final
  checkpoint and train_and_evaluate runs the final evaluation and exports as the training
  session ends (inside the checkpoint saver's `end`, which may come before this hook's), so
  the hook hands the signal back to "interrupt at once" after that step, as in every other
  phase. The step is read as StopAtStepHook reads it: from the run's fetch, and exactly (one
  more read) only near the end.
  """

  def __init__(self, stop, train_steps, steps_per_run=1):
    self._stop = stop
    self._train_steps = train_steps
    self._steps_per_run = steps_per_run
    self._global_step = None

  def begin(self):
    self._global_step = tf.compat.v1.train.get_global_step()

  def after_create_session(self, session, coord):
    self._stop.training = True

  def before_run(self, run_context):
    return tf.compat.v1.train.SessionRunArgs(self._global_step)

  def after_run(self, run_context, run_values):
    if self._stop.requested.is_set():
      run_context.request_stop()
      return
    # The fetched step may be read before or after this run's increments.
    if run_values.results + self._steps_per_run >= self._train_steps:
      if run_context.session.run(self._global_step) >= self._train_steps:
        self._stop.training = False
