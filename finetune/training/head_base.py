"""What finetune asks of a head beyond tf.estimator.Head (loss, metrics, predictions, specs):
how labels as read from the data become what the head takes, the names of its metrics, what
is wrong with one bad label, and which module, data and runtime it can work with. Each head
answers for itself, so adding a head touches its own file and its gin registration."""

import tensorflow as tf

from finetune.errors import FinetuneError


class FinetuneHead:
  """The interface; heads.py's heads and tagging_head.py's implement it.

  Attributes:
    vocabulary: the label words (strings), or None when labels are ids or numbers.
    per_position: one output per word (token tagging), not one per example.
    list_delimiter: what joins a list of words (tags, classes) in one CSV cell.
  """

  vocabulary = None
  per_position = False
  list_delimiter = " "  # joins a prediction's list of words in a CSV cell, as labels do

  def class_names(self, data_class_names=None):
    """One name per class id, for predictions in the user's terms (none: no classes)."""
    del data_class_names
    return []

  def check_setup(self, modules, data, runtime):
    """Refuses, by name, modules (a ModuleSet), a data source or runtime this head cannot
    work with."""

  def check_prediction(self, prediction):
    """Refuses prediction settings (prediction/settings.py) this head cannot honour, by name."""
    _refuse_class_options(prediction, "it predicts no classes")

  def prediction_record(self, outputs, prediction, class_names):
    """One example's Estimator predictions (numpy) -> {name: value} in the user's terms (a
    class name and its probability, values, tags). `class_names`: one per class id."""
    raise NotImplementedError

  def adapt_labels(self, labels):
    """Labels as read from the data (often strings from a CSV) -> what the head takes."""
    raise NotImplementedError

  def label_problem(self, text, words=None):
    """What is wrong with one label as read from the data (a string), or None: to name the
    row when the graph's label check failed on a batch. `words`: the record's text."""
    raise NotImplementedError

  def without_vocabulary(self):
    """The same head taking ids instead of vocabulary words."""
    raise NotImplementedError

  def ids_from_labels_fn(self):
    """fn(adapted labels) -> ids, with its lookup table built here (see split_vocabulary)."""
    raise NotImplementedError

  def split_vocabulary(self):
    """(this head taking ids instead of vocabulary words, fn(adapted labels) -> ids).

    For the training loop (train_loop.py): a head with a label vocabulary builds its lookup
    table where it computes the loss, and a TF1 table cannot be created inside a while loop.
    The table is built here, outside the loop, and the loop uses the id-taking twin. Without
    a vocabulary: (head, identity).
    """
    if not self.vocabulary:
      return self, lambda labels: labels
    return self.without_vocabulary(), self.ids_from_labels_fn()

  def metric_names(self):
    """The names of the eval metrics the head reports, as metrics.json and exporters see them."""
    with tf.Graph().as_default():  # the head's metric objects, built and thrown away
      names = set(self.metrics(regularization_losses=[tf.constant(0.0)]))
    return names | {"loss", "global_step"}


def _refuse_class_options(prediction, why):
  given = [name for name, value in (("prediction.top_k", prediction.top_k),
                                    ("prediction.all_probabilities", prediction.all_probabilities),
                                    ("prediction.threshold", prediction.threshold)) if value]
  if given:
    raise FinetuneError(f"{', '.join(given)} apply to classification heads; this head's "
                        f"predictions have none ({why}). Leave them unset.")
