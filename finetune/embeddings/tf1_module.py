"""A TF1 Hub format text-embedding module, as the TF1 Hub guide's exporter writes one.

The "default" signature takes a 1-D string tensor of sentences and returns "default"
[batch, dim]: words found in the vocabulary (an asset file, so the module stands alone) or
hashed into out-of-vocabulary buckets, their rows combined with "sqrtn" (sum over the square
root of the count); an empty sentence gives zeros.

The L2 penalty on the rows a batch uses depends on the input, and TF1 Hub format imports
REGULARIZATION_LOSSES only from the input-independent state graph (hub's native_module), so
that penalty travels as the signature's second output, "regularization_loss", which
finetune's HubModule adds to REGULARIZATION_LOSSES when it fine-tunes the module. The
whole-table penalty (l2_rows="all") sits in the module's own REGULARIZATION_LOSSES.
"""

import tensorflow as tf
import tensorflow_hub as hub

from finetune.embeddings import sentence_tokens
from finetune.embeddings import table_io
from finetune.modules.hub_module import REGULARIZATION_OUTPUT

EMBEDDINGS = "embeddings"
TRAIN_TAGS = {"train"}


def vocabulary_table(vocabulary_file, num_oov_buckets):
  # A constant file name puts the vocabulary in ASSET_FILEPATHS: hub copies it into the module.
  initializer = tf.lookup.TextFileInitializer(tf.constant(vocabulary_file), tf.string,
                                              tf.lookup.TextFileIndex.WHOLE_LINE, tf.int64,
                                              tf.lookup.TextFileIndex.LINE_NUMBER)
  return tf.lookup.StaticVocabularyTable(initializer, num_oov_buckets=num_oov_buckets)


def used_rows_penalty(embeddings, ids, weight):
  """weight * the squared norm of each distinct row the batch looks up (a sparse gradient)."""
  rows, _ = tf.unique(ids.values)
  return weight * tf.reduce_sum(tf.square(tf.gather(embeddings, rows)))


def module_fn(vocabulary_file, vocab_size, dim, options, is_training):
  sentences = tf.compat.v1.placeholder(tf.string, [None], name="sentences")
  table = vocabulary_table(vocabulary_file, options.num_oov_buckets)
  ids = sentence_tokens.word_ids(sentences, table, options.lowercase, options.punctuation)
  weight = options.l2_regularization
  regularizer = None
  if weight and options.l2_rows == "all":
    regularizer = lambda table: weight * tf.reduce_sum(tf.square(table))
  # Zeros, not the vectors: a constant of the table's size would sit in the graph (and the
  # graph proto stops at 2 GB); export() assigns the vectors through a feed instead.
  embeddings = tf.compat.v1.get_variable(EMBEDDINGS, [vocab_size + options.num_oov_buckets, dim],
                                         initializer=tf.compat.v1.zeros_initializer(),
                                         regularizer=regularizer)
  combined = tf.nn.safe_embedding_lookup_sparse(embeddings, ids, combiner="sqrtn")
  if is_training and options.dropout:
    combined = tf.nn.dropout(combined, rate=options.dropout)
  outputs = {"default": combined}
  if weight and options.l2_rows == "used":
    outputs[REGULARIZATION_OUTPUT] = used_rows_penalty(embeddings, ids, weight)
  hub.add_signature("default", inputs=sentences, outputs=outputs)


def export(export_dir, vocabulary_file, vectors, options):
  """Writes the module to `export_dir` (which must not exist) with `vectors` [vocab, dim]
  (an array or a table_io.RowFile) as the vocabulary's rows; the out-of-vocabulary rows are
  zeros. Memory holds the table once, in the variable, plus a slice."""
  vocab_size, dim = vectors.shape
  args = dict(vocabulary_file=vocabulary_file, vocab_size=vocab_size, dim=dim, options=options)
  variants = [(set(), dict(args, is_training=False))]
  if options.dropout:
    variants.append((TRAIN_TAGS, dict(args, is_training=True)))
  spec = hub.create_module_spec(module_fn, tags_and_args=variants)
  with tf.Graph().as_default():
    module = hub.Module(spec)
    embeddings = module.variable_map[EMBEDDINGS]
    # A fed shape: with a constant one, TensorFlow folds the zeros into a constant that the
    # session keeps, and the first slice assigned copies the table (twice the memory).
    shape = tf.compat.v1.placeholder(tf.int32, [2])
    zeros = embeddings.assign(tf.zeros(shape), read_value=False)
    rows = tf.compat.v1.placeholder(tf.float32, [None, dim])
    begin = tf.compat.v1.placeholder(tf.int64, [])
    load = embeddings[begin:begin + tf.shape(rows, out_type=tf.int64)[0]].assign(rows).op
    # A slice assignment puts the variable in copy-on-read mode, where hub's saver would read
    # a copy of the table; the variable holds the only reference, so turning it off is free.
    no_copy = tf.raw_ops.DisableCopyOnRead(resource=embeddings.handle)
    with tf.compat.v1.Session() as session:
      # Not the lookup table: it is filled from the asset when the module is loaded, and
      # filling it here would hold every word in memory a second time.
      session.run(zeros, {shape: [vocab_size + options.num_oov_buckets, dim]})
      for start, chunk in table_io.chunks(vectors):
        session.run(load, {rows: chunk, begin: start})
      session.run(no_copy)
      module.export(export_dir, session)
