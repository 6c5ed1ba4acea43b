"""The TPUEstimator path, run with use_tpu=False on the CPU: same model_fn logic, fixed batch
shapes, the fine-tuned module exported from the checkpoint, and the GCS checks for TPUs."""

import os

import numpy as np
import pytest

from finetune.errors import FinetuneError
from tests import builders
from tests import helpers

TPU_ON_CPU = [
    "experiment.runtime = @tpu_runtime()",
    "tpu_runtime.use_tpu = False",
    "tpu_runtime.iterations_per_loop = 5",
    "optimization.optimizer = @tf.train.GradientDescentOptimizer",
    "learning_rate_schedule.base_learning_rate = 0.1",
    "optimization.module_learning_rate_multiplier = 1.0",
    "run_config.random_seed = 3"  # a fixed start for the head, as the other accuracy tests have
]


def test_tpu_path_on_cpu_trains_evaluates_and_exports_from_checkpoint(tmp_path, digits_module):
  metrics = helpers.run(tmp_path, digits_module, TPU_ON_CPU, train_steps=20)
  assert metrics["global_step"] == 20 and metrics["accuracy"] > 0.3  # chance: 0.2
  checkpoint_values = helpers.checkpoint_values(str(tmp_path))
  before = helpers.module_values(digits_module)
  assert helpers.moved(before["hidden/kernel"], checkpoint_values["module/hidden/kernel"])
  exported = os.path.join(helpers.latest_subdir(str(tmp_path / "export" / "hub")), "digits")
  pixels = builders.random_pixels(5)
  import tensorflow as tf  # pylint: disable=g-import-not-at-top
  np.testing.assert_allclose(helpers.module_outputs(exported, pixels),
                             helpers.fine_tuned_outputs(digits_module,
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
                        ["tpu_runtime.bfloat16 = True", "head_network.l2_regularization = 1e-4"],
                        train_steps=10)
  assert metrics["global_step"] == 10 and np.isfinite(metrics["loss"])


def test_tpu_path_writes_the_same_model_dir_as_the_estimator_path(tmp_path, digits_module):
  """Operative config, best export, metrics.json, no graph.pbtxt; evaluate re-reads the
  operative config with no config file given."""
  from finetune import api  # pylint: disable=g-import-not-at-top
  bindings = [f"MODULE_HANDLE = '{digits_module}'", "TRAIN_STEPS = 20",
              "training.steps_per_run = 1", "run_config.save_checkpoints_steps = 10",
              "learning_rate_schedule.warmup_steps = 0"] + TPU_ON_CPU
  model_dir = str(tmp_path / "model")
  trained = api.train(["digits/finetune.gin"], bindings, model_dir=model_dir)
  names = set(os.listdir(model_dir))
  assert {"operative_config.gin", "metrics.json", "checkpoint"} <= names, names
  assert not [n for n in names if n == "graph.pbtxt" or n.endswith(".meta")], names
  assert {"hub", "best_hub", "serving"} <= set(trained.exports)
  operative = (tmp_path / "model" / "operative_config.gin").read_text()
  assert "experiment.runtime = @tpu_runtime()" in operative
  evaluated = api.train([], model_dir=model_dir, schedule="evaluate")
  assert evaluated.metrics == pytest.approx(trained.metrics, rel=1e-6)


@pytest.mark.parametrize("binding, schedule, message", [
    ("training.steps_per_run = 10", "train", "training.steps_per_run = 10 cannot be honoured by "
     "the TPU runtime"),
    ("training.steps_per_run = 1", "predict", "predict with the serving SavedModel"),
    ("run_config.mixed_precision = True", "train", "use tpu_runtime.bfloat16 = True instead"),
])
def test_settings_the_tpu_cannot_honour_are_refused_by_name(tmp_path, digits_module, binding,
                                                            schedule, message):
  with pytest.raises(FinetuneError, match=message):
    helpers.run(tmp_path / "model", digits_module, TPU_ON_CPU + [binding], schedule=schedule)
  assert not (tmp_path / "model").exists()


def test_tpu_needs_gcs_model_dir_and_module_cache(tmp_path, digits_module, monkeypatch):
  with pytest.raises(FinetuneError, match="a Cloud TPU reads and writes checkpoints on GCS"):
    helpers.run(tmp_path, digits_module,
                ["experiment.runtime = @tpu_runtime()", "tpu_runtime.use_tpu = True",
                 "training.steps_per_run = 1"])
  from finetune.modules.hub_module import HubModule  # pylint: disable=g-import-not-at-top
  from finetune.runtime.run_config import RunSettings  # pylint: disable=g-import-not-at-top
  from finetune.runtime.tpu import TPURuntime  # pylint: disable=g-import-not-at-top
  runtime = TPURuntime(RunSettings(), use_tpu=True)
  monkeypatch.setenv("TFHUB_CACHE_DIR", str(tmp_path / "cache"))
  url_module = HubModule(handle="http://127.0.0.1:9/never_fetched/m.tar.gz")
  with pytest.raises(FinetuneError,
                     match="which the TPU workers cannot read. Set "
                     "TFHUB_CACHE_DIR=gs://"):
    runtime.check_paths("gs://bucket/model", url_module)
  monkeypatch.setenv("TFHUB_CACHE_DIR", "gs://bucket/tfhub_cache")
  runtime.check_paths("gs://bucket/model", url_module)
  runtime.check_paths("gs://bucket/model", HubModule(handle="gs://bucket/m"))
