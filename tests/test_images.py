"""The common image signatures: image folders and TFRecords of encoded images, decoded and
resized to the module's expected size, augmentation, fine-tuning, serving on image bytes."""

import os
import shutil

import numpy as np
import pytest
import tensorflow as tf

from finetune import api
from finetune.inputs import base as data_lib

from finetune.inputs.tfrecord_data import TFRecordData
from finetune.training import heads
from finetune.inputs import image_ops
from finetune.errors import FinetuneError
from finetune.modules.hub_module import HubModule
from finetune.modules.module_set import ModuleSet
from finetune.inputs.image_folder import ImageFolderData
from tests import helpers


def first_batch(input_fn):
  with tf.Graph().as_default():
    batch = tf.compat.v1.data.make_one_shot_iterator(input_fn()).get_next()
    with tf.compat.v1.Session() as session:
      return session.run(batch)


def test_module_declares_its_image_size(image_example):
  module = HubModule(handle=image_example["image_feature_vector"])
  assert image_ops.expected_size(module) == [32, 32]


def test_image_folder_reads_png_and_jpeg_at_module_size(image_example):
  source = ImageFolderData(train_dir=image_example["parity_train"],
                           eval_dir=image_example["parity_eval"],
                           eval_batch_size=8)
  assert source.class_names == ["even", "odd"]
  assert source.feature_specs()["images"].shape.as_list() == [None, None, 3]
  source.adapt_to_modules(ModuleSet(HubModule(handle=image_example["image_feature_vector"])))
  assert source.feature_specs() == {"images": tf.TensorSpec([32, 32, 3], tf.float32)}
  files = source.files(data_lib.EVAL)
  assert {os.path.splitext(p)[1] for p, _ in files} == {".png", ".jpg"}
  features, labels = first_batch(source.input_fn(data_lib.EVAL))
  images = features["images"]
  assert images.shape == (8, 32, 32, 3) and images.dtype == np.float32
  assert 0.0 <= images.min() and images.max() <= 1.0 and images.max() > 0.9
  expected = [label for _, label in files[:8]]
  assert list(labels) == expected


def test_held_out_split_without_eval_dir_is_disjoint_and_stable(image_example):
  source = ImageFolderData(train_dir=image_example["parity_eval"],
                           validation_percentage=25,
                           image_size=[16, 16])
  train = {p for p, _ in source.files(data_lib.TRAIN)}
  held = {p for p, _ in source.files(data_lib.EVAL)}
  assert not train & held
  assert 0.15 < len(held) / (len(train) + len(held)) < 0.35
  again = ImageFolderData(train_dir=image_example["parity_eval"],
                          validation_percentage=25,
                          image_size=[16, 16])
  assert {p for p, _ in again.files(data_lib.EVAL)} == held


def test_image_folder_mistakes(tmp_path):
  with pytest.raises(FinetuneError, match="does not exist; it needs one sub-folder"):
    ImageFolderData(train_dir=str(tmp_path / "none"))
  (tmp_path / "only").mkdir()
  with pytest.raises(FinetuneError, match="has 1 class sub-folders \\(only\\)"):
    ImageFolderData(train_dir=str(tmp_path))


def test_augmentation_changes_training_images_only_within_range():
  images = np.random.RandomState(0).uniform(0.2, 0.8, (6, 16, 16, 3)).astype(np.float32)
  augment = image_ops.Augmentation(flip_left_right=True,
                                   max_brightness_delta=0.1,
                                   min_crop_fraction=0.8,
                                   seed=1)
  with tf.Graph().as_default(), tf.compat.v1.Session() as session:
    out = session.run(augment(tf.constant(images)))
  assert out.shape == images.shape
  assert 0.0 <= out.min() and out.max() <= 1.0
  assert not np.allclose(out, images)
  with pytest.raises(FinetuneError, match="min_crop_fraction must be in"):
    image_ops.Augmentation(min_crop_fraction=0.0)


def write_image_tfrecord(path, files):
  with tf.io.TFRecordWriter(str(path)) as writer:
    for image_path, label in files:
      with open(image_path, "rb") as f:
        encoded = f.read()
      writer.write(
          tf.train.Example(features=tf.train.Features(
              feature={
                  "image": tf.train.Feature(bytes_list=tf.train.BytesList(value=[encoded])),
                  "label": tf.train.Feature(int64_list=tf.train.Int64List(value=[label]))
              })).SerializeToString())


def test_tfrecord_encoded_images_fine_tune_and_serve_bytes(tmp_path, image_example):
  folder = ImageFolderData(train_dir=image_example["parity_train"],
                           eval_dir=image_example["parity_eval"])
  write_image_tfrecord(tmp_path / "train.tfrecord", folder.files(data_lib.TRAIN))
  eval_files = folder.files(data_lib.EVAL)[:40]
  write_image_tfrecord(tmp_path / "eval.tfrecord", eval_files)
  source = TFRecordData(train_files=str(tmp_path / "train.tfrecord"),
                                 eval_files=str(tmp_path / "eval.tfrecord"),
                                 feature_spec={"image": ("image", [])},
                                 label_key="label",
                                 batch_size=8,
                                 augmentation=image_ops.Augmentation(max_brightness_delta=0.05))
  model_dir = tmp_path / "model"
  metrics = helpers.run(model_dir,
                        image_example["image_feature_vector"],
                        data=source,
                        train_steps=5,
                        head=heads.binary_class_head(),
                        input_mapping={"images": "image"})
  assert metrics["global_step"] == 5 and source.image_size == [32, 32]
  serving = helpers.latest_subdir(str(model_dir / "export" / "serving"))
  encoded = [open(p, "rb").read() for p, _ in eval_files[:3]]
  with tf.Graph().as_default(), tf.compat.v1.Session() as session:
    signature = tf.compat.v1.saved_model.loader.load(session, ["serve"], serving) \
        .signature_def["predict"]
    assert set(signature.inputs) == {"image_bytes"}
    probabilities = session.run(signature.outputs["probabilities"].name,
                                {signature.inputs["image_bytes"].name: encoded})
  assert probabilities.shape == (3, 2)
  np.testing.assert_allclose(probabilities.sum(axis=1), 1.0, rtol=1e-5)


def test_classification_module_gets_a_new_head_of_another_class_count(tmp_path, image_example):
  source = ImageFolderData(train_dir=image_example["parity_train"],
                           eval_dir=image_example["parity_eval"],
                           batch_size=8)
  handle = image_example["image_classification"]
  module = HubModule(handle=handle)
  assert module.spec.get_output_info_dict("default")["default"].get_shape().as_list() == [None, 10]
  metrics = helpers.run(tmp_path,
                        handle,
                        data=source,
                        train_steps=5,
                        head=heads.binary_class_head())
  assert metrics["global_step"] == 5
  before = helpers.module_values(handle)
  after = helpers.checkpoint_values(str(tmp_path))
  assert helpers.moved(before["logits/kernel"], after["module/logits/kernel"])
  exported = os.path.join(helpers.latest_subdir(str(tmp_path / "export" / "hub")),
                          "image_classification")
  assert {"default",
          "image_feature_vector"} <= set(HubModule(handle=exported).spec.get_signature_names())


@pytest.mark.parametrize("damage", ["not_an_image", "empty", "truncated"])
def test_a_bad_image_file_is_named(tmp_path, image_example, damage):
  """A file that is no image is refused before training; one that only a decoder can tell
  (a JPEG cut short) is named when the step fails. Nothing is kept from the failed run."""
  train = tmp_path / "train"
  shutil.copytree(image_example["parity_train"], train)
  first_class = sorted(p for p in train.iterdir() if p.is_dir())[0]
  real = sorted(first_class.iterdir())[0]
  bad = first_class / "0000_bad.jpg"
  bad.write_bytes({"not_an_image": b"label,text\n1,hello\n", "empty": b"",
                   "truncated": real.read_bytes()[:80]}[damage])
  with pytest.raises(FinetuneError) as raised:
    api.train(["images/classification.gin"], [
        f"MODULE_HANDLE = '{image_example['image_classification']}'",
        f"TRAIN_DIR = '{train}'", f"EVAL_DIR = '{image_example['parity_eval']}'",
        "TRAIN_STEPS = 3", "learning_rate_schedule.warmup_steps = 0",
        "image_folder_data.batch_size = 64", "image_folder_data.augmentation = None"
    ], model_dir=str(tmp_path / "run"))
  assert f"Image '{bad}'" in str(raised.value), str(raised.value)
  assert str(raised.value).endswith("remove it or convert it.")
  assert not (tmp_path / "run").exists()
