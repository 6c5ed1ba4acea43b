"""What the word-vector readers share: opening files (plain or gzipped, local or gs://), the
size of a slice, and rows kept in a file and read a slice at a time (RowFile), so that no
reader or writer holds a second copy of the table."""

import dataclasses
import gzip

import numpy as np
import tensorflow as tf

from finetune import files
from finetune.errors import FinetuneError

# Rows per slice; None: as many as fit in CHUNK_BYTES. Small slices matter: the allocator keeps
# freed slices, so 64k-row slices of GloVe 50d held about half the table again.
CHUNK_ROWS = None
CHUNK_BYTES = 1 << 20


@dataclasses.dataclass
class WordVectors:
  """A whole table in memory (vector_files.read): the words in row order and their vectors;
  `place_of_row` names a row's place in the file, e.g. "line 12 of glove.txt"."""
  words: list
  vectors: np.ndarray
  source: str
  place_of_row: callable

  @property
  def dim(self):
    return self.vectors.shape[1]


def chunk_rows(dim):
  return CHUNK_ROWS or max(1, CHUNK_BYTES // (4 * dim))


def chunks(vectors):
  """(first row, float32 rows) of `vectors`, an array or a RowFile, a slice at a time."""
  if isinstance(vectors, RowFile):
    yield from vectors.chunks()
    return
  size = chunk_rows(vectors.shape[1])
  for start in range(0, vectors.shape[0], size):
    yield start, np.asarray(vectors[start:start + size], np.float32)


@dataclasses.dataclass(frozen=True)
class RowFile:
  """Rows `first` to `first + count` of a [rows_in_file, dim] matrix stored from byte `offset`
  of `path` (a .npy's data, or the float32 rows a text reader wrote). Read with plain reads
  rather than mapped: mapped pages count as the process's memory once read."""
  path: str
  offset: int
  dtype: np.dtype
  rows_in_file: int
  dim: int
  first: int = 0
  count: int = None
  fortran_order: bool = False  # column after column, as the GloVe package's .npy is

  @property
  def shape(self):
    return (self.rows_in_file - self.first if self.count is None else self.count, self.dim)

  def chunks(self):
    count, dim = self.shape
    size = chunk_rows(dim)
    with open_raw(self.path) as f:
      for start in range(0, count, size):
        n = min(size, count - start)
        yield start, self._read(f, self.first + start, n)

  def _read(self, f, row, n):
    item = self.dtype.itemsize
    if not self.fortran_order:
      f.seek(self.offset + row * self.dim * item)
      return self._values(f.read(n * self.dim * item), n * self.dim).reshape(n, self.dim)
    rows = np.empty((n, self.dim), np.float32)
    for column in range(self.dim):
      f.seek(self.offset + (column * self.rows_in_file + row) * item)
      rows[:, column] = self._values(f.read(n * item), n)
    return rows

  def _values(self, data, n):
    if len(data) != n * self.dtype.itemsize:
      raise FinetuneError(f"{self.path} ends before the {self.rows_in_file:,} x {self.dim} "
                          "values its header announces: the file is cut short.")
    return np.frombuffer(data, self.dtype).astype(np.float32, copy=False)

  def load(self):
    """The rows as one float32 array in memory."""
    rows = np.empty(self.shape, np.float32)
    for start, chunk in self.chunks():
      rows[start:start + len(chunk)] = chunk
    return rows


def check_regular_file(path, flag):
  if not tf.io.gfile.exists(path):
    raise FinetuneError(f"{flag}: {path} does not exist.")
  if tf.io.gfile.isdir(path):
    raise FinetuneError(f"{flag}: {path} is a directory; name the file inside it.")
  files.check_regular(path, flag)


def open_raw(path):
  # Python's own file is several times faster per line than GFile; GFile reads gs:// etc.
  return tf.io.gfile.GFile(path, "rb") if "://" in path else open(path, "rb")  # pylint: disable=consider-using-with


def open_file(path):
  """A binary file object, gunzipped if the file starts with gzip's magic bytes."""
  raw = open_raw(path)
  magic = raw.read(2)
  raw.seek(0)
  return gzip.GzipFile(fileobj=raw, mode="rb") if magic == b"\x1f\x8b" else raw


def text(raw):
  # surrogateescape keeps a word's bytes as they are, valid UTF-8 or not (word2vec's
  # GoogleNews vectors have a few broken words); the vocabulary file gets the same bytes.
  return raw.decode("utf-8", "surrogateescape")


def empty_message(path, ignore):
  skipped = f" after the {ignore} ignored line(s)" if ignore else ""
  return f"{path} holds no vectors{skipped}: expected `word v1 ... vd` per line."
