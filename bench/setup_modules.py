"""Builds the bench's modules and data once (under build/bench/): a text embedding module
and an image feature-vector module of a few million parameters each, their data, and a
big-vocabulary text module (400,000 hashed buckets x 256: 102 M parameters)."""

import os

import numpy as np
import tensorflow as tf
import tensorflow_hub as hub

from examples.digits import dataset
from examples.images import build as image_build
from examples.images import module as image_module
from examples.text import module as text_module
from examples import pretrain

ROOT = "build/bench"
TEXT_DATA = "examples/text/data"


def text():
  path = os.path.join(ROOT, "text_module")
  if not os.path.exists(os.path.join(path, "tfhub_module.pb")):
    with open(os.path.join(TEXT_DATA, "corpus.txt")) as f:
      corpus = [l.strip() for l in f if l.strip()]
    vocabulary = text_module.build_vocabulary(corpus, 3000)
    embeddings = text_module.pretrain_embeddings(corpus, vocabulary, 64)
    # 50,000 out-of-vocabulary buckets: 3.3 M parameters, like a small real embedding.
    text_module.export(path, vocabulary, embeddings, num_oov_buckets=50000)
  return {
      "module": path,
      "train": os.path.join(TEXT_DATA, "task_train.csv"),
      "eval": os.path.join(TEXT_DATA, "task_eval.csv")
  }


def _hashed_embedding_fn(buckets, dim):
  """NNLM-style: words hashed into `buckets` rows, sqrtn-combined; no regularizer (a dense
  gradient on the table would hide what sparse training costs)."""

  def module_fn():
    sentences = tf.compat.v1.placeholder(tf.string, [None], name="sentences")
    normalized = tf.strings.regex_replace(tf.strings.lower(sentences), r"[^a-z0-9_]+", " ")
    tokens = tf.compat.v1.string_split(normalized, sep=" ")
    ids = tf.SparseTensor(tokens.indices, tf.strings.to_hash_bucket_fast(tokens.values, buckets),
                          tokens.dense_shape)
    ids, _ = tf.compat.v1.sparse_fill_empty_rows(ids, 0)
    embeddings = tf.compat.v1.get_variable(
        "embeddings", [buckets, dim], initializer=tf.compat.v1.random_normal_initializer(stddev=0.1))
    combined = tf.nn.embedding_lookup_sparse(embeddings, ids, None, combiner="sqrtn")
    hub.add_signature("default", inputs=sentences, outputs=combined)

  return module_fn


def big_text(buckets=400000, dim=256):
  path = os.path.join(ROOT, f"big_text_module_{buckets}x{dim}")
  if not os.path.exists(os.path.join(path, "tfhub_module.pb")):
    spec = hub.create_module_spec(_hashed_embedding_fn(buckets, dim),
                                  tags_and_args=[({"train"}, {}), (set(), {})])
    with tf.Graph().as_default():
      module = hub.Module(spec)
      with tf.compat.v1.Session() as session:
        session.run(tf.compat.v1.global_variables_initializer())
        module.export(path, session)
  return {
      "module": path,
      "train": os.path.join(TEXT_DATA, "task_train.csv"),
      "eval": os.path.join(TEXT_DATA, "task_eval.csv")
  }


def image():
  path = os.path.join(ROOT, "image_module")
  kwargs = dict(filters=(32, 64, 128), feature_dim=1024)  # 2.2 M parameters
  records = {s: os.path.join(ROOT, f"images_{s}.tfrecord") for s in ("train", "eval")}
  if not os.path.exists(os.path.join(path, "tfhub_module.pb")):
    pixels, labels = dataset.read_csv("pretrain.csv", "label")
    pretrain.pretrain_and_export(image_module.make_spec("feature_vector", **kwargs),
                                 path,
                                 "images",
                                 image_build.to_images(pixels),
                                 labels,
                                 "pretraining_logits",
                                 steps=200)
  for split, name, column in (("train", "finetune_train.csv", "parity"),
                              ("eval", "finetune_eval.csv", "parity")):
    if os.path.exists(records[split]):
      continue
    pixels, labels = dataset.read_csv(name, column)
    if split == "train":  # 40 images would fit in one batch: repeat them to 1,000
      pixels, labels = np.resize(pixels, (1000, 64)), np.resize(labels, 1000)
    with tf.io.TFRecordWriter(records[split]) as writer:
      for image, label in zip(image_build.to_images(pixels), labels):
        writer.write(
            tf.train.Example(features=tf.train.Features(
                feature={
                    "images":
                        tf.train.Feature(float_list=tf.train.FloatList(value=image.ravel())),
                    "label":
                        tf.train.Feature(int64_list=tf.train.Int64List(value=[int(label == "odd")]))
                })).SerializeToString())
  return {"module": path, **records}


if __name__ == "__main__":
  print(text())
  print(image())
  print(big_text())
