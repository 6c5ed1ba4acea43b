"""The two features that carry each row's place through the predict graph: its file (an
index into the files predicted on) and its row in that file. The model takes them out before
the module sees the features and puts them back into the predictions, so every prediction
says which row it is for, whatever the runtime does with batches. int32: a TPU's outfeed
carries no strings or int64."""

import tensorflow as tf

FILE, ROW = "__file_index__", "__row__"


def graph_keys(file_indices, rows):
  return {FILE: tf.cast(file_indices, tf.int32), ROW: tf.cast(rows, tf.int32)}


def split(features):
  """(features without the keys, the keys); no keys outside a batch prediction."""
  if not isinstance(features, dict) or FILE not in features:
    return features, {}
  features = dict(features)
  return features, {name: features.pop(name) for name in (FILE, ROW)}
