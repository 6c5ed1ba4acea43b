"""Writes the CSV splits of the handwritten-digits data that the default example uses.

The source is `data/digits.csv.gz`: the 1,797 8x8 digit images that scikit-learn bundles
(a copy of the UCI "Optical Recognition of Handwritten Digits" test set, CC BY 4.0; see
data/README.md). The images are split in two disjoint halves, one per task:

  pretrain.csv        half the images, labelled with the digit (0-9): the "pretrained module"
                      learns to read digits from these.
  finetune_train.csv  a new task on the other half: is the digit even or odd? Only 20 labelled
                      images per class, as when labels are expensive.
  finetune_eval.csv   the rest of the other half, for evaluation.

The split is deterministic (fixed seed), and its output is committed, so running this again
reproduces the files byte for byte. It needs only numpy.
"""

import csv
import gzip
import os

import numpy as np

DATA_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), "data")
PIXEL_COLUMNS = [f"pixel_{i}" for i in range(64)]
FINETUNE_TRAIN_PER_CLASS = 20
PARITY = ("even", "odd")


def load_digits():
  """Returns (pixels [n, 64] int, labels [n] int) from the bundled gzip CSV."""
  with gzip.open(os.path.join(DATA_DIR, "digits.csv.gz"), "rt") as f:
    rows = np.loadtxt(f, delimiter=",", dtype=np.int64)
  return rows[:, :64], rows[:, 64]


def _write(path, pixels, labels, label_column):
  with open(path, "w", newline="") as f:
    writer = csv.writer(f)
    writer.writerow(PIXEL_COLUMNS + [label_column])
    for row, label in zip(pixels, labels):
      writer.writerow([int(v) for v in row] + [label])


def main():
  pixels, labels = load_digits()
  rng = np.random.RandomState(20261124)
  order = rng.permutation(len(labels))
  pixels, labels = pixels[order], labels[order]
  half = len(labels) // 2
  _write(os.path.join(DATA_DIR, "pretrain.csv"), pixels[:half], labels[:half], "label")

  pixels, labels = pixels[half:], labels[half:]
  parity = np.array([PARITY[d % 2] for d in labels])
  train_idx = sorted(
      i for name in PARITY for i in np.flatnonzero(parity == name)[:FINETUNE_TRAIN_PER_CLASS])
  eval_idx = sorted(set(range(len(labels))) - set(train_idx))
  _write(os.path.join(DATA_DIR, "finetune_train.csv"), pixels[train_idx], parity[train_idx],
         "parity")
  _write(os.path.join(DATA_DIR, "finetune_eval.csv"), pixels[eval_idx], parity[eval_idx], "parity")


if __name__ == "__main__":
  main()
