"""Golden configs: every shipped task config parses, runs two steps against a tiny module,
and writes an operative config that parses again. Shipped configs never rot."""

import os

import gin
import pytest

from finetune import config
from finetune import experiment

TASK_CONFIGS = sorted(
    os.path.relpath(os.path.join(d, f), config.CONFIG_DIR)
    for d, _, files in os.walk(config.CONFIG_DIR)
    for f in files
    if f.endswith(".gin") and "base" not in os.path.relpath(d, config.CONFIG_DIR).split(os.sep))


def test_there_are_task_configs():
  assert "digits/finetune.gin" in TASK_CONFIGS


def tiny_inputs(gin_file, request):
  """Bindings that point a task config at tiny modules and data built by the fixtures."""
  if gin_file.startswith("images/"):
    images = request.getfixturevalue("image_example")
    kind = "image_classification" if "classification" in gin_file else "image_feature_vector"
    return [
        f"MODULE_HANDLE = '{images[kind]}'", f"TRAIN_DIR = '{images['parity_train']}'",
        f"EVAL_DIR = '{images['parity_eval']}'"
    ]
  if gin_file.startswith("text/bert"):
    return [f"MODULE_HANDLE = '{request.getfixturevalue('bert_module')}'", "MAX_SEQ_LENGTH = 16"]
  if gin_file.startswith(("text/", "glove/")):  # the text-embedding common signature
    return [f"MODULE_HANDLE = '{request.getfixturevalue('text_module')}'"]
  return [f"MODULE_HANDLE = '{request.getfixturevalue('digits_module')}'"]


@pytest.mark.parametrize("gin_file", TASK_CONFIGS)
def test_config_runs_and_operative_config_reparses(tmp_path, request, gin_file):
  bindings = tiny_inputs(gin_file, request)
  handle = bindings[0].split("'")[1]
  config.parse([gin_file],
               bindings + ["TRAIN_STEPS = 2", "learning_rate_schedule.warmup_steps = 0"])
  metrics = experiment.run(str(tmp_path), "train_and_evaluate")
  assert metrics["global_step"] == 2
  operative = tmp_path / "operative_config.gin"
  assert operative.exists()
  gin.clear_config()
  config.parse([], [], model_dir=str(tmp_path))
  assert gin.query_parameter("MODULE_HANDLE/macro.value") == handle
  assert experiment.run(str(tmp_path), "evaluate")["global_step"] == 2
