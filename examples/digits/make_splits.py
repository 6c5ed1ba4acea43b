"""Writes the CSV splits of the handwritten-digits data that the default example uses.

The source is `data/digits.csv.gz`: the 1,797 8x8 digit images that scikit-learn bundles
(a copy of the UCI "Optical Recognition of Handwritten Digits" test set, CC BY 4.0; see
data/README.md). Two tasks are cut from it so that pre-training and fine-tuning differ:

  pretrain.csv        digits 0-4, integer labels; the "pretrained module" learns from these.
  finetune_train.csv  digits 5-9, string labels, only 20 per class (few labels, as in practice).
  finetune_eval.csv   the remaining digits 5-9, for evaluation.

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

  low = labels < 5
  _write(os.path.join(DATA_DIR, "pretrain.csv"), pixels[low], labels[low], "label")

  train_idx, eval_idx = [], []
  for digit in range(5, 10):
    idx = np.flatnonzero(labels == digit)
    train_idx.extend(idx[:FINETUNE_TRAIN_PER_CLASS])
    eval_idx.extend(idx[FINETUNE_TRAIN_PER_CLASS:])
  train_idx, eval_idx = sorted(train_idx), sorted(eval_idx)
  as_text = lambda idx: [str(v) for v in labels[idx]]
  _write(os.path.join(DATA_DIR, "finetune_train.csv"), pixels[train_idx],
         as_text(train_idx), "digit")
  _write(os.path.join(DATA_DIR, "finetune_eval.csv"), pixels[eval_idx],
         as_text(eval_idx), "digit")


if __name__ == "__main__":
  main()
