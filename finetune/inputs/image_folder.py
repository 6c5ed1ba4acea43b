"""Images in a folder per class, the layout TF Hub's image retraining tool reads.

    flowers/daisy/001.jpg, flowers/daisy/002.png, flowers/roses/...

Classes are the sub-folder names in sorted order; label i is the i-th class (logged, and
available as `class_names`). Without an eval folder, a stable share of each class is held
out for evaluation by hashing file names, as retrain.py does, so a file never changes side
when others are added.
"""

import hashlib
import logging
import os
from typing import Optional, Tuple

import gin
import tensorflow as tf

from finetune.inputs import image_ops
from finetune.inputs import unlabelled_images
from finetune.inputs.base import DataSource, EVAL, TRAIN
from finetune.errors import FinetuneError
from finetune.inputs.image_ops import Augmentation
from finetune.inputs.image_ops import IMAGE_EXTENSIONS
from finetune.inputs.tokenization import BertTokenization

log = logging.getLogger("finetune")
PREFLIGHT_IMAGES = 2_000  # per split before training: a start stays quick on 1M images


def _is_eval(path, validation_percentage):
  digest = hashlib.sha1(os.path.basename(path).encode()).hexdigest()
  return int(digest, 16) % 100 < validation_percentage


@gin.configurable("image_folder_data")
class ImageFolderData(DataSource):
  """Images from class sub-folders.

  Args:
    train_dir: folder with one sub-folder of images per class.
    eval_dir: the same layout for evaluation; left out, `validation_percentage` of
      train_dir's images are held out.
    validation_percentage: share held out when there is no eval_dir.
    feature_name: the feature the images arrive as (the image signatures call it "images").
    Other arguments (batch_size, augmentation, image_size, ...) as for every data source.
  """

  def __init__(self,
               train_dir: str = gin.REQUIRED,
               eval_dir: Optional[str] = None,
               validation_percentage: float = 20,
               feature_name: str = "images",
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
    self.image_features = (feature_name,)
    self.dirs = {TRAIN: train_dir, EVAL: eval_dir}
    self.validation_percentage = validation_percentage
    self.class_names = self._classes(train_dir)
    if eval_dir and self._classes(eval_dir) != self.class_names:
      raise FinetuneError(f"Class folders differ: {train_dir} has {self.class_names}, "
                          f"{eval_dir} has {self._classes(eval_dir)}.")
    log.info("Classes (label ids in this order): %s", ", ".join(self.class_names))

  def _classes(self, folder):
    if not tf.io.gfile.isdir(folder):
      raise FinetuneError(f"Image folder '{folder}' does not exist; it needs one sub-folder "
                          "of images per class.")
    classes = sorted(
        e.rstrip("/")
        for e in tf.io.gfile.listdir(folder)
        if tf.io.gfile.isdir(os.path.join(folder, e)))
    if len(classes) < 2:
      raise FinetuneError(f"Image folder '{folder}' has {len(classes)} class sub-folders "
                          f"({', '.join(classes) or 'none'}); it needs at least two.")
    return classes

  def files(self, split):
    """[(path, label id)] of `split`, sorted."""
    folder = self.dirs[split] or self.dirs[TRAIN]
    held_out = self.dirs[EVAL] is None
    pairs = []
    for label, name in enumerate(self.class_names):
      class_dir = os.path.join(folder, name)
      for entry in sorted(tf.io.gfile.listdir(class_dir)):
        path = os.path.join(class_dir, entry)
        if not entry.lower().endswith(IMAGE_EXTENSIONS):
          continue
        if held_out and _is_eval(path, self.validation_percentage) != (split == EVAL):
          continue
        pairs.append((path, label))
    if not pairs:
      raise FinetuneError(f"No {split} images (jpg, png, gif, bmp) under '{folder}'.")
    return pairs

  def raw_feature_specs(self):
    return {self.image_features[0]: self._image_spec()}

  def check_not_empty(self):
    """Every split has images, and each file starts as an image does (a stray text file
    named .jpg fails here, naming it, instead of in a training step)."""
    for split in (TRAIN, EVAL):  # 8 bytes a file; the rest, if bad, is named when decoded
      for path, _ in self.files(split)[:PREFLIGHT_IMAGES]:
        problem = image_ops.image_format_problem(path)
        if problem:
          raise FinetuneError(f"{problem}; remove it or convert it.")

  def find_problem(self, label_problem):
    del label_problem  # labels are folder names, checked when the folders are listed
    for split in (TRAIN, EVAL):
      problem = image_ops.image_decode_problem([path for path, _ in self.files(split)])
      if problem:
        return f"{problem}; remove it or convert it."
    return None

  def unlabelled_files(self, patterns, keep_columns):
    return unlabelled_images.UnlabelledImages(self, unlabelled_images.image_paths(patterns),
                                              keep_columns)

  def _records(self, split):
    paths, labels = zip(*self.files(split))
    size = self.image_size
    dataset = tf.data.Dataset.from_tensor_slices((list(paths), list(labels)))
    decode = tf.autograph.experimental.do_not_convert(
        lambda path, label: (image_ops.decode_and_resize(tf.io.read_file(path), size), label))
    return dataset.map(decode, num_parallel_calls=tf.data.AUTOTUNE)

  def _parse_batch(self, images, labels):
    return {self.image_features[0]: images}, tf.cast(labels, tf.int64)
