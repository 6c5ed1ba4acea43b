"""GloVe and word2vec/fastText text files: `word v1 ... vd` per line, with or without
word2vec's `count dim` header, read a batch of lines at a time in one pass."""

import bisect
import os

import numpy as np

from finetune.embeddings import table_io
from finetune.embeddings import text_checks
from finetune.errors import FinetuneError


class TextVectors:
  """A reader: batches() gives (words, float32 rows) in file order, the rows valid until the
  next batch; place_of_row(row) names the row's line. It has no `rows`: they are read once."""
  rows = None

  def __init__(self, path, ignore, use, progress):
    self.source = os.path.basename(path)
    self._path, self._ignore, self._use, self._progress = path, ignore, use, progress
    with table_io.open_file(path) as f:
      self._start, self._header, first = _skip_to_data(f, path, ignore)
    if first is None:
      raise FinetuneError(table_io.empty_message(path, ignore))
    if self._header:
      self.dim = self._header[1]
    else:
      self.dim = len(first.split()) - 1
      if self.dim < 1:
        word = table_io.text(first).strip()
        raise FinetuneError(f"Line {self._start} of {path} has no numbers after its word "
                            f"'{word}': expected `word v1 ... vd` per line.")
    self._lines = _LineNumbers()
    total = self._header[0] if self._header else None
    self._capacity = total if use is None else use if total is None else min(total, use)

  def place_of_row(self, row):
    return f"line {self._lines(row)} of {self._path}"

  def batches(self):
    size = table_io.chunk_rows(self.dim)
    rows, words, count = np.empty((size, self.dim), np.float32), [], 0
    with table_io.open_file(self._path) as f:
      for number, raw in enumerate(f, start=1):
        if number < self._start or not raw.strip():
          continue
        if count == self._capacity:
          self._check_no_more(number)
          break
        word, rows[len(words)] = _parse_line(raw, self.dim, number, self._path)
        words.append(word)
        self._lines.add(count, number)
        count += 1
        if len(words) == size:
          yield words, rows
          words = []
          self._progress(count, self._capacity)
    if words:
      yield words, rows[:len(words)]
    self._check_count(count)

  def _check_no_more(self, number):
    if self._header and self._use is None:
      raise FinetuneError(f"{self._path} has more vectors than its header line's "
                          f"{self._header[0]:,} (line {number}): fix the header, or pass "
                          "--num_lines_to_use.")

  def _check_count(self, count):
    if self._header and count < self._capacity:
      raise FinetuneError(f"{self._path} ends after {count:,} vectors where its header line "
                          f"says {self._header[0]:,}: the file is cut short (an interrupted "
                          "download?). Fetch it again, or pass --num_lines_to_use to read only "
                          "what is there.")
    if not count:
      raise FinetuneError(table_io.empty_message(self._path, self._ignore))


class _LineNumbers:
  """The line of each row, kept as the rows where the numbering jumps (after blank lines)."""

  def __init__(self):
    self._rows, self._lines = [], []

  def add(self, row, line):
    if not self._rows or line - row != self._lines[-1] - self._rows[-1]:
      self._rows.append(row)
      self._lines.append(line)

  def __call__(self, row):
    at = bisect.bisect_right(self._rows, row) - 1
    return self._lines[at] + row - self._rows[at]


def _skip_to_data(f, path, ignore):
  """Skips `ignore` lines and blank ones; returns (number of the first data line, word2vec's
  (count, dim) header or None, that line's bytes or None at the end of the file)."""
  number, header = 0, None
  for number, raw in enumerate(f, start=1):
    if number <= ignore or not raw.strip():
      continue
    fields = raw.split()
    if header is None and len(fields) == 2 and all(x.isdigit() for x in fields):
      header = (int(fields[0]), int(fields[1]))
      if header[1] < 1:
        raise FinetuneError(f"Line {number} of {path} is a header with dim {header[1]}: the "
                            "vectors need at least one number each.")
      continue
    return number, header, raw
  return number + 1, header, None


def _parse_line(raw, dim, number, path):
  line = table_io.text(raw).rstrip("\r\n").rstrip(" ")
  parts = line.rsplit(" ", dim)
  if len(parts) != dim + 1 or _looks_like_numbers(parts[0]):
    found = len(line.split(" ")) - 1
    raise FinetuneError(f"Line {number} of {path} has {found} numbers after its word where "
                        f"the file's vectors have {dim}: a ragged row. Fix or drop that line."
                        f"{text_checks.ragged_hint(line)}")
  word = parts[0]
  if not word or (word.isascii() and word.isspace()):
    raise FinetuneError(f"Line {number} of {path} has an empty word; every vector needs one.")
  try:
    return word, np.asarray(parts[1:], dtype=np.float32)
  except ValueError:
    bad = next(p for p in parts[1:] if not _is_float(p))
    raise FinetuneError(f"Line {number} of {path} (word '{word}') has '{bad}' where a number "
                        "belongs.") from None


def _looks_like_numbers(word):
  """A "word" with spaces that ends in a number is a row with too many values: GloVe 840B's
  words may hold spaces (". . ."), but such a word ending in a number is far rarer than a
  ragged row, and reading one as the other would shift every number of the row."""
  pieces = word.split(" ")
  return len(pieces) > 1 and _is_float(pieces[-1])


def _is_float(text):
  try:
    float(text)
    return True
  except ValueError:
    return False
