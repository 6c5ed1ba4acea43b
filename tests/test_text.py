"""The text embedding common signature: tokenization and vocabulary (an asset) inside the
module, OOV buckets, sqrtn combining, fine-tuning from CSV text, serving on raw strings."""

import os

import numpy as np
import pytest
import tensorflow as tf

from examples.text import module as text_module
from finetune.inputs.csv_data import CsvData
from finetune.training import heads
from tests import helpers

VOCABULARY = [text_module.EMPTY_TOKEN, "return", "the", "sine", "of", "x", "open", "file"]


@pytest.fixture(scope="module")
def text_handle(tmp_path_factory):
  path = str(tmp_path_factory.mktemp("text") / "tiny_embedding")
  embeddings = np.eye(len(VOCABULARY), 8, dtype=np.float32)  # token i -> unit vector i
  text_module.export(path, VOCABULARY, embeddings, num_oov_buckets=2)
  return path


def embed(handle, sentences):
  import tensorflow_hub as hub  # pylint: disable=g-import-not-at-top
  with tf.Graph().as_default():
    out = hub.Module(handle)(tf.constant(sentences))
    with tf.compat.v1.Session() as session:
      session.run([tf.compat.v1.global_variables_initializer(), tf.compat.v1.tables_initializer()])
      return session.run(out)


def test_vocabulary_is_an_asset_of_the_module(text_handle):
  with open(os.path.join(text_handle, "assets", "tokens.txt")) as f:
    assert f.read().split() == VOCABULARY


def test_tokenization_vocabulary_and_sqrtn_in_the_graph(text_handle):
  out = embed(text_handle, ["Sine, of X!", "sine of x", "", "open"])
  np.testing.assert_allclose(out[0], out[1])  # case and punctuation are normalized
  expected = np.zeros(8, np.float32)
  expected[[3, 4, 5]] = 1 / np.sqrt(3)  # sqrtn: sum / sqrt(count)
  np.testing.assert_allclose(out[1], expected, atol=1e-6)
  np.testing.assert_allclose(out[2], np.eye(8)[0], atol=1e-6)  # empty -> the empty token
  np.testing.assert_allclose(out[3], np.eye(8)[6], atol=1e-6)


def test_out_of_vocabulary_words_fall_into_buckets(text_handle):
  out = embed(text_handle, ["zebra", "quokka", "zebra"])
  np.testing.assert_allclose(out[0], out[2])
  assert np.abs(out[0][:8] - np.eye(8)).sum(axis=1).min() > 1e-3  # not a vocabulary word


def write_csv(path, rows):
  path.write_text("text,area\n" + "".join(f'"{t}",{a}\n' for t, a in rows))
  return str(path)


@pytest.mark.parametrize("steps_per_run", [1, 5])  # 5: the in-graph loop (train_loop.py)
def test_fine_tune_text_csv_and_serve_raw_strings(tmp_path, text_handle, steps_per_run):
  rows = [("Return the sine of x.", "math"), ("Open the file.", "files"),
          ("Return x of the sine", "math"), ("open file x", "files")] * 4
  train = write_csv(tmp_path / "train.csv", rows)
  source = CsvData(train_files=train,
                            eval_files=train,
                            label_column="area",
                            column_types={"text": "string"},
                            batch_size=4)
  model_dir = tmp_path / "model"
  metrics = helpers.run(model_dir,
                        text_handle, [
                            "learning_rate_schedule.base_learning_rate = 0.1",
                            f"training.steps_per_run = {steps_per_run}"
                        ],
                        data=source,
                        train_steps=30,
                        head=heads.multi_class_head(3, ["files", "math", "network"]),
                        input_mapping={"default": "text"})
  assert metrics["accuracy"] == 1.0 and metrics["regularization_loss"] > 0
  exported = os.path.join(helpers.latest_subdir(str(model_dir / "export" / "hub")),
                          "tiny_embedding")
  with open(os.path.join(exported, "assets", "tokens.txt")) as f:
    assert f.read().split() == VOCABULARY  # the fine-tuned module carries its vocabulary
  before, after = embed(text_handle, ["open file"]), embed(exported, ["open file"])
  assert not np.allclose(before, after, atol=1e-4)  # the embeddings were fine-tuned
  serving = helpers.latest_subdir(str(model_dir / "export" / "serving"))
  with tf.Graph().as_default(), tf.compat.v1.Session() as session:
    signature = tf.compat.v1.saved_model.loader.load(session, ["serve"], serving) \
        .signature_def["predict"]
    classes = session.run(signature.outputs["classes"].name,
                          {signature.inputs["text"].name: ["the sine of x", "open a file"]})
  assert [c[0] for c in classes] == [b"math", b"files"]
