"""Images to predict on: a folder of them (flat, or class sub-folders as in training: every
image under it), a glob pattern, or a list of either. Each image is one row, row 0 of its
file; images have no columns to keep."""

import os

import tensorflow as tf

from finetune.errors import FinetuneError
from finetune.inputs import image_ops
from finetune.inputs import unlabelled
from finetune.inputs.image_ops import IMAGE_EXTENSIONS


def image_paths(patterns):
  """The sorted images a pattern, a folder or a list of them names."""
  patterns = [patterns] if isinstance(patterns, str) else list(patterns)
  found = []
  for pattern in patterns:
    if tf.io.gfile.isdir(pattern):
      inside = sorted(os.path.join(folder, name)
                      for folder, _, names in tf.io.gfile.walk(pattern)
                      for name in names if name.lower().endswith(IMAGE_EXTENSIONS))
      if not inside:
        raise FinetuneError(f"--predict_files folder '{pattern}' holds no images (jpg, jpeg, "
                            "png, gif, bmp), directly or in sub-folders.")
      found += inside
      continue
    matched = [p for p in tf.io.gfile.glob(pattern) if not tf.io.gfile.isdir(p)]
    if not matched:
      raise FinetuneError(f"No files match --predict_files = '{pattern}'; give a folder of "
                          "images, an image, or a glob pattern such as 'new/*.jpg'.")
    found += matched
  return sorted(set(found))


class UnlabelledImages(unlabelled.UnlabelledFiles):
  """`source`: the training data source with one image feature (image_folder_data)."""

  def __init__(self, source, paths, keep_columns):
    if keep_columns:
      raise FinetuneError(f"prediction.keep_columns = {list(keep_columns)}: images have no "
                          "columns; every prediction row names its image in \"file\".")
    super().__init__(paths, keep_columns)
    self.source = source

  def check(self):
    for path in self.paths:
      problem = image_ops.image_format_problem(path)
      if problem:
        raise FinetuneError(f"{problem}; remove it from the files to predict on or convert it.")
    self.row_counts = [1] * len(self.paths)

  def find_problem(self):
    problem = image_ops.image_decode_problem(self.paths)
    return f"{problem}; remove it from the files to predict on or convert it." if problem else None

  def dataset(self):
    size = self.source.image_size
    paths = tf.data.Dataset.from_tensor_slices(
        (self.paths, tf.range(len(self.paths), dtype=tf.int64)))
    decode = tf.autograph.experimental.do_not_convert(
        lambda path, index: (image_ops.decode_and_resize(tf.io.read_file(path), size), index,
                             tf.constant(0, tf.int64)))
    return paths.map(decode, num_parallel_calls=tf.data.AUTOTUNE, deterministic=True)

  def parse_batch(self, records):
    return {self.source.image_features[0]: records}

  def keys(self):
    for index in range(len(self.paths)):
      yield index, 0, {}
