"""The GloVe example at scale: the exporter's time and memory, and training at sparse speed.

  .venv/bin/python bench/glove.py [--work_dir=build/bench_glove] [--steps=600] [--repeats=2]
      [--notraining] [--formats=tf1,tf2] [--baseline=/path/to/another/checkout]

1. Exporter: `python -m finetune.export_embedding` on the 400,000 x 50 GloVe vectors (80 MB
   of float32) from the package's .npy + parquet, and from the same vectors written as a
   GloVe text file (170 MB), each in a fresh process; wall time and peak memory, beside the
   same command on the first 1,000 words only (the process's own floor: Python, TensorFlow,
   pyarrow). With --baseline, each command of that checkout runs right after this one's, so
   that two versions are compared under the same load.
2. Training examples/s of configs/glove/finetune.gin with the 400k-row module, from the
   difference of two runs (STEPS and STEPS/6 steps, so start-up and exports cancel out),
   alternated, for: the frozen module (the floor); lazy Adam with the row penalty (the
   example); lazy Adam with a whole-table penalty (--l2_rows=all: a dense gradient); dense
   Adam with the row penalty.
"""

import os
import statistics
import subprocess
import sys
import time

from absl import app
from absl import flags

flags.DEFINE_string("work_dir", "build/bench_glove", "Modules, text file and runs go here.")
flags.DEFINE_integer("steps", 600, "Training steps of the long run of each way.")
flags.DEFINE_integer("repeats", 2, "Measurements per way (alternated).")
flags.DEFINE_bool("training", True, "Also measure training (part 2).")
flags.DEFINE_list("formats", ["tf1"], "Module formats the exporter writes (tf1, tf2).")
flags.DEFINE_string("baseline", None, "Another checkout whose exporter runs beside this one.")
FLAGS = flags.FLAGS
REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, REPO)  # examples/ and finetune/ from the checkout


def measured(args, repo=REPO):
  """Wall time and the child's own peak RSS (through GNU time, which reports per process)."""
  start = time.time()
  done = subprocess.run(["/usr/bin/time", "-f", "%M", sys.executable, "-m"] + args, cwd=repo,
                        capture_output=True, text=True, env=dict(os.environ, PYTHONPATH=repo))
  seconds = time.time() - start
  if done.returncode:
    raise SystemExit(f"{args} failed:\n{done.stderr[-2000:]}")
  return seconds, int(done.stderr.strip().splitlines()[-1]) / 1024


def write_text(table, path):
  if not os.path.exists(path):
    with open(path, "w", encoding="utf-8") as f:
      for word, row in zip(table.words, table.vectors):
        f.write(word + " " + " ".join(f"{x:.5f}" for x in row) + "\n")
  return path


def exporter(work_dir, formats, baseline):
  work_dir = os.path.abspath(work_dir)  # the baseline runs in its own checkout
  from examples.glove import build  # pylint: disable=g-import-not-at-top
  from finetune.embeddings import vector_files  # pylint: disable=g-import-not-at-top
  vectors, words = build.glove_files()
  text = write_text(vector_files.read(vectors, words), os.path.join(work_dir, "glove.6B.50d.txt"))
  table_mb = 400000 * 50 * 4 / 2**20  # 76 MiB: the peaks are MiB too
  print("## Exporter (400,000 x 50, 80 MB table)\n")
  print("| input | format | code | seconds | peak memory (MB) | floor (MB) | over the floor (MB) "
        "| x table |\n|---|---|---|---|---|---|---|---|")
  codes = [("this", REPO)] + ([("baseline", os.path.abspath(baseline))] if baseline else [])
  for label, flags_ in (("npy + parquet", [f"--embedding_file={vectors}",
                                            f"--vocabulary_file={words}"]),
                        ("GloVe text", [f"--embedding_file={text}"])):
    for module_format in formats:
      for code, repo in codes:
        figures = {}
        for name, extra in (("floor", ["--num_lines_to_use=1000"]), ("all", [])):
          out = os.path.join(work_dir, f"module_{label.split()[0]}_{name}")
          subprocess.run(["rm", "-rf", out], check=True)
          figures[name] = measured(["finetune.export_embedding", f"--export_path={out}",
                                    f"--format={module_format}"] + flags_ + extra, repo)
        (seconds, peak), (_, floor) = figures["all"], figures["floor"]
        print(f"| {label} | {module_format} | {code} | {seconds:.1f} | {peak:.0f} | {floor:.0f} | "
              f"{peak - floor:.0f} | {(peak - floor) / table_mb:.1f}x |", flush=True)


def training(work_dir, steps, repeats):
  modules = {}
  from examples.glove import build  # pylint: disable=g-import-not-at-top
  vectors, words = build.glove_files()
  for rows in ("used", "all"):
    path = os.path.join(work_dir, f"glove_l2_{rows}")
    if not os.path.exists(path):
      measured(["finetune.export_embedding", f"--embedding_file={vectors}",
                f"--vocabulary_file={words}", f"--export_path={path}",
                "--l2_regularization=1e-5", f"--l2_rows={rows}"])
    modules[rows] = path
  ways = {
      "frozen module (floor)": (modules["used"], ["hub_module.trainable = False"]),
      "lazy Adam, row penalty (the example)": (modules["used"], []),
      "lazy Adam, whole-table penalty": (modules["all"], []),
      "dense Adam, row penalty": (modules["used"],
                                  ["optimization.optimizer = @tf.train.AdamOptimizer"]),
  }
  short = max(steps // 6, 1)
  rates = {label: [] for label in ways}
  for repeat in range(repeats):
    for label, (handle, bindings) in ways.items():
      times = []
      for n in (short, steps):
        model_dir = os.path.join(work_dir, "runs", f"{len(times)}")
        subprocess.run(["rm", "-rf", model_dir], check=True)
        args = ["finetune.train", "--gin_file=glove/finetune.gin", "--schedule=train",
                f"--model_dir={model_dir}", f"--gin_bindings=MODULE_HANDLE = '{handle}'",
                f"--gin_bindings=TRAIN_STEPS = {n}", "--gin_bindings=learning_rate_schedule."
                "warmup_steps = 0", f"--gin_bindings=run_config.save_checkpoints_steps = {n}"]
        times.append(measured(args + [f"--gin_bindings={b}" for b in bindings])[0])
      if times[1] <= times[0]:  # start-up noise swamped the difference: no figure
        print(f"  {label}, repeat {repeat}: no figure (the short run took as long)")
        continue
      rates[label].append((steps - short) * 32 / (times[1] - times[0]))
      print(f"  {label}, repeat {repeat}: {rates[label][-1]:,.0f} examples/s", flush=True)
  floor = statistics.median(rates["frozen module (floor)"])
  print(f"\n## Training (batch 32, {steps} against {short} steps, median of {repeats})\n")
  print("| way | examples/s | time per example vs frozen |\n|---|---|---|")
  for label, values in rates.items():
    rate = statistics.median(values)
    print(f"| {label} | {rate:,.0f} | {floor / rate:.2f}x |")


def main(argv):
  del argv
  os.makedirs(FLAGS.work_dir, exist_ok=True)
  exporter(FLAGS.work_dir, FLAGS.formats, FLAGS.baseline)
  if FLAGS.training:
    training(FLAGS.work_dir, FLAGS.steps, FLAGS.repeats)


if __name__ == "__main__":
  app.run(main)
