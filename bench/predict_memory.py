"""Batch prediction's memory against the number of rows: the same trained text model predicts
on generated CSV files of 1,000, 100,000 and 1,000,000 short rows (an id and a sentence), each
in a fresh process (`python -m finetune.train --schedule=predict --predict_files=...`), kept
id column and CSV output. Peak RSS must stay flat: one batch in flight, rows streamed to the
output. The 1,000-row file is the baseline (what the process costs with next to no data).

    .venv/bin/python bench/predict_memory.py [--sizes=1000,100000,1000000]
"""

import argparse
import csv
import os
import subprocess
import sys
import time

from bench import setup_modules

ROOT = os.path.join(setup_modules.ROOT, "predict")


def trained_model(module):
  model_dir = os.path.join(ROOT, "model")
  if not os.path.exists(os.path.join(model_dir, "checkpoint")):
    subprocess.run([sys.executable, "-m", "finetune.train", "--gin_file=text/embedding.gin",
                    f"--gin_bindings=MODULE_HANDLE = '{module}'", "--gin_bindings=TRAIN_STEPS = 100",
                    "--schedule=train", f"--model_dir={model_dir}"], check=True)
  return model_dir


def rows_file(count, lines):
  path = os.path.join(ROOT, f"rows_{count}.csv")
  if not os.path.exists(path):
    with open(path + ".tmp", "w", newline="") as f:
      writer = csv.writer(f)
      writer.writerow(["id", "text"])
      for i in range(count):
        writer.writerow([f"id{i}", lines[i % len(lines)]])
    os.rename(path + ".tmp", path)
  return path


def predict(model_dir, path):
  """(seconds, peak RSS in MB, rows written) of one predict run in its own process."""
  output = path.replace(".csv", ".predictions.csv")
  start = time.time()
  process = subprocess.Popen([
      sys.executable, "-m", "finetune.train", f"--model_dir={model_dir}", "--schedule=predict",
      f"--predict_files={path}", f"--predict_output={output}", "--checkpoint=latest",
      "--gin_bindings=prediction.keep_columns = ['id']", "--gin_bindings=csv_data.eval_batch_size = 512"
  ], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
  _, status, usage = os.wait4(process.pid, 0)
  seconds = time.time() - start
  if status != 0:
    raise SystemExit(f"predict on {path} failed (status {status})")
  with open(output) as f:
    rows = sum(1 for _ in f) - 1
  os.remove(output)
  return seconds, usage.ru_maxrss / 1024, rows


def main():
  parser = argparse.ArgumentParser()
  parser.add_argument("--sizes", default="1000,100000,1000000")
  args = parser.parse_args()
  os.makedirs(ROOT, exist_ok=True)
  text = setup_modules.text()
  model_dir = trained_model(text["module"])
  with open(text["eval"]) as f:
    lines = [row["text"] for row in csv.DictReader(f)]
  print("| rows | file MB | seconds | rows/s | peak RSS MB |")
  print("|---|---|---|---|---|")
  for count in [int(s) for s in args.sizes.split(",")]:
    path = rows_file(count, lines)
    seconds, peak, rows = predict(model_dir, path)
    assert rows == count, (rows, count)
    print(f"| {count:,} | {os.path.getsize(path) / 1e6:.1f} | {seconds:.1f} | "
          f"{count / seconds:,.0f} | {peak:.0f} |", flush=True)


if __name__ == "__main__":
  main()
