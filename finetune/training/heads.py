"""The tf.estimator heads a config can choose, each with what finetune asks of a head
(head_base.py): the label conversion from what the data holds (often strings from a CSV),
the description of a bad label, the id-taking twin for the training loop.

The heads are tf.estimator's (loss, eval metrics, predictions and export outputs), subclassed
to remember what the label conversion needs: the label vocabulary and, for multi-label CSVs,
the delimiter. The token tagging head is finetune's own (tagging_head.py).
"""

from typing import Optional, Sequence

import gin
import tensorflow as tf

from finetune import checks
from finetune.errors import FinetuneError
from finetune.formatting import printable
from finetune.training import head_records
from finetune.training.head_base import FinetuneHead

_HEAD_NAMES = ("multi_class_head, binary_class_head, multi_label_head, regression_head, "
               "token_tagging_head")


def _to_number(labels, dtype):
  if labels.dtype == tf.string:
    return tf.strings.to_number(tf.strings.strip(labels), out_type=dtype)
  return tf.cast(labels, dtype)


def _number(text, kind):
  try:
    return kind(text)
  except ValueError:
    return None


class _ClassHead(FinetuneHead):
  """What the classification heads share: labels are class ids or vocabulary words."""

  n_classes = 2

  def adapt_labels(self, labels):
    if labels is None:
      return labels
    if self.vocabulary:
      if labels.dtype == tf.string:
        return labels
      return tf.strings.as_string(tf.cast(labels, tf.int64))
    return _to_number(labels, tf.int64)

  def ids_from_labels_fn(self):
    vocabulary = list(self.vocabulary)
    table = tf.lookup.StaticHashTable(
        tf.lookup.KeyValueTensorInitializer(vocabulary, tf.range(len(vocabulary),
                                                                 dtype=tf.int64)),
        default_value=-1)  # an unknown word fails the head's label-range check

    def to_ids(labels):
      if isinstance(labels, tf.SparseTensor):
        return tf.SparseTensor(labels.indices, table.lookup(labels.values), labels.dense_shape)
      return table.lookup(labels)

    return to_ids

  def label_problem(self, text, words=None):
    for part in self._classes_of(str(text)):
      problem = self._class_problem(part)
      if problem:
        return problem
    return None

  def _classes_of(self, text):
    return [text]

  def _class_problem(self, text):
    if self.vocabulary:
      if text in self.vocabulary:
        return None
      return (f"label '{printable(text)}' is not in the label_vocabulary "
              f"({', '.join(map(str, self.vocabulary[:10]))})")
    value = _number(text.strip(), int)
    if value is None:
      return f"label '{printable(text)}' is not a number and the head has no label_vocabulary"
    if not 0 <= value < self.n_classes:
      return (f"label {value} is outside the classes 0..{self.n_classes - 1} "
              f"(n_classes = {self.n_classes})")
    return None

  def class_names(self, data_class_names=None):
    """The label vocabulary, else the data's class names (an image folder's sub-folders),
    else the ids as text."""
    if self.vocabulary:
      return [str(name) for name in self.vocabulary]
    if data_class_names and len(data_class_names) == self.n_classes:
      return list(data_class_names)
    return [str(i) for i in range(self.n_classes)]

  def check_prediction(self, prediction):
    head_records.check_class_options(prediction, self.n_classes, "multi_class_head",
                                     thresholded=False)

  def prediction_record(self, outputs, prediction, class_names):
    return head_records.single_label(outputs, prediction, class_names)


class MultiClassHead(_ClassHead, tf.estimator.MultiClassHead):

  def __init__(self, n_classes, label_vocabulary=None):
    super().__init__(n_classes, label_vocabulary=label_vocabulary)
    self.n_classes = n_classes
    self.vocabulary = label_vocabulary

  def without_vocabulary(self):
    return MultiClassHead(self.n_classes)


class BinaryClassHead(_ClassHead, tf.estimator.BinaryClassHead):

  def __init__(self, label_vocabulary=None, thresholds=None):
    super().__init__(label_vocabulary=label_vocabulary, thresholds=thresholds)
    self.vocabulary = label_vocabulary
    self.thresholds = thresholds

  def without_vocabulary(self):
    return BinaryClassHead(thresholds=self.thresholds)

  def check_prediction(self, prediction):
    head_records.check_class_options(prediction, 2, "binary_class_head", thresholded=True)

  def prediction_record(self, outputs, prediction, class_names):
    threshold = 0.5 if prediction.threshold is None else prediction.threshold
    return head_records.single_label(outputs, prediction, class_names, threshold)


class MultiLabelHead(_ClassHead, tf.estimator.MultiLabelHead):
  """Labels are delimited strings of classes ("0|4") or multi-hot rows."""

  def __init__(self, n_classes, label_vocabulary=None, thresholds=None, label_delimiter="|"):
    super().__init__(n_classes, label_vocabulary=label_vocabulary, thresholds=thresholds)
    self.n_classes = n_classes
    self.vocabulary = label_vocabulary
    self.thresholds = thresholds
    self.label_delimiter = label_delimiter

  def without_vocabulary(self):
    return MultiLabelHead(self.n_classes, thresholds=self.thresholds,
                          label_delimiter=self.label_delimiter)

  def adapt_labels(self, labels):
    if labels is None or labels.dtype != tf.string:
      return super().adapt_labels(labels)
    parts = tf.strings.split(tf.reshape(labels, [-1]), sep=self.label_delimiter).to_sparse()
    if self.vocabulary:
      return parts
    return tf.SparseTensor(parts.indices, tf.strings.to_number(parts.values, tf.int64),
                           parts.dense_shape)

  def _classes_of(self, text):
    return text.split(self.label_delimiter)

  @property
  def list_delimiter(self):
    return self.label_delimiter

  def check_prediction(self, prediction):
    head_records.check_class_options(prediction, self.n_classes, "multi_label_head",
                                     thresholded=True)

  def prediction_record(self, outputs, prediction, class_names):
    threshold = 0.5 if prediction.threshold is None else prediction.threshold
    return head_records.multi_label(outputs, prediction, class_names, threshold)


class RegressionHead(FinetuneHead, tf.estimator.RegressionHead):

  def without_vocabulary(self):
    return self

  def adapt_labels(self, labels):
    return None if labels is None else _to_number(labels, tf.float32)

  def label_problem(self, text, words=None):
    text = str(text)
    return None if _number(text, float) is not None else f"label '{text}' is not a number"

  def prediction_record(self, outputs, prediction, class_names):
    del prediction, class_names  # check_prediction refused the class options
    values = [head_records.number(v) for v in outputs["predictions"]]
    return {"value": values[0]} if len(values) == 1 else {"values": values}


def _vocabulary(label_vocabulary, n_classes, head):
  """The class names as a list, one per class, or None."""
  if not label_vocabulary:
    return None
  if len(label_vocabulary) != n_classes and head == "binary_class_head":
    raise FinetuneError(f"binary_class_head.label_vocabulary must name two classes (the negative "
                        f"first), got {len(label_vocabulary)}: {list(label_vocabulary)}.")
  if len(label_vocabulary) != n_classes:
    raise FinetuneError(f"{head}.label_vocabulary has {len(label_vocabulary)} entries but "
                        f"n_classes = {n_classes}; they must agree.")
  repeated = sorted({w for w in label_vocabulary if list(label_vocabulary).count(w) > 1})
  if repeated:
    raise FinetuneError(f"{head}.label_vocabulary names {', '.join(map(repr, repeated))} more "
                        "than once; each class needs a name of its own.")
  return list(label_vocabulary)


def _thresholds(thresholds, head):
  """Probabilities strictly between 0 and 1, or None."""
  if thresholds is None:
    return None
  bad = [t for t in thresholds if not 0 < t < 1]
  if bad:
    raise FinetuneError(f"{head}.thresholds must be probabilities strictly between 0 and 1, "
                        f"got {bad}.")
  return list(thresholds)


@gin.configurable
def multi_class_head(n_classes: int = gin.REQUIRED,
                     label_vocabulary: Optional[Sequence[str]] = None) -> FinetuneHead:
  """Single-label classification over `n_classes` (> 2); labels are ids or vocabulary words.

  Args:
    n_classes: the number of classes (more than two; binary_class_head for two).
    label_vocabulary: the class names, in id order, when labels are words.
  """
  checks.positive_int(n_classes, "multi_class_head.n_classes")
  label_vocabulary = _vocabulary(label_vocabulary, n_classes, "multi_class_head")
  if n_classes <= 2:
    raise FinetuneError(f"multi_class_head needs n_classes > 2, got {n_classes}; use "
                        "binary_class_head for two classes.")
  return MultiClassHead(n_classes, label_vocabulary=label_vocabulary)


@gin.configurable
def binary_class_head(label_vocabulary: Optional[Sequence[str]] = None,
                      thresholds: Optional[Sequence[float]] = None) -> FinetuneHead:
  """Two-class classification with a sigmoid; eval adds AUC, precision and recall.

  Args:
    label_vocabulary: the two class names (negative first) when labels are words; else 0/1.
    thresholds: probabilities at which precision and recall are also reported.
  """
  return BinaryClassHead(label_vocabulary=_vocabulary(label_vocabulary, 2, "binary_class_head"),
                         thresholds=_thresholds(thresholds, "binary_class_head"))


@gin.configurable
def multi_label_head(n_classes: int = gin.REQUIRED,
                     label_vocabulary: Optional[Sequence[str]] = None,
                     thresholds: Optional[Sequence[float]] = None,
                     label_delimiter: str = "|") -> FinetuneHead:
  """Any number of labels per example; CSV labels are joined by `label_delimiter`.

  Args:
    n_classes: the number of classes.
    label_vocabulary: the class names, in id order, when labels are words.
    thresholds: probabilities at which precision and recall are also reported.
    label_delimiter: what separates the classes of one label in a CSV ("0|4").
  """
  checks.positive_int(n_classes, "multi_label_head.n_classes")
  return MultiLabelHead(n_classes,
                        label_vocabulary=_vocabulary(label_vocabulary, n_classes,
                                                     "multi_label_head"),
                        thresholds=_thresholds(thresholds, "multi_label_head"),
                        label_delimiter=label_delimiter)


@gin.configurable
def regression_head(label_dimension: int = 1) -> FinetuneHead:
  """Real-valued targets with mean squared error.

  Args:
    label_dimension: how many numbers one label holds.
  """
  checks.positive_int(label_dimension, "regression_head.label_dimension")
  return RegressionHead(label_dimension=label_dimension)


def check_head(head):
  if not isinstance(head, FinetuneHead):
    raise FinetuneError(f"experiment.head must be one of finetune's heads, e.g. "
                        f"@multi_class_head(); got {head!r}. Known heads: {_HEAD_NAMES}.")
