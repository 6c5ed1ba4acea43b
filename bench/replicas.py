"""What do in-graph replicas cost at N = 1? The replica change against the plain path, in one
run, alternating; and N = 2 on two CPU devices for reference (not a speed figure: both
"devices" share the same cores).

  .venv/bin/python bench/replicas.py [--steps=400] [--repeats=3]

At N = 1 the model takes the plain code path (no split, no device scopes); what the replica
change added there is `colocate_gradients_with_ops=True` in the gradients. (a) is finetune as
it is; (b) is the same with that flag off (the code before replicas), patched in this process.
Digits example config, the digits module (built if missing), one process, runs alternated.
"""

import os
import statistics
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from finetune import logs  # noqa: E402

logs.quiet_tensorflow_before_import(False)

from absl import app  # noqa: E402
from absl import flags  # noqa: E402

flags.DEFINE_integer("steps", 400, "Training steps per run.")
flags.DEFINE_integer("repeats", 3, "Runs of each way, alternated.")
FLAGS = flags.FLAGS


def rate(handle, replicas, steps):
  """Training examples per second after the first step, digits config."""
  import tensorflow as tf  # pylint: disable=g-import-not-at-top
  from finetune import api  # pylint: disable=g-import-not-at-top

  class Clock(tf.compat.v1.train.SessionRunHook):

    def after_create_session(self, session, coord):
      self.start = time.time()

  clock = Clock()
  api.train(["digits/finetune.gin"], [
      f"MODULE_HANDLE = '{handle}'", f"TRAIN_STEPS = {steps}",
      f"run_config.num_replicas = {replicas}", "run_config.save_checkpoints_steps = 100000"
  ], model_dir=tempfile.mkdtemp(), schedule="train", hooks=[clock])
  return steps * 32 / (time.time() - clock.start)


def plain_gradients(optimization_class):
  """Patches Optimization.gradients back to uncolocated tf.gradients (the plain path)."""
  import tensorflow as tf  # pylint: disable=g-import-not-at-top
  original = optimization_class.gradients

  def gradients(self, loss):
    real = tf.compat.v1.gradients
    tf.compat.v1.gradients = lambda ys, xs, colocate_gradients_with_ops=False: real(ys, xs)
    try:
      return original(self, loss)
    finally:
      tf.compat.v1.gradients = real

  return gradients, original


def main(argv):
  del argv
  logs.configure(False)
  from examples.digits import build_modules  # pylint: disable=g-import-not-at-top
  from finetune.training.optimization import Optimization  # pylint: disable=g-import-not-at-top
  handle = build_modules.build("build/modules")["digits_pretrained"]
  patched, original = plain_gradients(Optimization)
  results = {"a": [], "b": [], "n2": []}
  for _ in range(FLAGS.repeats):
    results["a"].append(rate(handle, 1, FLAGS.steps))
    Optimization.gradients = patched
    results["b"].append(rate(handle, 1, FLAGS.steps))
    Optimization.gradients = original
    results["n2"].append(rate(handle, 2, FLAGS.steps))
  print("| way | examples/s (median) | runs |\n|---|---|---|")
  labels = {"a": "(a) finetune, num_replicas = 1", "b": "(b) plain path (no colocation)",
            "n2": "num_replicas = 2 on 2 CPU devices (reference only)"}
  for key, label in labels.items():
    print(f"| {label} | {statistics.median(results[key]):,.0f} | "
          f"{', '.join(f'{r:,.0f}' for r in results[key])} |")
  print(f"\n(a)/(b) = {statistics.median(results['a']) / statistics.median(results['b']):.3f}")


if __name__ == "__main__":
  app.run(main)
