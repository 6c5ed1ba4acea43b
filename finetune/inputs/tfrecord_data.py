"""TFRecord files of tf.Example protos, with encoded images decoded in the pipeline."""

from typing import Mapping, Optional, Sequence, Tuple

import gin
import tensorflow as tf

from finetune.errors import FinetuneError
from finetune.inputs import image_ops
from finetune.inputs import scan
from finetune.inputs import base
from finetune.inputs import unlabelled_tfrecord
from finetune.inputs.base import DataSource, EVAL, TRAIN, dtype_named, glob_files
from finetune.inputs.base import Files
from finetune.inputs.image_ops import Augmentation
from finetune.inputs.tokenization import BertTokenization


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
               train_files: Files = gin.REQUIRED,
               eval_files: Files = gin.REQUIRED,
               feature_spec: Mapping[str, Tuple[str, Sequence[int]]] = gin.REQUIRED,
               label_key: str = gin.REQUIRED,
               label_spec: Tuple[str, Sequence[int]] = ("int", []),
               compression_type: str = "",
               # The pipeline options every data source takes (base.DataSource), named so that
               # gin checks their spelling.
               batch_size: int = 32,
               eval_batch_size: Optional[int] = None,
               shuffle_buffer_size: int = 10000,
               seed: Optional[int] = None,
               cache: bool = True,
               augmentation: Optional[Augmentation] = None,
               image_size: Optional[Tuple[int, int]] = None,
               tokenization: Optional[BertTokenization] = None):
    super().__init__(batch_size, eval_batch_size, shuffle_buffer_size, seed, cache, augmentation,
                     image_size, tokenization)
    self.files = {TRAIN: train_files, EVAL: eval_files}
    feature_spec = dict(feature_spec)
    self.image_features = tuple(n for n, (kind, _) in feature_spec.items() if kind == "image")
    self.specs = {
        name: tf.TensorSpec(list(shape), dtype_named(kind, f"feature '{name}'"))
        for name, (kind, shape) in feature_spec.items()
        if kind != "image"
    }
    self.label_key = label_key
    kind, shape = label_spec
    self.label = tf.TensorSpec(list(shape), dtype_named(kind, "the label"))
    self.compression_type = compression_type
    self._check_compression()

  def _check_compression(self):
    if self.compression_type not in ("", "GZIP", "ZLIB"):
      raise FinetuneError(f"tfrecord_data.compression_type = {self.compression_type!r} is "
                          "unknown; use '' (none), 'GZIP' or 'ZLIB'.")
    if self.compression_type:
      return
    for _, path in self.split_files("tfrecord_data", base.CHECKED_FILES):
      if scan.is_gzip(path):
        raise FinetuneError(f"TFRecord file '{path}' is GZIP-compressed; set "
                            "tfrecord_data.compression_type = 'GZIP'.")

  def find_problem(self, label_problem):
    specs = dict(self.specs, **{n: tf.TensorSpec([], tf.string) for n in self.image_features})
    specs[self.label_key] = self.label
    for _, path in self.split_files("tfrecord_data"):
      problem = scan.tfrecord_problem(path, self.compression_type, specs, self.label_key,
                                      label_problem)
      if problem:
        return problem
    return None

  def raw_feature_specs(self):
    return dict(self.specs, **{name: self._image_spec() for name in self.image_features})

  def check_not_empty(self):
    for split in (TRAIN, EVAL):
      files = glob_files(self.files[split], f"tfrecord_data.{split}_files")
      if not any(tf.io.gfile.stat(f).length > 0 for f in files):
        raise FinetuneError(f"tfrecord_data.{split}_files ({', '.join(files)}) are empty.")
      for path in files if not self.compression_type else ():
        cut = scan.tfrecord_cut(path)
        if cut:
          raise FinetuneError(f"TFRecord file '{path}' is truncated: {cut}. TensorFlow would "
                              "train on the records before it without a word; write the file "
                              "again (or remove the partial record).")

  def unlabelled_files(self, patterns, keep_columns):
    paths = glob_files(patterns, "--predict_files")
    return unlabelled_tfrecord.UnlabelledTFRecords(self, paths, keep_columns)

  def _records(self, split):
    files = glob_files(self.files[split], f"tfrecord_data.{split}_files")
    return tf.data.TFRecordDataset(files, compression_type=self.compression_type)

  def parse_examples(self, records, with_label=True):
    """A batch of serialized tf.Examples -> {feature: tensor} (and the label under label_key
    `with_label`), images decoded; other features of the records are ignored."""
    specs = dict(self.specs)
    if with_label:
      specs[self.label_key] = self.label
    specs.update({name: tf.TensorSpec([], tf.string) for name in self.image_features})
    parsed = tf.io.parse_example(records, {
        name: tf.io.FixedLenFeature(spec.shape, spec.dtype) for name, spec in specs.items()
    })
    for name in self.image_features:
      parsed[name] = image_ops.decode_batch(parsed[name], self.image_size)
    return parsed

  def _parse_batch(self, records):
    parsed = self.parse_examples(records)
    return parsed, parsed.pop(self.label_key)
