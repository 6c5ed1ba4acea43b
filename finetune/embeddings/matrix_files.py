"""Word vectors as a [words, dim] matrix in a .npy file beside a word list: one word per
line, or a .parquet file with one string column (read with pyarrow, an extra). Both are read a
slice at a time: the matrix's rows through plain reads (table_io.RowFile), the words a batch
at a time."""

import itertools
import os

import numpy as np

from finetune.embeddings import table_io
from finetune.embeddings import text_checks
from finetune.errors import FinetuneError


class NpyVectors:
  """The rows `ignore` to `ignore + use` of a .npy matrix and its word list, as a reader:
  batches() gives (words, float32 rows) in row order; `rows` reads the matrix again."""

  def __init__(self, path, vocabulary_file, ignore, use):
    matrix = _layout(path)
    table_io.check_regular_file(vocabulary_file, "--vocabulary_file")
    words = _count_words(vocabulary_file)
    if words != matrix.rows_in_file:
      raise FinetuneError(f"{vocabulary_file} lists {words:,} words but {path} has "
                          f"{matrix.rows_in_file:,} rows: they must match row for row.")
    end = words if use is None else min(words, ignore + use)
    if ignore >= end:
      raise FinetuneError(table_io.empty_message(path, ignore))
    self.rows = table_io.RowFile(matrix.path, matrix.offset, matrix.dtype, words, matrix.dim,
                                 first=ignore, count=end - ignore,
                                 fortran_order=matrix.fortran_order)
    self.dim = matrix.dim
    self.source = os.path.basename(path)
    self._path, self._words, self._ignore = path, vocabulary_file, ignore

  def place_of_row(self, row):
    row += self._ignore
    return f"row {row} of {self._path} (word {row + 1} of {self._words})"

  def batches(self):
    words = itertools.islice(_words(self._words), self._ignore, None)
    for _, rows in self.rows.chunks():
      yield list(itertools.islice(words, len(rows))), rows


def _layout(path):
  """The matrix's place in the file (a RowFile of all its rows), from the .npy header."""
  try:
    with table_io.open_raw(path) as f:
      version = np.lib.format.read_magic(f)
      read_header = (np.lib.format.read_array_header_1_0 if version == (1, 0) else
                     np.lib.format.read_array_header_2_0)
      shape, fortran_order, dtype = read_header(f)
      offset = f.tell()
  except ValueError as e:
    raise FinetuneError(f"{path} is not a .npy matrix numpy can read without pickle ({e}).")
  if dtype.hasobject:
    raise FinetuneError(f"{path} is not a .npy matrix numpy can read without pickle (it holds "
                        "Python objects).")
  if len(shape) != 2 or not shape[1] or dtype.kind not in "fiu":
    raise FinetuneError(f"{path} holds a {dtype} array of shape {shape}; word "
                        "vectors are a 2-D float matrix [words, dim].")
  return table_io.RowFile(path, offset, dtype, shape[0], shape[1], fortran_order=fortran_order)


def _count_words(path):
  if path.lower().endswith(".parquet"):
    return _parquet_column(path)[0].metadata.num_rows
  count, last = 0, b""
  with table_io.open_file(path) as f:
    for count, last in enumerate(f, start=1):
      pass
  return count - 1 if count and not last.rstrip(b"\r\n") else count  # a last empty line


def _words(path):
  """The words of a word list, one at a time: one per line, or the one string column of a
  .parquet file."""
  if path.lower().endswith(".parquet"):
    yield from _parquet_words(path)
    return
  text_checks.check_encoding(path, "--vocabulary_file")
  with table_io.open_file(path) as f:
    for line in f:
      yield table_io.text(line).rstrip("\r\n")


def _parquet_column(path):
  """(pyarrow's ParquetFile, the name of its one string column)."""
  try:
    import pyarrow.parquet as pq  # pylint: disable=g-import-not-at-top
    import pyarrow.types as pa_types  # pylint: disable=g-import-not-at-top
  except ImportError:
    raise FinetuneError(f"Reading the word list {path} needs pyarrow: pip install "
                        "'finetune[glove]' (or write the words one per line).") from None
  try:
    parquet = pq.ParquetFile(path)
  except Exception as e:  # pylint: disable=broad-except
    raise FinetuneError(f"{path} is not a parquet file pyarrow can read ({e}).") from None
  strings = [f.name for f in parquet.schema_arrow if pa_types.is_string(f.type) or
             pa_types.is_large_string(f.type)]
  if len(strings) != 1:
    raise FinetuneError(f"{path} has {len(strings)} string columns ({', '.join(strings) or 'none'}"
                        "); a word list has exactly one. Write the words one per line instead.")
  return parquet, strings[0]


def _parquet_words(path):
  row = 0
  for words in _parquet_batches(path):
    if words.null_count:
      missing = row + int(np.argmax(words.is_null().to_numpy(zero_copy_only=False)))
      raise FinetuneError(f"Row {missing} of {path} has no word (null).")
    yield from words.to_pylist()
    row += len(words)


def _parquet_batches(path):
  """The string column in arrays of a few thousand words."""
  parquet, column = _parquet_column(path)
  batches = parquet.iter_batches(batch_size=1 << 14, columns=[column])
  while True:
    try:
      batch = next(batches, None)
    except Exception as e:  # pylint: disable=broad-except
      raise FinetuneError(f"{path} is not a parquet file pyarrow can read ({e}).") from None
    if batch is None:
      return
    yield batch.column(0)
