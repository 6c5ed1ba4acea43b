"""Reads a file of word vectors into one table: the words and a float32 [words, dim] matrix.

Formats, told apart by name unless `input_format` says otherwise (a gzipped file is told by
its first bytes, whatever its name):
  text             GloVe and word2vec/fastText text: `word v1 ... vd` per line, with or
                   without word2vec's `count dim` header (.txt, .vec, .gz, anything else)
  word2vec_binary  word2vec's binary format (.bin, .bin.gz)
  npy              a [words, dim] matrix (.npy) with a word list: one word per line, or a
                   .parquet file with one string column (read with pyarrow, an extra)

The matrix is allocated once at its final size (a header or a counting pass gives it), so a
read needs about the table's size in memory. A bad file is refused with one line that names
the file, the line and what is wrong: ragged rows, a bad or non-finite number, an empty or
duplicate word, a count that does not match, an empty file.
"""

import logging
import os
import time

import numpy as np

from finetune.embeddings import matrix_files
from finetune.embeddings import table_io
from finetune.embeddings import text_checks
from finetune.errors import FinetuneError

FORMATS = ("auto", "text", "word2vec_binary", "npy")
log = logging.getLogger("finetune")


def read(path, vocabulary_file=None, input_format="auto", num_lines_to_ignore=0,
         num_lines_to_use=None, progress_every_secs=5.0):
  """Reads `path`; see the module docstring for the formats.

  Args:
    path: the vectors file (local, or any tf.io.gfile path such as gs://).
    vocabulary_file: the word list of a .npy matrix (and only of one).
    input_format: one of FORMATS.
    num_lines_to_ignore: lines (records, rows) at the start of the file to skip, e.g. a
      header that is not word2vec's `count dim`.
    num_lines_to_use: how many vectors to read after those (None: all).
    progress_every_secs: how often a long read logs how far it is.

  Returns:
    WordVectors, checked: finite numbers, one dim, no empty or duplicate word.

  Raises:
    FinetuneError: the file is missing, unreadable or malformed (one line naming where).
  """
  fmt = detect_format(path, input_format)
  if num_lines_to_ignore < 0:
    raise FinetuneError(f"--num_lines_to_ignore is {num_lines_to_ignore}; it counts lines to "
                        "skip, 0 or more.")
  if num_lines_to_use is not None and num_lines_to_use <= 0:
    raise FinetuneError(f"--num_lines_to_use is {num_lines_to_use}; give a positive count, or "
                        "leave it out to use every line.")
  if fmt == "npy" and not vocabulary_file:
    raise FinetuneError(f"{path} is a matrix without words: pass its word list with "
                        "--vocabulary_file=WORDS.txt (one word per line) or WORDS.parquet.")
  if fmt != "npy" and vocabulary_file:
    raise FinetuneError(f"--vocabulary_file goes with a .npy matrix; {path} is read as "
                        f"{fmt}, which carries its words. Leave --vocabulary_file out.")
  table_io.check_regular_file(path, "--embedding_file")
  if fmt == "text":
    text_checks.check_encoding(path, "--embedding_file")
  progress = _Progress(path, progress_every_secs)
  use = num_lines_to_use
  if fmt == "npy":
    table = matrix_files.read_npy(path, vocabulary_file, num_lines_to_ignore, use)
  elif fmt == "word2vec_binary":
    table = _read_binary(path, num_lines_to_ignore, use, progress)
  else:
    table = _read_text(path, num_lines_to_ignore, use, progress)
  table_io.check_table(table)
  text_checks.check_words(table, keep_cut_words=fmt == "word2vec_binary")
  return table


def detect_format(path, input_format="auto"):
  if input_format not in FORMATS:
    raise FinetuneError(f"--input_format={input_format} is not a format; use one of: "
                        f"{', '.join(FORMATS)}.")
  if input_format != "auto":
    return input_format
  name = path.lower()
  if name.endswith(".npy"):
    return "npy"
  if name.endswith((".bin", ".bin.gz")):
    return "word2vec_binary"
  return "text"


class _Progress:
  """Logs `read N of M vectors of F` at most every `every_secs` (a big file takes minutes)."""

  def __init__(self, path, every_secs):
    self._path = path
    self._every = every_secs
    self._last = time.time()

  def __call__(self, done, total):
    now = time.time()
    if now - self._last >= self._every:
      self._last = now
      share = f" ({100 * done // total}%)" if total else ""
      log.info("read %s of %s vectors of %s%s", f"{done:,}", f"{total:,}", self._path, share)


# --- text --------------------------------------------------------------------------------


def _read_text(path, ignore, use, progress):
  name = os.path.basename(path)
  with table_io.open_file(path) as f:
    line_number, header, first = _skip_to_data(f, path, ignore)
    if first is None:
      raise FinetuneError(table_io.empty_message(path, ignore))
    if header:
      count, dim = header
      total = count
    else:
      dim = len(first.split()) - 1
      if dim < 1:
        raise FinetuneError(f"Line {line_number} of {path} has no numbers after its word "
                            f"'{table_io.text(first).strip()}': expected `word v1 ... vd` per line.")
      total = None
  if total is None and use is None:  # a counting pass, so the matrix is allocated once
    total = _count_lines(path) - line_number + 1
  capacity = use if total is None else (total if use is None else min(total, use))
  vectors = np.empty((capacity, dim), np.float32)
  words, lines = [], np.empty(capacity, np.int64)
  with table_io.open_file(path) as f:
    number = 0
    for number, raw in enumerate(f, start=1):
      if number < line_number or not raw.strip():
        continue
      if len(words) == capacity:
        if header and use is None:
          raise FinetuneError(f"{path} has more vectors than its header line's {total:,} "
                              f"(line {number}): fix the header, or pass --num_lines_to_use.")
        break
      word, values = _parse_text_line(raw, dim, number, path)
      vectors[len(words)] = values
      lines[len(words)] = number
      words.append(word)
      progress(len(words), capacity)
  if header and len(words) < capacity:
    raise FinetuneError(f"{path} ends after {len(words):,} vectors where its header line says "
                        f"{total:,}: the file is cut short (an interrupted download?). Fetch it "
                        "again, or pass --num_lines_to_use to read only what is there.")
  if not words:
    raise FinetuneError(table_io.empty_message(path, ignore))
  if len(words) < capacity:  # blank lines were counted
    vectors.resize((len(words), dim), refcheck=False)
  return table_io.WordVectors(words, vectors, name, lambda row: f"line {lines[row]} of {path}")


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


def _count_lines(path):
  count, last = 0, b"\n"
  with table_io.open_file(path) as f:
    while True:
      chunk = f.read(1 << 22)
      if not chunk:
        break
      count += chunk.count(b"\n")
      last = chunk[-1:]
  return count + (last != b"\n")


def _parse_text_line(raw, dim, number, path):
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


# --- word2vec binary ---------------------------------------------------------------------


def _read_binary(path, ignore, use, progress):
  with table_io.open_file(path) as f:
    reader = _Records(f, path)
    header = reader.line().split()
    if len(header) != 2 or not all(x.isdigit() for x in header):
      raise FinetuneError(f"{path} does not start with word2vec's `count dim` line (found "
                          f"{b' '.join(header)[:40]!r}); is it a text file? Pass "
                          "--input_format=text.")
    count, dim = int(header[0]), int(header[1])
    if count <= ignore:
      raise FinetuneError(table_io.empty_message(path, ignore))
    capacity = count - ignore if use is None else min(count - ignore, use)
    vectors = np.empty((capacity, dim), np.float32)
    words = []
    for record in range(ignore + capacity):
      word = reader.word(record + 1, count)
      values = reader.floats(dim, record + 1, count)
      if record >= ignore:
        vectors[len(words)] = values
        words.append(table_io.text(word))
        progress(len(words), capacity)
  return table_io.WordVectors(words, vectors, os.path.basename(path),
                     lambda row: f"record {row + ignore + 1} of {path}")


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
