"""Is finetune as fast as writing the loop by hand? Measured side by side in one run.

  .venv/bin/python bench/framework_overhead.py [--repeats=3] [--steps=400] [--kinds=text,image]
      [--batch_sizes=64,256] [--steps_per_run=10]

For every module kind and batch size, runs (a) finetune with training.steps_per_run = K,
(a1) finetune with one step per session.run, (b) a plain Estimator and (c) a raw Session
loop (bench/one_run.py), alternating them `repeats` times, each in a fresh process, and
prints the medians and the ratios against the targets: training throughput (a) >= 0.97 (c),
time to first step (a) <= 1.2 (b), peak memory (a) <= 1.1 (b); the same ratios for (a1).
"""

import json
import os
import statistics
import subprocess
import sys

from absl import app
from absl import flags

flags.DEFINE_integer("repeats", 3, "Runs per mode (alternated).")
flags.DEFINE_integer("steps", 400, "Training steps per run.")
flags.DEFINE_integer("steps_per_run", 10, "training.steps_per_run of way (a).")
flags.DEFINE_list("kinds", ["text", "image"], "Module kinds.")
flags.DEFINE_list("batch_sizes", ["64", "256"], "Batch sizes.")
FLAGS = flags.FLAGS
HERE = os.path.dirname(os.path.abspath(__file__))
FIGURES = ("train_examples_per_sec", "first_step_secs", "eval_examples_per_sec", "peak_rss_mb")

WAYS = {
    "a": ("a", None),  # steps_per_run from the flag
    "a1": ("a", 1),
    "b": ("b", 1),
    "c": ("c", 1),
}


def one(way, kind, batch_size, steps):
  mode, steps_per_run = WAYS[way]
  result = subprocess.run([
      sys.executable,
      os.path.join(HERE,
                   "one_run.py"), f"--mode={mode}", f"--kind={kind}", f"--batch_size={batch_size}",
      f"--steps={steps}", f"--steps_per_run={steps_per_run or FLAGS.steps_per_run}"
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
      runs = {w: [] for w in WAYS}
      for _ in range(FLAGS.repeats):
        for way in WAYS:  # alternated, so drift in the machine hits every way alike
          runs[way].append(one(way, kind, batch_size, FLAGS.steps))
      median = {w: {f: statistics.median(r[f] for r in runs[w]) for f in FIGURES} for w in WAYS}
      labels = (("a", f"(a) finetune, steps_per_run={FLAGS.steps_per_run}"),
                ("a1", "(a1) finetune, steps_per_run=1"), ("b", "(b) Estimator"),
                ("c", "(c) Session loop"))
      for mode, label in labels:
        fig = median[mode]
        print(f"| {kind} | {batch_size} | {label} | {fig['train_examples_per_sec']:,.0f} | "
              f"{fig['first_step_secs']:.2f} | {fig['eval_examples_per_sec']:,.0f} | "
              f"{fig['peak_rss_mb']:,.0f} |")
      b, c = median["b"], median["c"]
      ratios = {}
      for way in ("a", "a1"):
        a = median[way]
        ratios.update({
            f"train ({way})/(c)":
                (a["train_examples_per_sec"] / c["train_examples_per_sec"], 0.97, ">="),
            f"train ({way})/(b)":
                (a["train_examples_per_sec"] / b["train_examples_per_sec"], None, ""),
            f"first step ({way})/(b)": (a["first_step_secs"] / b["first_step_secs"], 1.2, "<="),
            f"memory ({way})/(b)": (a["peak_rss_mb"] / b["peak_rss_mb"], 1.1, "<="),
            f"eval ({way})/(b)":
                (a["eval_examples_per_sec"] / b["eval_examples_per_sec"], None, ""),
        })
      for name, (value, target, sense) in ratios.items():
        ok = "" if target is None else ("ok" if (
            value >= target if sense == ">=" else value <= target) else "MISSED")
        verdicts.append(f"{kind} batch {batch_size}: {name} = {value:.3f}" +
                        (f" (target {sense} {target}: {ok})" if target else ""))
  print()
  print("\n".join(verdicts))


if __name__ == "__main__":
  app.run(main)
