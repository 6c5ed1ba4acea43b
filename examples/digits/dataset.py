"""Reads the shipped digits CSV splits (see data/README.md) into numpy arrays."""

import csv
import os

import numpy as np

DATA_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), "data")


def read_csv(name, label_column):
  """Returns (pixels [n, 64] float32, labels [n]) from data/<name>.

  Labels are int64 where the column holds numbers, strings otherwise.
  """
  with open(os.path.join(DATA_DIR, name)) as f:
    rows = list(csv.DictReader(f))
  pixels = np.array([[float(r[f"pixel_{i}"]) for i in range(64)] for r in rows], np.float32)
  labels = np.array([r[label_column] for r in rows])
  if all(label.isdigit() for label in labels):
    labels = labels.astype(np.int64)
  return pixels, labels
