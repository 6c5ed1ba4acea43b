"""Exports: the fine-tuned hub module reloads with the fine-tuned weights; serving answers raw
inputs; the best-module export follows the metric; metrics.json is written."""

import json
import os
import shutil

import gin
import numpy as np
import pytest
import tensorflow as tf
import tensorflow_hub as hub

from tests import builders
from tests import helpers

SGD = [
    "optimization.optimizer = @tf.train.GradientDescentOptimizer",
    "learning_rate_schedule.base_learning_rate = 0.1",
    "optimization.module_learning_rate_multiplier = 1.0", "run_config.random_seed = 5"
]


@pytest.fixture(scope="module")
def trained(tmp_path_factory, digits_module):
  """One fine-tuning that the export tests read: 30 SGD steps evaluated and exported at steps
  10, 20 and 30, with the best-module export on accuracy; (model_dir, its final metrics). A
  test that writes into it works on a copy."""
  model_dir = tmp_path_factory.mktemp("exporters")
  bindings = SGD + [
      "run_config.save_checkpoints_steps = 10", "evaluation.best_export_metric = 'accuracy'",
      "evaluation.exports_to_keep = 5"
  ]
  with tf.Graph().as_default():
    metrics = helpers.run(model_dir, digits_module, bindings, train_steps=30,
                          export_name="digits_ft")
  gin.clear_config(clear_constants=False)
  return model_dir, metrics


def test_exported_module_reloads_with_fine_tuned_outputs(trained, digits_module):
  tmp_path, _ = trained
  export_root = helpers.latest_subdir(os.path.join(tmp_path, "export", "hub"))
  exported = os.path.join(export_root, "digits_ft")
  assert os.path.exists(os.path.join(exported, "tfhub_module.pb"))
  pixels = builders.random_pixels(6)
  reloaded = helpers.module_outputs(exported, pixels)
  expected = helpers.fine_tuned_outputs(digits_module, tf.train.latest_checkpoint(str(tmp_path)), pixels)
  original = helpers.module_outputs(digits_module, pixels)
  np.testing.assert_allclose(reloaded, expected, rtol=1e-5, atol=1e-6)
  assert not np.allclose(reloaded, original, atol=1e-4)
  # The export keeps both graph variants and both signatures of the original.
  spec = hub.load_module_spec(exported)
  assert sorted(map(sorted, spec.get_tags())) == [[], ["train"]]
  assert set(spec.get_signature_names()) == {"default", "classifier"}


def test_serving_savedmodel_answers_raw_inputs(tmp_path, trained, digits_module):
  shutil.copytree(trained[0], tmp_path, dirs_exist_ok=True)  # predict writes into the model_dir
  serving_dir = helpers.latest_subdir(os.path.join(tmp_path, "export", "serving"))
  pixels = builders.random_pixels(5, seed=3)
  with tf.Graph().as_default(), tf.compat.v1.Session() as session:
    meta = tf.compat.v1.saved_model.loader.load(session, ["serve"], serving_dir)
    signature = meta.signature_def["predict"]
    assert signature.inputs["pixels"].dtype == tf.float32.as_datatype_enum
    probabilities = session.run(signature.outputs["probabilities"].name,
                                {signature.inputs["pixels"].name: pixels})
  assert probabilities.shape == (5, 5)
  np.testing.assert_allclose(probabilities.sum(axis=1), 1.0, rtol=1e-5)
  # Same answers as the Estimator's own predictions from the same checkpoint.
  from finetune.inputs.arrays import ArrayData
  data = ArrayData(train=({
      "pixels": pixels
  }, np.zeros(5, np.int64)),
                            eval=({
                                "pixels": pixels
                            }, np.zeros(5, np.int64)),
                            batch_size=5)
  helpers.run(tmp_path, digits_module, SGD, train_steps=30, schedule="predict", data=data,
              export_name="digits_ft")
  with open(os.path.join(tmp_path, "predictions.jsonl")) as f:
    predicted = np.array([json.loads(line)["probabilities"] for line in f])
  np.testing.assert_allclose(probabilities, predicted, rtol=1e-4, atol=1e-6)


def test_metrics_json_and_best_export(trained):
  tmp_path, metrics = trained
  written = json.loads((tmp_path / "metrics.json").read_text())
  assert written == metrics and written["global_step"] == 30
  best_root = os.path.join(tmp_path, "export", "best_hub")
  best = [
      json.loads(open(os.path.join(best_root, d, "eval_result.json")).read())
      for d in sorted(os.listdir(best_root))
  ]
  accuracies = [b["accuracy"] for b in best]
  assert best and accuracies == sorted(accuracies)  # each best export beat the previous
  assert len(set(accuracies)) == len(accuracies)
  hub_exports = [d for d in os.listdir(os.path.join(tmp_path, "export", "hub")) if d.isdigit()]
  assert len(hub_exports) == 3  # one per evaluation at steps 10, 20, 30


def test_export_schedule_writes_both_exports_from_latest_checkpoint(tmp_path, digits_module):
  helpers.run(tmp_path, digits_module, SGD, train_steps=10, schedule="train")
  assert not os.path.exists(os.path.join(tmp_path, "export"))
  paths = helpers.run(tmp_path, digits_module, SGD, train_steps=10, schedule="export")
  assert os.path.exists(os.path.join(paths["hub"], "digits", "tfhub_module.pb"))
  assert os.path.exists(os.path.join(paths["serving"], "saved_model.pb"))
