"""The Python API: what the commands do, callable from a notebook, several times in one
process, raising FinetuneError instead of exiting."""

import os

import pytest

from finetune import FinetuneError
from finetune import api
from tests import helpers

DIGITS = "digits/finetune.gin"


def bindings(handle, steps, *more):
  return [f"MODULE_HANDLE = '{handle}'", f"TRAIN_STEPS = {steps}",
          "learning_rate_schedule.warmup_steps = 0", "training.steps_per_run = 1", *more]


def test_train_twice_in_one_process_returns_metrics_and_exports(tmp_path, digits_module):
  first = api.train([DIGITS], bindings(digits_module, 4, "head_network.hidden_units = [4]"),
                    model_dir=str(tmp_path / "a"))
  assert first.metrics["global_step"] == 4 and "accuracy" in first.metrics
  assert os.path.exists(os.path.join(first.exports["hub"], "tfhub_module.pb"))
  assert os.path.exists(os.path.join(first.exports["serving"], "saved_model.pb"))
  assert "head/hidden_0/kernel" in helpers.checkpoint_values(str(tmp_path / "a"))
  # gin starts afresh: nothing of the first call's bindings reaches the second.
  second = api.train([DIGITS], bindings(digits_module, 3), model_dir=str(tmp_path / "b"))
  assert second.metrics["global_step"] == 3
  assert "head/hidden_0/kernel" not in helpers.checkpoint_values(str(tmp_path / "b"))
  evaluated = api.train(model_dir=str(tmp_path / "a"), schedule="evaluate")
  assert evaluated.metrics == pytest.approx(first.metrics, rel=1e-6)  # same checkpoint and config


def test_mistakes_raise_one_readable_error_and_the_next_call_works(tmp_path, digits_module):
  with pytest.raises(FinetuneError) as raised:
    api.train([DIGITS], bindings(digits_module, 3, "hub_module.signature = 'tokens'"),
              model_dir=str(tmp_path / "bad"))
  assert "Signature 'tokens' not in module" in str(raised.value)
  assert "In call to configurable" not in str(raised.value)
  assert not (tmp_path / "bad").exists()
  with pytest.raises(FinetuneError, match="Missing required settings?: .*hub_module.handle"):
    api.train([], ["training.train_steps = 3"], model_dir=str(tmp_path / "none"))
  result = api.train([DIGITS], bindings(digits_module, 2), model_dir=str(tmp_path / "good"))
  assert result.metrics["global_step"] == 2


def test_inspect_returns_the_description(digits_module):
  description = api.inspect(digits_module)
  assert description["handle"] == digits_module
  assert [v["tags"] for v in description["variants"]] == [[], ["train"]]
  assert 'hub_module.signature = "default"' in description["gin"]


def test_sweep_dry_run_returns_the_trial_commands(tmp_path):
  commands = api.sweep([DIGITS], str(tmp_path), {"LEARNING_RATE": [0.01, 0.1]}, dry_run=True)
  assert len(commands) == 2 and all("finetune.train" in " ".join(c) for c in commands)
  assert any("--gin_bindings=LEARNING_RATE = 0.1" in c for c in commands[1])
  assert not (tmp_path / "trials").exists()


def test_pieces_passed_as_objects_replace_the_configs_and_are_checked_alike(tmp_path,
                                                                           digits_module):
  """A head object replaces the config's head; a wrong object is one FinetuneError naming
  the piece, as from gin, and nothing is written."""
  from finetune.training import heads  # pylint: disable=g-import-not-at-top
  with pytest.raises(FinetuneError, match="experiment.head must be one of finetune's heads"):
    api.train([DIGITS], bindings(digits_module, 2), model_dir=str(tmp_path / "wrong"),
              head="binary")
  assert not (tmp_path / "wrong").exists()
  result = api.train([DIGITS], bindings(digits_module, 2), model_dir=str(tmp_path / "head"),
                     head=heads.binary_class_head(label_vocabulary=["odd", "even"]))
  assert result.metrics["global_step"] == 2
  operative = (tmp_path / "head" / "operative_config.gin").read_text()
  # The object was used: the config's head was never built, so gin recorded none of it.
  assert "experiment.head =" not in operative and "binary_class_head." not in operative
