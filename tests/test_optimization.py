"""Learning-rate regimes, per-part learning rates, freezing, clipping and AdamW."""

import math

import types

import gin
import numpy as np
import pytest
import tensorflow as tf
from absl.testing import parameterized

from finetune.training.learning_rates import LearningRateSchedule
from finetune.training.optimization import Optimization
from finetune.training.optimizers import AdamWOptimizer
from finetune.errors import FinetuneError


def rate_at(steps, train_steps=110, **schedule):
  with tf.Graph().as_default():
    step = tf.compat.v1.placeholder(tf.int64, [])
    regime = LearningRateSchedule(**schedule)
    regime.check(train_steps)
    rate = regime(step, train_steps)
    with tf.compat.v1.Session() as session:
      return [float(session.run(rate, {step: s})) for s in steps]


class ScheduleTest(parameterized.TestCase):

  @parameterized.named_parameters(
      ("constant", dict(decay="constant"), [0, 55, 110], [0.1, 0.1, 0.1]),
      ("warmup_constant", dict(warmup_steps=10), [0, 5, 10, 80], [0.0, 0.05, 0.1, 0.1]),
      ("warmup_linear", dict(warmup_steps=10, decay="linear"), [5, 10, 60, 110
                                                               ], [0.05, 0.1, 0.05, 0.0]),
      ("warmup_polynomial", dict(warmup_steps=10, decay="polynomial", power=2.0), [60, 110
                                                                                  ], [0.025, 0.0]),
      ("polynomial_end_rate", dict(decay="polynomial", power=1.0,
                                   end_learning_rate=0.02), [0, 55, 110], [0.1, 0.06, 0.02]),
      ("warmup_cosine", dict(warmup_steps=10, decay="cosine"), [10, 60, 110], [0.1, 0.05, 0.0]),
      ("cosine_alpha", dict(decay="cosine", alpha=0.1), [110], [0.01]),
      ("exponential", dict(decay="exponential", decay_steps=20,
                           decay_rate=0.5), [0, 20, 40, 50], [0.1, 0.05, 0.025, 0.1 * 0.5**2.5]),
      ("warmup_exponential",
       dict(warmup_steps=10, decay="exponential", decay_steps=20, decay_rate=0.5), [5, 30
                                                                                   ], [0.05, 0.05]),
      ("piecewise",
       dict(decay="piecewise_constant", boundaries=[30, 70], multipliers=[1.0, 0.1, 0.01]),
       [20, 30, 31, 70, 71, 100], [0.1, 0.1, 0.01, 0.01, 0.001, 0.001]),
  )
  def test_rate_at_chosen_steps(self, schedule, steps, expected):
    got = rate_at(steps, base_learning_rate=0.1, **schedule)
    np.testing.assert_allclose(got, expected, rtol=1e-5, atol=1e-7)

  @parameterized.named_parameters(
      ("negative_rate", dict(base_learning_rate=-0.1), "base_learning_rate must be > 0"),
      ("warmup_longer_than_training", dict(warmup_steps=200),
       "warmup_steps = 200 must be an integer >= 0 and shorter than training"),
      ("unknown_decay", dict(decay="cosinus"), "decay = 'cosinus' is unknown; use one of"),
      ("piecewise_lengths", dict(decay="piecewise_constant", boundaries=[10],
                                 multipliers=[1.0]), "len(multipliers) == len(boundaries) + 1"),
      ("negative_end", dict(end_learning_rate=-1.0), "end_learning_rate must be a number >= 0"),
  )
  def test_impossible_regimes_are_refused(self, schedule, message):
    with self.assertRaisesRegex(FinetuneError,
                                message.replace("(", r"\(").replace(")", r"\)").replace("+",
                                                                                        r"\+")):
      rate_at([0], **schedule)


def _two_part_model():
  """A head variable and a module variable, each with gradient 1 (loss = sum of both)."""
  with tf.compat.v1.variable_scope("module"):
    module_var = tf.compat.v1.get_variable("w", initializer=tf.ones([3]))
  with tf.compat.v1.variable_scope("head"):
    head_var = tf.compat.v1.get_variable("w", initializer=tf.ones([3]))
  loss = tf.reduce_sum(module_var) + tf.reduce_sum(head_var)
  return loss, module_var, head_var


def _one_step(bindings):
  gin.parse_config(["learning_rate_schedule.base_learning_rate = 0.5"] + bindings)
  with tf.Graph().as_default():
    loss, module_var, head_var = _two_part_model()
    step = tf.compat.v1.train.get_or_create_global_step()
    module = types.SimpleNamespace(name="module", selector="hub_module",
                                   learning_rate_multiplier=None, freeze_variables=[])
    train_op = Optimization().train_op(loss, step, 100, [module])
    with tf.compat.v1.Session() as session:
      session.run(tf.compat.v1.global_variables_initializer())
      session.run(train_op)
      return session.run([module_var, head_var, step])


def test_module_learning_rate_multiplier_reaches_module_variables():
  module_w, head_w, step = _one_step([
      "optimization.optimizer = @tf.train.GradientDescentOptimizer",
      "optimization.module_learning_rate_multiplier = 0.1"
  ])
  np.testing.assert_allclose(head_w, 1 - 0.5)
  np.testing.assert_allclose(module_w, 1 - 0.05)
  assert step == 1


def test_multiplier_scales_the_rate_not_the_gradient_for_adam():
  """Adam ignores a gradient scale; the module's step must still be 0.1 of the head's."""
  module_w, head_w, _ = _one_step([
      "optimization.optimizer = @tf.train.AdamOptimizer",
      "optimization.module_learning_rate_multiplier = 0.1"
  ])
  np.testing.assert_allclose(1 - head_w, 0.5, rtol=1e-3)
  np.testing.assert_allclose(1 - module_w, 0.05, rtol=1e-3)


def test_freeze_variables_by_regex():
  module_w, head_w, _ = _one_step([
      "optimization.optimizer = @tf.train.GradientDescentOptimizer",
      "optimization.freeze_variables = ['^module/']"
  ])
  np.testing.assert_allclose(module_w, 1.0)
  np.testing.assert_allclose(head_w, 0.5)


def test_freeze_pattern_that_matches_nothing_names_variables():
  with pytest.raises(FinetuneError, match="matches no trainable variable; some are: module/w"):
    _one_step(["optimization.freeze_variables = ['^modul/']"])


def test_gradient_clipping_by_global_norm():
  # Global norm of six ones is sqrt(6); clipped to 1 each gradient becomes 1/sqrt(6).
  module_w, head_w, _ = _one_step([
      "optimization.optimizer = @tf.train.GradientDescentOptimizer",
      "optimization.clip_gradient_norm = 1.0"
  ])
  np.testing.assert_allclose(head_w, 1 - 0.5 / math.sqrt(6), rtol=1e-5)
  np.testing.assert_allclose(module_w, 1 - 0.5 / math.sqrt(6), rtol=1e-5)


def test_adamw_decays_weights_decoupled_from_the_gradient():
  with tf.Graph().as_default():
    kernel = tf.compat.v1.get_variable("kernel", initializer=tf.fill([2], 2.0))
    bias = tf.compat.v1.get_variable("bias", initializer=tf.fill([2], 2.0))
    loss = 0.0 * tf.reduce_sum(kernel + bias)  # zero gradient: only the decay acts
    opt = AdamWOptimizer(learning_rate=0.1, weight_decay=0.5)
    train_op = opt.minimize(loss)
    with tf.compat.v1.Session() as session:
      session.run(tf.compat.v1.global_variables_initializer())
      session.run(train_op)
      k, b = session.run([kernel, bias])
  np.testing.assert_allclose(k, 2.0 * (1 - 0.1 * 0.5), rtol=1e-6)
  np.testing.assert_allclose(b, 2.0)  # biases are excluded from decay


@pytest.mark.parametrize("optimizer", [
    "@tf.train.GradientDescentOptimizer", "@tf.train.MomentumOptimizer", "@tf.train.AdamOptimizer",
    "@AdamWOptimizer", "@tf.train.AdagradOptimizer", "@tf.train.RMSPropOptimizer"
])
def test_every_optimizer_moves_both_parts(optimizer):
  bindings = [f"optimization.optimizer = {optimizer}"]
  if "Momentum" in optimizer:
    bindings.append("tf.train.MomentumOptimizer.momentum = 0.9")
  module_w, head_w, _ = _one_step(bindings)
  assert np.all(head_w < 1.0) and np.all(module_w < 1.0)


def test_clipping_a_sparse_gradient_uses_the_dense_gradients_norm():
  """Row 1 is used twice: its dense gradient is (2, 2), norm sqrt(8), not sqrt(4)."""
  with tf.Graph().as_default():
    table = tf.compat.v1.get_variable("table", initializer=tf.zeros([4, 2]))
    loss = tf.reduce_sum(tf.gather(table, [1, 1]))
    optimization = Optimization(clip_gradient_norm=1.0,
                                optimizer=tf.compat.v1.train.GradientDescentOptimizer)
    (grad, _), = optimization.clip(optimization.gradients(loss))
    assert isinstance(grad, tf.IndexedSlices)  # still sparse after clipping
    update = tf.compat.v1.train.GradientDescentOptimizer(1.0).apply_gradients([(grad, table)])
    with tf.compat.v1.Session() as session:
      session.run(tf.compat.v1.global_variables_initializer())
      session.run(update)
      values = session.run(table)
  np.testing.assert_allclose(values[1], [-2 / math.sqrt(8)] * 2, rtol=1e-6)
  np.testing.assert_array_equal(values[[0, 2, 3]], 0.0)
