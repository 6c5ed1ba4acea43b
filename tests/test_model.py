"""The generic model_fn on a real (tiny) hub module: what fine-tuning actually does to it."""

import json
import os

import numpy as np
import tensorflow as tf

from tests import builders
from tests import helpers

SGD = [
    "optimization.optimizer = @tf.train.GradientDescentOptimizer",
    "learning_rate_schedule.base_learning_rate = 0.05", "run_config.random_seed = 3"
]


def test_trainable_module_weights_move_and_head_learns(tmp_path, digits_module):
  metrics = helpers.run(tmp_path, digits_module, SGD, train_steps=40)
  before = helpers.module_values(digits_module)
  after = helpers.checkpoint_values(str(tmp_path))
  assert helpers.moved(before["hidden/kernel"], after["module/hidden/kernel"])
  assert helpers.moved(before["features/kernel"], after["module/features/kernel"])
  assert "head/logits/kernel" in after
  assert after["global_step"] == 40
  assert metrics["global_step"] == 40
  assert metrics["accuracy"] > 0.35  # 5 classes: chance is 0.2


def test_frozen_module_stays_put_but_head_trains(tmp_path, digits_module):
  helpers.run(tmp_path, digits_module, SGD, train_steps=20, trainable=False)
  before = helpers.module_values(digits_module)
  after = helpers.checkpoint_values(str(tmp_path))
  for name, value in before.items():
    np.testing.assert_array_equal(value, after["module/" + name], err_msg=name)
  # A frozen module runs its inference variant: no batch-norm statistics update either.
  init = tf.train.load_checkpoint(os.path.join(str(tmp_path), "model.ckpt-0"))
  assert helpers.moved(init.get_tensor("head/logits/kernel"), after["head/logits/kernel"])


def test_freeze_regex_keeps_matching_variables(tmp_path, digits_module):
  helpers.run(tmp_path,
              digits_module,
              SGD + ["optimization.freeze_variables = ['module/hidden/']"],
              train_steps=20)
  before = helpers.module_values(digits_module)
  after = helpers.checkpoint_values(str(tmp_path))
  np.testing.assert_array_equal(before["hidden/kernel"], after["module/hidden/kernel"])
  np.testing.assert_array_equal(before["hidden/bias"], after["module/hidden/bias"])
  assert helpers.moved(before["features/kernel"], after["module/features/kernel"])


def test_batch_norm_moving_statistics_update_with_train_variant(tmp_path, digits_module):
  helpers.run(tmp_path, digits_module, SGD, train_steps=20)
  before = helpers.module_values(digits_module)
  after = helpers.checkpoint_values(str(tmp_path))
  assert helpers.moved(before["hidden_bn/moving_mean"], after["module/hidden_bn/moving_mean"])
  assert helpers.moved(before["hidden_bn/moving_variance"],
                       after["module/hidden_bn/moving_variance"])


def test_module_multiplier_zero_keeps_weights_but_updates_statistics(tmp_path, digits_module):
  helpers.run(tmp_path,
              digits_module,
              SGD + ["optimization.module_learning_rate_multiplier = 0.0"],
              train_steps=20)
  before = helpers.module_values(digits_module)
  after = helpers.checkpoint_values(str(tmp_path))
  np.testing.assert_array_equal(before["hidden/kernel"], after["module/hidden/kernel"])
  assert helpers.moved(before["hidden_bn/moving_mean"], after["module/hidden_bn/moving_mean"])


def test_huge_module_regularizer_shrinks_module_weights(tmp_path, heavy_l2_module,
                                                        unregularized_module):
  """The module's REGULARIZATION_LOSSES are in the trained loss: an L2 of 5 shrinks kernels,
  while the same training of the same weights without a regularizer leaves them near."""
  plain = ["optimization.module_learning_rate_multiplier = 1.0"]
  shrink = {}
  for name, module in (("heavy", heavy_l2_module), ("light", unregularized_module)):
    helpers.run(tmp_path / name, module, SGD + plain, train_steps=30)
    before = np.abs(helpers.module_values(module)["hidden/kernel"]).sum()
    after = np.abs(helpers.checkpoint_values(str(tmp_path / name))["module/hidden/kernel"])
    shrink[name] = after.sum() / before
  assert shrink["heavy"] < 0.1, shrink
  assert shrink["light"] > 0.8, shrink
  metrics = json.loads((tmp_path / "heavy" / "metrics.json").read_text())
  assert metrics["regularization_loss"] > 0


def test_training_loss_is_task_plus_regularization(digits_module):
  """In the TRAIN graph, the loss the head optimizes holds every regularization loss."""
  from finetune.modules.hub_module import HubModule
  from finetune.runtime.estimators import EstimatorRuntime
  from finetune.runtime.run_config import RunSettings
  from finetune.settings import Training
  from finetune.training import heads
  from finetune.training.head_network import HeadNetwork
  from finetune.training.model import Model
  head = heads.multi_class_head(n_classes=5)
  model = Model(HubModule(handle=digits_module), head, HeadNetwork(), Training(train_steps=10),
                EstimatorRuntime(RunSettings()), batch_size=4)
  pixels = builders.random_pixels(4)
  features = {"pixels": tf.constant(pixels)}
  labels = tf.constant([0, 1, 2, 3], tf.int64)
  spec = model.model_fn(features, labels, tf.estimator.ModeKeys.TRAIN, {},
                        tf.estimator.RunConfig(model_dir=None))
  reg_losses = tf.compat.v1.losses.get_regularization_losses()
  assert any(l.name.startswith("module/") for l in reg_losses), reg_losses
  assert tf.compat.v1.get_collection(tf.compat.v1.GraphKeys.UPDATE_OPS)
  with tf.compat.v1.Session() as session:
    session.run([tf.compat.v1.global_variables_initializer(), tf.compat.v1.tables_initializer()])
    logits_name = [
        op for op in tf.compat.v1.get_default_graph().get_operations()
        if op.name == "head/logits/BiasAdd"
    ][0].outputs[0]
    total, reg, logits = session.run([spec.loss, tf.add_n(reg_losses), logits_name])
  assert reg > 0
  # Dropout and batch norm make logits random per run, so recompute the task loss from the
  # logits of the same run.
  task = np.mean(-np.log(np.exp(logits)[np.arange(4), [0, 1, 2, 3]] / np.exp(logits).sum(axis=1)))
  np.testing.assert_allclose(total, task + reg, rtol=1e-4)


def test_resume_continues_from_last_checkpoint(tmp_path, digits_module):
  helpers.run(tmp_path, digits_module, SGD, train_steps=10)
  first = helpers.checkpoint_values(str(tmp_path))
  assert first["global_step"] == 10
  helpers.run(tmp_path, digits_module, SGD, train_steps=25)
  second = helpers.checkpoint_values(str(tmp_path))
  assert second["global_step"] == 25
  steps = sorted(
      int(p.split("-")[1].split(".")[0])
      for p in os.listdir(tmp_path)
      if p.startswith("model.ckpt-") and p.endswith(".index"))
  assert 10 in steps and 25 in steps and 0 in steps and steps.count(0) == 1


def test_rerun_of_finished_job_reports_metrics_without_training(tmp_path, digits_module):
  helpers.run(tmp_path, digits_module, SGD, train_steps=10)
  metrics = helpers.run(tmp_path, digits_module, SGD, train_steps=10)
  assert metrics["global_step"] == 10
  assert helpers.checkpoint_values(str(tmp_path))["global_step"] == 10


def test_warm_start_initializes_from_another_model_dir(tmp_path, digits_module):
  helpers.run(tmp_path / "first", digits_module, SGD, train_steps=10)
  first = helpers.checkpoint_values(str(tmp_path / "first"))
  helpers.run(tmp_path / "second",
              digits_module,
              SGD + [
                  f"training.warm_start_from = '{tmp_path / 'first'}'",
                  "training.warm_start_vars = 'head/.*'"
              ],
              train_steps=10)
  start = helpers.checkpoint_values(str(tmp_path / "second" / "model.ckpt-0"))
  np.testing.assert_array_equal(start["head/logits/kernel"], first["head/logits/kernel"])
  assert start["global_step"] == 0


def test_early_stopping_stops_when_the_metric_stalls(tmp_path, digits_module):
  helpers.run(
      tmp_path,
      digits_module,
      [
          "optimization.optimizer = @tf.train.GradientDescentOptimizer",
          "learning_rate_schedule.base_learning_rate = 1e-12",  # accuracy cannot improve,
          "hub_module.train_tags = []",  # nor drift with batch-norm statistics (train variant)
          "run_config.save_checkpoints_steps = 10",
          "training.early_stopping = @early_stopping()",
          "early_stopping.metric = 'accuracy'",
          "early_stopping.patience_steps = 20",
          "early_stopping.check_every_steps = 10"
      ],
      train_steps=2000)
  assert helpers.checkpoint_values(str(tmp_path))["global_step"] < 200


def test_regression_head_end_to_end(tmp_path, digits_module):
  from finetune.training import heads
  from finetune.inputs.arrays import ArrayData
  (train_x, train_y), (eval_x, eval_y) = builders.finetune_arrays()
  data = ArrayData(train=(train_x, train_y.astype(np.float32)),
                            eval=(eval_x, eval_y.astype(np.float32)),
                            batch_size=16)
  metrics = helpers.run(tmp_path,
                        digits_module,
                        SGD,
                        train_steps=30,
                        data=data,
                        head=heads.regression_head())
  assert "average_loss" in metrics and "label/mean" in metrics


def test_multi_label_head_end_to_end_with_delimited_string_labels(tmp_path, digits_module):
  """Delimited string labels become the classes they name (checked on the adapted labels:
  whether 30 steps learn enough to beat chance depends on the batches) and a run reports the
  multi-label metrics."""
  from finetune.inputs.arrays import ArrayData
  from finetune.training import heads
  head = heads.multi_label_head(n_classes=5)
  with tf.Graph().as_default(), tf.compat.v1.Session() as session:
    adapted = head.adapt_labels(tf.constant([["0|4"], ["3"], ["2|4"]]))
    multi_hot = session.run(tf.sparse.to_indicator(adapted, 5))
  np.testing.assert_array_equal(multi_hot, [[1, 0, 0, 0, 1], [0, 0, 0, 1, 0], [0, 0, 1, 0, 1]])
  (train_x, train_y), (eval_x, eval_y) = builders.finetune_arrays()
  # Labels: the digit's class and, for even classes, class 4 too ("0|4").
  as_labels = lambda y: np.array([f"{v}|4" if v % 2 == 0 and v != 4 else str(v) for v in y])
  data = ArrayData(train=(train_x, as_labels(train_y)),
                   eval=(eval_x, as_labels(eval_y)),
                   batch_size=16)
  metrics = helpers.run(tmp_path, digits_module, SGD, train_steps=30, data=data, head=head)
  assert {"auc", "auc_precision_recall"} <= set(metrics) and np.isfinite(metrics["loss"])


def test_progress_hook_reports_step_loss_rate_and_eta(caplog):
  from finetune.outputs import progress
  step = tf.compat.v1.train.get_or_create_global_step()
  loss = tf.constant(0.25)
  train_op = tf.compat.v1.assign_add(step, 1)
  hook = progress.ProgressHook(loss, max_steps=10, batch_size=8, every_secs=0.0)
  with caplog.at_level("INFO", logger="finetune"):
    with tf.compat.v1.train.MonitoredSession(hooks=[hook]) as session:
      for _ in range(3):
        session.run(train_op)
  lines = [r.getMessage() for r in caplog.records if r.name == "finetune"]
  assert lines and lines[-1].startswith("step 3/10  loss=0.2500")
  assert "examples/s" in lines[-1] and "eta" in lines[-1]
