"""How the exporter keeps memory near the table's size, checked by structure rather than by
measuring a process: the words and rows reach their files a batch at a time, what a read
holds grows by a few bytes a word (a hash, not the word or its row), the TF1 writer feeds
bounded slices, and the readers that make this possible (a Fortran-order .npy read column by
column, the duplicate check through hashes) give exactly what the whole-table reading gave."""

import os
import tracemalloc

import numpy as np
import pytest
import tensorflow as tf

from finetune import api
from finetune.embeddings import table_io
from finetune.embeddings import vector_files
from finetune.embeddings import vocabulary
from finetune.errors import FinetuneError
from tests import test_export_embedding as exporter_tests
from tests.test_export_embedding import DIM, VECTORS, WORDS, embed, vector


def stage(tmp_path, path, vocabulary_file=None):
  return vector_files.stage(path, str(tmp_path / "tokens.txt"), str(tmp_path / "rows.f32"),
                            vocabulary_file)


def test_words_and_rows_reach_their_files_a_batch_at_a_time(tmp_path, monkeypatch):
  """A bad last line is found after two batches of three went to the files: nothing waits in
  memory for the whole file to be read."""
  monkeypatch.setattr(table_io, "CHUNK_ROWS", 3)
  lines = exporter_tests.text_lines().splitlines()
  path = exporter_tests.write(tmp_path / "glove.txt", "\n".join(lines[:-1]) + "\nApple 1 2\n")
  with pytest.raises(FinetuneError, match="Line 8 of .* ragged row"):
    stage(tmp_path, path)
  with open(tmp_path / "tokens.txt", encoding="utf-8") as f:
    assert f.read().splitlines() == WORDS[:6]
  np.testing.assert_array_equal(np.fromfile(tmp_path / "rows.f32", np.float32).reshape(-1, DIM),
                                VECTORS[:6])


def test_a_npy_is_read_where_it_is_and_its_words_a_batch_at_a_time(tmp_path, monkeypatch):
  monkeypatch.setattr(table_io, "CHUNK_ROWS", 3)
  matrix = VECTORS.copy()
  matrix[7, 1] = np.nan
  np.save(tmp_path / "vectors.npy", matrix)
  import pyarrow as pa  # pylint: disable=g-import-not-at-top
  import pyarrow.parquet as pq  # pylint: disable=g-import-not-at-top
  pq.write_table(pa.table({"word": WORDS}), tmp_path / "words.parquet")
  with pytest.raises(FinetuneError, match=r"'Apple' \(row 7 of .*\) holds NaN"):
    stage(tmp_path, str(tmp_path / "vectors.npy"), str(tmp_path / "words.parquet"))
  with open(tmp_path / "tokens.txt", encoding="utf-8") as f:
    assert f.read().splitlines() == WORDS[:6]
  assert not os.path.exists(tmp_path / "rows.f32")  # the rows stay in the .npy


def write_big(root, name, rows, dim=16):
  """`rows` distinct words with random vectors in format `name` (text, binary or npy)."""
  rng = np.random.default_rng(rows)
  vectors = rng.standard_normal((rows, dim)).astype(np.float32)
  words = [f"word{i}" for i in range(rows)]
  if name == "npy+txt":
    np.save(root / "big.npy", vectors)
    return str(root / "big.npy"), exporter_tests.write(root / "big.txt", "\n".join(words))
  if name == "word2vec.bin":
    body = b"".join(w.encode() + b" " + v.tobytes() + b"\n" for w, v in zip(words, vectors))
    return exporter_tests.write(root / "big.bin", f"{rows} {dim}\n".encode() + body, "wb"), None
  return exporter_tests.write(root / "big.txt", exporter_tests.text_lines(words, vectors)), None


@pytest.mark.parametrize("name", ["glove.txt", "word2vec.bin", "npy+txt"])
def test_what_a_read_holds_grows_by_a_hash_per_word(tmp_path, monkeypatch, name):
  """Python's allocations (numpy's included) at their peak while a file is staged, for 2,000
  and 8,000 words of dim 16: the difference per word stays far below what a word as a Python
  string (about 60 bytes with its list slot) or its row (64 bytes) would take. The duplicate
  check's 64-bit hash, sorted once, takes 17."""
  monkeypatch.setattr(table_io, "CHUNK_ROWS", 256)
  peaks = []
  for rows in (2000, 8000):
    root = tmp_path / str(rows)
    root.mkdir()
    path, words = write_big(root, name, rows)
    tracemalloc.start()
    try:
      staged = stage(root, path, words)
      peaks.append(tracemalloc.get_traced_memory()[1])
    finally:
      tracemalloc.stop()
    assert staged.words == rows
  assert (peaks[1] - peaks[0]) / 6000 < 24, peaks


def test_the_tf1_writer_feeds_bounded_slices(tmp_path, monkeypatch):
  """Every array fed to a session while the module is written is one slice (3 rows here),
  never the table: the table exists once, in the variable."""
  monkeypatch.setattr(table_io, "CHUNK_ROWS", 3)
  fed = []
  run = tf.compat.v1.Session.run

  def recording_run(session, fetches, feed_dict=None, **kwargs):
    fed.extend(v.shape for v in (feed_dict or {}).values() if isinstance(v, np.ndarray))
    return run(session, fetches, feed_dict, **kwargs)

  monkeypatch.setattr(tf.compat.v1.Session, "run", recording_run)
  vectors, words = exporter_tests.write_formats(tmp_path)["npy+parquet"]
  path = str(tmp_path / "module")
  api.export_embedding(vectors, path, vocabulary_file=words)
  monkeypatch.setattr(tf.compat.v1.Session, "run", run)
  assert sorted(shape[0] for shape in fed if len(shape) == 2) == [2, 3, 3]
  np.testing.assert_array_equal(embed(path, ["python", "snake"]),
                                [vector("python"), vector("snake")])


@pytest.mark.parametrize("order", ["F", "C"])
def test_a_fortran_or_big_endian_npy_reads_the_same_rows(tmp_path, monkeypatch, order):
  """GloVe's package stores its matrix column after column (Fortran order); a slice of rows
  is then read a column at a time."""
  monkeypatch.setattr(table_io, "CHUNK_ROWS", 3)
  matrix = np.asarray(VECTORS, ">f8", order=order)
  np.save(tmp_path / "vectors.npy", matrix)
  words = exporter_tests.write(tmp_path / "words.txt", "\n".join(WORDS) + "\n\n")
  table = vector_files.read(str(tmp_path / "vectors.npy"), words)
  assert table.words == WORDS and table.vectors.dtype == np.float32
  np.testing.assert_array_equal(table.vectors, VECTORS)
  table = vector_files.read(str(tmp_path / "vectors.npy"), words, num_lines_to_ignore=1,
                            num_lines_to_use=5)
  np.testing.assert_array_equal(table.vectors, VECTORS[1:6])


def test_a_npy_cut_short_is_one_line(tmp_path):
  np.save(tmp_path / "vectors.npy", VECTORS)
  with open(tmp_path / "vectors.npy", "rb") as f:
    data = f.read()
  exporter_tests.write(tmp_path / "cut.npy", data[:-7], "wb")
  words = exporter_tests.write(tmp_path / "words.txt", "\n".join(WORDS))
  with pytest.raises(FinetuneError, match="cut.npy ends before the 8 x 4 values its header "
                     "announces: the file is cut short."):
    vector_files.read(str(tmp_path / "cut.npy"), words)


@pytest.mark.parametrize("duplicate", [False, True])
def test_equal_hashes_are_told_apart_by_the_words(tmp_path, monkeypatch, duplicate):
  """With every hash alike, only a real repeat is refused, and it is named as before: the
  first word seen again, at its first place and at the repeat."""
  monkeypatch.setattr(vocabulary, "hash", lambda word: 7, raising=False)
  words = WORDS + ["snake", "open"] if duplicate else WORDS
  vectors = np.ones((len(words), DIM), np.float32)
  path = exporter_tests.write(tmp_path / "glove.txt", exporter_tests.text_lines(words, vectors))
  if not duplicate:
    assert stage(tmp_path, path).words == len(WORDS)
    return
  with pytest.raises(FinetuneError, match=r"^'snake' appears twice: at line 3 of .* and at "
                     r"line 9 of "):
    stage(tmp_path, path)
