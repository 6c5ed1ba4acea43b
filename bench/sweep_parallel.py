"""Wall time of N sweep trials run with --parallel 2 against the same N run one at a time.

  .venv/bin/python bench/sweep_parallel.py [--trials=4] [--train_steps=600]

Runs `python -m finetune.sweep` twice over the same grid of learning rates on the digits
example (sequential first, then --parallel 2, each into a fresh sweep_dir) and prints both
wall times and the speed-up. On 2 cores each parallel trial gets one thread
(run_config.intra_op_threads = 1), so the trials do not fight over the cores.
"""

import os
import shutil
import subprocess
import sys
import tempfile
import time

from absl import app
from absl import flags

flags.DEFINE_integer("trials", 4, "Trials in the sweep.")
flags.DEFINE_integer("train_steps", 600, "Training steps per trial.")
FLAGS = flags.FLAGS
REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def sweep(sweep_dir, parallel):
  rates = ", ".join(str(0.001 * (i + 1)) for i in range(FLAGS.trials))
  started = time.time()
  subprocess.run([
      sys.executable, "-m", "finetune.sweep", "--gin_file=digits/finetune.gin",
      f"--sweep_dir={sweep_dir}", f"--grid=LEARNING_RATE=[{rates}]",
      f"--gin_bindings=TRAIN_STEPS = {FLAGS.train_steps}", f"--parallel={parallel}"
  ],
                 cwd=REPO,
                 check=True,
                 capture_output=True)
  return time.time() - started


def main(argv):
  del argv
  subprocess.run([sys.executable, "-m", "examples.digits.build_modules"],
                 cwd=REPO,
                 check=True,
                 capture_output=True)
  root = tempfile.mkdtemp(prefix="bench_sweep_")
  try:
    sequential = sweep(os.path.join(root, "sequential"), 1)
    parallel = sweep(os.path.join(root, "parallel"), 2)
  finally:
    shutil.rmtree(root, ignore_errors=True)
  print(f"| trials | sequential s | --parallel 2 s | speed-up |")
  print(f"|---|---|---|---|")
  print(f"| {FLAGS.trials} | {sequential:.1f} | {parallel:.1f} | {sequential / parallel:.2f}x |")


if __name__ == "__main__":
  app.run(main)
