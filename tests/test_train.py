"""The command end to end, as a user runs it: files, bindings, schedules, errors, output."""

import json
import os

import pytest

from tests import helpers
from tests.error_cases import run_command


def finetune_train(*args):
  result = helpers.python_module("finetune.train", *args, timeout=300)
  return result.returncode, result.stdout + result.stderr


@pytest.fixture
def quick(digits_module):
  return [
      f"--gin_bindings=MODULE_HANDLE = '{digits_module}'",
      "--gin_bindings=run_config.save_checkpoints_steps = 100",
      "--gin_bindings=learning_rate_schedule.warmup_steps = 2"
  ]


def test_bindings_override_files_and_later_files_override_earlier(tmp_path, capsys, quick):
  """The command's flags, parsed and run by its main in this process (the command's start-up
  is tested below); training alone shows which value won."""
  override = tmp_path / "more.gin"
  override.write_text("TRAIN_STEPS = 7\n")
  code, out = run_command(["--gin_file=digits/finetune.gin", f"--gin_file={override}", *quick,
                           "--schedule=train", f"--model_dir={tmp_path / 'a'}"], capsys)
  assert code == 0, out
  assert helpers.checkpoint_values(str(tmp_path / "a"))["global_step"] == 7
  code, out = run_command(["--gin_file=digits/finetune.gin", f"--gin_file={override}", *quick,
                           "--gin_bindings=TRAIN_STEPS = 4", "--schedule=train",
                           f"--model_dir={tmp_path / 'b'}"], capsys)
  assert code == 0, out
  assert helpers.checkpoint_values(str(tmp_path / "b"))["global_step"] == 4
  operative = (tmp_path / "b" / "operative_config.gin").read_text()
  assert "TRAIN_STEPS = 4" in operative
  assert "hub_module.handle = %MODULE_HANDLE" in operative


def test_run_prints_metrics_and_exports_quietly_then_reuses_operative_config(tmp_path, quick):
  model_dir = tmp_path / "run"
  code, out = finetune_train("--gin_file=digits/finetune.gin", *quick,
                             "--gin_bindings=TRAIN_STEPS = 5", f"--model_dir={model_dir}")
  assert code == 0, out
  assert "Final metrics:" in out and "accuracy" in out
  assert f"Fine-tuned module (TF1 Hub format): {model_dir}/export/hub/" in out
  assert f"Serving SavedModel: {model_dir}/export/serving/" in out
  for noise in ("WARNING:tensorflow", "deprecat", "Traceback", "oneDNN", "Path not found"):
    assert noise not in out, out
  commands = (model_dir / "command_lines.txt").read_text()
  assert "python -m finetune.train --gin_file=digits/finetune.gin" in commands

  # No --gin_file: evaluate with what the model was trained with.
  os.remove(model_dir / "metrics.json")
  code, out = finetune_train("--schedule=evaluate", f"--model_dir={model_dir}")
  assert code == 0, out
  metrics = json.loads((model_dir / "metrics.json").read_text())
  assert metrics["global_step"] == 5 and "accuracy" in metrics


@pytest.mark.parametrize("args, message", [
    (["--gin_file=nope.gin"], "Gin file 'nope.gin' not found"),
    (["--gin_file=digits/finetune.gin", "--gin_bindings=hub_module.handel = 'x'"
     ], "Did you mean: hub_module.handle"),
])
def test_user_errors_are_one_line_without_traceback(tmp_path, args, message):
  code, out = finetune_train(*args, f"--model_dir={tmp_path / 'm'}")
  assert code == 2, out
  assert message in out
  assert "Traceback" not in out
  assert not (tmp_path / "m").exists()
