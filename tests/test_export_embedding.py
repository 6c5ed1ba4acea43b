"""The text-embedding exporter: every vector format read the same, exact vectors through the
module, tokenization, OOV buckets, empty sentences, the row penalty, bad files refused with
one line, and fine-tuning that moves exactly the rows of the words it saw."""

import gzip
import os
import struct
import subprocess
import sys

import numpy as np
import pytest
import tensorflow as tf
import tensorflow_hub as hub

from finetune import api
from finetune.embeddings import table_io
from finetune.embeddings import vector_files
from finetune.errors import FinetuneError
from finetune.modules.hub_module import HubModule
from tests import helpers

WORDS = ["the", "python", "snake", "file", "open", ",", "café", "Apple"]
DIM = 4
VECTORS = np.arange(1, len(WORDS) * DIM + 1, dtype=np.float32).reshape(len(WORDS), DIM) / 8


def text_lines(words=WORDS, vectors=VECTORS):
  return "".join(f"{w} " + " ".join(repr(float(x)) for x in v) + "\n"
                 for w, v in zip(words, vectors))


def write(path, content, mode="w"):
  with open(path, mode) as f:
    f.write(content)
  return str(path)


def write_formats(root):
  """The same vectors in every format the exporter reads: {name: (file, vocabulary_file)}."""
  import pyarrow as pa  # pylint: disable=g-import-not-at-top
  import pyarrow.parquet as pq  # pylint: disable=g-import-not-at-top
  files = {"glove.txt": (write(root / "glove.txt", text_lines()), None)}
  with gzip.open(root / "glove.txt.gz", "wt") as f:
    f.write(text_lines())
  files["glove.txt.gz"] = (str(root / "glove.txt.gz"), None)
  header = f"{len(WORDS)} {DIM}\n"
  files["word2vec.vec"] = (write(root / "word2vec.vec", header + text_lines()), None)
  binary = header.encode() + b"".join(
      w.encode() + b" " + struct.pack(f"<{DIM}f", *v) + b"\n" for w, v in zip(WORDS, VECTORS))
  files["word2vec.bin"] = (write(root / "word2vec.bin", binary, "wb"), None)
  np.save(root / "vectors.npy", VECTORS)
  words_txt = write(root / "words.txt", "\n".join(WORDS) + "\n")
  files["npy+txt"] = (str(root / "vectors.npy"), words_txt)
  pq.write_table(pa.table({"word": WORDS}), root / "words.parquet")
  files["npy+parquet"] = (str(root / "vectors.npy"), str(root / "words.parquet"))
  return files


@pytest.fixture(scope="module")
def formats(tmp_path_factory):
  return write_formats(tmp_path_factory.mktemp("vectors"))


@pytest.fixture(scope="module")
def module_dir(tmp_path_factory, formats):
  path = str(tmp_path_factory.mktemp("modules") / "tiny")
  api.export_embedding(formats["glove.txt"][0], path, num_oov_buckets=2, l2_regularization=0.5)
  return path


def embed(handle, sentences, signature_output="default"):
  with tf.Graph().as_default():
    outputs = hub.Module(handle)(tf.constant(sentences), as_dict=True)
    with tf.compat.v1.Session() as session:
      session.run([tf.compat.v1.global_variables_initializer(), tf.compat.v1.tables_initializer()])
      return session.run(outputs[signature_output])


def vector(word):
  return VECTORS[WORDS.index(word)]


@pytest.mark.parametrize("name", ["glove.txt", "glove.txt.gz", "word2vec.vec", "word2vec.bin",
                                  "npy+txt", "npy+parquet"])
def test_every_format_reads_the_same_table(formats, name):
  path, vocabulary = formats[name]
  table = vector_files.read(path, vocabulary)
  assert table.words == WORDS
  np.testing.assert_array_equal(table.vectors, VECTORS)
  assert table.vectors.dtype == np.float32


def test_lines_to_ignore_and_use(formats):
  table = vector_files.read(formats["glove.txt.gz"][0], num_lines_to_use=100)  # fewer there
  assert table.words == WORDS and table.vectors.shape == (len(WORDS), DIM)
  for name in ("glove.txt", "word2vec.bin", "npy+parquet"):
    path, vocabulary = formats[name]
    table = vector_files.read(path, vocabulary, num_lines_to_ignore=2, num_lines_to_use=3)
    assert table.words == WORDS[2:5], name
    np.testing.assert_array_equal(table.vectors, VECTORS[2:5])


def test_exact_vectors_round_trip_through_the_module(module_dir):
  out = embed(module_dir, ["python", "snake", "python snake", "café"])
  np.testing.assert_allclose(out[0], vector("python"))
  np.testing.assert_allclose(out[1], vector("snake"))
  # sqrtn: the sum of the rows over the square root of their count
  np.testing.assert_allclose(out[2], (vector("python") + vector("snake")) / np.sqrt(2), rtol=1e-6)
  np.testing.assert_allclose(out[3], vector("café"))


@pytest.mark.parametrize("module_format", ["tf1", "tf2"])
def test_a_table_written_in_slices_is_the_whole_table(formats, tmp_path, monkeypatch,
                                                      module_format):
  """The writers assign the table a slice of rows at a time (memory: the table once, plus a
  slice); 3-row slices of the 8 words, from the memory-mapped .npy, give every row exactly."""
  monkeypatch.setattr(table_io, "CHUNK_ROWS", 3)
  path = str(tmp_path / module_format)
  api.export_embedding(formats["npy+txt"][0], path, vocabulary_file=formats["npy+txt"][1],
                       module_format=module_format)
  sentences = [word.lower() for word in WORDS if word.isalpha() or word == "café"]
  if module_format == "tf1":
    out = embed(path, sentences)
  else:
    with tf.Graph().as_default():
      loaded = hub.load(path)
      with tf.compat.v1.Session() as session:
        session.run([tf.compat.v1.global_variables_initializer(),
                      tf.compat.v1.tables_initializer()])
        out = session.run(loaded(tf.constant(sentences)))
  expected = [vector(w) if w in WORDS else np.zeros(DIM) for w in sentences]
  np.testing.assert_array_equal(out, expected)


def test_case_punctuation_empty_and_unknown_words(module_dir):
  out = embed(module_dir, ["Python,", "PYTHON!!", "CAFÉ", "", " ... ", "zebra", "python zebra",
                           "Apple"])
  for row in (0, 1):  # lower-cased; punctuation splits words
    np.testing.assert_allclose(out[row], vector("python"))
  np.testing.assert_allclose(out[2], vector("café"))  # Unicode-aware lower-casing
  np.testing.assert_array_equal(out[3], np.zeros(DIM))  # an empty sentence: zeros
  np.testing.assert_array_equal(out[4], np.zeros(DIM))  # punctuation only: no words
  np.testing.assert_array_equal(out[5], np.zeros(DIM))  # unknown: a bucket row, zero at first
  np.testing.assert_allclose(out[6], vector("python") / np.sqrt(2), rtol=1e-6)  # counted
  np.testing.assert_array_equal(out[7], np.zeros(DIM))  # "apple" is not "Apple"
  np.testing.assert_array_equal(embed(module_dir, ["", "  "]), np.zeros((2, DIM)))  # all empty


def test_cased_vectors_and_punctuation_as_words(formats, tmp_path):
  path = str(tmp_path / "cased")
  api.export_embedding(formats["glove.txt"][0], path, lowercase=False, punctuation="split")
  out = embed(path, ["Apple", "apple", "python,"])
  np.testing.assert_allclose(out[0], vector("Apple"))
  np.testing.assert_array_equal(out[1], np.zeros(DIM))
  np.testing.assert_allclose(out[2], (vector("python") + vector(",")) / np.sqrt(2), rtol=1e-6)


def test_vocabulary_is_an_asset_and_inspect_shows_the_signature(module_dir):
  with open(os.path.join(module_dir, "assets", "tokens.txt"), encoding="utf-8") as f:
    assert f.read().splitlines() == WORDS
  description = api.inspect(module_dir)
  (variant,) = description["variants"]
  signature = variant["signatures"]["default"]
  assert signature["inputs"]["default"]["dtype"] == "string"
  assert set(signature["outputs"]) == {"default", "regularization_loss"}
  assert signature["outputs"]["default"]["shape"] == [None, DIM]


def test_row_penalty_is_a_regularization_loss_with_a_sparse_gradient(module_dir):
  sentences = ["python snake python", "zebra"]
  module = HubModule(handle=module_dir)
  output = module({"text": tf.constant(sentences)}, tf.estimator.ModeKeys.TRAIN)
  (penalty,) = tf.compat.v1.losses.get_regularization_losses()
  (table,) = [v for v in tf.compat.v1.global_variables() if "embeddings" in v.name]
  (gradient,) = tf.gradients(penalty + tf.reduce_sum(output), [table])
  assert isinstance(gradient, tf.IndexedSlices)  # lazy optimizers touch only these rows
  with tf.compat.v1.Session() as session:
    session.run([tf.compat.v1.global_variables_initializer(), tf.compat.v1.tables_initializer()])
    value, rows = session.run([penalty, table])
  used = [WORDS.index("python"), WORDS.index("snake")]  # zebra's bucket row is zero
  assert value == pytest.approx(0.5 * np.sum(rows[used]**2), rel=1e-6)
  assert value == pytest.approx(0.5 * np.sum(VECTORS[used]**2), rel=1e-6)


def test_frozen_module_adds_no_penalty(module_dir):
  HubModule(handle=module_dir, trainable=False)({"text": tf.constant(["python"])},
                                                tf.estimator.ModeKeys.TRAIN)
  assert not tf.compat.v1.losses.get_regularization_losses()


def test_whole_table_penalty_and_train_variant(formats, tmp_path):
  path = str(tmp_path / "all_rows")
  api.export_embedding(formats["glove.txt"][0], path, l2_regularization=0.25, l2_rows="all",
                       dropout=0.5)
  assert {frozenset(t) for t in hub.load_module_spec(path).get_tags()} == {
      frozenset(), frozenset({"train"})}
  module = HubModule(handle=path)
  module({"text": tf.constant(["python"])}, tf.estimator.ModeKeys.TRAIN)
  (penalty,) = tf.compat.v1.losses.get_regularization_losses()
  with tf.compat.v1.Session() as session:
    session.run(tf.compat.v1.global_variables_initializer())
    assert session.run(penalty) == pytest.approx(0.25 * np.sum(VECTORS**2), rel=1e-6)


def test_tf2_savedmodel_gives_the_same_outputs(formats, module_dir, tmp_path):
  path = str(tmp_path / "tf2")
  api.export_embedding(formats["glove.txt"][0], path, num_oov_buckets=2, module_format="tf2")
  assert os.path.exists(os.path.join(path, "assets", "tokens.txt"))
  assert not os.path.exists(os.path.join(path, "tfhub_module.pb"))
  sentences = ["Python, snake!", "", "zebra python", "CAFÉ"]
  with tf.Graph().as_default():
    out = hub.KerasLayer(path)(tf.constant(sentences))
    with tf.compat.v1.Session() as session:
      session.run([tf.compat.v1.global_variables_initializer(), tf.compat.v1.tables_initializer()])
      tf2_out = session.run(out)
  np.testing.assert_allclose(tf2_out, embed(module_dir, sentences), rtol=1e-6)


def write_task(path, rows):
  with open(path, "w") as f:
    f.write("text,label\n" + "".join(f'"{t}",{label}\n' for t, label in rows))
  return str(path)


@pytest.mark.parametrize("module_format", ["tf1", "tf2"])
def test_fine_tuning_moves_exactly_the_rows_of_the_words_seen(formats, tmp_path, module_format):
  handle = str(tmp_path / "module")
  l2 = {"tf1": 1e-3, "tf2": 0.0}[module_format]  # tf2 can only penalize the whole table
  api.export_embedding(formats["glove.txt"][0], handle, l2_regularization=l2,
                       module_format=module_format)
  train = write_task(tmp_path / "train.csv", [("the python", "a"), ("snake, the", "b"),
                                               ("python snake", "c")] * 6)
  eval_ = write_task(tmp_path / "eval.csv", [("open the file", "a"), ("café", "b")])
  result = api.train(["text/embedding.gin"], [
      f"MODULE_HANDLE = '{handle}'", "TRAIN_STEPS = 6", f"csv_data.train_files = '{train}'",
      f"csv_data.eval_files = '{eval_}'", "csv_data.label_column = 'label'",
      "csv_data.batch_size = 4", "multi_class_head.n_classes = 3",
      "multi_class_head.label_vocabulary = ['a', 'b', 'c']", "run_config.save_checkpoints_steps = 6",
      "LEARNING_RATE = 0.1", "learning_rate_schedule.warmup_steps = 0"
  ], model_dir=str(tmp_path / "run"))
  assert result.metrics is not None
  table = helpers.checkpoint_values(str(tmp_path / "run"))["module/embeddings"]
  moved = set(np.flatnonzero(np.abs(table[:len(WORDS)] - VECTORS).max(axis=1) > 0))
  assert moved == {WORDS.index(w) for w in ("the", "python", "snake")}
  assert np.all(table[len(WORDS):] == 0)  # no word of the training data fell into a bucket


BAD_FILES = {
    "ragged": ("the 1 2 3\npython 1 2\n", "Line 2 of", "has 2 numbers after its word where the "
               "file's vectors have 3"),
    "too many": ("the 1 2 3\npython 1 2 3 4\n", "Line 2 of", "has 4 numbers"),
    "bad float": ("the 1 2 3\npython 1 x2 3\n", "Line 2 of", "'x2' where a number belongs"),
    "nan": ("the 1 2 3\npython 1 nan 3\n", "line 2 of", "NaN or infinity"),
    "duplicate": ("the 1 2 3\npython 1 2 3\nthe 4 5 6\n", "'the' appears twice",
                  "at line 1 of"),
    "empty": ("", "holds no vectors", "word v1 ... vd"),
    "header dim": ("2 3\nthe 1 2 3\npython 1 2\n", "Line 3 of", "have 3"),
    "cut short": ("3 3\nthe 1 2 3\npython 1 2 3\n", "ends after 2 vectors", "header line "
                  "says 3"),
    "no numbers": ("the\npython\n", "Line 1 of", "no numbers"),
    "utf-16": ("the 1 2 3\npython 1 2 3\n".encode("utf-16"), "bad.txt is UTF-16LE text (it "
               "starts with that byte-order mark); word vectors are read as UTF-8. Convert it: "
               "iconv -f UTF-16 -t UTF-8"),
    "utf-16 without a mark": ("the 1 2 3\n".encode("utf-16-le"), "holds NUL bytes near its "
                              "start, so it is not UTF-8 text"),
    "utf-8 byte-order mark": (b"\xef\xbb\xbfthe 1 2 3\n", "starts with a UTF-8 byte-order "
                              "mark, which would become part of its first word"),
    "tab in a word": ("the 1 2 3\nnew\tyork 1 2 3\n", "The word 'new\\tyork' at line 2 of",
                      "it holds a tab or another whitespace character, and sentences are split "
                      "at whitespace, so it would never be looked up"),
    "tab-separated": ("the\t1\t2\t3\n", "a ragged row", "The line holds tabs: is the file "
                      "tab-separated?"),
    "latin-1": ("the 1 2 3\ncaf\xe9 1 2 3\n".encode("latin-1"), "The word b'caf\\xe9' at line "
                "2 of", "it is not UTF-8 (byte 0xe9 at 3), and sentences are read as UTF-8, so "
                "it would never be looked up. Is the file in another encoding (Latin-1, cp1252)?"),
}


@pytest.mark.parametrize("case", sorted(BAD_FILES))
def test_bad_files_are_refused_with_what_and_where(tmp_path, case):
  content, *fragments = BAD_FILES[case]
  path = write(tmp_path / "bad.txt", content, "wb" if isinstance(content, bytes) else "w")
  with pytest.raises(FinetuneError) as error:
    api.export_embedding(path, str(tmp_path / "module"))
  for fragment in fragments:
    assert fragment in str(error.value), str(error.value)
  assert sorted(os.listdir(tmp_path)) == ["bad.txt"]


def test_word_list_that_does_not_match_the_matrix(formats, tmp_path):
  words = write(tmp_path / "short.txt", "\n".join(WORDS[:-1]) + "\n")
  with pytest.raises(FinetuneError, match=r"lists 7 words but .*vectors.npy has 8 rows"):
    vector_files.read(formats["npy+txt"][0], words)
  with pytest.raises(FinetuneError, match="pass its word list with --vocabulary_file"):
    vector_files.read(formats["npy+txt"][0])
  np.save(tmp_path / "pickled.npy", np.array([{"a": 1}], dtype=object))
  with pytest.raises(FinetuneError, match="without pickle"):
    vector_files.read(str(tmp_path / "pickled.npy"), words)


def test_non_utf8_words_in_binary_files_and_word_lists(formats, tmp_path):
  def binary(words):
    return f"{len(words)} {DIM}\n".encode() + b"".join(
        w + b" " + struct.pack(f"<{DIM}f", *v) + b"\n" for w, v in zip(words, VECTORS))

  # word2vec.c cut long words at a byte count, inside a character: kept (never looked up).
  cut = "caf\u00e9".encode()[:-1]
  table = vector_files.read(write(tmp_path / "cut.bin", binary([b"the", cut]), "wb"))
  assert len(table.words) == 2
  with pytest.raises(FinetuneError, match=r"The word b'\\xe9lan' at record 2 of .* is not UTF-8"):
    vector_files.read(write(tmp_path / "latin.bin", binary([b"the", b"\xe9lan"]), "wb"))
  words = write(tmp_path / "words.txt", b"\n".join(w.encode("latin-1") for w in WORDS) + b"\n",
                "wb")
  with pytest.raises(FinetuneError, match=r"The word b'caf\\xe9' at row 6 of .* is not UTF-8"):
    vector_files.read(formats["npy+txt"][0], words)


def test_binary_file_cut_inside_a_record(formats, tmp_path):
  with open(formats["word2vec.bin"][0], "rb") as f:
    data = f.read()
  path = write(tmp_path / "cut.bin", data[:-10], "wb")
  with pytest.raises(FinetuneError, match="ends inside record 8 of the 8"):
    vector_files.read(path)


def test_an_existing_export_path_is_never_touched(formats, module_dir):
  before = sorted(os.listdir(module_dir))
  with pytest.raises(FinetuneError, match="exists; a module is written only to a new path"):
    api.export_embedding(formats["glove.txt"][0], module_dir)
  assert sorted(os.listdir(module_dir)) == before


def test_tf2_refuses_a_penalty_it_cannot_carry(formats, tmp_path):
  with pytest.raises(FinetuneError, match="--l2_rows=all"):
    api.export_embedding(formats["glove.txt"][0], str(tmp_path / "m"), l2_regularization=0.1,
                         module_format="tf2")
  assert not os.path.exists(tmp_path / "m")


def test_command_writes_a_module_and_refuses_a_bad_file_in_one_line(formats, tmp_path):
  ok = subprocess.run([
      sys.executable, "-m", "finetune.export_embedding",
      f"--embedding_file={formats['word2vec.vec'][0]}", f"--export_path={tmp_path / 'm'}"
  ], capture_output=True, text=True, cwd=helpers.REPO, timeout=600)
  assert ok.returncode == 0, ok.stderr
  assert "8 words of dim 4" in ok.stdout
  assert "words with capital letters (1)" in ok.stdout  # "Apple" under lower-casing
  np.testing.assert_allclose(embed(str(tmp_path / "m"), ["snake"])[0], vector("snake"))
  bad = write(tmp_path / "bad.txt", "the 1 2\npython 1\n")
  failed = subprocess.run([
      sys.executable, "-m", "finetune.export_embedding", f"--embedding_file={bad}",
      f"--export_path={tmp_path / 'm2'}"
  ], capture_output=True, text=True, cwd=helpers.REPO, timeout=600)
  assert failed.returncode == 2
  assert failed.stderr.strip().splitlines() == [
      f"finetune: error: Line 2 of {bad} has 1 numbers after its word where the file's vectors "
      "have 2: a ragged row. Fix or drop that line."
  ]
  assert not os.path.exists(tmp_path / "m2")
