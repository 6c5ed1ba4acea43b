"""The tf.estimator heads a config can choose, and the label conversions each one needs.

The heads are tf.estimator's (loss, eval metrics, predictions and export outputs), subclassed
only to remember, in public attributes, what the label conversion needs: the label vocabulary
and, for multi-label CSVs, the delimiter. This file turns labels as read from the data (often
strings from a CSV) into what the chosen head takes.
"""

import re

import gin
import tensorflow as tf

from finetune import checks
from finetune.errors import FinetuneError
from finetune.training.tagging_head import TokenTaggingHead

_HEAD_NAMES = ("multi_class_head, binary_class_head, multi_label_head, regression_head, "
               "token_tagging_head")


class MultiClassHead(tf.estimator.MultiClassHead):

  def __init__(self, n_classes, label_vocabulary=None):
    super().__init__(n_classes, label_vocabulary=label_vocabulary)
    self.n_classes = n_classes
    self.vocabulary = label_vocabulary

  def without_vocabulary(self):
    return MultiClassHead(self.n_classes)


class BinaryClassHead(tf.estimator.BinaryClassHead):

  def __init__(self, label_vocabulary=None, thresholds=None):
    super().__init__(label_vocabulary=label_vocabulary, thresholds=thresholds)
    self.vocabulary = label_vocabulary
    self.thresholds = thresholds

  def without_vocabulary(self):
    return BinaryClassHead(thresholds=self.thresholds)


class MultiLabelHead(tf.estimator.MultiLabelHead):

  def __init__(self, n_classes, label_vocabulary=None, thresholds=None, label_delimiter="|"):
    super().__init__(n_classes, label_vocabulary=label_vocabulary, thresholds=thresholds)
    self.n_classes = n_classes
    self.vocabulary = label_vocabulary
    self.thresholds = thresholds
    self.label_delimiter = label_delimiter

  def without_vocabulary(self):
    return MultiLabelHead(self.n_classes, thresholds=self.thresholds,
                          label_delimiter=self.label_delimiter)


class RegressionHead(tf.estimator.RegressionHead):
  vocabulary = None

  def without_vocabulary(self):
    return self


@gin.configurable
def multi_class_head(n_classes=gin.REQUIRED, label_vocabulary=None):
  """Single-label classification over `n_classes` (> 2); labels are ids or vocabulary words."""
  checks.positive_int(n_classes, "multi_class_head.n_classes")
  if label_vocabulary is not None:
    label_vocabulary = list(label_vocabulary)
    if len(label_vocabulary) != n_classes:
      raise FinetuneError(
          f"multi_class_head.label_vocabulary has {len(label_vocabulary)} entries but "
          f"n_classes = {n_classes}; they must agree.")
  if n_classes <= 2:
    raise FinetuneError(f"multi_class_head needs n_classes > 2, got {n_classes}; use "
                        "binary_class_head for two classes.")
  return MultiClassHead(n_classes, label_vocabulary=label_vocabulary)


@gin.configurable
def binary_class_head(label_vocabulary=None, thresholds=None):
  """Two-class classification with a sigmoid; eval adds AUC, precision and recall."""
  return BinaryClassHead(label_vocabulary=list(label_vocabulary) if label_vocabulary else None,
                         thresholds=thresholds)


@gin.configurable
def multi_label_head(n_classes=gin.REQUIRED,
                     label_vocabulary=None,
                     thresholds=None,
                     label_delimiter="|"):
  """Any number of labels per example; CSV labels are joined by `label_delimiter`.

  Args:
    thresholds: probabilities at which precision and recall are also reported.
  """
  checks.positive_int(n_classes, "multi_label_head.n_classes")
  return MultiLabelHead(n_classes,
                        label_vocabulary=list(label_vocabulary) if label_vocabulary else None,
                        thresholds=thresholds,
                        label_delimiter=label_delimiter)


@gin.configurable
def regression_head(label_dimension=1):
  """Real-valued targets with mean squared error."""
  checks.positive_int(label_dimension, "regression_head.label_dimension")
  return RegressionHead(label_dimension=label_dimension)


def check_head(head):
  if not isinstance(head, (MultiClassHead, BinaryClassHead, MultiLabelHead, RegressionHead,
                           TokenTaggingHead)):
    raise FinetuneError(f"experiment.head must be one of finetune's heads, e.g. "
                        f"@multi_class_head(); got {head!r}. Known heads: {_HEAD_NAMES}.")


def metric_names(head):
  """The names of the eval metrics `head` reports, as metrics.json and exporters see them."""
  if isinstance(head, TokenTaggingHead):
    names = {"accuracy"}
  else:
    with tf.Graph().as_default():  # the head's metric objects, built and thrown away
      names = set(head.metrics(regularization_losses=[tf.constant(0.0)]))
  return names | {"loss", "global_step"}


def adapt_labels(head, labels):
  """Converts labels as read from the data to the dtype and form `head` expects."""
  if labels is None or isinstance(head, TokenTaggingHead):  # it reads its own tag strings
    return labels
  vocabulary = head.vocabulary
  if isinstance(head, MultiLabelHead) and labels.dtype == tf.string:
    parts = tf.strings.split(tf.reshape(labels, [-1]), sep=head.label_delimiter).to_sparse()
    if vocabulary:
      return parts
    return tf.SparseTensor(parts.indices, tf.strings.to_number(parts.values, tf.int64),
                           parts.dense_shape)
  if isinstance(head, RegressionHead):
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
  if not head.vocabulary:
    return head, lambda labels: labels
  if isinstance(head, TokenTaggingHead):
    return head.without_vocabulary(), head.ids_from_labels_fn()
  vocabulary = list(head.vocabulary)
  table = tf.lookup.StaticHashTable(
      tf.lookup.KeyValueTensorInitializer(vocabulary, tf.range(len(vocabulary), dtype=tf.int64)),
      default_value=-1)  # an unknown word fails the head's label-range check

  def to_ids(labels):
    if isinstance(labels, tf.SparseTensor):
      return tf.SparseTensor(labels.indices, table.lookup(labels.values), labels.dense_shape)
    return table.lookup(labels)

  return head.without_vocabulary(), to_ids


def label_problem(head, text, words=None):
  """What is wrong with one label as read from the data (a string), or None: to name the
  row when the graph's label check failed on a batch. `words`: the record's text, for a
  tagging head (one tag per word)."""
  text = str(text)
  if isinstance(head, TokenTaggingHead):
    tags = _ascii_words(text)
    unknown = [t for t in tags if t not in head.tags]
    if unknown:
      return f"tag '{unknown[0]}' is not in token_tagging_head.tags"
    if words is not None and len(tags) != len(_ascii_words(str(words))):
      return (f"the label has {len(tags)} tags for the {len(_ascii_words(str(words)))} words "
              f"of '{_shortened(str(words))}' (one tag per whitespace-separated word)")
    return None
  if isinstance(head, RegressionHead):
    return None if _number(text, float) is not None else f"label '{text}' is not a number"
  parts = text.split(head.label_delimiter) if isinstance(head, MultiLabelHead) else [text]
  for part in parts:
    problem = _class_problem(head, part)
    if problem:
      return problem
  return None


def _ascii_words(text):
  """Words as tf.strings.split cuts them: at ASCII whitespace only (str.split also cuts at
  Unicode spaces such as a no-break space, which the graph keeps inside a word)."""
  return [w for w in re.split(r"[ \t\n\v\f\r]+", text) if w]


def _shortened(text, limit=60):
  return text if len(text) <= limit else text[:limit - 3] + "..."


def _class_problem(head, text):
  if head.vocabulary:
    if text in head.vocabulary:
      return None
    return (f"label '{text}' is not in the label_vocabulary "
            f"({', '.join(map(str, head.vocabulary[:10]))})")
  n_classes = getattr(head, "n_classes", 2)
  value = _number(text.strip(), int)
  if value is None:
    return f"label '{text}' is not a number and the head has no label_vocabulary"
  if not 0 <= value < n_classes:
    return f"label {value} is outside the classes 0..{n_classes - 1} (n_classes = {n_classes})"
  return None


def _number(text, kind):
  try:
    return kind(text)
  except ValueError:
    return None
