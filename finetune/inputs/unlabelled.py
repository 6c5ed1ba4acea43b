"""Files to predict on, read as their data source reads its training files but without
labels: what every kind shares, and the predict input_fn.

A reader (unlabelled_csv.py, unlabelled_tfrecord.py, unlabelled_images.py) checks its files
whole before anything is predicted (columns, empty files, rows that do not parse, named by
file and row), gives a dataset of (record, file index, row) in file order, parses a batch of
records into the model's raw features, and gives each row's kept columns from a separate
streaming read of the same files, in the same order.
"""

import os

import tensorflow as tf

from finetune.errors import FinetuneError
from finetune.inputs import prediction_keys

# Output names of every prediction row: a kept column may not take one of these.
RESERVED_COLUMNS = ("file", "row", "class", "probability", "classes", "top_k", "probabilities",
                    "value", "values", "tags")


class UnlabelledFiles:
  """The interface, and the keep_columns check every reader makes."""

  def __init__(self, paths, keep_columns):
    self.paths = _once(paths)
    self.keep_columns = list(keep_columns)
    self.row_counts = None  # rows per file, once check() has read them all
    taken = [c for c in self.keep_columns if c in RESERVED_COLUMNS]
    if taken:
      raise FinetuneError(f"prediction.keep_columns names {', '.join(taken)}, which every "
                          f"prediction row uses for itself ({', '.join(RESERVED_COLUMNS)}); "
                          "rename the column in the file.")

  def check(self):
    """Raises FinetuneError for the first thing wrong in the files, before any prediction;
    sets row_counts (the prediction loop checks that every row was predicted once)."""
    raise NotImplementedError

  def dataset(self):
    """tf.data of (record, file index, row) in file order."""
    raise NotImplementedError

  def parse_batch(self, records):
    """A batch of records -> {feature: tensor} as the data source's training features."""
    raise NotImplementedError

  def keys(self):
    """(file index, row, {kept column: value}) of every row, in dataset order."""
    raise NotImplementedError

  def find_problem(self):
    """After the graph failed on a batch: the first bad record, named, or None."""
    return None


def _once(paths):
  """The paths without a file named twice (d/a.csv and d/../d/a.csv): each row once."""
  seen, kept = set(), []
  for path in paths:
    key = path if "://" in path else os.path.realpath(path)
    if key not in seen:
      seen.add(key)
      kept.append(path)
  return kept


def input_fn(reader, batch_size, tokenization=None):
  """The predict input_fn: batches of the reader's features (tokenized as in training) with
  each row's file index and row (prediction_keys.py). Never cached, shuffled or repeated:
  memory stays a few batches whatever the number of rows. `params`: a TPUEstimator's, whose
  batch size wins; it pads the last, partial batch itself."""

  def fn(params=None):
    size = (params or {}).get("batch_size", batch_size)
    batches = reader.dataset().batch(size)

    def parse(records, file_indices, rows):
      features = reader.parse_batch(records)
      if tokenization:
        features = tokenization(features)
      features.update(prediction_keys.graph_keys(file_indices, rows))
      return features

    parse = tf.autograph.experimental.do_not_convert(parse)
    return batches.map(parse, num_parallel_calls=tf.data.AUTOTUNE,
                       deterministic=True).prefetch(2)

  return fn


def per_file(paths, records_of, compressions=None):
  """(record, file index, row) of every file's records, `records_of(path, compression)` a
  dataset of one file's records ("" or "GZIP" per file in `compressions`); files in order,
  rows from 0 in each."""
  compressions = compressions or [""] * len(paths)
  files = tf.data.Dataset.from_tensor_slices(
      (paths, compressions, tf.range(len(paths), dtype=tf.int64)))
  return files.flat_map(lambda path, compression, index: records_of(
      path, compression).enumerate().map(lambda row, record: (record, index, row)))
