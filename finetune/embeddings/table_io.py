"""What the word-vector readers share: the table they return, opening files (plain or
gzipped, local or gs://), and the checks every table passes."""

import dataclasses
import gzip

import numpy as np
import tensorflow as tf

from finetune import files
from finetune.errors import FinetuneError


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


def check_regular_file(path, flag):
  if not tf.io.gfile.exists(path):
    raise FinetuneError(f"{flag}: {path} does not exist.")
  if tf.io.gfile.isdir(path):
    raise FinetuneError(f"{flag}: {path} is a directory; name the file inside it.")
  files.check_regular(path, flag)


def open_file(path):
  """A binary file object, gunzipped if the file starts with gzip's magic bytes."""
  # Python's own file is several times faster per line than GFile; GFile reads gs:// etc.
  raw = tf.io.gfile.GFile(path, "rb") if "://" in path else open(path, "rb")  # pylint: disable=consider-using-with
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


def check_table(table):
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
