"""training.steps_per_run: K training steps per session.run in an in-graph loop, which must
train exactly as K single steps do."""

import shutil

import numpy as np
import pytest
import tensorflow as tf

from finetune.errors import FinetuneError
from tests import builders
from tests import helpers

# Adam with a lower module rate (two optimizers), a cosine decay: everything that reads the
# global step or keeps state between steps.
ADAM = [
    "optimization.optimizer = @tf.train.AdamOptimizer",
    "learning_rate_schedule.base_learning_rate = 0.01", "learning_rate_schedule.decay = 'cosine'",
    "optimization.module_learning_rate_multiplier = 0.5", "optimization.clip_gradient_norm = 1.0"
]


@pytest.fixture(scope="module")
def deterministic_modules(tmp_path_factory):
  """Digits modules without dropout, so that two ways of running the same steps can be
  compared bit for bit; both have batch norm. "pretrained": L2 0.01 on its kernels;
  "heavy_l2": untrained, L2 5.0, where a regularizer read once per run instead of once per
  step would visibly change the result."""
  root = tmp_path_factory.mktemp("modules")
  return {
      "pretrained": builders.build_digits_module(str(root / "a"), steps=30, dropout=0.0, l2=0.01),
      "heavy_l2": builders.build_digits_module(str(root / "b"), steps=0, dropout=0.0, l2=5.0),
  }


class RunSteps(tf.compat.v1.train.SessionRunHook):
  """Records the global step after every session.run."""

  def __init__(self):
    self.steps = []

  def begin(self):
    self._global_step = tf.compat.v1.train.get_global_step()

  def after_run(self, run_context, run_values):
    self.steps.append(int(run_context.session.run(self._global_step)))


def train(model_dir, handle, steps_per_run, train_steps, hooks=()):
  return helpers.run(model_dir,
                     handle,
                     ADAM + [f"training.steps_per_run = {steps_per_run}"],
                     train_steps=train_steps,
                     schedule="train",
                     train_hooks=list(hooks))


@pytest.mark.parametrize("module", ["pretrained", "heavy_l2"])
def test_loop_trains_exactly_like_single_steps_and_resumes_across_k(tmp_path, deterministic_modules,
                                                                    module):
  handle = deterministic_modules[module]
  # Both start from the same checkpoint (the head's initial weights come from it).
  train(tmp_path / "single", handle, 1, 2)
  shutil.copytree(tmp_path / "single", tmp_path / "looped")
  train(tmp_path / "single", handle, 1, 11)
  runs = RunSteps()
  train(tmp_path / "looped", handle, 4, 11, [runs])
  # The first run of a session does one step, the next ones end on multiples of K, and the
  # last one at train_steps.
  assert runs.steps == [3, 4, 8, 11]
  single = helpers.checkpoint_values(str(tmp_path / "single"))
  looped = helpers.checkpoint_values(str(tmp_path / "looped"))
  assert sorted(single) == sorted(looped)  # same variable names: resumable with either K
  start = helpers.checkpoint_values(str(tmp_path / "single" / "model.ckpt-2"))
  for name, value in single.items():
    np.testing.assert_allclose(looped[name], value, rtol=1e-5, atol=1e-7, err_msg=name)
  # What was compared moved: module weights, batch-norm statistics, Adam slots.
  for name in ("module/hidden/kernel", "module/hidden_bn/moving_mean", "head/logits/kernel",
               "module/hidden/kernel/module_optimizer"):
    assert helpers.moved(start[name], looped[name]), name
  if module == "heavy_l2":  # the regularizer pulled the kernels in
    assert np.abs(
        looped["module/hidden/kernel"]).sum() < 0.9 * np.abs(start["module/hidden/kernel"]).sum()


def test_frozen_module_in_the_loop_stays_put_while_head_learns(tmp_path, digits_module):
  helpers.run(tmp_path,
              digits_module, ["training.steps_per_run = 5"],
              train_steps=16,
              trainable=False)
  before = helpers.module_values(digits_module)
  after = helpers.checkpoint_values(str(tmp_path))
  for name, value in before.items():
    np.testing.assert_array_equal(value, after["module/" + name], err_msg=name)
  assert after["global_step"] == 16


@pytest.mark.parametrize("value", [0, -2, 2.5, True])
def test_steps_per_run_must_be_a_positive_integer(tmp_path, digits_module, value):
  with pytest.raises(FinetuneError, match="training.steps_per_run must be a positive integer"):
    helpers.run(tmp_path, digits_module, [f"training.steps_per_run = {value}"])
