"""What every data source shares: pipeline options, the input_fn and the serving receiver.

Each source knows its per-example feature specs, which serve three purposes: validating the
module's signature against the data before training, building the serving signature (the same
raw inputs as the data: strings and floats), and building the train/eval input_fns.
Labels come as read (strings for CSV unless declared); training/heads.py adapts them to the
head. The sources: csv_data.py, tfrecord_data.py, image_folder.py, arrays.py (Python only).
"""

from typing import Sequence, Union

import tensorflow as tf

from finetune import checks
from finetune import files as files_lib
from finetune.inputs import image_ops
from finetune.errors import FinetuneError

TRAIN, EVAL = "train", "eval"
Files = Union[str, Sequence[str]]  # a file, a glob pattern, or a list of them
_TYPES = {
    "string": tf.string,
    "float": tf.float32,
    "int": tf.int64,
    "float32": tf.float32,
    "int64": tf.int64
}


# Files read when a source is built (headers, compression): up to this many of each split,
# so that thousands of gs:// shards do not cost thousands of reads at every start.
CHECKED_FILES = 64


def dtype_named(name, what):
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
    tokenization: a BertTokenization (@bert_tokenization()) turning text columns into the
      inputs of a BERT-family module, in the pipeline and the serving receiver.
  """

  image_features = ()  # names of features that are decoded images
  class_names = None  # names of the label ids, where the data defines them (image folders)

  def __init__(self,
               batch_size=32,
               eval_batch_size=None,
               shuffle_buffer_size=10000,
               seed=None,
               cache=True,
               augmentation=None,
               image_size=None,
               tokenization=None):
    checks.positive_int(batch_size, "batch_size")
    checks.positive_int(eval_batch_size, "eval_batch_size", allow_none=True)
    checks.positive_int(shuffle_buffer_size, "shuffle_buffer_size")
    self.batch_size = batch_size
    self.eval_batch_size = eval_batch_size or batch_size
    self.shuffle_buffer_size = shuffle_buffer_size
    self.seed = seed
    self.cache = checks.boolean(cache, "cache (of the data source)")
    self.augmentation = augmentation
    self.image_size = list(image_size) if image_size else None
    self.tokenization = tokenization

  def adapt_to_modules(self, modules):
    """Takes the image size from the module that takes images where the config does not set
    one, and builds the tokenizer of a BERT-family module from the module's own vocabulary.
    `modules`: a ModuleSet (its `each` names the module an error is about)."""
    tokenized = []
    modules.each(lambda m: tokenized.append(m) if self._takes_tokens(m) else None)
    if self.tokenization is not None:
      if len(tokenized) > 1:
        raise FinetuneError(
            f"{tokenized[0].selector} and {tokenized[1].selector} both take BERT's tokens, but "
            "a data source has one bert_tokenization; list one BERT-style module (it may be "
            "applied to several texts: bert_tokenization.separately = True).")
      module = tokenized[0] if tokenized else modules.modules[0]
      modules.each(lambda m: self.tokenization.adapt_to_module(m) if m is module else None)
      self.tokenization.check_columns(self.raw_feature_specs())
      if self.tokenization.separately:  # the module is applied once per text column
        module.propose_input_mappings(self.tokenization.input_mappings())
    if self.image_features and self.image_size is None:
      sizes = {m.selector: image_ops.expected_size(m) for m in modules
               if image_ops.takes_images(m)}
      declared = {k: list(v) for k, v in sizes.items() if v is not None}
      if len({tuple(v) for v in declared.values()}) > 1:
        raise FinetuneError(
            "The image modules expect different image sizes ("
            + ", ".join(f"{k}: {v[0]}x{v[1]}" for k, v in declared.items()) + "); one data "
            "source resizes its images once: set image_size = [height, width] on it.")
      size = next(iter(declared.values()), None)
      if size is None:
        module = next((m for m in modules if image_ops.takes_images(m)), modules.modules[0])
        raise FinetuneError(
            f"Module '{module.handle}' does not declare an image size for signature "
            f"'{module.signature}'; set image_size = [height, width] on the data source.")
      self.image_size = list(size)

  def _takes_tokens(self, module):
    """Whether `module` takes BERT's tokens; refuses one that would get none."""
    if not module.takes_tokens():
      return False
    if self.tokenization is None and set(module.input_names()) - set(self.raw_feature_specs()):
      raise FinetuneError(
          f"Signature '{module.signature}' of module '{module.handle}' takes BERT's "
          "input_ids, input_mask and segment_ids: set tokenization = @bert_tokenization() on "
          "the data source and bert_tokenization.text_columns = ['<text column>'] (two for "
          "a sentence pair); the module's own vocabulary is used.")
    return True

  def _image_spec(self):
    size = self.image_size or [None, None]
    return tf.TensorSpec(size + [3], tf.float32)

  def raw_feature_specs(self):
    """{feature name: tf.TensorSpec of one example} as the data holds them."""
    raise NotImplementedError

  def feature_specs(self):
    """{feature name: tf.TensorSpec of one example} as the model gets them (tokenized)."""
    raw = self.raw_feature_specs()
    return self.tokenization.feature_specs(raw) if self.tokenization else raw

  def check_not_empty(self):
    """Raises FinetuneError if a split has no examples (training would silently do nothing)."""

  def split_files(self, name, limit=None):
    """(split, path) of the train and eval files (`self.files`, the gin parameters of
    configurable `name`); the first `limit` of each split."""
    return [(split, path) for split in (TRAIN, EVAL)
            for path in glob_files(self.files[split], f"{name}.{split}_files")[:limit]]

  def find_problem(self, label_problem):  # pylint: disable=unused-argument
    """After a data error in the graph: the first bad record, named (inputs/scan.py), or
    None. `label_problem(label, record)` says what is wrong with one label (`record`: the
    record's {column or feature: value}, for checks across columns)."""
    return None

  def unlabelled_files(self, patterns, keep_columns):
    """A reader of files to predict on (inputs/unlabelled.py), read as this source reads its
    training files: `patterns` a path, glob pattern or list of them."""
    del patterns, keep_columns
    raise FinetuneError(f"{type(self).__name__} cannot read files to predict on; "
                        "--predict_files works with csv_data, tfrecord_data and "
                        "image_folder_data.")

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
      if self.tokenization:
        batches = batches.map(_no_autograph(lambda f, l: (self.tokenization(f), l)),
                              num_parallel_calls=tf.data.AUTOTUNE)
      return batches.prefetch(tf.data.AUTOTUNE)

    return input_fn

  def _augment(self, features, labels):
    features = dict(features)
    for name in self.image_features:
      features[name] = self.augmentation(features[name])
    return features, labels

  def serving_input_receiver_fn(self):
    """A receiver that takes the raw features: same names, dtypes and shapes as the data
    (raw text for tokenized columns), and encoded image bytes as `<feature>_bytes` for image
    features."""
    specs = self.raw_feature_specs()
    images = image_ops.image_bytes_receiver_fn(self.image_features, self.image_size)

    def receiver_fn():
      receiver = images()
      features, receivers = dict(receiver.features), dict(receiver.receiver_tensors)
      for name, spec in specs.items():
        if name not in self.image_features:
          features[name] = receivers[name] = tf.compat.v1.placeholder(spec.dtype,
                                                                      [None] + spec.shape.as_list(),
                                                                      name=name)
      if self.tokenization:
        features = self.tokenization(features)
      return tf.estimator.export.ServingInputReceiver(features, receivers)

    return receiver_fn


def _no_autograph(fn):
  return tf.autograph.experimental.do_not_convert(fn)


def glob_files(pattern, what):
  """The sorted files matching `pattern` (a path, glob or list of them). Refuses a pattern
  that matches nothing (in a list too: training on the rest would go unnoticed) and a
  directory where a file is meant."""
  patterns = [pattern] if isinstance(pattern, str) else list(pattern)
  if not patterns:  # an empty list would read nothing, and an empty split is no data
    split = what.rsplit(".", 1)[-1].split("_")[0]
    raise FinetuneError(f"{what} = {pattern!r} names no files; give a file, a glob pattern (e.g. "
                        f"'data/{split}-*') or a list of them.")
  files = []
  for one in patterns:
    matched = tf.io.gfile.glob(one)
    if not matched:
      shown = repr(pattern) if len(patterns) == 1 else f"{pattern!r} (its entry {one!r})"
      raise FinetuneError(f"No files match {what} = {shown}. Check the path (relative "
                          "paths are relative to the working directory).")
    files += matched
  for path in files:
    if tf.io.gfile.isdir(path):
      raise FinetuneError(f"{what} = {pattern!r} names the directory '{path}'; give data "
                          f"files, e.g. '{path.rstrip('/')}/*.csv'.")
    files_lib.check_regular(path, f"{what} names")
  return sorted(set(files))
