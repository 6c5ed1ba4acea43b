"""TFRecord files of tf.Examples to predict on: the training feature_spec's features, the
label optional, other features allowed (and keepable). A row is a record's position in its
file, from 0."""

import tensorflow as tf

from finetune.errors import FinetuneError
from finetune.inputs import scan
from finetune.inputs import unlabelled


class UnlabelledTFRecords(unlabelled.UnlabelledFiles):
  """`source`: the training TFRecordData (its feature specs, images and compression)."""

  def __init__(self, source, paths, keep_columns):
    super().__init__(paths, keep_columns)
    self.source = source

  def _specs(self):
    """{feature: spec as stored}: images are encoded strings."""
    return dict(self.source.specs,
                **{n: tf.TensorSpec([], tf.string) for n in self.source.image_features})

  def _compression(self, path):
    """GZIP where the file is (detected, whatever training's files were); else training's."""
    if scan.is_gzip(path):
      return "GZIP"
    return "" if self.source.compression_type == "GZIP" else self.source.compression_type

  def _records(self, path):
    options = tf.io.TFRecordOptions(self._compression(path))
    return tf.compat.v1.io.tf_record_iterator(path, options)

  def check(self):
    for path in self.paths:
      if tf.io.gfile.stat(path).length == 0:
        raise FinetuneError(f"Prediction file '{path}' is empty; it needs tf.Examples with the "
                            f"features {', '.join(self._specs())}.")
      cut = None if self._compression(path) else scan.tfrecord_cut(path)
      if cut:
        raise FinetuneError(f"Prediction file '{path}' is truncated: {cut}; write it again.")
    self.row_counts = []
    problem = self.find_problem(self.row_counts)
    if problem:
      raise FinetuneError(problem)
    empty = [p for p, count in zip(self.paths, self.row_counts) if not count]
    if empty:
      raise FinetuneError(f"Prediction file '{empty[0]}' holds no records; it needs tf.Examples "
                          f"with the features {', '.join(self._specs())}.")

  def find_problem(self, counts=None):
    """The first bad record, named; `counts`, a list, gets each file's number of records."""
    specs = self._specs()
    for path in self.paths:
      read = 0
      try:
        for index, record in enumerate(self._records(path)):
          read = index + 1
          where = f"Prediction file '{path}', row {index}"
          try:
            example = tf.train.Example.FromString(record)
          except Exception:  # pylint: disable=broad-except  (protobuf's DecodeError)
            return f"{where} is not a tf.train.Example."
          features = example.features.feature
          problem = scan.example_problem(features, specs)
          if problem:
            return f"{where} {problem}, as the training data's feature_spec says."
          absent = [c for c in self.keep_columns if c not in features]
          if absent:
            return (f"{where} has no feature {', '.join(absent)} of prediction.keep_columns "
                    f"(it has: {', '.join(sorted(features))}).")
      except tf.errors.DataLossError:
        return (f"Prediction file '{path}' is not a TFRecord file (or is damaged)" if not read
                else f"Prediction file '{path}' is damaged after row {read - 1}.")
      if counts is not None:
        counts.append(read)
    return None

  def dataset(self):
    return unlabelled.per_file(
        self.paths,
        lambda path, compression: tf.data.TFRecordDataset(path, compression_type=compression),
        [self._compression(p) for p in self.paths])

  def parse_batch(self, records):
    return self.source.parse_examples(records, with_label=False)

  def keys(self):
    for index, path in enumerate(self.paths):
      for row, record in enumerate(self._records(path)):
        features = tf.train.Example.FromString(record).features.feature
        kept = {}
        for name in self.keep_columns:
          values = scan.feature_values(features[name])
          kept[name] = values[0] if len(values) == 1 else values
        yield index, row, kept
