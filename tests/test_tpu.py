"""The TPUEstimator path, run with use_tpu=False on the CPU: same model_fn logic, fixed batch
shapes, the fine-tuned module exported from the checkpoint, and the GCS checks for TPUs."""

import os

import numpy as np
import pytest

from finetune.errors import FinetuneError
from tests import builders
from tests import helpers
from tests.test_exporters import fine_tuned_outputs

TPU_ON_CPU = [
    "tpu.enabled = True", "tpu.use_tpu = False", "tpu.iterations_per_loop = 5",
    "optimization.optimizer = @tf.train.GradientDescentOptimizer",
    "learning_rate_schedule.base_learning_rate = 0.1",
    "optimization.module_learning_rate_multiplier = 1.0"
]


def test_tpu_path_on_cpu_trains_evaluates_and_exports_from_checkpoint(tmp_path, digits_module):
  metrics = helpers.run(tmp_path, digits_module, TPU_ON_CPU, train_steps=20)
  assert metrics["global_step"] == 20 and 0.0 <= metrics["accuracy"] <= 1.0
  checkpoint_values = helpers.checkpoint_values(str(tmp_path))
  before = helpers.module_values(digits_module)
  assert helpers.moved(before["hidden/kernel"], checkpoint_values["module/hidden/kernel"])
  exported = os.path.join(helpers.latest_subdir(str(tmp_path / "export" / "hub")), "digits")
  pixels = builders.random_pixels(5)
  import tensorflow as tf  # pylint: disable=g-import-not-at-top
  np.testing.assert_allclose(helpers.module_outputs(exported, pixels),
                             fine_tuned_outputs(digits_module,
                                                tf.train.latest_checkpoint(str(tmp_path)), pixels),
                             rtol=1e-5,
                             atol=1e-6)
  assert os.path.exists(
      os.path.join(helpers.latest_subdir(str(tmp_path / "export" / "serving")), "saved_model.pb"))
  assert not [e for e in os.listdir(tmp_path / "export" / "hub") if e.startswith("temp-")]


def test_bfloat16_head_runs_on_the_tpu_path(tmp_path, digits_module):
  metrics = helpers.run(tmp_path,
                        digits_module,
                        TPU_ON_CPU +
                        ["tpu.bfloat16 = True", "head_network.l2_regularization = 1e-4"],
                        train_steps=10)
  assert metrics["global_step"] == 10 and np.isfinite(metrics["loss"])


def test_tpu_needs_gcs_model_dir_and_module_cache(tmp_path, digits_module, monkeypatch):
  with pytest.raises(FinetuneError, match="a Cloud TPU reads and writes checkpoints on GCS"):
    helpers.run(tmp_path, digits_module, ["tpu.enabled = True", "tpu.use_tpu = True"])
  from finetune import tpu  # pylint: disable=g-import-not-at-top
  from finetune.hub_module import HubModule  # pylint: disable=g-import-not-at-top
  settings = tpu.TPUSettings(enabled=True, use_tpu=True)
  monkeypatch.setenv("TFHUB_CACHE_DIR", str(tmp_path / "cache"))
  url_module = HubModule(handle="http://127.0.0.1:9/never_fetched/m.tar.gz")
  with pytest.raises(FinetuneError,
                     match="which the TPU workers cannot read. Set "
                     "TFHUB_CACHE_DIR=gs://"):
    tpu.check_paths_for_tpu(settings, "gs://bucket/model", url_module)
  monkeypatch.setenv("TFHUB_CACHE_DIR", "gs://bucket/tfhub_cache")
  tpu.check_paths_for_tpu(settings, "gs://bucket/model", url_module)
  tpu.check_paths_for_tpu(settings, "gs://bucket/model", HubModule(handle="gs://bucket/m"))
