"""Resuming with a changed config keeps the earlier run's operative config and says what
changed (outputs/config_history.py)."""

import logging
import os

import tensorflow as tf

from finetune.outputs import config_history
from tests import helpers

SGD = ["optimization.optimizer = @tf.train.GradientDescentOptimizer"]


def test_changes_name_each_binding_that_differs():
  old = "# Macros:\nLR = 0.1\na.b = [1,\n    2]\nc.d = 'x'\n"
  new = "LR = 0.01\na.b = [1,\n    2]\ne.f = 3\n"
  assert config_history.changes(old, new) == [
      "LR: 0.1 -> 0.01", "c.d: 'x' -> (unset)", "e.f: (unset) -> 3"]

  # A batch prediction's settings, new in an operative config, change no training.
  assert config_history.changes(old, old + "experiment.prediction = @prediction()\n"
                                "prediction.top_k = None\n") == []


class Lines(logging.Handler):

  def __init__(self):
    super().__init__()
    self.lines = []

  def emit(self, record):
    self.lines.append(record.getMessage())


def test_resume_with_another_learning_rate_keeps_the_old_config(tmp_path, digits_module):
  model_dir = tmp_path / "model"
  helpers.run(model_dir, digits_module, SGD + ["learning_rate_schedule.base_learning_rate = 0.05"],
              train_steps=3, schedule="train")
  lines = Lines()
  logging.getLogger("finetune").addHandler(lines)
  logging.getLogger("finetune").setLevel(logging.INFO)
  try:
    helpers.run(model_dir, digits_module,
                SGD + ["learning_rate_schedule.base_learning_rate = 0.01"], train_steps=6,
                schedule="train")
  finally:
    logging.getLogger("finetune").removeHandler(lines)
  kept = model_dir / "operative_config.until-step-3.gin"
  assert "learning_rate_schedule.base_learning_rate = 0.05" in kept.read_text()
  current = (model_dir / "operative_config.gin").read_text()
  assert "learning_rate_schedule.base_learning_rate = 0.01" in current
  (line,) = [l for l in lines.lines if "changed config" in l]
  assert "Resuming at step 3" in line
  assert "learning_rate_schedule.base_learning_rate: 0.05 -> 0.01" in line
  assert "training.train_steps: 3 -> 6" in line


def test_resume_with_the_same_config_keeps_no_copy(tmp_path, digits_module):
  """A run of 6 steps stopped at step 3 (as by SIGTERM), then resumed as it was."""
  model_dir = tmp_path / "model"
  helpers.run(model_dir, digits_module, SGD, train_steps=6, schedule="train",
              train_hooks=[tf.compat.v1.train.StopAtStepHook(last_step=3)])
  assert helpers.checkpoint_step(str(model_dir)) == 3
  helpers.run(model_dir, digits_module, SGD, train_steps=6, schedule="train")
  assert helpers.checkpoint_step(str(model_dir)) == 6
  assert not [f for f in os.listdir(model_dir) if f.startswith("operative_config.until")]
