"""Prediction rows to a JSON Lines or CSV file, streamed: a row is written as it comes, so
memory stays flat in the number of rows. The file appears whole or not at all (written
beside its path, renamed at the end, removed on failure); gs:// paths work as local ones.

CSV has one value a cell, so nested values are spread: {"top_k": [{"class": a, ...}]} gives
columns top_k_1_class, top_k_1_probability, ...; {"probabilities": {"cat": p}} gives
probabilities_cat; a list of numbers gives values_1, values_2, ...; a list of words (tags, a
multi-label head's classes) is joined by the head's own label delimiter, as its labels are
(a word without a tag, past max_seq_length, is empty there and null in JSON).
"""

import contextlib
import csv
import json
import os

import tensorflow as tf

from finetune.errors import FinetuneError


def flatten(record, delimiter):
  """{column: scalar} of one record, as CSV holds it."""
  flat = {}

  def put(key, value):
    if key in flat:  # a kept column named like a spread one, e.g. probabilities_odd
      raise FinetuneError(f"Two CSV columns of the predictions would be named '{key}' (a kept "
                          "column and a prediction); rename the input column, or write .jsonl.")
    flat[key] = value

  for key, value in record.items():
    if isinstance(value, dict):
      for sub, v in value.items():
        put(f"{key}_{sub}", v)
    elif isinstance(value, list) and value and isinstance(value[0], dict):
      for i, item in enumerate(value, 1):
        for sub, v in item.items():
          put(f"{key}_{i}_{sub}", v)
    elif isinstance(value, list) and all(v is None or isinstance(v, str) for v in value):
      put(key, delimiter.join("" if v is None else v for v in value))  # None: no tag
    elif isinstance(value, list):
      for i, v in enumerate(value, 1):
        put(f"{key}_{i}", v)
    else:
      put(key, value)
  return flat


class _JsonLines:

  def __init__(self, f, delimiter):
    del delimiter
    self._f = f

  def write(self, record):
    self._f.write(json.dumps(record, ensure_ascii=False) + "\n")


class _Csv:

  def __init__(self, f, delimiter):
    self._delimiter = delimiter
    self._writer = csv.writer(f, lineterminator="\n")
    self._columns = None

  def write(self, record):
    flat = flatten(record, self._delimiter)
    if self._columns is None:
      self._columns = list(flat)
      self._writer.writerow(self._columns)
    elif list(flat) != self._columns:  # a head's record has the same keys for every row
      raise FinetuneError(f"A prediction row has columns {list(flat)} where the first had "
                          f"{self._columns}; CSV needs the same columns in every row "
                          "(write .jsonl instead).")
    self._writer.writerow([flat[c] for c in self._columns])


def _tmp(path):
  """Beside `path`, named for this process: two runs writing one output never share it."""
  return f"{path}.tmp-{os.getpid()}"


def check_output(path, inputs=()):
  """Refuses an output that cannot be written, or that is one of `inputs`, before anything
  is predicted: a file is made beside it and removed (on gs:// too, where rights show only
  when writing)."""
  if tf.io.gfile.isdir(path):
    raise FinetuneError(f"--predict_output '{path}' is a directory; give a file path ending in "
                        ".jsonl or .csv.")
  if "://" not in path and os.path.realpath(path) in {os.path.realpath(p) for p in inputs}:
    raise FinetuneError(f"--predict_output '{path}' is one of the files to predict on; write "
                        "the predictions to another file.")
  folder = os.path.dirname(path) or "."
  # A bucket has no folders to create (gs://b/new/out.csv is fine); a local path's must exist.
  if "://" not in path and not tf.io.gfile.isdir(folder):
    raise FinetuneError(f"The folder of --predict_output '{path}' does not exist; create "
                        f"'{folder}' first.")
  try:
    with tf.io.gfile.GFile(_tmp(path), "w") as f:
      f.write("")
    tf.io.gfile.remove(_tmp(path))
  except tf.errors.OpError as e:
    raise FinetuneError(f"--predict_output '{path}' cannot be written "
                        f"({e.message.splitlines()[0]}); give a path you can write to.") from e


@contextlib.contextmanager
def rows_to(path, delimiter=" "):
  """A writer (`.write(record)`) whose rows appear at `path` once the block completes."""
  make = _Csv if path.endswith(".csv") else _JsonLines
  tmp = _tmp(path)
  try:
    with tf.io.gfile.GFile(tmp, "w") as f:
      yield make(f, delimiter)
    tf.io.gfile.rename(tmp, path, overwrite=True)
  except BaseException:
    if tf.io.gfile.exists(tmp):
      tf.io.gfile.remove(tmp)
    raise
