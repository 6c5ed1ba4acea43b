"""The tf.estimator heads a config can choose, and the label conversions each one needs.

The heads themselves come from tf.estimator (loss, eval metrics, predictions and export
outputs); this file only registers them with gin and turns labels as read from the data
(often strings from a CSV) into what the chosen head takes.
"""

import copy

import gin
import tensorflow as tf

from finetune.errors import FinetuneError

_HEAD_NAMES = "multi_class_head, binary_class_head, multi_label_head, regression_head"


@gin.configurable
def multi_class_head(n_classes=gin.REQUIRED, label_vocabulary=None):
  """Single-label classification over `n_classes` (> 2); labels are ids or vocabulary words."""
  if label_vocabulary is not None:
    label_vocabulary = list(label_vocabulary)
    if len(label_vocabulary) != n_classes:
      raise FinetuneError(
          f"multi_class_head.label_vocabulary has {len(label_vocabulary)} entries but "
          f"n_classes = {n_classes}; they must agree.")
  if n_classes == 2:
    raise FinetuneError("multi_class_head needs n_classes > 2; use binary_class_head for "
                        "two classes.")
  return tf.estimator.MultiClassHead(n_classes, label_vocabulary=label_vocabulary)


@gin.configurable
def binary_class_head(label_vocabulary=None, thresholds=None):
  """Two-class classification with a sigmoid; eval adds AUC, precision and recall."""
  return tf.estimator.BinaryClassHead(
      label_vocabulary=list(label_vocabulary) if label_vocabulary else None, thresholds=thresholds)


@gin.configurable
def multi_label_head(n_classes=gin.REQUIRED,
                     label_vocabulary=None,
                     thresholds=None,
                     label_delimiter="|"):
  """Any number of labels per example; CSV labels are joined by `label_delimiter`."""
  head = tf.estimator.MultiLabelHead(
      n_classes,
      label_vocabulary=list(label_vocabulary) if label_vocabulary else None,
      thresholds=thresholds)
  head.label_delimiter = label_delimiter
  return head


@gin.configurable
def regression_head(label_dimension=1):
  """Real-valued targets with mean squared error."""
  return tf.estimator.RegressionHead(label_dimension=label_dimension)


def check_head(head):
  if not isinstance(head, tf.estimator.Head):
    raise FinetuneError(f"experiment.head must be a tf.estimator head, e.g. "
                        f"@multi_class_head(); got {head!r}. Known heads: {_HEAD_NAMES}.")


def adapt_labels(head, labels):
  """Converts labels as read from the data to the dtype and form `head` expects."""
  if labels is None:
    return None
  vocabulary = getattr(head, "_label_vocabulary", None)
  if isinstance(head, tf.estimator.MultiLabelHead) and labels.dtype == tf.string:
    delimiter = getattr(head, "label_delimiter", "|")
    parts = tf.strings.split(tf.reshape(labels, [-1]), sep=delimiter).to_sparse()
    if vocabulary:
      return parts
    return tf.SparseTensor(parts.indices, tf.strings.to_number(parts.values, tf.int64),
                           parts.dense_shape)
  if isinstance(head, tf.estimator.RegressionHead):
    return _to_number(labels, tf.float32)
  if vocabulary:
    if labels.dtype == tf.string:
      return labels
    return tf.strings.as_string(tf.cast(labels, tf.int64))
  return _to_number(labels, tf.int64)


def _to_number(labels, dtype):
  if labels.dtype == tf.string:
    return tf.strings.to_number(tf.strings.strip(labels), out_type=dtype)
  return tf.cast(labels, dtype)


def split_vocabulary(head):
  """(`head` taking class ids instead of vocabulary words, fn(adapted labels) -> ids).

  For the training loop (train_loop.py): a head with a label vocabulary builds its lookup
  table where it computes the loss, and a TF1 table cannot be created inside a while loop.
  The table is built here, outside the loop, and the loop uses the id-taking twin. Without
  a vocabulary: (head, identity).
  """
  vocabulary = getattr(head, "_label_vocabulary", None)
  if not vocabulary:
    return head, lambda labels: labels
  table = tf.lookup.StaticHashTable(
      tf.lookup.KeyValueTensorInitializer(list(vocabulary), tf.range(len(vocabulary),
                                                                     dtype=tf.int64)),
      default_value=-1)  # an unknown word fails the head's label-range check

  def to_ids(labels):
    if isinstance(labels, tf.SparseTensor):
      return tf.SparseTensor(labels.indices, table.lookup(labels.values), labels.dense_shape)
    return table.lookup(labels)

  twin = copy.copy(head)
  twin._label_vocabulary = None  # pylint: disable=protected-access
  return twin, to_ids
