"""The same text-embedding module as a reusable TF2 SavedModel (hub.load / hub.KerasLayer).

`__call__(sentences, training=False)` behaves as the TF1 module's "default" signature (same
tokenization, vocabulary asset, buckets, "sqrtn", zeros for an empty sentence; dropout when
training). The reusable SavedModel API's `regularization_losses` take no inputs, so only the
whole-table penalty (l2_rows="all") can be expressed here; its gradient is dense.
"""

import tensorflow as tf

from finetune.embeddings import sentence_tokens
from finetune.embeddings import table_io
from finetune.errors import FinetuneError
from finetune.process import signals


class TextEmbedding(tf.train.Checkpoint):
  """Sentences -> [batch, dim]; `embeddings` is the trainable [vocab + buckets, dim] table.

  A Checkpoint, not a tf.Module, because the reusable SavedModel API wants `variables` and
  `trainable_variables` saved as attributes (tf.Module computes them and they are lost).
  """

  def __init__(self, vocabulary_file, vectors, options):
    super().__init__()
    vocab_size, dim = vectors.shape
    self._options = options
    # A file name (not a tensor) makes the vocabulary a tracked asset of the SavedModel.
    self._table = tf.lookup.StaticVocabularyTable(
        tf.lookup.TextFileInitializer(vocabulary_file, tf.string,
                                      tf.lookup.TextFileIndex.WHOLE_LINE, tf.int64,
                                      tf.lookup.TextFileIndex.LINE_NUMBER),
        num_oov_buckets=options.num_oov_buckets)
    self.embeddings = tf.Variable(tf.zeros([vocab_size + options.num_oov_buckets, dim]),
                                  name="embeddings")
    for start, chunk in table_io.chunks(vectors):  # the table once, plus one chunk
      # Not `embeddings[a:b].assign`: that reads the variable first, and once a slice is
      # assigned each read copies the whole table.
      tf.raw_ops.ResourceStridedSliceAssign(ref=self.embeddings.handle, begin=[start, 0],
                                            end=[start + len(chunk), dim], strides=[1, 1],
                                            value=chunk)
    self.variables = [self.embeddings]
    self.trainable_variables = [self.embeddings]
    self.regularization_losses = []
    if options.l2_regularization:
      weight = options.l2_regularization
      self.regularization_losses.append(
          tf.function(lambda: weight * tf.reduce_sum(tf.square(self.embeddings)),
                      input_signature=[]))

  @tf.function
  def __call__(self, sentences, training=False):
    ids = sentence_tokens.word_ids(sentences, self._table, self._options.lowercase,
                                   self._options.punctuation)
    combined = tf.nn.safe_embedding_lookup_sparse(self.embeddings, ids, combiner="sqrtn")
    if training and self._options.dropout:
      combined = tf.nn.dropout(combined, rate=self._options.dropout)
    return combined


def check_options(options):
  if options.l2_regularization and options.l2_rows == "used":
    raise FinetuneError(
        "--format=tf2 cannot carry a penalty on the rows a batch uses: a reusable SavedModel's "
        "regularization_losses take no inputs. Pass --l2_rows=all (the whole table; dense "
        "gradients) or --format=tf1.")


def export(export_dir, vocabulary_file, vectors, options):
  """Writes the SavedModel to `export_dir`. Runs eagerly in a thread of its own, since
  tf.saved_model.save needs eager execution and a caller may be inside a graph (and so that
  a signal still ends the command during the save)."""
  check_options(options)

  def save():
    module = TextEmbedding(vocabulary_file, vectors, options)
    # Named as the TF1 module's lone input is, so one config (input_mapping) serves both.
    spec = tf.TensorSpec([None], tf.string, name="default")
    for training in (False, True):
      module.__call__.get_concrete_function(spec, training)
    tf.saved_model.save(module, export_dir)

  signals.run_in_thread(save, "tf2-embedding-export")
