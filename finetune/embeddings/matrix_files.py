"""Word vectors as a [words, dim] matrix in a .npy file beside a word list: one word per
line, or a .parquet file with one string column (read with pyarrow, an extra). The matrix
stays memory-mapped; writers read it a slice at a time (table_io.chunks)."""

import os

import numpy as np
import tensorflow as tf

from finetune.embeddings import table_io
from finetune.embeddings import text_checks
from finetune.errors import FinetuneError


def read_npy(path, vocabulary_file, ignore, use):
  matrix = _load_matrix(path)
  words = read_word_list(vocabulary_file)
  if len(words) != matrix.shape[0]:
    raise FinetuneError(f"{vocabulary_file} lists {len(words):,} words but {path} has "
                        f"{matrix.shape[0]:,} rows: they must match row for row.")
  end = matrix.shape[0] if use is None else min(matrix.shape[0], ignore + use)
  if ignore >= end:
    raise FinetuneError(table_io.empty_message(path, ignore))
  vectors = matrix[ignore:end]  # a view: read a slice at a time where it is used (chunks)
  return table_io.WordVectors(words[ignore:end], vectors, os.path.basename(path),
                     lambda row: f"row {row + ignore} of {path} (word {row + ignore + 1} of "
                     f"{vocabulary_file})")


def _load_matrix(path):
  try:
    if "://" in path:
      with tf.io.gfile.GFile(path, "rb") as f:
        matrix = np.load(f, allow_pickle=False)
    else:
      matrix = np.load(path, mmap_mode="r", allow_pickle=False)
  except ValueError as e:
    raise FinetuneError(f"{path} is not a .npy matrix numpy can read without pickle ({e}).")
  if matrix.ndim != 2 or matrix.dtype.kind not in "fiu":
    raise FinetuneError(f"{path} holds a {matrix.dtype} array of shape {matrix.shape}; word "
                        "vectors are a 2-D float matrix [words, dim].")
  return matrix


def read_word_list(path):
  """The words of a word list: one per line, or the one string column of a .parquet file."""
  table_io.check_regular_file(path, "--vocabulary_file")
  if path.lower().endswith(".parquet"):
    return _read_parquet_words(path)
  text_checks.check_encoding(path, "--vocabulary_file")
  with table_io.open_file(path) as f:
    words = [table_io.text(line).rstrip("\r\n") for line in f]
  if words and not words[-1]:
    words.pop()
  return words


def _read_parquet_words(path):
  try:
    import pyarrow.parquet as pq  # pylint: disable=g-import-not-at-top
    import pyarrow.types as pa_types  # pylint: disable=g-import-not-at-top
  except ImportError:
    raise FinetuneError(f"Reading the word list {path} needs pyarrow: pip install "
                        "'finetune[glove]' (or write the words one per line).") from None
  try:
    table = pq.read_table(path)
  except Exception as e:  # pylint: disable=broad-except
    raise FinetuneError(f"{path} is not a parquet file pyarrow can read ({e}).") from None
  strings = [f.name for f in table.schema if pa_types.is_string(f.type) or
             pa_types.is_large_string(f.type)]
  if len(strings) != 1:
    raise FinetuneError(f"{path} has {len(strings)} string columns ({', '.join(strings) or 'none'}"
                        "); a word list has exactly one. Write the words one per line instead.")
  words = table.column(strings[0]).to_pylist()
  if None in words:
    row = words.index(None)
    raise FinetuneError(f"Row {row} of {path} has no word (null).")
  return words


