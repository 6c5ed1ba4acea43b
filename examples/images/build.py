"""Builds the image example: digit images on disk and two pretrained image modules.

  python -m examples.images.build --output_dir=build/images

The shipped 8x8 digits (examples/digits/data) are rendered as 32x32 RGB images, PNG and
JPEG alternately, into class folders:
  pretrain/0..9/       the pretraining half, by digit
  parity/train/even|odd/, parity/eval/even|odd/   the fine-tuning task, by parity
then one pretraining on the digit images exports both common image signatures:
  modules/image_feature_vector/, modules/image_classification/
configs/images/*.gin fine-tune them on the parity folders.
"""

import os
import shutil
import sys

from absl import app
from absl import flags
import numpy as np
import tensorflow as tf

from examples import pretrain
from examples.digits import dataset
from examples.images import module as image_module

FLAGS = flags.FLAGS


def to_images(pixels):
  """[n, 64] values 0..16 -> [n, 32, 32, 3] float32 in [0, 1] (dark ink on white)."""
  images = 1.0 - pixels.reshape(-1, 8, 8, 1) / 16.0
  images = np.repeat(np.repeat(images, 4, axis=1), 4, axis=2)
  return np.repeat(images, 3, axis=3).astype(np.float32)


def write_image_folders(root, pixels, labels):
  """Writes images into root/<label>/<index>.png|jpg; returns the number written."""
  images = (to_images(pixels) * 255).round().astype(np.uint8)
  # A graph of its own, so this works whether or not eager execution is on.
  with tf.Graph().as_default(), tf.compat.v1.Session() as session:
    image = tf.compat.v1.placeholder(tf.uint8, [None, None, 3])
    encoders = {"png": tf.io.encode_png(image), "jpg": tf.io.encode_jpeg(image)}
    for i, (pixels_i, label) in enumerate(zip(images, labels)):
      folder = os.path.join(root, str(label))
      os.makedirs(folder, exist_ok=True)
      kind = "png" if i % 2 == 0 else "jpg"
      with open(os.path.join(folder, f"{i:04d}.{kind}"), "wb") as f:
        f.write(session.run(encoders[kind], {image: pixels_i}))
  return len(images)


def build(output_dir, steps=1000, force=False, learning_rate=0.01, **module_kwargs):
  """Writes the image folders and modules (pretrained `steps` at `learning_rate` with Adam);
  returns {name: path}."""
  paths = {
      "pretrain": os.path.join(output_dir, "pretrain"),
      "parity_train": os.path.join(output_dir, "parity", "train"),
      "parity_eval": os.path.join(output_dir, "parity", "eval"),
      "image_feature_vector": os.path.join(output_dir, "modules", "image_feature_vector"),
      "image_classification": os.path.join(output_dir, "modules", "image_classification")
  }
  if force:
    shutil.rmtree(output_dir, ignore_errors=True)
  for name, (csv_name, label_column) in DIGIT_SPLITS.items():
    if not os.path.isdir(paths[name]):
      pixels, labels = dataset.read_csv(csv_name, label_column)
      write_image_folders(paths[name], pixels, labels)
  if not os.path.exists(os.path.join(paths["image_classification"], "tfhub_module.pb")):
    pixels, labels = dataset.read_csv("pretrain.csv", "label")
    tmp = {k: paths[k] + ".tmp" for k in ("image_feature_vector", "image_classification")}
    for path in tmp.values():
      shutil.rmtree(path, ignore_errors=True)
    accuracy = pretrain.pretrain_and_export(
        image_module.make_spec("classification", **module_kwargs),
        tmp["image_classification"],
        "images",
        to_images(pixels),
        labels,
        "pretraining_logits",
        steps=steps,
        learning_rate=learning_rate,
        also_export={
            tmp["image_feature_vector"]: image_module.make_spec("feature_vector", **module_kwargs)
        })
    for key, path in tmp.items():
      shutil.rmtree(paths[key], ignore_errors=True)
      os.rename(path, paths[key])
    print(f"image modules exported (training accuracy reading digits: {accuracy:.3f})")
  return paths


DIGIT_SPLITS = {
    "pretrain": ("pretrain.csv", "label"),
    "parity_train": ("finetune_train.csv", "parity"),
    "parity_eval": ("finetune_eval.csv", "parity")
}


def main(argv):
  del argv
  for name, path in build(FLAGS.output_dir, FLAGS.steps, FLAGS.force).items():
    print(f"{name}: {path}")


if __name__ == "__main__":
  flags.DEFINE_string("output_dir", "build/images", "Where images and modules go.")
  flags.DEFINE_integer("steps", 1000, "Pretraining steps.")
  flags.DEFINE_bool("force", False, "Rebuild what already exists.")
  sys.exit(app.run(main))
