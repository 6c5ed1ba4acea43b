"""word2vec's binary format: a `count dim` line, then per word `word ` and dim little-endian
float32s, read a batch of records at a time in one pass."""

import os

import numpy as np

from finetune.embeddings import table_io
from finetune.errors import FinetuneError


class BinaryVectors:
  """A reader: batches() gives (words, float32 rows) in file order, the rows valid until the
  next batch; place_of_row(row) names the row's record. It has no `rows`: they are read once."""
  rows = None

  def __init__(self, path, ignore, use, progress):
    self.source = os.path.basename(path)
    self._path, self._ignore, self._progress = path, ignore, progress
    with table_io.open_file(path) as f:
      header = _Records(f, path).line().split()
    if len(header) != 2 or not all(x.isdigit() for x in header):
      raise FinetuneError(f"{path} does not start with word2vec's `count dim` line (found "
                          f"{b' '.join(header)[:40]!r}); is it a text file? Pass "
                          "--input_format=text.")
    self._count, self.dim = int(header[0]), int(header[1])
    if self.dim < 1:
      raise FinetuneError(f"{path} has a header with dim {self.dim}: the vectors need at least "
                          "one number each.")
    if self._count <= ignore:
      raise FinetuneError(table_io.empty_message(path, ignore))
    self._capacity = self._count - ignore if use is None else min(self._count - ignore, use)

  def place_of_row(self, row):
    return f"record {row + self._ignore + 1} of {self._path}"

  def batches(self):
    size = table_io.chunk_rows(self.dim)
    rows, words = np.empty((size, self.dim), np.float32), []
    with table_io.open_file(self._path) as f:
      reader = _Records(f, self._path)
      reader.line()
      for record in range(1, self._ignore + self._capacity + 1):
        word = reader.word(record, self._count)
        values = reader.floats(self.dim, record, self._count)
        if record > self._ignore:
          rows[len(words)] = values
          words.append(table_io.text(word))
          if len(words) == size:
            yield words, rows
            words = []
            self._progress(record - self._ignore, self._capacity)
    if words:
      yield words, rows[:len(words)]


class _Records:
  """Reads word2vec's binary records (`word ` then dim little-endian float32s) through a
  buffer, since a byte-at-a-time read of three million words takes minutes."""

  def __init__(self, f, path):
    self._f, self._path = f, path
    self._buffer, self._at = b"", 0

  def _fill(self, need):
    while len(self._buffer) - self._at < need:
      chunk = self._f.read(1 << 20)
      if not chunk:
        return False
      self._buffer = self._buffer[self._at:] + chunk
      self._at = 0
    return True

  def line(self):
    self._fill(1 << 10)
    end = self._buffer.find(b"\n", self._at)
    end = len(self._buffer) if end < 0 else end
    line, self._at = self._buffer[self._at:end], end + 1
    return line

  def word(self, record, count):
    while True:
      end = self._buffer.find(b" ", self._at)
      if end >= 0:
        break
      if len(self._buffer) - self._at > 1 << 16 or not self._fill(len(self._buffer) - self._at +
                                                                   1):
        raise FinetuneError(f"{self._path} ends inside record {record} of the {count:,} its "
                            "header announces: the file is cut short or not word2vec binary.")
    word, self._at = self._buffer[self._at:end].lstrip(b"\n"), end + 1
    if not word:
      raise FinetuneError(f"Record {record} of {self._path} has an empty word.")
    return word

  def floats(self, dim, record, count):
    if not self._fill(4 * dim):
      raise FinetuneError(f"{self._path} ends inside record {record} of the {count:,} its "
                          "header announces: the file is cut short (an interrupted download?).")
    values = np.frombuffer(self._buffer, "<f4", dim, self._at)
    self._at += 4 * dim
    return values
