"""Synchronous in-graph replicas on one host, tested on virtual CPU devices: the same weights
as one replica, ops on every replica device, batch-norm policy, tables, exports, resume."""

import gin
import numpy as np
import pytest
import tensorflow as tf

from finetune.errors import FinetuneError
from tests import builders
from tests import helpers

DETERMINISTIC = [  # the inference variant (no dropout, fixed batch norm), no head dropout
    "hub_module.train_tags = []", "head_network.dropout = 0.0", "run_config.random_seed = 3",
    "optimization.optimizer = @tf.train.AdamOptimizer", "learning_rate_schedule.base_learning_rate = 0.01",
    "optimization.module_learning_rate_multiplier = 0.1", "optimization.clip_gradient_norm = 1.0",
    "learning_rate_schedule.decay = 'cosine'", "learning_rate_schedule.warmup_steps = 5",
]


def weights(tmp_path, handle, replicas, *more, steps=20, start=None):
  """Variables after `steps` steps, every run from the same initial head (warm-started from
  the one-replica run's step-0 checkpoint, `start`: graphs of different shapes draw other
  seeds); without `start`, this is that one-replica run."""
  model_dir = tmp_path / f"n{replicas}{'-'.join(m.split()[0] for m in more)}"
  warm = [f"training.warm_start_from = '{start}'"] if start else []
  helpers.run(model_dir, handle,
              DETERMINISTIC + [f"run_config.num_replicas = {replicas}", *more] + warm,
              train_steps=steps, schedule="train")
  return helpers.checkpoint_values(str(model_dir))


@pytest.fixture(scope="module")
def one_replica(tmp_path_factory, digits_module):
  """The one-replica run that the replica runs are compared with and start from (its step-0
  checkpoint): (its weights after 20 steps, that checkpoint). Only read."""
  root = tmp_path_factory.mktemp("one_replica")
  with tf.Graph().as_default():
    one = weights(root, digits_module, 1)
  gin.clear_config(clear_constants=False)
  return one, root / "n1" / "model.ckpt-0"


def test_two_and_four_replicas_train_like_one(tmp_path, digits_module, one_replica):
  """Adam, a module learning-rate multiplier, clipping, warm-up and cosine decay, and the
  in-graph loop: 20 steps on 2 and 4 replicas give one replica's weights."""
  one, start = one_replica
  for other in (weights(tmp_path, digits_module, 2, start=start),
                weights(tmp_path, digits_module, 4, start=start),
                weights(tmp_path, digits_module, 2, "training.steps_per_run = 4", start=start)):
    assert set(other) == set(one)
    for name, value in one.items():
      np.testing.assert_allclose(other[name], value, rtol=1e-4, atol=1e-6, err_msg=name)
  before = helpers.module_values(digits_module)
  assert helpers.moved(before["hidden/kernel"], one["module/hidden/kernel"])


def test_ops_run_on_every_replica_device(digits_module):
  from finetune.modules.hub_module import HubModule  # pylint: disable=g-import-not-at-top
  from finetune.runtime.estimators import EstimatorRuntime  # pylint: disable=g-import-not-at-top
  from finetune.runtime.run_config import RunSettings  # pylint: disable=g-import-not-at-top
  from finetune.settings import Training  # pylint: disable=g-import-not-at-top
  from finetune.training import heads  # pylint: disable=g-import-not-at-top
  from finetune.training.head_network import HeadNetwork  # pylint: disable=g-import-not-at-top
  from finetune.training.model import Model  # pylint: disable=g-import-not-at-top
  model = Model(HubModule(handle=digits_module), heads.multi_class_head(n_classes=5),
                HeadNetwork(hidden_units=[8]), Training(train_steps=5),
                EstimatorRuntime(RunSettings(num_replicas=4)), batch_size=8)
  features = {"pixels": tf.constant(builders.random_pixels(8))}
  model.model_fn(features, tf.constant([0, 1, 2, 3, 4, 0, 1, 2], tf.int64),
                 tf.estimator.ModeKeys.TRAIN, {}, None)
  graph = tf.compat.v1.get_default_graph()
  devices = {op.device for op in graph.get_operations()}
  for i in range(4):
    assert any(d.upper().endswith(f"CPU:{i}") for d in devices), devices
  gradient_devices = {op.device for op in graph.get_operations() if "gradients" in op.name}
  assert any(d.upper().endswith("CPU:3") for d in gradient_devices)  # backward runs on the replica
  variables = [v for v in tf.compat.v1.trainable_variables() if v.op.name.startswith("head/")]
  assert variables and all(v.device.upper().endswith("CPU:0") for v in variables)
  bn_updates = tf.compat.v1.get_collection(tf.compat.v1.GraphKeys.UPDATE_OPS)
  assert len(bn_updates) == 2  # replica 0's moving mean and variance only


def test_batch_norm_module_trains_and_moving_statistics_move(tmp_path, digits_module):
  model_dir = tmp_path / "bn"
  helpers.run(model_dir, digits_module, ["run_config.num_replicas = 2"], train_steps=10,
              schedule="train")
  after = helpers.checkpoint_values(str(model_dir))
  before = helpers.module_values(digits_module)
  assert helpers.moved(before["hidden_bn/moving_mean"], after["module/hidden_bn/moving_mean"])


def test_text_module_with_vocabulary_table_and_exports(tmp_path, text_module):
  from finetune.inputs.arrays import ArrayData  # pylint: disable=g-import-not-at-top
  from finetune.training import heads  # pylint: disable=g-import-not-at-top
  sentences = np.array(["return the sine of x", "open a socket", "read a file", "split text"] * 8)
  labels = np.arange(32) % 4
  data = ArrayData(train=({"default": sentences}, labels), eval=({"default": sentences}, labels),
                   batch_size=8)
  metrics = helpers.run(tmp_path / "text", text_module, ["run_config.num_replicas = 2"],
                        train_steps=10, data=data, head=heads.multi_class_head(n_classes=4))
  assert metrics["global_step"] == 10
  assert (tmp_path / "text" / "export" / "hub").exists()


def test_resume_with_another_replica_count_and_reload_the_export(tmp_path, digits_module):
  model_dir = tmp_path / "model"
  helpers.run(model_dir, digits_module, ["run_config.num_replicas = 2"], train_steps=10)
  metrics = helpers.run(model_dir, digits_module, ["run_config.num_replicas = 4"],
                        train_steps=20)
  assert metrics["global_step"] == 20
  export = helpers.latest_subdir(str(model_dir / "export" / "hub"))
  pixels = builders.random_pixels(3)
  np.testing.assert_allclose(
      helpers.module_outputs(f"{export}/digits", pixels),
      helpers.fine_tuned_outputs(digits_module, tf.train.latest_checkpoint(str(model_dir)),
                                 pixels), rtol=1e-5, atol=1e-6)


def test_batch_that_does_not_split_is_refused(tmp_path, digits_module):
  with pytest.raises(FinetuneError, match="batch_size 16 does not split into "
                     "run_config.num_replicas = 3 equal shards"):
    helpers.run(tmp_path / "model", digits_module, ["run_config.num_replicas = 3"])
  assert not (tmp_path / "model").exists()


def test_adamw_and_early_stopping_work_with_replicas(tmp_path, digits_module, one_replica):
  start = one_replica[1]  # the shared starting point (n1/model.ckpt-0)
  adamw = ["optimization.optimizer = @AdamWOptimizer", "AdamWOptimizer.weight_decay = 0.1"]
  one, two = (weights(tmp_path, digits_module, n, *adamw, steps=10, start=start) for n in (1, 2))
  # Shards sum their gradient contributions in another order than one batch does; Adam's
  # division by sqrt(v) enlarges those float differences in tiny gradients to ~1e-5.
  for name, value in one.items():
    np.testing.assert_allclose(two[name], value, rtol=1e-3, atol=1e-4, err_msg=name)
  helpers.run(tmp_path / "early", digits_module, [
      "run_config.num_replicas = 2", "optimization.optimizer = @tf.train.GradientDescentOptimizer",
      "learning_rate_schedule.base_learning_rate = 1e-12", "run_config.save_checkpoints_steps = 10",
      "hub_module.train_tags = []",  # no batch-norm statistics that drift: accuracy is constant
      "training.early_stopping = @early_stopping()", "early_stopping.metric = 'accuracy'",
      "early_stopping.patience_steps = 20", "early_stopping.check_every_steps = 10"
  ], train_steps=2000)
  assert helpers.checkpoint_values(str(tmp_path / "early"))["global_step"] < 200
