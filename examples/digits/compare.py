"""Fine-tuned vs frozen vs from scratch on the default example, measured.

  python -m examples.digits.compare [--runs_dir=runs/compare] [--repeats=3]
      [--bindings='training.steps_per_run = 1']

Builds the digits modules if needed, then runs configs/digits/{finetune,frozen,scratch}.gin
through the same library call the command uses, with `repeats` seeds each, and prints a
Markdown table of eval accuracy (mean and range) on the 697 held-out images of digits 5-9.
"""

import os
import sys

from absl import app
from absl import flags

from examples.compare_table import markdown
from finetune import logs

logs.quiet_tensorflow_before_import(False)

from examples.digits import build_modules  # noqa: E402
from finetune import api  # noqa: E402

FLAGS = flags.FLAGS

SETTINGS = (("fine-tuned (trainable=True)", "digits/finetune.gin"),
            ("frozen (trainable=False)", "digits/frozen.gin"), ("from scratch (untrained module)",
                                                                "digits/scratch.gin"))


def compare(runs_dir, modules_dir, repeats=3, train_steps=None, extra_bindings=()):
  """Returns [(setting, [accuracy per seed])]."""
  modules = build_modules.build(modules_dir)
  results = []
  for label, gin_file in SETTINGS:
    accuracies = []
    for seed in range(repeats):
      handle = modules["digits_untrained" if "scratch" in gin_file else "digits_pretrained"]
      bindings = [
          f"MODULE_HANDLE = '{handle}'", f"run_config.random_seed = {seed}",
          f"csv_data.seed = {seed}"
      ]
      if train_steps:
        bindings += [f"TRAIN_STEPS = {train_steps}", "learning_rate_schedule.warmup_steps = 0"]
      model_dir = os.path.join(runs_dir, os.path.basename(gin_file)[:-4], str(seed))
      result = api.train([gin_file], bindings + list(extra_bindings), model_dir=model_dir)
      accuracies.append(result.metrics["accuracy"])
    results.append((label, accuracies))
  return results


def main(argv):
  del argv
  logs.configure(False)
  print(
      markdown(
          compare(FLAGS.runs_dir, FLAGS.modules_dir, FLAGS.repeats, FLAGS.train_steps,
                  FLAGS.bindings)))


if __name__ == "__main__":
  # Defined here, not on import: examples import each other's helpers in one process.
  flags.DEFINE_string("runs_dir", "runs/compare", "Where the runs' model_dirs go.")
  flags.DEFINE_string("modules_dir", "build/modules", "Where the digits modules are.")
  flags.DEFINE_integer("repeats", 3, "Seeds per setting.")
  flags.DEFINE_integer("train_steps", None, "Override TRAIN_STEPS (for a quick check).")
  flags.DEFINE_multi_string("bindings", [], "Extra gin bindings for every run.")
  sys.exit(app.run(main))
