"""Builds the default example's modules from the shipped digits data.

  python -m examples.digits.build_modules --output_dir=build/modules

writes two TF1 Hub format modules with the same architecture (see module.py):
  digits_pretrained/  trained to read digits 0-9 (data/pretrain.csv)
  digits_untrained/   random initialization: the "from scratch" baseline
configs/digits/*.gin fine-tune them to tell even from odd digits. Existing modules are kept (pass --force
to rebuild), so running the example twice does not redo this.
"""

import csv
import os
import shutil
import sys

from absl import app
from absl import flags
import numpy as np

from examples.digits import module as digits_module

DATA_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), "data")

flags.DEFINE_string("output_dir", "build/modules", "Where the modules are written.")
flags.DEFINE_bool("force", False, "Rebuild modules that already exist.")
FLAGS = flags.FLAGS


def read_csv(path, label_column):
  """Returns (pixels [n, 64] float32, labels [n]) from a digits CSV split.

  Labels are int64 where the column holds numbers, strings otherwise.
  """
  with open(path) as f:
    rows = list(csv.DictReader(f))
  pixels = np.array([[float(r[f"pixel_{i}"]) for i in range(64)] for r in rows], np.float32)
  labels = np.array([r[label_column] for r in rows])
  if all(label.isdigit() for label in labels):
    labels = labels.astype(np.int64)
  return pixels, labels


def build(output_dir, force=False):
  """Builds both modules under `output_dir`; returns their paths."""
  pixels, labels = read_csv(os.path.join(DATA_DIR, "pretrain.csv"), "label")
  paths = {}
  for name, steps in (("digits_pretrained", 1500), ("digits_untrained", 0)):
    path = os.path.join(output_dir, name)
    paths[name] = path
    if os.path.exists(os.path.join(path, "tfhub_module.pb")) and not force:
      print(f"{name}: exists at {path}")
      continue
    # Export beside the target, then swap it in: a module directory is whole or absent.
    tmp = path + ".tmp"
    shutil.rmtree(tmp, ignore_errors=True)
    accuracy = digits_module.pretrain_and_export(tmp, pixels, labels, steps=steps)
    shutil.rmtree(path, ignore_errors=True)
    os.rename(tmp, path)
    print(f"{name}: exported to {path} (training accuracy reading digits: {accuracy:.3f})")
  return paths


def main(argv):
  del argv
  build(FLAGS.output_dir, FLAGS.force)


if __name__ == "__main__":
  sys.exit(app.run(main))
