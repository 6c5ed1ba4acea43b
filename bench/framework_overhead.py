"""Is finetune as fast as writing the loop by hand? Measured side by side in one run.

  .venv/bin/python bench/framework_overhead.py [--repeats=3] [--steps=300] [--kinds=text,image]
      [--batch_sizes=64,256]

For every module kind and batch size, runs (a) finetune, (b) a plain Estimator and (c) a
raw Session loop (bench/one_run.py), alternating a, b, c `repeats` times, each in a fresh
process, and prints the medians and the ratios (a)/(b) and (a)/(c) against the targets:
training throughput (a) >= 0.97 (c), time to first step (a) <= 1.2 (b), peak memory
(a) <= 1.1 (b).
"""

import json
import os
import statistics
import subprocess
import sys

from absl import app
from absl import flags

flags.DEFINE_integer("repeats", 3, "Runs per mode (alternated).")
flags.DEFINE_integer("steps", 300, "Training steps per run.")
flags.DEFINE_list("kinds", ["text", "image"], "Module kinds.")
flags.DEFINE_list("batch_sizes", ["64", "256"], "Batch sizes.")
FLAGS = flags.FLAGS
HERE = os.path.dirname(os.path.abspath(__file__))
FIGURES = ("train_examples_per_sec", "first_step_secs", "eval_examples_per_sec", "peak_rss_mb")


def one(mode, kind, batch_size, steps):
  result = subprocess.run([
      sys.executable,
      os.path.join(HERE, "one_run.py"), f"--mode={mode}", f"--kind={kind}",
      f"--batch_size={batch_size}", f"--steps={steps}"
  ],
                          capture_output=True,
                          text=True,
                          cwd=os.path.dirname(HERE),
                          check=False)
  if result.returncode:
    raise RuntimeError(result.stderr[-3000:])
  return json.loads(result.stdout.strip().splitlines()[-1])


def main(argv):
  del argv
  subprocess.run([sys.executable, "-m", "bench.setup_modules"],
                 cwd=os.path.dirname(HERE),
                 check=True,
                 capture_output=True)
  print("| module | batch | way | train ex/s | first step s | eval ex/s | peak MB |")
  print("|---|---|---|---|---|---|---|")
  verdicts = []
  for kind in FLAGS.kinds:
    for batch_size in map(int, FLAGS.batch_sizes):
      runs = {m: [] for m in "abc"}
      for _ in range(FLAGS.repeats):
        for mode in "abc":  # alternated, so drift in the machine hits every way alike
          runs[mode].append(one(mode, kind, batch_size, FLAGS.steps))
      median = {m: {f: statistics.median(r[f] for r in runs[m]) for f in FIGURES} for m in "abc"}
      for mode, label in (("a", "(a) finetune"), ("b", "(b) Estimator"), ("c", "(c) Session loop")):
        fig = median[mode]
        print(f"| {kind} | {batch_size} | {label} | {fig['train_examples_per_sec']:,.0f} | "
              f"{fig['first_step_secs']:.2f} | {fig['eval_examples_per_sec']:,.0f} | "
              f"{fig['peak_rss_mb']:,.0f} |")
      a, b, c = median["a"], median["b"], median["c"]
      ratios = {
          "train (a)/(c)": (a["train_examples_per_sec"] / c["train_examples_per_sec"], 0.97, ">="),
          "train (a)/(b)": (a["train_examples_per_sec"] / b["train_examples_per_sec"], None, ""),
          "first step (a)/(b)": (a["first_step_secs"] / b["first_step_secs"], 1.2, "<="),
          "memory (a)/(b)": (a["peak_rss_mb"] / b["peak_rss_mb"], 1.1, "<="),
          "eval (a)/(b)": (a["eval_examples_per_sec"] / b["eval_examples_per_sec"], None, ""),
      }
      for name, (value, target, sense) in ratios.items():
        ok = "" if target is None else ("ok" if (
            value >= target if sense == ">=" else value <= target) else "MISSED")
        verdicts.append(f"{kind} batch {batch_size}: {name} = {value:.3f}" +
                        (f" (target {sense} {target}: {ok})" if target else ""))
  print()
  print("\n".join(verdicts))


if __name__ == "__main__":
  app.run(main)
