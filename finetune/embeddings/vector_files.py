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

import dataclasses
import gzip
import logging
import os
import time

import numpy as np
import tensorflow as tf

from finetune.errors import FinetuneError

FORMATS = ("auto", "text", "word2vec_binary", "npy")
log = logging.getLogger("finetune")


@dataclasses.dataclass
class WordVectors:
  """The words in row order and their vectors; `places` names each row's place in the file
  (for errors), e.g. "line 12 of glove.txt"."""
  words: list
  vectors: np.ndarray
  source: str
  place_of_row: callable

  @property
  def dim(self):
    return self.vectors.shape[1]


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
  _check_regular_file(path, "--embedding_file")
  progress = _Progress(path, progress_every_secs)
  use = num_lines_to_use
  if fmt == "npy":
    table = _read_npy(path, vocabulary_file, num_lines_to_ignore, use)
  elif fmt == "word2vec_binary":
    table = _read_binary(path, num_lines_to_ignore, use, progress)
  else:
    table = _read_text(path, num_lines_to_ignore, use, progress)
  _check_table(table)
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


def _check_regular_file(path, flag):
  if not tf.io.gfile.exists(path):
    raise FinetuneError(f"{flag}: {path} does not exist.")
  if tf.io.gfile.isdir(path):
    raise FinetuneError(f"{flag}: {path} is a directory; name the file inside it.")
  if "://" not in path and not os.path.isfile(path):
    raise FinetuneError(f"{flag}: {path} is not a regular file (a device, FIFO or socket); "
                        "name a file.")


def _open(path):
  """A binary file object, gunzipped if the file starts with gzip's magic bytes."""
  # Python's own file is several times faster per line than GFile; GFile reads gs:// etc.
  raw = tf.io.gfile.GFile(path, "rb") if "://" in path else open(path, "rb")  # pylint: disable=consider-using-with
  magic = raw.read(2)
  raw.seek(0)
  return gzip.GzipFile(fileobj=raw, mode="rb") if magic == b"\x1f\x8b" else raw


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
  with _open(path) as f:
    line_number, header, first = _skip_to_data(f, path, ignore)
    if first is None:
      raise FinetuneError(_empty_message(path, ignore))
    if header:
      count, dim = header
      total = count
    else:
      dim = len(first.split()) - 1
      if dim < 1:
        raise FinetuneError(f"Line {line_number} of {path} has no numbers after its word "
                            f"'{_text(first).strip()}': expected `word v1 ... vd` per line.")
      total = None
  if total is None and use is None:  # a counting pass, so the matrix is allocated once
    total = _count_lines(path) - line_number + 1
  capacity = use if total is None else (total if use is None else min(total, use))
  vectors = np.empty((capacity, dim), np.float32)
  words, lines = [], np.empty(capacity, np.int64)
  with _open(path) as f:
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
    raise FinetuneError(_empty_message(path, ignore))
  if len(words) < capacity:  # blank lines were counted
    vectors.resize((len(words), dim), refcheck=False)
  return WordVectors(words, vectors, name, lambda row: f"line {lines[row]} of {path}")


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
  with _open(path) as f:
    while True:
      chunk = f.read(1 << 22)
      if not chunk:
        break
      count += chunk.count(b"\n")
      last = chunk[-1:]
  return count + (last != b"\n")


def _parse_text_line(raw, dim, number, path):
  line = _text(raw).rstrip("\r\n").rstrip(" ")
  parts = line.rsplit(" ", dim)
  if len(parts) != dim + 1 or _looks_like_numbers(parts[0]):
    found = len(line.split(" ")) - 1
    raise FinetuneError(f"Line {number} of {path} has {found} numbers after its word where "
                        f"the file's vectors have {dim}: a ragged row. Fix or drop that line.")
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


def _text(raw):
  # surrogateescape keeps a word's bytes as they are, valid UTF-8 or not (word2vec's
  # GoogleNews vectors have a few broken words); the vocabulary file gets the same bytes.
  return raw.decode("utf-8", "surrogateescape")


def _empty_message(path, ignore):
  skipped = f" after the {ignore} ignored line(s)" if ignore else ""
  return f"{path} holds no vectors{skipped}: expected `word v1 ... vd` per line."


# --- word2vec binary ---------------------------------------------------------------------


def _read_binary(path, ignore, use, progress):
  with _open(path) as f:
    reader = _Records(f, path)
    header = reader.line().split()
    if len(header) != 2 or not all(x.isdigit() for x in header):
      raise FinetuneError(f"{path} does not start with word2vec's `count dim` line (found "
                          f"{b' '.join(header)[:40]!r}); is it a text file? Pass "
                          "--input_format=text.")
    count, dim = int(header[0]), int(header[1])
    if count <= ignore:
      raise FinetuneError(_empty_message(path, ignore))
    capacity = count - ignore if use is None else min(count - ignore, use)
    vectors = np.empty((capacity, dim), np.float32)
    words = []
    for record in range(ignore + capacity):
      word = reader.word(record + 1, count)
      values = reader.floats(dim, record + 1, count)
      if record >= ignore:
        vectors[len(words)] = values
        words.append(_text(word))
        progress(len(words), capacity)
  return WordVectors(words, vectors, os.path.basename(path),
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


# --- .npy and a word list ----------------------------------------------------------------


def _read_npy(path, vocabulary_file, ignore, use):
  matrix = _load_matrix(path)
  words = read_word_list(vocabulary_file)
  if len(words) != matrix.shape[0]:
    raise FinetuneError(f"{vocabulary_file} lists {len(words):,} words but {path} has "
                        f"{matrix.shape[0]:,} rows: they must match row for row.")
  end = matrix.shape[0] if use is None else min(matrix.shape[0], ignore + use)
  if ignore >= end:
    raise FinetuneError(_empty_message(path, ignore))
  vectors = matrix[ignore:end]  # a view: read a slice at a time where it is used (chunks)
  return WordVectors(words[ignore:end], vectors, os.path.basename(path),
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
  _check_regular_file(path, "--vocabulary_file")
  if path.lower().endswith(".parquet"):
    return _read_parquet_words(path)
  with _open(path) as f:
    words = [_text(line).rstrip("\r\n") for line in f]
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


# --- checks ------------------------------------------------------------------------------


def _check_table(table):
  for start, rows in chunks(table.vectors):  # a slice at a time: a .npy may be memory-mapped
    finite = np.isfinite(rows).all(axis=1)
    if not finite.all():
      row = start + int(np.argmin(finite))
      raise FinetuneError(f"The vector of '{table.words[row]}' ({table.place_of_row(row)}) "
                          "holds NaN or infinity; fix or drop it.")
  seen = {}
  for row, word in enumerate(table.words):
    # Empty or ASCII-blank words are a malformed file; a word of Unicode spaces (GloVe 840B
    # has a few) can never be looked up but harms nothing, so it stays.
    if not word or (word.isascii() and word.isspace()) or "\n" in word:
      raise FinetuneError(f"The word at {table.place_of_row(row)} is {word!r}: a word must be "
                          "non-empty and on one line.")
    first = seen.setdefault(word, row)
    if first != row:
      raise FinetuneError(f"'{word}' appears twice: at {table.place_of_row(first)} and at "
                          f"{table.place_of_row(row)}. Every word needs one vector; drop one.")


CHUNK_ROWS = 65536  # rows per slice: a module's writer holds the table once, plus one slice


def chunks(vectors, size=None):
  """(first row, float32 rows) of `vectors` in slices of `size` rows (CHUNK_ROWS): a
  memory-mapped .npy is read a slice at a time, and a feed copies a slice, not the table."""
  size = size or CHUNK_ROWS
  for start in range(0, vectors.shape[0], size):
    yield start, np.asarray(vectors[start:start + size], np.float32)
