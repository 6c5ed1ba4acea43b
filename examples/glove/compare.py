"""Fine-tuned GloVe vs frozen GloVe vs the same module from scratch, at several training-set
sizes and seeds: the learning curve in the README.

  python -m examples.glove.compare [--runs_dir=runs/glove_compare] [--sizes=40,160,1019]
      [--repeats=3] [--plot=docs/glove_learning_curve.png] [--keep_runs]

Each seed draws its own training subset of each size (stratified by label, from
examples/text/data/task_train.csv, 1,019 rows) and trains configs/glove/{finetune,frozen,
scratch}.gin on it with that seed; every run is evaluated on the same 327 held-out lines.
Prints a Markdown table (mean and range of eval accuracy over the seeds) and writes the
figures to RUNS_DIR/results.json and the plot. A run's model_dir (checkpoints of 240 MB) is
removed once its metrics are read, unless --keep_runs.
"""

import csv
import json
import os
import random
import shutil
import statistics
import sys

from absl import app
from absl import flags

from finetune import logs

logs.quiet_tensorflow_before_import(False)

from examples.glove import build as build_lib  # noqa: E402
from finetune import api  # noqa: E402

FLAGS = flags.FLAGS

TRAIN_FILE = "examples/text/data/task_train.csv"
SETTINGS = (("fine-tuned GloVe", "glove/finetune.gin"), ("frozen GloVe", "glove/frozen.gin"),
            ("from scratch (random vectors)", "glove/scratch.gin"))


def subset(path, size, seed, out_dir):
  """A CSV of `size` rows of `path`, the same share of each label, drawn with `seed`."""
  with open(path, newline="") as f:
    reader = csv.DictReader(f)
    rows, fields = list(reader), reader.fieldnames
  by_label = {}
  for row in rows:
    by_label.setdefault(row["area"], []).append(row)
  rng = random.Random(seed)
  chosen = []
  for label in sorted(by_label):
    share = max(1, round(size * len(by_label[label]) / len(rows)))
    chosen += rng.sample(by_label[label], min(share, len(by_label[label])))
  rng.shuffle(chosen)
  out = os.path.join(out_dir, f"train_{size}_seed{seed}.csv")
  os.makedirs(out_dir, exist_ok=True)
  with open(out, "w", newline="") as f:
    writer = csv.DictWriter(f, fields)
    writer.writeheader()
    writer.writerows(chosen)
  return out


def compare(runs_dir, modules_dir, sizes, repeats, keep_runs=False, extra_bindings=()):
  """Returns {setting: {size: [accuracy per seed]}}."""
  modules = build_lib.build(modules_dir)
  results = {label: {} for label, _ in SETTINGS}
  for size in sizes:
    for seed in range(repeats):
      train_file = subset(TRAIN_FILE, size, seed, os.path.join(runs_dir, "data"))
      for label, gin_file in SETTINGS:
        name = "random_6b_50d" if "scratch" in gin_file else "glove_6b_50d"
        model_dir = os.path.join(runs_dir, f"{os.path.basename(gin_file)[:-4]}_{size}_{seed}")
        bindings = [
            f"MODULE_HANDLE = '{modules[name]}'", f"TRAIN_FILES = '{train_file}'",
            f"run_config.random_seed = {seed}", f"csv_data.seed = {seed}"
        ]
        result = api.train([gin_file], bindings + list(extra_bindings), model_dir=model_dir)
        results[label].setdefault(size, []).append(result.metrics["accuracy"])
        print(f"{label}, {size} rows, seed {seed}: {result.metrics['accuracy']:.3f}", flush=True)
        if not keep_runs:
          shutil.rmtree(model_dir, ignore_errors=True)
  return results


def markdown(results, sizes):
  """Mean (min-max) per setting and size, and the paired gain of fine-tuned GloVe over the
  same run from scratch (same subset, same seed)."""
  finetuned, scratch = SETTINGS[0][0], SETTINGS[2][0]
  header = ("| training rows | " + " | ".join(label for label, _ in SETTINGS) +
            " | fine-tuned minus scratch, per seed |")
  lines = [header, "|---" * (len(SETTINGS) + 2) + "|"]
  for size in sizes:
    cells = [_spread(results[label][size]) for label, _ in SETTINGS]
    gains = [a - b for a, b in zip(results[finetuned][size], results[scratch][size])]
    cells.append(_spread(gains, signed=True))
    lines.append(f"| {size} | " + " | ".join(cells) + " |")
  return "\n".join(lines)


def _spread(values, signed=False):
  form = "{:+.3f}" if signed else "{:.3f}"
  mean, low, high = (form.format(v) for v in (statistics.mean(values), min(values), max(values)))
  return f"{mean} ({low} to {high})"


def plot(results, sizes, path, repeats):
  import matplotlib  # pylint: disable=g-import-not-at-top
  matplotlib.use("Agg")
  import matplotlib.pyplot as plt  # pylint: disable=g-import-not-at-top
  fig, ax = plt.subplots(figsize=(6, 4))
  for label, _ in SETTINGS:
    means = [statistics.mean(results[label][s]) for s in sizes]
    low = [m - min(results[label][s]) for m, s in zip(means, sizes)]
    high = [max(results[label][s]) - m for m, s in zip(means, sizes)]
    ax.errorbar(sizes, means, yerr=[low, high], marker="o", capsize=4, label=label)
  ax.set_xscale("log")
  ax.set_xticks(sizes)
  ax.set_xticklabels([str(s) for s in sizes])
  ax.set_xlabel("training rows (log scale)")
  ax.set_ylabel("eval accuracy (327 held-out lines)")
  ax.set_title(f"Docstring areas, GloVe 6B 50d: mean and range over {repeats} seeds",
               fontsize=10)
  ax.grid(alpha=0.3)
  ax.legend()
  fig.tight_layout()
  os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
  fig.savefig(path, dpi=120)


def main(argv):
  del argv
  logs.configure(False)
  sizes = [int(s) for s in FLAGS.sizes]
  results = compare(FLAGS.runs_dir, FLAGS.modules_dir, sizes, FLAGS.repeats, FLAGS.keep_runs,
                    FLAGS.bindings)
  with open(os.path.join(FLAGS.runs_dir, "results.json"), "w") as f:
    json.dump({label: {str(k): v for k, v in by_size.items()} for label, by_size in
               results.items()}, f, indent=2)
  plot(results, sizes, FLAGS.plot or os.path.join(FLAGS.runs_dir, "learning_curve.png"),
       FLAGS.repeats)
  print(markdown(results, sizes))


if __name__ == "__main__":
  # Defined here, not on import: examples import each other's helpers in one process.
  flags.DEFINE_string("runs_dir", "runs/glove_compare", "Where runs, subsets and results go.")
  flags.DEFINE_string("modules_dir", "build/glove", "Where the GloVe modules are (built if not).")
  flags.DEFINE_list("sizes", ["40", "160", "1019"], "Training-set sizes (rows; 1019 is all).")
  flags.DEFINE_integer("repeats", 3, "Seeds per setting and size.")
  flags.DEFINE_string("plot", None, "Where the learning-curve PNG goes (default: RUNS_DIR).")
  flags.DEFINE_bool("keep_runs", False, "Keep every run's model_dir.")
  flags.DEFINE_multi_string("bindings", [], "Extra gin bindings for every run.")
  sys.exit(app.run(main))
