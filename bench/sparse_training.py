"""Big-vocabulary modules: does finetune train at the speed of their sparse gradients?

  .venv/bin/python bench/sparse_training.py [--steps=200] [--repeats=1] [--dense_repeats=3]

On a text module of 400,000 hashed buckets x 256 (102 M parameters; bench/setup_modules.py),
batch 64, the same steps for every way, each in a fresh process (bench/one_run.py): the
frozen module (the floor: forward pass and head only), finetune with dense Adam, lazy Adam,
lazy AdamW and Adagrad (run_config's defaults, i.e. Grappler's arithmetic optimizer off),
Adagrad with the arithmetic optimizer on (TensorFlow's default), and a hand-written
Session loop with dense Adam and TensorFlow's default session. Prints examples/s, peak
memory and eval accuracy, then the targets. In the same run, the dense workloads (the
small text and the image module) with the arithmetic optimizer on and off.
"""

import json
import os
import statistics
import subprocess
import sys

from absl import app
from absl import flags

flags.DEFINE_integer("steps", 200, "Training steps of every big-vocabulary way.")
flags.DEFINE_integer("repeats", 1, "Runs per big-vocabulary way (alternated).")
flags.DEFINE_integer("dense_steps", 400, "Training steps of the dense workloads.")
flags.DEFINE_integer("dense_repeats", 3, "Runs per dense way (alternated).")
flags.DEFINE_integer("steps_per_run", 10, "training.steps_per_run of the finetune ways (the "
                     "configs' default, configs/base/defaults.gin).")
FLAGS = flags.FLAGS
HERE = os.path.dirname(os.path.abspath(__file__))

BIG_WAYS = {  # label -> one_run.py flags
    "frozen module (floor)": ["--mode=a", "--frozen"],
    "finetune, dense Adam": ["--mode=a", "--optimizer=adam"],
    "finetune, lazy Adam": ["--mode=a", "--optimizer=lazy_adam"],
    "finetune, lazy AdamW": ["--mode=a", "--optimizer=lazy_adamw"],
    "finetune, Adagrad": ["--mode=a", "--optimizer=adagrad"],
    "finetune, Adagrad, arithmetic optimizer on": ["--mode=a", "--optimizer=adagrad",
                                                   "--arithmetic=on"],
    "Session loop, dense Adam": ["--mode=c", "--optimizer=adam"],
}
DENSE_WAYS = {"arithmetic optimizer on": ["--arithmetic=on"],
              "arithmetic optimizer off": ["--arithmetic=off"]}


def one(args):
  result = subprocess.run([sys.executable, os.path.join(HERE, "one_run.py")] + args,
                          capture_output=True, text=True, cwd=os.path.dirname(HERE), check=False)
  if result.returncode:
    raise RuntimeError(result.stderr[-3000:])
  return json.loads(result.stdout.strip().splitlines()[-1])


def measure(ways, common, repeats):
  """{label: median figures}, the ways alternated `repeats` times."""
  runs = {label: [] for label in ways}
  for _ in range(repeats):
    for label, args in ways.items():
      runs[label].append(one(common + args))
  figures = ("train_examples_per_sec", "peak_rss_mb", "eval_accuracy")
  return {
      label: {f: statistics.median(r[f] for r in results) for f in figures
             } for label, results in runs.items()
  }


def big_vocabulary():
  common = ["--kind=bigtext", "--batch_size=64", f"--steps={FLAGS.steps}",
            f"--steps_per_run={FLAGS.steps_per_run}"]
  median = measure(BIG_WAYS, common, FLAGS.repeats)
  print(f"Text module of 400,000 x 256 (102 M parameters), batch 64, {FLAGS.steps} steps, "
        f"finetune with steps_per_run = {FLAGS.steps_per_run}:\n")
  print("| way | examples/s | peak MB | eval accuracy |")
  print("|---|---|---|---|")
  for label, fig in median.items():
    print(f"| {label} | {fig['train_examples_per_sec']:,.0f} | {fig['peak_rss_mb']:,.0f} | "
          f"{fig['eval_accuracy']:.3f} |")
  speed = lambda label: median[label]["train_examples_per_sec"]
  floor = speed("frozen module (floor)")
  print()
  for label in ("finetune, lazy Adam", "finetune, lazy AdamW", "finetune, Adagrad"):
    ratio = floor / speed(label)
    print(f"{label}: {ratio:.2f}x slower than the frozen module (target <= 2: "
          f"{'ok' if ratio <= 2 else 'MISSED'})")
  gap = median["finetune, dense Adam"]["eval_accuracy"] - median["finetune, lazy Adam"][
      "eval_accuracy"]
  print(f"accuracy, dense Adam - lazy Adam: {gap:+.3f} (target <= 0.01: "
        f"{'ok' if gap <= 0.01 else 'MISSED'})")
  memory = (median["finetune, lazy Adam"]["peak_rss_mb"] /
            median["finetune, dense Adam"]["peak_rss_mb"])
  print(f"peak memory, lazy / dense Adam: {memory:.2f} (target <= 1: "
        f"{'ok' if memory <= 1.0 else 'MISSED'})")


def dense():
  print("\nDense workloads (finetune, Adam, batch 64, steps_per_run = "
        f"{FLAGS.steps_per_run}, {FLAGS.dense_steps} steps, medians of {FLAGS.dense_repeats}):\n")
  print("| module | arithmetic optimizer | examples/s | peak MB |")
  print("|---|---|---|---|")
  for kind in ("text", "image"):
    common = [f"--kind={kind}", "--mode=a", "--batch_size=64", f"--steps={FLAGS.dense_steps}",
              f"--steps_per_run={FLAGS.steps_per_run}"]
    median = measure(DENSE_WAYS, common, FLAGS.dense_repeats)
    for label, fig in median.items():
      print(f"| {kind} | {label.split()[-1]} | {fig['train_examples_per_sec']:,.0f} | "
            f"{fig['peak_rss_mb']:,.0f} |")
    on, off = (median[label]["train_examples_per_sec"] for label in DENSE_WAYS)
    print(f"| {kind} | off / on | {off / on:.3f} | |")


def main(argv):
  del argv
  subprocess.run([sys.executable, "-m", "bench.setup_modules"],
                 cwd=os.path.dirname(HERE), check=True, capture_output=True)
  big_vocabulary()
  dense()


if __name__ == "__main__":
  app.run(main)
