"""In-memory arrays as a data source, for Python callers."""

import numpy as np
import tensorflow as tf

from finetune.errors import FinetuneError
from finetune.inputs.base import DataSource, EVAL, TRAIN


class ArrayData(DataSource):
  """In-memory numpy arrays, from Python (tests and notebooks); gin cannot express arrays, so
  this source is not a gin configurable: pass it to experiment.run(..., data=...).

  Args:
    train, eval: (features dict of arrays, labels array) each.
  """

  def __init__(self, train, eval, **pipeline_options):  # noqa: A002
    super().__init__(**pipeline_options)
    self.arrays = {TRAIN: train, EVAL: eval}

  def raw_feature_specs(self):
    features, _ = self.arrays[TRAIN]
    specs = {}
    for name, values in features.items():
      values = np.asarray(values)
      specs[name] = tf.TensorSpec(
          values.shape[1:], tf.as_dtype(tf.string if values.dtype.kind in "USO" else values.dtype))
    return specs

  def check_not_empty(self):
    for split in (TRAIN, EVAL):
      if len(self.arrays[split][1]) == 0:
        raise FinetuneError(f"array_data.{split} has no examples.")

  def _records(self, split):
    features, labels = self.arrays[split]
    return tf.data.Dataset.from_tensor_slices((dict(features), labels))

  def _parse_batch(self, features, labels):
    # Records are already (features, labels) pairs, so map passes both.
    return features, labels
