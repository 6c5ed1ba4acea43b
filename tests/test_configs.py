"""Golden configs: every shipped task config parses, runs two steps against a tiny module,
and writes an operative config that parses again. Shipped configs never rot."""

import os

import gin
import pytest

from finetune import config
from finetune import experiment

TASK_CONFIGS = sorted(
    os.path.relpath(os.path.join(d, f), config.CONFIG_DIR)
    for d, _, files in os.walk(config.CONFIG_DIR) for f in files
    if f.endswith(".gin") and "base" not in os.path.relpath(d, config.CONFIG_DIR).split(os.sep))


def test_there_are_task_configs():
  assert "digits/finetune.gin" in TASK_CONFIGS


@pytest.mark.parametrize("gin_file", TASK_CONFIGS)
def test_config_runs_and_operative_config_reparses(tmp_path, digits_module, gin_file):
  config.parse([gin_file], [f"MODULE_HANDLE = '{digits_module}'", "TRAIN_STEPS = 2",
                            "learning_rate_schedule.warmup_steps = 0"])
  metrics = experiment.run(str(tmp_path), "train_and_evaluate")
  assert metrics["global_step"] == 2
  operative = tmp_path / "operative_config.gin"
  assert operative.exists()
  gin.clear_config()
  config.parse([], [], model_dir=str(tmp_path))
  assert gin.query_parameter("MODULE_HANDLE/macro.value") == digits_module
  assert experiment.run(str(tmp_path), "evaluate")["global_step"] == 2
