"""A search with pruning against the full grid over the same ranges: best accuracy and steps.

  .venv/bin/python bench/search_vs_grid.py [--train_steps=600] [--repeats=2]

The question a sweep over modules asks, on the digits example: which of two module handles
(pretrained, untrained) at which learning rate? The grid runs every point of 2 handles x 5
rates (1e-4 to 1e-1, log-spaced) to the end. The search (TPE, median pruner, evaluations
every train_steps/6 steps; then the same with successive halving) gets the same number of
trials over the same ranges (the handle a choice, the rate log-uniform in [1e-4, 1e-1]) and
may stop any of them early. Printed: each
way's best eval accuracy, and the training steps it spent (the trials' checkpoints' steps,
summed), for each repeat (a new sweep directory and seed).
"""

import os
import shutil
import subprocess
import sys
import tempfile

from absl import app
from absl import flags

flags.DEFINE_integer("train_steps", 600, "Training steps of a full trial.")
flags.DEFINE_integer("repeats", 2, "Sweeps of each way (alternated).")
flags.DEFINE_integer("parallel", 2, "Trials at once, for both ways.")
flags.DEFINE_string("modules", "build/modules", "examples.digits.build_modules's output.")
flags.DEFINE_list("pruners", ["median", "halving"], "A search per pruner, beside the grid.")
flags.DEFINE_bool("grid", True, "Run the grid too (off: the searches alone).")
FLAGS = flags.FLAGS
REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
RATES = [1e-4, 3e-4, 1e-3, 1e-2, 1e-1]


def handles():
  names = ("digits_pretrained", "digits_untrained")
  found = [os.path.join(FLAGS.modules, n) for n in names]
  if not all(os.path.exists(os.path.join(REPO, h, "tfhub_module.pb")) for h in found):
    subprocess.run([sys.executable, "-m", "examples.digits.build_modules",
                    f"--output_dir={FLAGS.modules}"], cwd=REPO, check=True)
  return found


def sweep(sweep_dir, args, seed):
  every = max(1, FLAGS.train_steps // 6)
  subprocess.run([
      sys.executable, "-m", "finetune.sweep", "--gin_file=digits/finetune.gin",
      f"--sweep_dir={sweep_dir}", f"--parallel={FLAGS.parallel}",
      f"--gin_bindings=TRAIN_STEPS = {FLAGS.train_steps}",
      f"--gin_bindings=run_config.save_checkpoints_steps = {every}",
      f"--gin_bindings=csv_data.seed = {seed}"
  ] + args, cwd=REPO, check=True, capture_output=True)
  return summary(sweep_dir)


def summary(sweep_dir):
  """(best accuracy, steps trained, trials, pruned trials) read from the results table."""
  import csv  # pylint: disable=g-import-not-at-top
  with open(os.path.join(sweep_dir, "results.csv")) as f:
    rows = list(csv.DictReader(f))
  best = max(float(r["accuracy"]) for r in rows if r["state"] == "done")
  steps = sum(int(r["steps"] or 0) for r in rows)
  return best, steps, len(rows), sum(r["state"] == "pruned" for r in rows)


def main(_):
  pretrained, untrained = handles()
  grid = [f"--grid=MODULE_HANDLE={[pretrained, untrained]!r}", f"--grid=LEARNING_RATE={RATES}"]
  trials = 2 * len(RATES)
  search = ["--search=tpe", f"--trials={trials}", "--startup_trials=3",
            "--space=LEARNING_RATE=loguniform(1e-4, 1e-1)",
            f"--space=MODULE_HANDLE=choice({[pretrained, untrained]!r})"]
  ways = [("grid", grid)] if FLAGS.grid else []
  ways += [(f"search, {p} pruner", search + [f"--pruner={p}"]) for p in FLAGS.pruners]
  print(f"digits, {trials} trials of up to {FLAGS.train_steps} steps, --parallel="
        f"{FLAGS.parallel}\n")
  print("| way | repeat | best accuracy | steps trained | trials (pruned) |\n|---|---|---|---|---|")
  work = tempfile.mkdtemp(prefix="search_vs_grid_")
  try:
    for repeat in range(FLAGS.repeats):
      for way, args in ways:
        folder = way.replace(", ", "_").replace(" ", "_") + str(repeat)
        best, steps, count, pruned = sweep(os.path.join(work, folder), args,
                                           seed=7 + repeat)
        print(f"| {way} | {repeat + 1} | {best:.4f} | {steps:,} | {count} ({pruned}) |",
              flush=True)
  finally:
    shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
  app.run(main)
