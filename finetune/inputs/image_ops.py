"""Image decoding, resizing and light augmentation shared by the image data sources.

Images reach a module the way the TF Hub image signatures expect them: float32 in [0, 1],
[batch, height, width, 3], at the module's expected size (`hub.get_expected_image_size`).
The serving signature takes encoded JPEG/PNG bytes and does the same decoding in the graph.
"""

from typing import Optional

import gin
import tensorflow as tf
import tensorflow_hub as hub

from finetune import checks
from finetune.errors import FinetuneError

IMAGE_EXTENSIONS = (".jpg", ".jpeg", ".png", ".gif", ".bmp")  # what image folders hold


def decode_and_resize(encoded, size):
  """One JPEG/PNG/GIF/BMP image (bytes) -> float32 [height, width, 3] in [0, 1]."""
  image = tf.io.decode_image(encoded, channels=3, expand_animations=False)
  image = tf.image.convert_image_dtype(image, tf.float32)
  image = tf.image.resize(image, size, method=tf.image.ResizeMethod.BILINEAR)
  image = tf.clip_by_value(image, 0.0, 1.0)
  image.set_shape(list(size) + [3])
  return image


def decode_batch(encoded, size):
  """[batch] encoded images -> [batch, height, width, 3]."""
  return tf.map_fn(lambda e: decode_and_resize(e, size),
                   encoded,
                   fn_output_signature=tf.TensorSpec(list(size) + [3], tf.float32))


@gin.configurable
class Augmentation:
  """Light training-time augmentation, applied per image on a batch.

  Args:
    flip_left_right: mirror half of the images (not for text or digits).
    max_brightness_delta: add a random offset in [-delta, delta] to each image.
    min_crop_fraction: crop a random box of at least this fraction of each side and resize
      it back (1.0: no cropping).
    seed: op-level seed.
  """

  def __init__(self,
               flip_left_right: bool = False,
               max_brightness_delta: float = 0.0,
               min_crop_fraction: float = 1.0,
               seed: Optional[int] = None):
    if not 0.0 < min_crop_fraction <= 1.0:
      raise FinetuneError(f"Augmentation.min_crop_fraction must be in (0, 1], got "
                          f"{min_crop_fraction}.")
    self.flip_left_right = checks.boolean(flip_left_right, "Augmentation.flip_left_right")
    self.max_brightness_delta = max_brightness_delta
    self.min_crop_fraction = min_crop_fraction
    self.seed = seed

  def _crop(self, image):
    size = tf.shape(image)[:2]
    fraction = tf.random.uniform([], self.min_crop_fraction, 1.0, seed=self.seed)
    crop = tf.cast(tf.math.ceil(fraction * tf.cast(size, tf.float32)), tf.int32)
    cropped = tf.image.random_crop(image, tf.concat([crop, [3]], axis=0), seed=self.seed)
    return tf.image.resize(cropped, size)

  def __call__(self, images):
    batch = tf.shape(images)[0]
    if self.min_crop_fraction < 1.0:
      images = tf.ensure_shape(tf.map_fn(self._crop, images), images.shape)
    if self.flip_left_right:
      images = tf.image.random_flip_left_right(images, seed=self.seed)
    if self.max_brightness_delta:
      delta = tf.random.uniform([batch, 1, 1, 1],
                                -self.max_brightness_delta,
                                self.max_brightness_delta,
                                seed=self.seed)
      images = tf.clip_by_value(images + delta, 0.0, 1.0)
    return images


def takes_images(module):
  """Whether the module's signature has an image input ([batch, height, width, channels])."""
  return any(info.get_shape().rank == 4 for info in module.spec.get_input_info_dict(
      module.signature, module.serving_tags).values())


def expected_size(module):
  """[height, width] the module declares for its image input, or None."""
  image_inputs = [
      name for name, info in module.spec.get_input_info_dict(
          module.signature, module.serving_tags).items() if info.get_shape().rank == 4
  ]
  try:
    return hub.get_expected_image_size(module.spec,
                                       signature=module.signature,
                                       input_name=image_inputs[0] if image_inputs else None)
  except ValueError:
    return None


def image_bytes_receiver_fn(feature_names, size):
  """A serving receiver: `<feature>_bytes` string inputs, decoded into `<feature>` images."""

  def receiver_fn():
    receivers, features = {}, {}
    for name in feature_names:
      encoded = tf.compat.v1.placeholder(tf.string, [None], name=f"{name}_bytes")
      receivers[f"{name}_bytes"] = encoded
      features[name] = decode_batch(encoded, size)
    return tf.estimator.export.ServingInputReceiver(features, receivers)

  return receiver_fn


_IMAGE_MAGIC = ((b"\xff\xd8\xff", "JPEG"), (b"\x89PNG\r\n\x1a\n", "PNG"), (b"GIF87a", "GIF"),
                (b"GIF89a", "GIF"), (b"BM", "BMP"))


def image_format_problem(path):
  """What is wrong with an image file's first bytes (empty, or not JPEG/PNG/GIF/BMP), or None:
  a look at 8 bytes a file, cheap enough to make before training on every image."""
  with tf.io.gfile.GFile(path, "rb") as f:
    head = f.read(8)
  if not head:
    return f"Image '{path}' is empty"
  if not any(head.startswith(magic) for magic, _ in _IMAGE_MAGIC):
    return (f"Image '{path}' is not a JPEG, PNG, GIF or BMP image (it starts with "
            f"{head!r})")
  return None


def image_decode_problem(paths):
  """The first of `paths` TensorFlow cannot decode, described, or None (after a decoding
  error in the graph: a truncated or damaged file whose first bytes look right)."""
  with tf.Graph().as_default(), tf.compat.v1.Session() as session:
    encoded = tf.compat.v1.placeholder(tf.string, [])
    decoded = tf.io.decode_image(encoded, channels=3, expand_animations=False)
    for path in paths:
      problem = image_format_problem(path)
      if problem:
        return problem
      with tf.io.gfile.GFile(path, "rb") as f:
        data = f.read()
      try:
        session.run(decoded, {encoded: data})
      except tf.errors.OpError as e:
        return f"Image '{path}' cannot be decoded ({e.message.splitlines()[0]})"
  return None
