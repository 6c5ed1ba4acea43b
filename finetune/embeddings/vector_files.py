"""Reads a file of word vectors into a checked table: the words and float32 [words, dim] rows.

Formats, told apart by name unless `input_format` says otherwise (a gzipped file is told by
its first bytes, whatever its name):
  text             GloVe and word2vec/fastText text: `word v1 ... vd` per line, with or
                   without word2vec's `count dim` header (.txt, .vec, .gz, anything else)
  word2vec_binary  word2vec's binary format (.bin, .bin.gz)
  npy              a [words, dim] matrix (.npy) with a word list: one word per line, or a
                   .parquet file with one string column (read with pyarrow, an extra)

stage() is what the exporter uses: the table goes to files a batch at a time (the words to
the vocabulary file, the rows of a text or binary file to a raw float32 file; a .npy is read
where it is), so memory holds a slice of it, not the table. read() gives the whole table in
memory. A bad file is refused with one line that names the file, the line and what is wrong:
ragged rows, a bad or non-finite number, an empty or duplicate word, a count that does not
match, an empty file.
"""

import contextlib
import dataclasses
import logging
import os
import tempfile
import time

import numpy as np

from finetune.embeddings import binary_vectors
from finetune.embeddings import matrix_files
from finetune.embeddings import table_io
from finetune.embeddings import text_checks
from finetune.embeddings import text_vectors
from finetune.embeddings import vocabulary
from finetune.errors import FinetuneError

FORMATS = ("auto", "text", "word2vec_binary", "npy")
log = logging.getLogger("finetune")


@dataclasses.dataclass
class StagedTable:
  """A checked table in files: the words one per line in row order, and the rows."""
  vocabulary_file: str
  rows: table_io.RowFile
  source: str
  place_of_row: callable
  capitalized_words: int  # words a lower-casing module never looks up

  @property
  def words(self):
    return self.rows.shape[0]

  @property
  def dim(self):
    return self.rows.shape[1]


def stage(path, vocabulary_out, rows_out, vocabulary_file=None, input_format="auto",
          num_lines_to_ignore=0, num_lines_to_use=None, progress_every_secs=5.0):
  """Reads `path` a batch at a time into `vocabulary_out` and (unless it is a .npy, read where
  it is) `rows_out`.

  Args:
    path: the vectors file (local, or any tf.io.gfile path such as gs://).
    vocabulary_out, rows_out: new local files.
    vocabulary_file: the word list of a .npy matrix (and only of one).
    input_format: one of FORMATS.
    num_lines_to_ignore: lines (records, rows) at the start of the file to skip, e.g. a
      header that is not word2vec's `count dim`.
    num_lines_to_use: how many vectors to read after those (None: all).
    progress_every_secs: how often a long read logs how far it is.

  Returns:
    StagedTable, checked: finite numbers, one dim, no empty or duplicate word.

  Raises:
    FinetuneError: the file is missing, unreadable or malformed (one line naming where).
  """
  reader = _reader(path, vocabulary_file, input_format, num_lines_to_ignore, num_lines_to_use,
                   _Progress(path, progress_every_secs))
  rows_out = None if reader.rows else rows_out  # a .npy's rows are read where they are
  # word2vec.c cut long words inside a character: kept in its binary format (text_checks).
  keep_cut_words = isinstance(reader, binary_vectors.BinaryVectors)
  with vocabulary.VocabularyWriter(vocabulary_out, reader.place_of_row,
                                   keep_cut_words) as words, \
       (open(rows_out, "wb") if rows_out else contextlib.nullcontext()) as rows_file:
    for batch_words, rows in reader.batches():
      _check_finite(batch_words, rows, words.count, reader.place_of_row)
      words.add(batch_words)
      if rows_file:
        rows.tofile(rows_file)
    words.check_duplicates()
  rows = reader.rows or table_io.RowFile(rows_out, 0, np.dtype(np.float32), words.count,
                                         reader.dim)
  return StagedTable(vocabulary_out, rows, reader.source, reader.place_of_row,
                     words.capitalized)


def read(path, vocabulary_file=None, input_format="auto", num_lines_to_ignore=0,
         num_lines_to_use=None, progress_every_secs=5.0):
  """The whole table in memory (table_io.WordVectors), read and checked as stage() does."""
  with tempfile.TemporaryDirectory(prefix="finetune-vectors-") as scratch:
    staged = stage(path, os.path.join(scratch, "words.txt"), os.path.join(scratch, "rows"),
                   vocabulary_file, input_format, num_lines_to_ignore, num_lines_to_use,
                   progress_every_secs)
    with open(staged.vocabulary_file, encoding="utf-8", errors="surrogateescape",
              newline="\n") as f:
      words = f.read().split("\n")[:-1]
    vectors = staged.rows.load()
  return table_io.WordVectors(words, vectors, staged.source, staged.place_of_row)


def _reader(path, vocabulary_file, input_format, ignore, use, progress):
  fmt = detect_format(path, input_format)
  if ignore < 0:
    raise FinetuneError(f"--num_lines_to_ignore is {ignore}; it counts lines to skip, 0 or "
                        "more.")
  if use is not None and use <= 0:
    raise FinetuneError(f"--num_lines_to_use is {use}; give a positive count, or leave it out "
                        "to use every line.")
  if fmt == "npy" and not vocabulary_file:
    raise FinetuneError(f"{path} is a matrix without words: pass its word list with "
                        "--vocabulary_file=WORDS.txt (one word per line) or WORDS.parquet.")
  if fmt != "npy" and vocabulary_file:
    raise FinetuneError(f"--vocabulary_file goes with a .npy matrix; {path} is read as "
                        f"{fmt}, which carries its words. Leave --vocabulary_file out.")
  table_io.check_regular_file(path, "--embedding_file")
  if fmt == "text":
    text_checks.check_encoding(path, "--embedding_file")
  if fmt == "npy":
    return matrix_files.NpyVectors(path, vocabulary_file, ignore, use)
  if fmt == "word2vec_binary":
    return binary_vectors.BinaryVectors(path, ignore, use, progress)
  return text_vectors.TextVectors(path, ignore, use, progress)


def _check_finite(words, rows, start, place_of_row):
  finite = np.isfinite(rows).all(axis=1)
  if not finite.all():
    at = int(np.argmin(finite))
    raise FinetuneError(f"The vector of '{words[at]}' ({place_of_row(start + at)}) holds NaN "
                        "or infinity; fix or drop it.")


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
      if total:
        log.info("read %s of %s vectors of %s (%d%%)", f"{done:,}", f"{total:,}", self._path,
                 100 * done // total)
      else:
        log.info("read %s vectors of %s", f"{done:,}", self._path)
