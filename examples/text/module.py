"""A text embedding module (TF Hub common signature) from a vocabulary and an embedding matrix.

Like TF Hub's text embedding exporter: the "default" signature takes a 1-D string tensor of
sentences and returns "default" [batch, dim]. In the graph, sentences are lower-cased,
punctuation becomes space, tokens are looked up in a vocabulary table read from an asset file
(copied into the module, so the module stands alone), words outside it fall into hashed
out-of-vocabulary buckets, and token embeddings are combined with "sqrtn" (sum divided by the
square root of the count). An empty sentence gets the embedding of the empty token.

The embeddings are trainable and L2-regularized (in REGULARIZATION_LOSSES when fine-tuned);
the {"train"} variant adds dropout on the sentence embedding.

`pretrain_embeddings` gives the matrix meaning without labels: a truncated SVD of the positive
pointwise mutual information of word co-occurrences in a corpus (numpy only).
"""

import collections
import os
import re
import shutil
import tempfile

import numpy as np
import tensorflow as tf
import tensorflow_hub as hub

EMPTY_TOKEN = "<empty>"  # vocabulary entry 0: what an empty sentence maps to


def tokenize(text):
  """The same normalization as the graph's, for building vocabularies in Python."""
  return re.sub(r"[^a-z0-9_]+", " ", text.lower()).split()


def build_vocabulary(lines, size):
  counts = collections.Counter(token for line in lines for token in tokenize(line))
  return [EMPTY_TOKEN] + [token for token, _ in counts.most_common(size - 1)]


def pretrain_embeddings(lines, vocabulary, dim=32, window=4, seed=0):
  """[len(vocabulary), dim] embeddings from PPMI-SVD over `lines`."""
  index = {token: i for i, token in enumerate(vocabulary)}
  counts = np.zeros((len(vocabulary), len(vocabulary)), np.float64)
  for line in lines:
    ids = [index[t] for t in tokenize(line) if t in index]
    for i, a in enumerate(ids):
      for b in ids[max(0, i - window):i]:
        counts[a, b] += 1
        counts[b, a] += 1
  total = counts.sum()
  row = counts.sum(axis=1, keepdims=True)
  with np.errstate(divide="ignore", invalid="ignore"):
    pmi = np.log(counts * total / (row * row.T))
  ppmi = np.nan_to_num(np.maximum(pmi, 0.0), posinf=0.0)
  u, s, _ = np.linalg.svd(ppmi, full_matrices=False)
  embeddings = u[:, :dim] * np.sqrt(s[:dim])
  embeddings /= np.linalg.norm(embeddings, axis=1, keepdims=True) + 1e-8
  return embeddings.astype(np.float32)


def module_fn(vocabulary_file, vocab_size, dim, num_oov_buckets, is_training, l2=1e-5, dropout=0.1):
  sentences = tf.compat.v1.placeholder(tf.string, [None], name="sentences")
  normalized = tf.strings.regex_replace(tf.strings.lower(sentences), r"[^a-z0-9_]+", " ")
  tokens = tf.compat.v1.string_split(normalized, sep=" ")
  # A constant file name puts the vocabulary in ASSET_FILEPATHS: hub copies it into the module.
  table = tf.lookup.StaticVocabularyTable(tf.lookup.TextFileInitializer(
      tf.constant(vocabulary_file), tf.string, tf.lookup.TextFileIndex.WHOLE_LINE, tf.int64,
      tf.lookup.TextFileIndex.LINE_NUMBER),
                                          num_oov_buckets=num_oov_buckets)
  ids = tf.SparseTensor(tokens.indices, table.lookup(tokens.values), tokens.dense_shape)
  ids, _ = tf.compat.v1.sparse_fill_empty_rows(ids, table.lookup(tf.constant(EMPTY_TOKEN)))
  regularizer = tf.keras.regularizers.l2(l2) if l2 else None
  embeddings = tf.compat.v1.get_variable(
      "embeddings", [vocab_size + num_oov_buckets, dim],
      regularizer=regularizer,
      initializer=tf.compat.v1.random_normal_initializer(stddev=0.1))
  combined = tf.nn.embedding_lookup_sparse(embeddings, ids, None, combiner="sqrtn")
  if is_training and dropout:
    combined = tf.nn.dropout(combined, rate=dropout)
  hub.add_signature("default", inputs=sentences, outputs=combined)


def export(export_dir, vocabulary, embeddings, num_oov_buckets=8, **module_kwargs):
  """Exports a module with `vocabulary` (list of tokens) and `embeddings` [len(vocab), dim].

  Out-of-vocabulary rows start random (as the buckets in TF Hub's exporter do).
  """
  staging = tempfile.mkdtemp()
  try:
    vocabulary_file = os.path.join(staging, "tokens.txt")
    with open(vocabulary_file, "w") as f:
      f.write("\n".join(vocabulary) + "\n")
    vocab_size, dim = embeddings.shape
    args = dict(vocabulary_file=vocabulary_file,
                vocab_size=vocab_size,
                dim=dim,
                num_oov_buckets=num_oov_buckets,
                **module_kwargs)
    spec = hub.create_module_spec(module_fn,
                                  tags_and_args=[({"train"}, dict(is_training=True, **args)),
                                                 (set(), dict(is_training=False, **args))])
    with tf.Graph().as_default():
      module = hub.Module(spec)
      (variable,) = module.variables
      rng = np.random.RandomState(0)
      values = np.concatenate(
          [embeddings, rng.normal(0, 0.1, (num_oov_buckets, dim)).astype(np.float32)])
      with tf.compat.v1.Session() as session:
        session.run(
            [tf.compat.v1.global_variables_initializer(),
             tf.compat.v1.tables_initializer()])
        session.run(variable.assign(values))
        module.export(export_dir, session)
  finally:
    shutil.rmtree(staging, ignore_errors=True)
