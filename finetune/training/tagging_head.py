"""A token-level head: one tag per word of a text column (named entities, parts of speech).

The module's sequence output goes through the head network position by position; the logits
of each word are those of its first wordpiece (`word_starts`, from bert_tokenization), and
words cut off by max_seq_length are not scored (`word_mask`). Labels are a string of tags,
one per whitespace-separated word ("O B-PER I-PER"). Loss, metrics and predictions are per
word: `accuracy` is the share of scored words tagged right, predictions hold a tag per word.
"""

import re
from typing import Sequence

import gin
import tensorflow as tf

from finetune.errors import FinetuneError
from finetune.formatting import printable
from finetune.training.head_base import FinetuneHead

TRAIN, EVAL, PREDICT = (tf.estimator.ModeKeys.TRAIN, tf.estimator.ModeKeys.EVAL,
                        tf.estimator.ModeKeys.PREDICT)


def _word_logits(logits, features):
  return tf.gather(logits, tf.cast(features["word_starts"], tf.int32), batch_dims=1)


def _ascii_words(text):
  """Words as tf.strings.split cuts them: at ASCII whitespace only (str.split also cuts at
  Unicode spaces such as a no-break space, which the graph keeps inside a word)."""
  return [w for w in re.split(r"[ \t\n\v\f\r]+", text) if w]


def _shortened(text, limit=60):
  return text if len(text) <= limit else text[:limit - 3] + "..."


class TokenTaggingHead(FinetuneHead, tf.estimator.Head):
  """Per-word softmax over `tags`; takes tag strings, or tag ids when `vocabulary` is None."""

  per_position = True

  def __init__(self, tags, takes_ids=False):
    self.tags = list(tags)
    self.vocabulary = None if takes_ids else self.tags

  def check_setup(self, modules, data, runtime):
    if not runtime.per_position_heads:
      raise FinetuneError(f"token_tagging_head does not run on the {runtime.name}; use "
                          "experiment.runtime = @estimator_runtime().")
    module = modules.modules[0]  # one module, applied once: ModuleSet.validate says so
    with modules.naming(module):  # a scoped module's setting is named with its scope
      if module.pooling:
        raise FinetuneError(f"hub_module.pooling = '{module.pooling}' gives one vector per "
                            "example, but token_tagging_head needs one per position; set "
                            "hub_module.pooling = None.")
    if data.tokenization and data.tokenization.separately:
      raise FinetuneError("token_tagging_head tags the words of one text: set "
                          "bert_tokenization.separately = False.")
    if not data.tokenization:
      raise FinetuneError("token_tagging_head tags the words of a text column: set "
                          "tokenization = @bert_tokenization() on the data source.")

  def adapt_labels(self, labels):
    return labels  # the tag strings; loss() looks them up itself

  def metric_names(self):
    return {"accuracy", "loss", "global_step"}

  def label_problem(self, text, words=None):
    tags = _ascii_words(str(text))
    unknown = [t for t in tags if t not in self.tags]
    if unknown:
      return f"tag '{printable(unknown[0])}' is not in token_tagging_head.tags"
    if words is not None and len(tags) != len(_ascii_words(str(words))):
      return (f"the label has {len(tags)} tags for the {len(_ascii_words(str(words)))} words "
              f"of '{printable(_shortened(str(words)))}' (one tag per whitespace-separated word)")
    return None

  @property
  def name(self):
    return None

  @property
  def logits_dimension(self):
    return len(self.tags)

  @property
  def loss_reduction(self):
    return tf.compat.v1.losses.Reduction.SUM_OVER_BATCH_SIZE

  def without_vocabulary(self):
    return TokenTaggingHead(self.tags, takes_ids=True)

  def ids_from_labels_fn(self):
    """fn(tag strings [batch]) -> tag ids [batch, words], -1 past the last tag; its table is
    built here, outside any loop (train_loop.py)."""
    table = tf.lookup.StaticHashTable(
        tf.lookup.KeyValueTensorInitializer(self.tags, tf.range(len(self.tags), dtype=tf.int64)),
        default_value=-2)  # an unknown tag fails the range check in loss()

    def ids(labels):
      words = tf.strings.split(tf.reshape(labels, [-1]))
      return tf.cast(words.with_flat_values(table.lookup(words.flat_values)).to_tensor(-1),
                     tf.int32)

    return ids

  def _ids_and_weights(self, labels, features):
    ids = self.ids_from_labels_fn()(labels) if self.vocabulary else tf.cast(labels, tf.int32)
    checks = [self._same_count_check(ids, features)] if "word_count" in features else []
    words = tf.shape(features["word_starts"])[1]
    ids = tf.pad(ids, [[0, 0], [0, tf.maximum(words - tf.shape(ids)[1], 0)]],
                 constant_values=-1)[:, :words]
    checks.append(tf.debugging.assert_greater_equal(
        ids, -1, message="A tag is not in token_tagging_head.tags"))
    with tf.control_dependencies(checks):
      weights = tf.cast((ids >= 0) & (tf.cast(features["word_mask"], tf.int32) > 0), tf.float32)
    return tf.maximum(ids, 0), weights

  @staticmethod
  def _same_count_check(ids, features):
    """One tag per word: a label of another length would tag the words shifted, silently."""
    tags = tf.reduce_sum(tf.cast(tf.not_equal(ids, -1), tf.int32), axis=1)
    words = tf.cast(tf.reshape(features["word_count"], [-1]), tf.int32)
    return tf.debugging.assert_equal(
        tags, words, message="token_tagging_head: a label's tag count differs from the "
        "word count of its text (tags, then words, per row)", summarize=8)

  def loss(self, labels, logits, features=None, mode=None, regularization_losses=None):
    ids, weights = self._ids_and_weights(labels, features)
    per_word = tf.nn.sparse_softmax_cross_entropy_with_logits(labels=ids,
                                                              logits=_word_logits(logits, features))
    loss = tf.reduce_sum(per_word * weights) / tf.maximum(tf.reduce_sum(weights), 1.0)
    if regularization_losses:
      loss += tf.add_n(regularization_losses)
    return loss

  def predictions(self, logits, keys=None, features=None):
    word_logits = _word_logits(logits, features)
    tag_ids = tf.argmax(word_logits, axis=-1, output_type=tf.int32)
    kept = tf.cast(features["word_mask"], tf.int32) > 0
    names = tf.gather(tf.constant(self.tags), tag_ids)
    return {
        "tag_ids": tf.where(kept, tag_ids, -1),
        "tags": tf.where(kept, names, ""),
        "probabilities": tf.nn.softmax(word_logits),
        "word_count": features["word_count"],  # words of the text, tagged or past the length
    }

  def prediction_record(self, outputs, prediction, class_names):
    """{"tags"}: one per word of the text, tags[i] word i's (the head's outputs are by word
    position); None for a word the model did not see (past max_seq_length, or with no
    wordpiece)."""
    del prediction, class_names
    words = int(outputs["word_count"])
    tags = [t.decode() if isinstance(t, bytes) else str(t) for t in outputs["tags"]][:words]
    tags = [t if i >= 0 else None for t, i in zip(tags, outputs["tag_ids"])]
    return {"tags": tags + [None] * (words - len(tags))}

  def metrics(self, regularization_losses=None):
    raise NotImplementedError("token_tagging_head builds its metrics in create_estimator_spec.")

  def update_metrics(self, eval_metrics, features, logits, labels, mode=None,
                     regularization_losses=None):
    raise NotImplementedError("token_tagging_head builds its metrics in create_estimator_spec.")

  def create_estimator_spec(self, features, mode, logits, labels=None, optimizer=None,
                            trainable_variables=None, train_op_fn=None, update_ops=None,
                            regularization_losses=None):
    del optimizer, trainable_variables
    predictions = self.predictions(logits, features=features)
    if mode == PREDICT:
      output = tf.estimator.export.PredictOutput(predictions)
      return tf.estimator.EstimatorSpec(mode, predictions=predictions,
                                        export_outputs={"serving_default": output,
                                                        "predict": output})
    loss = self.loss(labels, logits, features, mode, regularization_losses)
    if mode == EVAL:
      ids, weights = self._ids_and_weights(labels, features)
      metrics = {"accuracy": tf.compat.v1.metrics.accuracy(ids, predictions["tag_ids"], weights)}
      return tf.estimator.EstimatorSpec(mode, loss=loss, predictions=predictions,
                                        eval_metric_ops=metrics)
    with tf.control_dependencies(update_ops or []):
      train_op = train_op_fn(loss)
    return tf.estimator.EstimatorSpec(mode, loss=loss, predictions=predictions, train_op=train_op)

  def _create_tpu_estimator_spec(self, *args, **kwargs):
    raise FinetuneError("token_tagging_head does not run on the TPU runtime; use the "
                        "estimator runtime (experiment.runtime = @estimator_runtime()).")


@gin.configurable
def token_tagging_head(tags: Sequence[str] = gin.REQUIRED) -> FinetuneHead:
  """One tag per whitespace-separated word; labels are the tags joined by spaces.

  Args:
    tags: the tag set, e.g. ["O", "B-PER", "I-PER"].
  """
  tags = list(tags)
  if len(tags) < 2 or len(set(tags)) != len(tags) or not all(isinstance(t, str) for t in tags):
    raise FinetuneError(f"token_tagging_head.tags = {tags}: give two or more distinct tag names.")
  return TokenTaggingHead(tags)
