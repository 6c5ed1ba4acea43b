"""tf.data input pipelines, configured in gin: CSV files, TFRecord files, in-memory arrays.

Each source knows its per-example feature specs, which serve three purposes: validating the
module's signature against the data before training, building the serving signature (the same
raw inputs as the data: strings and floats), and building the train/eval input_fns.
Labels come as read (strings for CSV unless declared); `model.py` adapts them to the head.
"""

import fnmatch

import gin
import numpy as np
import tensorflow as tf

from finetune import image_ops
from finetune.errors import FinetuneError

TRAIN, EVAL = "train", "eval"
_TYPES = {
    "string": tf.string,
    "float": tf.float32,
    "int": tf.int64,
    "float32": tf.float32,
    "int64": tf.int64
}


def _dtype(name, what):
  if isinstance(name, tf.dtypes.DType):
    return name
  if name not in _TYPES:
    raise FinetuneError(f"Unknown type '{name}' for {what}; use one of: "
                        f"{', '.join(sorted(_TYPES))}.")
  return _TYPES[name]


class DataSource:
  """Common pipeline options and the input_fn/serving plumbing shared by every source.

  Args:
    batch_size: training batch size.
    eval_batch_size: evaluation and prediction batch size (default: batch_size).
    shuffle_buffer_size: examples held for shuffling in training.
    seed: shuffle seed, for repeatable runs.
    cache: keep the raw records in memory after the first pass (small data sets).
    augmentation: an image_ops.Augmentation (e.g. @Augmentation()) applied to image
      features in training only.
    image_size: [height, width] images are resized to; left out, the module's expected size.
  """

  image_features = ()  # names of features that are decoded images

  def __init__(self,
               batch_size=32,
               eval_batch_size=None,
               shuffle_buffer_size=10000,
               seed=None,
               cache=True,
               augmentation=None,
               image_size=None):
    for name, value in (("batch_size", batch_size), ("eval_batch_size", eval_batch_size)):
      if value is not None and (not isinstance(value, int) or isinstance(value, bool) or
                                value <= 0):
        raise FinetuneError(f"{name} must be a positive integer, got {value!r}.")
    self.batch_size = batch_size
    self.eval_batch_size = eval_batch_size or batch_size
    self.shuffle_buffer_size = shuffle_buffer_size
    self.seed = seed
    self.cache = cache
    self.augmentation = augmentation
    self.image_size = list(image_size) if image_size else None

  def adapt_to_module(self, module):
    """Takes the image size from the module where the config does not set one."""
    if self.image_features and self.image_size is None:
      size = image_ops.expected_size(module)
      if size is None:
        raise FinetuneError(
            f"Module '{module.handle}' does not declare an image size for signature "
            f"'{module.signature}'; set image_size = [height, width] on the data source.")
      self.image_size = list(size)

  def _image_spec(self):
    size = self.image_size or [None, None]
    return tf.TensorSpec(size + [3], tf.float32)

  def feature_specs(self):
    """{feature name: tf.TensorSpec of one example}."""
    raise NotImplementedError

  def check_not_empty(self):
    """Raises FinetuneError if a split has no examples (training would silently do nothing)."""

  def _records(self, split):
    """Dataset of raw records for `split`, before batching."""
    raise NotImplementedError

  def _parse_batch(self, records):
    """Turns a batch of raw records into (features dict, labels)."""
    raise NotImplementedError

  def input_fn(self, split, training=None, batch_size=None, drop_remainder=False):
    """Returns an Estimator input_fn over `split`; training shuffles and repeats.

    batch_size overrides the configured one (TPUEstimator passes a per-core size);
    drop_remainder gives every batch the same, static shape (TPUs need that).
    """
    training = split == TRAIN if training is None else training
    batch_size = batch_size or (self.batch_size if training else self.eval_batch_size)

    def input_fn():
      records = self._records(split)
      if self.cache:
        records = records.cache()
      if training:
        records = records.shuffle(self.shuffle_buffer_size,
                                  seed=self.seed,
                                  reshuffle_each_iteration=True).repeat()
      batches = records.batch(batch_size, drop_remainder=drop_remainder)
      # Parsing is plain graph code: skipping autograph's conversion saves ~0.2 s of start-up.
      batches = batches.map(_no_autograph(self._parse_batch), num_parallel_calls=tf.data.AUTOTUNE)
      if training and self.augmentation and self.image_features:
        batches = batches.map(_no_autograph(self._augment), num_parallel_calls=tf.data.AUTOTUNE)
      return batches.prefetch(tf.data.AUTOTUNE)

    return input_fn

  def _augment(self, features, labels):
    features = dict(features)
    for name in self.image_features:
      features[name] = self.augmentation(features[name])
    return features, labels

  def serving_input_receiver_fn(self):
    """A receiver that takes the raw features: same names, dtypes and shapes as the data,
    and encoded image bytes as `<feature>_bytes` for image features."""
    specs = self.feature_specs()
    images = image_ops.image_bytes_receiver_fn(self.image_features, self.image_size)

    def receiver_fn():
      receiver = images()
      features, receivers = dict(receiver.features), dict(receiver.receiver_tensors)
      for name, spec in specs.items():
        if name not in self.image_features:
          features[name] = receivers[name] = tf.compat.v1.placeholder(spec.dtype,
                                                                      [None] + spec.shape.as_list(),
                                                                      name=name)
      return tf.estimator.export.ServingInputReceiver(features, receivers)

    return receiver_fn


def _no_autograph(fn):
  return tf.autograph.experimental.do_not_convert(fn)


def _has_data_row(path):
  with tf.io.gfile.GFile(path) as f:
    f.readline()
    return bool(f.readline().strip())


def _glob(pattern, what):
  patterns = [pattern] if isinstance(pattern, str) else list(pattern)
  files = sorted(f for p in patterns for f in tf.io.gfile.glob(p))
  if not files:
    raise FinetuneError(f"No files match {what} = {pattern!r}. Check the path (relative "
                        "paths are relative to the working directory).")
  return files


@gin.configurable("csv_data")
class CsvData(DataSource):
  """CSV files with a header row.

  Args:
    train_files, eval_files: file path, glob pattern, or list of them.
    label_column: the column holding the label.
    column_types: {column: "string" | "float" | "int"}; other feature columns are floats,
      the label column is read as a string unless declared (model.py converts it).
    column_groups: {feature name: glob over column names}; matching numeric columns are
      stacked, in header order, into one vector feature (e.g. {"pixels": "pixel_*"}).
    feature_columns: the columns to use as features (default: all but the label).
    field_delim: the CSV delimiter.
  """

  def __init__(self,
               train_files=gin.REQUIRED,
               eval_files=gin.REQUIRED,
               label_column=gin.REQUIRED,
               column_types=None,
               column_groups=None,
               feature_columns=None,
               field_delim=",",
               **pipeline_options):
    super().__init__(**pipeline_options)
    self.files = {TRAIN: train_files, EVAL: eval_files}
    self.label_column = label_column
    self.column_types = dict(column_types or {})
    self.column_groups = dict(column_groups or {})
    self.field_delim = field_delim
    self.header = self._read_header()
    self._check_columns(feature_columns)
    grouped = {c for cols in self._groups().values() for c in cols}
    self.feature_columns = [
        c for c in (feature_columns or self.header) if c != label_column and c not in grouped
    ]

  def _read_header(self):
    first = _glob(self.files[TRAIN], "csv_data.train_files")[0]
    with tf.io.gfile.GFile(first) as f:
      line = f.readline().strip()
    if not line:
      raise FinetuneError(f"CSV file '{first}' is empty; it needs a header row.")
    return [c.strip() for c in line.split(self.field_delim)]

  def _check_columns(self, feature_columns):
    asked = [self.label_column] + list(feature_columns or []) + list(self.column_types)
    for column in asked:
      if column not in self.header:
        raise FinetuneError(f"Column '{column}' is not in the CSV header; the columns are: "
                            f"{', '.join(self.header)}.")
    for name, pattern in self.column_groups.items():
      if not fnmatch.filter(self.header, pattern):
        raise FinetuneError(f"Column group '{name}' = '{pattern}' matches no CSV column; the "
                            f"columns are: {', '.join(self.header)}.")

  def _groups(self):
    return {
        name: [c for c in self.header if fnmatch.fnmatch(c, pattern)]
        for name, pattern in self.column_groups.items()
    }

  def _type(self, column):
    default = "string" if column == self.label_column else "float"
    return _dtype(self.column_types.get(column, default), f"column '{column}'")

  def feature_specs(self):
    specs = {c: tf.TensorSpec([], self._type(c)) for c in self.feature_columns}
    for name, columns in self._groups().items():
      specs[name] = tf.TensorSpec([len(columns)], tf.float32)
    return specs

  def check_not_empty(self):
    for split in (TRAIN, EVAL):
      files = _glob(self.files[split], f"csv_data.{split}_files")
      if not any(_has_data_row(f) for f in files):
        raise FinetuneError(f"csv_data.{split}_files ({', '.join(files)}) have a header but "
                            "no data rows.")

  def _records(self, split):
    files = _glob(self.files[split], f"csv_data.{split}_files")
    if len(files) == 1:  # no per-file function to trace: a faster start
      return tf.data.TextLineDataset(files[0]).skip(1)
    return tf.data.Dataset.from_tensor_slices(files).flat_map(
        lambda f: tf.data.TextLineDataset(f).skip(1))

  def _parse_batch(self, lines):
    defaults = [tf.constant([], dtype=self._type(c)) for c in self.header]
    values = tf.io.decode_csv(lines, record_defaults=defaults, field_delim=self.field_delim)
    by_name = dict(zip(self.header, values))
    features = {c: by_name[c] for c in self.feature_columns}
    for name, columns in self._groups().items():
      features[name] = tf.stack([tf.cast(by_name[c], tf.float32) for c in columns], axis=1)
    return features, by_name[self.label_column]


@gin.configurable("tfrecord_data")
class TFRecordData(DataSource):
  """TFRecord files of tf.Example protos.

  Args:
    train_files, eval_files: file path, glob pattern, or list of them.
    feature_spec: {feature name: (type, shape)}, e.g. {"pixels": ("float", [64])}; type
      "image" is an encoded JPEG/PNG string decoded to float [height, width, 3] in [0, 1].
    label_key: the feature holding the label, with its spec in `label_spec`.
    label_spec: (type, shape) of the label, default ("int", []).
    compression_type: "" , "GZIP" or "ZLIB".
  """

  def __init__(self,
               train_files=gin.REQUIRED,
               eval_files=gin.REQUIRED,
               feature_spec=gin.REQUIRED,
               label_key=gin.REQUIRED,
               label_spec=("int", []),
               compression_type="",
               **pipeline_options):
    super().__init__(**pipeline_options)
    self.files = {TRAIN: train_files, EVAL: eval_files}
    feature_spec = dict(feature_spec)
    self.image_features = tuple(n for n, (kind, _) in feature_spec.items() if kind == "image")
    self.specs = {
        name: tf.TensorSpec(list(shape), _dtype(kind, f"feature '{name}'"))
        for name, (kind, shape) in feature_spec.items()
        if kind != "image"
    }
    self.label_key = label_key
    kind, shape = label_spec
    self.label = tf.TensorSpec(list(shape), _dtype(kind, "the label"))
    self.compression_type = compression_type

  def feature_specs(self):
    return dict(self.specs, **{name: self._image_spec() for name in self.image_features})

  def check_not_empty(self):
    for split in (TRAIN, EVAL):
      files = _glob(self.files[split], f"tfrecord_data.{split}_files")
      if not any(tf.io.gfile.stat(f).length > 0 for f in files):
        raise FinetuneError(f"tfrecord_data.{split}_files ({', '.join(files)}) are empty.")

  def _records(self, split):
    files = _glob(self.files[split], f"tfrecord_data.{split}_files")
    return tf.data.TFRecordDataset(files, compression_type=self.compression_type)

  def _parse_batch(self, records):
    specs = dict(self.specs, **{self.label_key: self.label})
    specs.update({name: tf.TensorSpec([], tf.string) for name in self.image_features})
    parsed = tf.io.parse_example(records, {
        name: tf.io.FixedLenFeature(spec.shape, spec.dtype) for name, spec in specs.items()
    })
    for name in self.image_features:
      parsed[name] = image_ops.decode_batch(parsed[name], self.image_size)
    label = parsed.pop(self.label_key)
    return parsed, label


@gin.configurable("array_data")
class ArrayData(DataSource):
  """In-memory numpy arrays, for tests and notebooks.

  Args:
    train, eval: (features dict of arrays, labels array) each.
  """

  def __init__(self, train=gin.REQUIRED, eval=gin.REQUIRED, **pipeline_options):  # noqa: A002
    super().__init__(**pipeline_options)
    self.arrays = {TRAIN: train, EVAL: eval}

  def feature_specs(self):
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
